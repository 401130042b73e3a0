/**
 * Turning schema failures into messages that name the field, the way an
 * operator reads them: `/etc/voltway/hub.json: stations[1].position.lat: expected a number`.
 */
import { rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { z } from 'zod'
import { makeDirectory } from '../base/make-directory.js'
import { readProblem, readRegularFile } from '../base/read-regular-file.js'
import { nearestName } from './did-you-mean.js'

export interface FieldIssue {
  path: string
  message: string
}

/** `['stations', 1, 'position', 'lat']` -> `stations[1].position.lat`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = ''
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`
    else out += out === '' ? String(key) : `.${String(key)}`
  }
  return out
}

function describeIssue(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case 'invalid_type': {
      if ('input' in issue && issue.input === undefined) return `required, expected ${article(issue.expected)}`
      return `expected ${article(issue.expected)}`
    }
    case 'too_small':
      return issue.origin === 'string' || issue.origin === 'array'
        ? `too short (minimum ${String(issue.minimum)})`
        : `must be ${issue.inclusive === false ? '>' : '>='} ${String(issue.minimum)}`
    case 'too_big':
      return issue.origin === 'string' || issue.origin === 'array'
        ? `too long (maximum ${String(issue.maximum)})`
        : `must be ${issue.inclusive === false ? '<' : '<='} ${String(issue.maximum)}`
    case 'invalid_union': {
      // A discriminated union whose tag matched no branch (`"type": "magic"`) lists the tags it knows.
      const options = 'options' in issue && Array.isArray(issue.options) ? (issue.options as unknown[]) : []
      return options.length > 0 ? `expected one of ${options.map((v) => JSON.stringify(v)).join(', ')}` : issue.message
    }
    case 'invalid_value':
      return `expected one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`
    case 'invalid_format':
      // zod says "Invalid ISO datetime"; a client needs the form the protocol takes (docs/protocol.md, "Conventions").
      return issue.format === 'datetime' ? 'expected an RFC 3339 time with its offset, e.g. 2026-11-24T18:00:00Z or 2026-11-24T15:00:00-03:00' : issue.message
    default:
      return issue.message
  }
}

function article(t: string): string {
  // zod names a whole number `int` (z.number().int()).
  if (t === 'int' || t === 'integer') return 'an integer'
  if (t === 'object' || t === 'array') return `an ${t}`
  return `a ${t}`
}

/**
 * One FieldIssue per problem. With `schema` (the one that was parsed), an
 * unknown key becomes one issue per key naming the nearest known key:
 * `rules.windowMinute: unknown field, did you mean "windowMinutes"?`. A union
 * no branch of which matched reports the branch that came closest.
 */
export function issuesOf(error: z.ZodError, schema?: z.ZodType): FieldIssue[] {
  return once(withoutImplicitBounds(flatten(error.issues, [])).flatMap((issue): FieldIssue[] => {
    if (issue.code !== 'unrecognized_keys') return [{ path: formatPath(issue.path), message: describeIssue(issue) }]
    const known = schema ? keysAt(schema, issue.path) : []
    return issue.keys.map((key) => {
      const near = nearestName(key, known)
      const hint = near ? `did you mean "${near}"?` : known.length > 0 ? `known fields: ${known.join(', ')}` : ''
      // A key that cannot be written as a path (`""`, `a b`) is named in the message instead.
      const plainKey = /^[A-Za-z_$][\w$-]*$/.test(key)
      const what = plainKey ? 'unknown field' : `unknown field ${JSON.stringify(key)}`
      return { path: formatPath(plainKey ? [...issue.path, key] : issue.path), message: hint ? `${what}, ${hint}` : what }
    })
  }))
}

/** Each (path, message) once: a field whose own bound is the safe-integer one gets it from both checks. */
function once(issues: FieldIssue[]): FieldIssue[] {
  const seen = new Set<string>()
  return issues.filter((i) => {
    const key = `${i.path}\u0000${i.message}`
    if (seen.has(key)) return false
    seen.add(key)
    return true
  })
}

/**
 * zod's `.int()` also bounds a number to the safe integers, and reports that bound first: `{"limit": 1e308}`
 * would read `must be <= 9007199254740991` where the schema says 1000. Where a field has its own bound of the
 * same kind, the implicit one is left out.
 */
function withoutImplicitBounds(issues: readonly z.core.$ZodIssue[]): z.core.$ZodIssue[] {
  const implicit = (i: z.core.$ZodIssue): boolean =>
    (i.code === 'too_big' && Number(i.maximum) === Number.MAX_SAFE_INTEGER) || (i.code === 'too_small' && Number(i.minimum) === Number.MIN_SAFE_INTEGER)
  const at = (i: z.core.$ZodIssue): string => JSON.stringify(i.path.map(String))
  return issues.filter((i) => !(implicit(i) && issues.some((o) => o !== i && o.code === i.code && !implicit(o) && at(o) === at(i))))
}

function flatten(issues: readonly z.core.$ZodIssue[], prefix: PropertyKey[]): z.core.$ZodIssue[] {
  return issues.flatMap((issue) => {
    const path = [...prefix, ...issue.path]
    if (issue.code === 'invalid_union' && issue.errors.length > 0) {
      const fewest = Math.min(...issue.errors.map((e) => e.length))
      const closest = issue.errors.filter((e) => e.length === fewest)
      const [only] = closest
      if (closest.length === 1 && only) return flatten(only, path)
      const exclusive = exclusiveForms(closest, path)
      if (exclusive) return exclusive
      // Several forms come equally close ({all: false} for `{reservationId} | {all: true}`): name the
      // request itself, and what each form lacks.
      const forms = closest.map((e) => flatten(e, []).map((i) => `${formatPath(i.path) || 'value'}: ${describeIssue(i)}`).join(', '))
      return [{ code: 'custom', path, message: `matches none of its accepted forms (${forms.join('; or ')})`, input: undefined } as z.core.$ZodIssue]
    }
    return [{ ...issue, path }]
  })
}

/**
 * Forms that each failed only because the input has another form's field
 * (`{listen, url}` against `{listen} | {url}`): say which fields exclude each
 * other, `give either "listen" or "url", not both`. A key every form refuses
 * stays an unknown field. Null when the forms failed for other reasons.
 */
function exclusiveForms(forms: readonly (readonly z.core.$ZodIssue[])[], path: PropertyKey[]): z.core.$ZodIssue[] | null {
  const refused: string[][] = []
  for (const form of forms) {
    if (!form.every((i) => i.code === 'unrecognized_keys' && i.path.length === 0)) return null
    refused.push(form.flatMap((i) => (i.code === 'unrecognized_keys' ? i.keys : [])))
  }
  const everywhere = refused.reduce((a, b) => a.filter((k) => b.includes(k)))
  // Each form refuses the other forms' fields: form i's own field is what the others refuse.
  const own = refused.map((keys) => keys.filter((k) => !everywhere.includes(k))).reverse()
  if (own.some((keys) => keys.length === 0)) return null
  const names = [...new Set(own.flat())].map((k) => JSON.stringify(k))
  const message = names.length === 2 ? `give either ${names[0]} or ${names[1]}, not both` : `give only one of ${names.join(', ')}`
  const out: z.core.$ZodIssue[] = [{ code: 'custom', path, message, input: undefined } as z.core.$ZodIssue]
  if (everywhere.length > 0) out.push({ code: 'unrecognized_keys', keys: everywhere, path, input: undefined } as unknown as z.core.$ZodIssue)
  return out
}

interface SchemaDef {
  type?: string
  shape?: Record<string, z.ZodType>
  element?: z.ZodType
  innerType?: z.ZodType
  options?: z.ZodType[]
  in?: z.ZodType
  valueType?: z.ZodType
}

/** The keys an object schema at `path` declares (every branch of a union), for suggestions. */
function keysAt(schema: z.ZodType, path: readonly PropertyKey[]): string[] {
  const def = (schema as unknown as { _zod: { def: SchemaDef } })._zod.def
  const [head, ...rest] = path
  switch (def.type) {
    case 'optional':
    case 'default':
    case 'prefault':
    case 'nullable':
    case 'readonly':
    case 'catch':
      return def.innerType ? keysAt(def.innerType, path) : []
    case 'pipe':
      return def.in ? keysAt(def.in, path) : []
    case 'union':
      return [...new Set((def.options ?? []).flatMap((o) => keysAt(o, path)))]
    case 'array':
      return head === undefined || !def.element ? [] : keysAt(def.element, rest)
    case 'record':
      return head === undefined || !def.valueType ? [] : keysAt(def.valueType, rest)
    case 'object': {
      const shape = def.shape ?? {}
      if (head === undefined) return Object.keys(shape)
      const child = typeof head === 'string' && Object.hasOwn(shape, head) ? shape[head] : undefined
      return child ? keysAt(child, rest) : []
    }
    default:
      return []
  }
}

/** One line per issue prefixed with what was being read (parse with `reportInput: true` so a missing field reads as "required"). */
export function formatIssues(label: string, error: z.ZodError, schema?: z.ZodType): string {
  return issuesOf(error, schema)
    .map((i) => (i.path ? `${label}: ${i.path}: ${i.message}` : `${label}: ${i.message}`))
    .join('\n')
}

/** A config file that cannot be used; the CLI prints `message` and exits 2. */
export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID'
  /** `options.cause`: the error behind it (e.g. a listen error), for callers that say it their own way. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = 'ConfigError'
  }
}

/**
 * Create a directory a config names (and its parents) unless it is there,
 * and check that a file can be made in it; ConfigError `<label>: cannot
 * create the directory (<errno code>); <hint>` when it cannot be made (a path
 * under a file: ENOTDIR; no permission: EACCES; a read-only or special file
 * system: EROFS, ENOENT), `<label>: exists and is not a directory` for a file
 * in the way, `<label>: cannot write in the directory (<code>)` when it
 * takes no file.
 */
export function makeConfiguredDirectory(path: string, label: string, hint: string, mode?: number): void {
  try {
    makeDirectory(path, mode)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'EEXIST') throw new ConfigError(`${label}: exists and is not a directory; ${hint}`)
    throw new ConfigError(`${label}: cannot create the directory${code ? ` (${code})` : ''}; ${hint}`)
  }
  // A directory that exists may still refuse new files (procfs, a read-only mount, another owner):
  // found here, by one file made and removed, rather than as a raw error at the first write.
  const probe = join(path, `.voltway-write-check-${process.pid}`)
  try {
    writeFileSync(probe, '', { flag: 'wx' })
    rmSync(probe, { force: true })
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    throw new ConfigError(`${label}: cannot write in the directory${code ? ` (${code})` : ''}; ${hint}`)
  }
}

/** The largest config file read (a hub.json listing 100,000 stations is about 20 MB). */
export const MAX_CONFIG_BYTES = 64 * 1024 * 1024

/**
 * Read a JSON file and validate it; every failure is a ConfigError naming the
 * file and field. `label` prefixes each message and defaults to the path as
 * given, so an operator with several configs sees which one is wrong.
 */
export function loadJsonFile<S extends z.ZodType>(file: string, schema: S, label: string = file): z.output<S> {
  let text: string
  try {
    text = readRegularFile(file, MAX_CONFIG_BYTES).toString('utf8')
  } catch (err) {
    const problem = readProblem(err)
    throw new ConfigError(`${label}: cannot read${label === file ? '' : ` ${file}`}${problem ? ` ${problem}` : ''}; give the path of a JSON file this user may read`)
  }
  let data: unknown
  try {
    data = JSON.parse(text)
  } catch (err) {
    throw new ConfigError(`${label}: not valid JSON: ${jsonErrorText(err, text)}`)
  }
  const parsed = schema.safeParse(data, { reportInput: true })
  if (!parsed.success) throw new ConfigError(formatIssues(label, parsed.error, schema))
  return parsed.data
}

const CONTROL_ESCAPES: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' }

/**
 * A JSON.parse failure as one line: V8 quotes the offending text as is
 * (`"nope\n" is not valid JSON`), so its control characters are escaped, and
 * a position it gives is also told as a line and column of `text`.
 */
export function jsonErrorText(err: unknown, text: string): string {
  const raw = err instanceof Error ? err.message : String(err)
  // eslint-disable-next-line no-control-regex -- escaping control characters is the point
  const message = raw.replace(/[\u0000-\u001f\u007f\u2028\u2029]/g, (c) => CONTROL_ESCAPES[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
  const at = /at position (\d+)/.exec(raw)
  if (!at) return message
  const before = text.slice(0, Number(at[1])).split('\n')
  return `${message} (line ${before.length}, column ${(before.at(-1)?.length ?? 0) + 1})`
}

/** What `--log-level` and `VOLTWAY_LOG_LEVEL` accept: pino's levels and `silent`. */
export const LOG_LEVELS: readonly string[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']

/**
 * The log level of a command: its `--log-level` flag, else `VOLTWAY_LOG_LEVEL`,
 * else `fallback`. An unknown one is a ConfigError (exit 2) naming where it
 * came from, instead of pino's "default level:x must be included in custom levels".
 */
export function logLevelOf(command: string, flag: string | undefined, fallback: string, env: NodeJS.ProcessEnv = process.env): string {
  const [level, from] = flag !== undefined ? [flag, '--log-level'] : env.VOLTWAY_LOG_LEVEL !== undefined ? [env.VOLTWAY_LOG_LEVEL, 'VOLTWAY_LOG_LEVEL'] : [fallback, 'the default log level']
  if (!LOG_LEVELS.includes(level)) throw new ConfigError(`${command}: ${from}: expected one of ${LOG_LEVELS.join(', ')}, got "${level}"`)
  return level
}

/**
 * The one-line message of input refused by its schema, naming its first bad field:
 * `invalid args: at: expected …` (a request over MQTT), `invalid query: rangeKm: required, …`
 * (a federation request). Every issue goes in `details.issues` beside it.
 */
export function invalidMessage(where: string, issues: readonly FieldIssue[]): string {
  const first = issues[0]
  return `invalid ${where}${first ? `: ${first.path ? `${first.path}: ` : ''}${first.message}` : ''}`
}
