import { z } from 'zod'
import { ERROR_CODES } from '../errors.js'

/**
 * Request ids are chosen by the client and must be text: no control characters (C0, DEL) and no
 * UTF-16 surrogate without its pair. Anything else is not text that a store keeps as it was sent
 * (PostgreSQL refuses U+0000 and turns a lone surrogate into U+FFFD, so two ids would become one).
 * A pattern, not a refinement, so the JSON Schemas carry it.
 */
// eslint-disable-next-line no-control-regex -- keeping control characters out is the point
const TEXT = /^(?:[^\u0000-\u001f\u007f\ud800-\udfff]|[\ud800-\udbff][\udc00-\udfff])*$/

/** A request id: 1 to 128 characters of text (no control characters, no unpaired surrogates). */
export const RequestId = z.string().min(1).max(128).regex(TEXT, 'must not hold control characters or unpaired surrogates')

export const RequestEnvelope = z.object({
  id: RequestId,
  op: z.string().min(1).max(64),
  args: z.record(z.string(), z.unknown()).default({}),
})
export type RequestEnvelope = z.infer<typeof RequestEnvelope>

export const WireErrorSchema = z.object({
  code: z.enum(ERROR_CODES),
  message: z.string(),
  details: z.record(z.string(), z.unknown()).optional(),
})

export const OkResponse = z.object({ id: RequestId, ok: z.literal(true), result: z.unknown() })
export const ErrorResponse = z.object({ id: RequestId.nullable(), ok: z.literal(false), error: WireErrorSchema })
export const ResponseEnvelope = z.discriminatedUnion('ok', [OkResponse, ErrorResponse])
export type ResponseEnvelope = z.infer<typeof ResponseEnvelope>
