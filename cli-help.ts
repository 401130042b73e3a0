/**
 * How every `voltway` command's --help reads and how a missing required option
 * is reported: one style everywhere.
 *
 * - A required option ends with `(required)`.
 * - A default reads `(default: 18800)`: unquoted, whatever its type; one taken
 *   from the environment reads `(default: info; env VOLTWAY_LOG_LEVEL)`, and an
 *   option only the environment can fill reads `(env VOLTWAY_HUB)`. Commands
 *   write defaults they compute (no commander default) the same way in the
 *   option's description.
 * - A missing required option is commander's own error,
 *   `error: required option '-c, --config <file>' not specified`, followed by
 *   that command's usage, exit 2.
 */
import type { Command, Option } from 'commander'

/**
 * Options required by their command that commander must not enforce itself:
 * `--config` of a command that also has subcommands (`voltway hub`, `voltway
 * station`) and the same option repeated on those subcommands, where commander
 * would otherwise check the parent's option and print the parent's usage.
 */
const checkedByCommand = new WeakSet<Option>()

/** commander's option description in the one style, plus `(required)`. */
export function markRequired(option: Option): string {
  const extra: string[] = []
  if (option.argChoices) extra.push(`choices: ${option.argChoices.join(', ')}`)
  const takesValue = option.required || option.optional
  if (takesValue && option.defaultValue !== undefined) extra.push(`default: ${option.defaultValueDescription ?? plain(option.defaultValue)}`)
  const text = extra.length > 0 ? `${option.description} (${extra.join('; ')})` : option.description
  return option.mandatory || checkedByCommand.has(option) ? `${text} (required)` : text
}

function plain(value: unknown): string {
  return typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean' ? String(value) : JSON.stringify(value)
}

/**
 * Add an option `cmd` requires but checks itself (with its own message and example, exit 2), so
 * commander does not refuse it first; --help marks it required as it marks commander's own.
 */
export function addCheckedOption(cmd: Command, flags: string, description: string): Command {
  cmd.option(flags, description)
  const option = cmd.options.at(-1)
  if (option) checkedByCommand.add(option)
  return cmd
}

/** Add `-c, --config <file>` to a command that checks it itself (see `requiredOption`); --help marks it required. */
export function addConfigOption(cmd: Command, what: string): Command {
  return addCheckedOption(cmd, '-c, --config <file>', what)
}

/**
 * The value of a required option of `cmd`, wherever on the line it was given
 * (a parent command with the same option may have consumed it). Missing: the
 * same error commander gives for its own required options, with `cmd`'s usage.
 */
export function requiredOption(cmd: Command, name: string): string {
  const value = cmd.optsWithGlobals<Record<string, unknown>>()[name]
  if (typeof value === 'string' && value !== '') return value
  const option = cmd.options.find((o) => o.attributeName() === name)
  cmd.error(`error: required option '${option?.flags ?? `--${name}`}' not specified`, { code: 'commander.missingMandatoryOptionValue', exitCode: 2 })
}
