import { z } from 'zod'
import { ERROR_CODES } from '../errors.js'

/** Request ids are chosen by the client; keep them short and printable. */
export const RequestId = z.string().min(1).max(128)

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
