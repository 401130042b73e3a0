/** Validating what an HTTP request carries (body, path, query) against its schema. */
import type { z } from 'zod'
import { VoltwayError, issuesOf } from '../../protocol/index.js'

/** The parsed value, or VoltwayError BAD_REQUEST naming the first bad field, with every issue in `details.issues`. */
export function parse<S extends z.ZodType>(schema: S, value: unknown, where: string): z.output<S> {
  const r = schema.safeParse(value, { reportInput: true })
  if (r.success) return r.data
  const issues = issuesOf(r.error)
  const first = issues[0]
  throw new VoltwayError('BAD_REQUEST', `invalid ${where}${first ? `: ${first.path ? `${first.path}: ` : ''}${first.message}` : ''}`, { issues })
}
