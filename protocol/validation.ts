/**
 * Turning schema failures into messages that name the field, the way an
 * operator reads them: `hub.json: stations[1].position.lat: expected a number`.
 */
import { readFileSync } from 'node:fs'
import { z } from 'zod'

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
    case 'unrecognized_keys':
      return `unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.join(', ')}`
    case 'invalid_value':
      return `expected one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`
    default:
      return issue.message
  }
}

function article(t: string): string {
  if (t === 'object' || t === 'array' || t === 'integer') return `an ${t}`
  return `a ${t}`
}

export function issuesOf(error: z.ZodError): FieldIssue[] {
  return error.issues.map((issue) => {
    return { path: formatPath(issue.path), message: describeIssue(issue) }
  })
}

/** One line per issue prefixed with what was being read (parse with `reportInput: true` so a missing field reads as "required"). */
export function formatIssues(label: string, error: z.ZodError): string {
  return issuesOf(error)
    .map((i) => (i.path ? `${label}: ${i.path}: ${i.message}` : `${label}: ${i.message}`))
    .join('\n')
}

/** A config file that cannot be used; the CLI prints `message` and exits 2. */
export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID'
  constructor(message: string) {
    super(message)
    this.name = 'ConfigError'
  }
}

/** Read a JSON file and validate it; every failure is a ConfigError naming the file and field. */
export function loadJsonFile<S extends z.ZodType>(file: string, schema: S, label: string): z.output<S> {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    throw new ConfigError(`${label}: cannot read ${file}${code ? ` (${code})` : ''}`)
  }
  let data: unknown
  try {
    data = JSON.parse(text)
  } catch (err) {
    throw new ConfigError(`${label}: not valid JSON: ${(err as Error).message}`)
  }
  const parsed = schema.safeParse(data, { reportInput: true })
  if (!parsed.success) throw new ConfigError(formatIssues(label, parsed.error))
  return parsed.data
}
