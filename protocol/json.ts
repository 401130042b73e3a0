/**
 * Reading JSON off the network: bounded size, objects only, no prototype
 * keys. Returns a result instead of throwing so no caller can forget a catch.
 */
export const MAX_MESSAGE_BYTES = 64 * 1024

const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype'])

/**
 * A refused object whose forbidden keys were the only fault still yields its
 * top-level `id` in `id`, so a request or command can be answered with it and
 * its sender can match the answer. So does a message too large or not valid
 * JSON that starts with its `id` (`{"id":"r-1",...`, as clients write them):
 * an MQTT 3.1.1 client, which has no Correlation Data, can then match the
 * refusal to its request instead of waiting for its own timeout.
 */
export type JsonResult = { ok: true; value: Record<string, unknown> } | { ok: false; reason: string; id?: unknown }
// `reason` reads after its subject: `request ${reason}`, e.g. `request has a forbidden key "__proto__" (prototype keys are refused)`.

export function parseJsonObject(payload: Buffer | string, maxBytes = MAX_MESSAGE_BYTES): JsonResult {
  const size = typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length
  if (size > maxBytes) return withLeadingId({ ok: false, reason: `is ${size} bytes, over the limit of ${maxBytes}` }, payload)
  let forbidden: string | undefined
  let value: unknown
  const text = typeof payload === 'string' ? payload : payload.toString('utf8')
  try {
    // A reviver makes JSON.parse several times slower; it is needed only when a key could spell a
    // forbidden name: literally, or through an escape (any backslash).
    value = mayHaveForbiddenKey(text) ? JSON.parse(text, (key, v: unknown) => {
      if (!FORBIDDEN_KEYS.has(key)) return v
      // Dropped (returning undefined deletes the own property), never assigned: the rest is still read for its id.
      forbidden ??= key
      return undefined
    }) : JSON.parse(text)
  } catch {
    return withLeadingId({ ok: false, reason: 'is not valid JSON' }, text)
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, reason: 'is not a JSON object' }
  }
  const obj = value as Record<string, unknown>
  if (forbidden !== undefined) return { ok: false, reason: `has a forbidden key "${forbidden}" (prototype keys are refused)`, id: Object.hasOwn(obj, 'id') ? obj.id : undefined }
  return { ok: true, value: obj }
}

/** `{"id": "<string>"` at the very start of a message: the string, read from its first 1 KiB only. */
// JSON strings hold no raw control characters (RFC 8259 section 7): the class must name them.
// eslint-disable-next-line no-control-regex
const LEADING_ID = /^\s*\{\s*"id"\s*:\s*("(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*")/

function withLeadingId(refused: { ok: false; reason: string }, payload: Buffer | string): JsonResult {
  const head = typeof payload === 'string' ? payload.slice(0, 1024) : payload.subarray(0, 1024).toString('utf8')
  const m = LEADING_ID.exec(head)
  return m ? { ...refused, id: JSON.parse(m[1] as string) as string } : refused
}

function mayHaveForbiddenKey(text: string): boolean {
  if (text.includes('\\')) return true
  for (const key of FORBIDDEN_KEYS) if (text.includes(key)) return true
  return false
}
