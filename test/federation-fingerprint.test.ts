/**
 * The Idempotency-Key fingerprint's canonical JSON (hub/federation/idempotency.ts):
 * the same for any key order, and byte for byte what the first version of it
 * wrote, so answers stored before an upgrade still match their retries after it.
 */
import fc from 'fast-check'
import t from 'tap'
import { canonicalJson } from '../hub/federation/idempotency.js'

/** The first version, kept here as the reference. */
function reference(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(reference).join(',')}]`
  if (v !== null && typeof v === 'object') {
    const entries = Object.entries(v as Record<string, unknown>)
      .filter(([, x]) => x !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${reference(x)}`).join(',')}}`
  }
  return JSON.stringify(v) ?? 'null'
}

const value = fc.letrec((tie) => ({
  json: fc.oneof(
    { depthSize: 'small' },
    fc.constant(null),
    fc.boolean(),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.string({ unit: 'binary' }),
    fc.constant(undefined),
    fc.array(tie('json'), { maxLength: 5 }),
    fc.dictionary(fc.string({ unit: 'binary', maxLength: 6 }), tie('json'), { maxKeys: 6 }),
  ),
})).json

t.test('canonical JSON is the same as the first version wrote, for any value', async (t) => {
  fc.assert(fc.property(value, (v) => canonicalJson(v) === reference(v)), { numRuns: 2000 })
  t.pass()
})

t.test('canonical JSON does not depend on key order, and leaves undefined members out', async (t) => {
  t.equal(canonicalJson({ b: 1, a: { d: [1, undefined, 'x'], c: null }, e: undefined }), '{"a":{"c":null,"d":[1,null,"x"]},"b":1}')
  t.equal(canonicalJson({ a: { c: null, d: [1, undefined, 'x'] }, b: 1 }), canonicalJson({ b: 1, a: { d: [1, undefined, 'x'], c: null } }))
  t.equal(canonicalJson({ é: 1, z: 2, Z: 3, '10': 4, '9': 5 }), reference({ é: 1, z: 2, Z: 3, '10': 4, '9': 5 }))
})
