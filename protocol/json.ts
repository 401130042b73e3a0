/**
 * Reading JSON off the network: bounded size, objects only, no prototype
 * keys. Returns a result instead of throwing so no caller can forget a catch.
 */
export const MAX_MESSAGE_BYTES = 64 * 1024

const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype'])

export type JsonResult = { ok: true; value: Record<string, unknown> } | { ok: false; reason: string }

export function parseJsonObject(payload: Buffer | string, maxBytes = MAX_MESSAGE_BYTES): JsonResult {
  const size = typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length
  if (size > maxBytes) return { ok: false, reason: `payload of ${size} bytes exceeds ${maxBytes}` }
  let value: unknown
  try {
    value = JSON.parse(typeof payload === 'string' ? payload : payload.toString('utf8'), (key, v: unknown) => {
      if (FORBIDDEN_KEYS.has(key)) throw new ForbiddenKey(key)
      return v
    })
  } catch (err) {
    if (err instanceof ForbiddenKey) return { ok: false, reason: `forbidden key "${err.key}"` }
    return { ok: false, reason: 'not valid JSON' }
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, reason: 'expected a JSON object' }
  }
  return { ok: true, value: value as Record<string, unknown> }
}

class ForbiddenKey extends Error {
  constructor(readonly key: string) {
    super(key)
  }
}
