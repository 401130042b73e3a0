/** Validating what an HTTP request carries (body, path, query) against its schema. */
import type { z } from 'zod'
import { VoltwayError, invalidMessage, issuesOf } from '../../protocol/index.js'

/** The parsed value, or VoltwayError BAD_REQUEST naming the first bad field, with every issue in `details.issues`. */
export function parse<S extends z.ZodType>(schema: S, value: unknown, where: string): z.output<S> {
  const r = schema.safeParse(value, { reportInput: true })
  if (r.success) return r.data
  const issues = issuesOf(r.error)
  throw new VoltwayError('BAD_REQUEST', invalidMessage(where, issues), { issues })
}
