/**
 * The protocol reference in docs/ is generated from the code (scripts/gen-docs.ts)
 * and must match it; the generated JSON Schemas and OpenAPI document must
 * accept every valid message and refuse invalid ones, checked with an
 * independent validator (ajv, JSON Schema 2020-12).
 */
import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import t from 'tap'
import ajv2020 from 'ajv/dist/2020.js'
import ajvFormats from 'ajv-formats'
import type { z } from 'zod'
import * as P from '../protocol/index.js'
import { MESSAGES, SCHEMA_BASE_URL } from '../scripts/docs/messages.js'
import { FEDERATION_COMPONENTS } from '../scripts/docs/federation-api.js'
import { samples } from './helpers/protocol-samples.js'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..')
const DOCS = join(ROOT, 'docs')
const at = '2026-11-24T18:00:00Z'
const pos = { lat: -12.25, lon: -38.95 }

type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue }
type JsonMap = { [key: string]: JsonValue }

function isMap(v: JsonValue | undefined): v is JsonMap {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function readJson(rel: string): JsonMap {
  const v = JSON.parse(readFileSync(join(DOCS, rel), 'utf8')) as JsonValue
  if (!isMap(v)) throw new TypeError(`${rel} is not a JSON object`)
  return v
}

// Both are CommonJS with `exports.default`; under NodeNext the default import is the module object.
const Ajv2020 = ajv2020.default
const addFormats = ajvFormats.default

function newAjv(): InstanceType<typeof Ajv2020> {
  const ajv = new Ajv2020({ strict: true, allErrors: true })
  addFormats(ajv)
  return ajv
}

/** Messages protocol-samples.ts has no example of (they share no zod schema with one). */
const extraSamples: Array<{ name: string; schema: z.ZodType; value: unknown }> = [
  { name: 'hub state', schema: P.HubState, value: { online: true, hubId: 'feira', ts: at } },
  { name: 'federation stations query', schema: P.FedStationsQuery, value: { lat: -12.25, lon: -38.95, rangeKm: 50, at } },
]
const allSamples = [...samples, ...extraSamples]

/** Invalid messages: each must be refused by the zod schema and by its generated JSON Schema. */
const invalid: Array<{ name: string; file: string; value: unknown }> = [
  { name: 'request with an empty id', file: 'request.json', value: { id: '', op: 'hub.info' } },
  { name: 'error response with an unknown code', file: 'response.json', value: { id: 'r-1', ok: false, error: { code: 'NOPE', message: 'x' } } },
  { name: 'ok response without an id', file: 'response.json', value: { id: null, ok: true, result: {} } },
  { name: 'nearest with a latitude past the pole', file: 'ops/station.nearest.args.json', value: { position: { lat: 91, lon: 0 }, rangeKm: 5 } },
  { name: 'a station.list page over 1000 stations', file: 'ops/station.list.args.json', value: { limit: 1001 } },
  { name: 'a station.list page after a malformed id', file: 'ops/station.list.args.json', value: { after: 'a b' } },
  { name: 'reservation without rangeKm', file: 'ops/reservation.create.args.json', value: { at, position: pos } },
  { name: 'reservation at a time that is not RFC 3339', file: 'ops/reservation.create.args.json', value: { at: '2026-11-24 18:00', position: pos, rangeKm: 5 } },
  { name: 'reservation for a station id with a space', file: 'ops/reservation.create.args.json', value: { at, position: pos, rangeKm: 5, stationId: 'FSA 1' } },
  { name: 'cancel with all: false', file: 'ops/reservation.cancel.args.json', value: { all: false } },
  { name: 'receipt with fractional energy', file: 'ops/charge.stop.result.json', value: { receipt: { sessionId: 's', stationId: 'S', hubId: 'h', vehicleId: 'V', startedAt: at, endedAt: at, energyWh: 1.5, priceMinorPerKwh: 1, costMinor: 0, currency: 'BRL' } } },
  { name: 'event with seq 0', file: 'station/event.json', value: { seq: 0, type: 'fault', code: 'X', meterWh: 1, ts: at } },
  { name: 'event of an unknown type', file: 'station/event.json', value: { seq: 1, type: 'session.paused', sessionId: 's', meterWh: 1, ts: at } },
  { name: 'command with an unknown op', file: 'station/command.json', value: { id: 'c-1', op: 'reboot' } },
  { name: 'hold request with a zero TTL', file: 'federation/hold-request.json', value: { txId: 't', txStartedAt: at, vehicleId: 'V', at, from: pos, rangeKm: 5, ttlSeconds: 0 } },
]

t.test('the checked-in docs match the code: gen-docs --check exits 0', async (t) => {
  const run = promisify(execFile)
  try {
    const { stdout } = await run(process.execPath, ['--import', 'tsx', 'scripts/gen-docs.ts', '--check'], { cwd: ROOT })
    t.match(stdout, /up to date/)
  } catch (err) {
    const e = err as { code?: number; stderr?: string }
    t.fail(`gen-docs --check exited ${String(e.code)}; run \`npm run docs:gen\`:\n${e.stderr ?? ''}`)
  }
})

t.test('every generated message schema is valid JSON Schema 2020-12 with its $id, title and description', async (t) => {
  const ajv = newAjv()
  for (const m of MESSAGES) {
    const schema = readJson(`schemas/${m.file}`)
    t.equal(schema.$schema, 'https://json-schema.org/draft/2020-12/schema', `${m.file}: dialect`)
    t.equal(schema.$id, `${SCHEMA_BASE_URL}${m.file}`, `${m.file}: $id`)
    t.equal(schema.title, m.title, `${m.file}: title`)
    t.equal(schema.description, m.description, `${m.file}: description`)
    t.doesNotThrow(() => ajv.compile(schema), `${m.file} compiles`)
  }
})

t.test('every protocol sample validates against its generated JSON Schema', async (t) => {
  const ajv = newAjv()
  for (const s of allSamples) {
    const targets = MESSAGES.filter((m) => m.schema === s.schema)
    t.ok(targets.length > 0, `${s.name}: has a generated schema`)
    t.ok(s.schema.safeParse(s.value).success, `${s.name}: the zod schema accepts it`)
    for (const m of targets) {
      const validate = ajv.getSchema(`${SCHEMA_BASE_URL}${m.file}`) ?? ajv.compile(readJson(`schemas/${m.file}`))
      const ok = validate(s.value)
      t.ok(ok, `${s.name}: valid against ${m.file}`, { errors: validate.errors })
    }
  }
})

t.test('every generated message schema has at least one sample', async (t) => {
  for (const m of MESSAGES) t.ok(allSamples.some((s) => s.schema === m.schema), `${m.file} has a sample`)
})

t.test('invalid messages are refused by both the zod schema and the generated JSON Schema', async (t) => {
  const ajv = newAjv()
  for (const bad of invalid) {
    const m = MESSAGES.find((x) => x.file === bad.file)
    if (!m) {
      t.fail(`${bad.file} is not a generated message`)
      continue
    }
    t.notOk(m.schema.safeParse(bad.value).success, `${bad.name}: zod refuses it`)
    const validate = ajv.getSchema(`${SCHEMA_BASE_URL}${m.file}`) ?? ajv.compile(readJson(`schemas/${m.file}`))
    t.notOk(validate(bad.value), `${bad.name}: ${bad.file} refuses it`)
  }
})

/** Every `$ref` in the document, with where it was found. */
function refsIn(node: JsonValue, path: string, out: Array<{ ref: string; at: string }>): void {
  if (Array.isArray(node)) node.forEach((v, i) => refsIn(v, `${path}/${i}`, out))
  else if (isMap(node)) {
    for (const [k, v] of Object.entries(node)) {
      if (k === '$ref' && typeof v === 'string') out.push({ ref: v, at: path })
      else refsIn(v, `${path}/${k}`, out)
    }
  }
}

function resolvePointer(doc: JsonMap, ref: string): JsonValue | undefined {
  if (!ref.startsWith('#/')) return undefined
  let node: JsonValue | undefined = doc
  for (const raw of ref.slice(2).split('/')) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~')
    node = isMap(node) ? node[key] : undefined
  }
  return node
}

t.test('openapi.json is OpenAPI 3.1 and references only defined components', async (t) => {
  const doc = readJson('openapi.json')
  t.equal(doc.openapi, '3.1.0')
  const refs: Array<{ ref: string; at: string }> = []
  refsIn(doc, '#', refs)
  t.ok(refs.length > 0, 'the document uses $refs')
  for (const { ref, at: where } of refs) {
    t.ok(ref.startsWith('#/components/'), `${where}: ${ref} points into components`)
    t.ok(resolvePointer(doc, ref) !== undefined, `${where}: ${ref} is defined`)
  }
})

t.test('openapi.json describes every federation route with bearer auth, idempotency keys and coded errors', async (t) => {
  const doc = readJson('openapi.json')
  const paths = doc.paths
  if (!isMap(paths)) throw new TypeError('paths missing')
  const routes: Array<[string, string, boolean]> = [
    ['get', '/federation/v1/hub', false],
    ['get', '/federation/v1/stations', false],
    ['post', '/federation/v1/holds', true],
    ['post', '/federation/v1/holds/{holdId}/confirm', true],
    ['delete', '/federation/v1/holds/{holdId}', true],
    ['delete', '/federation/v1/reservations/{reservationId}', true],
    ['get', '/federation/v1/vehicles/{vehicleId}/receipts', false],
    ['post', '/federation/v1/sessions', true],
    ['get', '/federation/v1/sessions/{sessionId}', false],
    ['post', '/federation/v1/sessions/{sessionId}/stop', true],
    ['get', '/healthz', false],
  ]
  t.same(doc.security, [{ bearer: [] }], 'bearer token by default')
  const codes = new Set<string>(P.ERROR_CODES)
  for (const [method, path, mutating] of routes) {
    const item = paths[path]
    const op = isMap(item) ? item[method] : undefined
    if (!isMap(op)) {
      t.fail(`${method.toUpperCase()} ${path} is missing`)
      continue
    }
    const label = `${method.toUpperCase()} ${path}`
    if (path === '/healthz') t.same(op.security, [], `${label} needs no token`)
    else t.equal(op.security, undefined, `${label} uses the bearer token`)
    const params = Array.isArray(op.parameters) ? op.parameters : []
    const hasKey = params.some((p) => isMap(p) && p.$ref === '#/components/parameters/IdempotencyKey')
    t.equal(hasKey, mutating, `${label}: Idempotency-Key ${mutating ? 'required' : 'not used'}`)
    const responses = op.responses
    if (!isMap(responses)) throw new TypeError(`${label}: no responses`)
    for (const [status, res] of Object.entries(responses)) {
      if (!isMap(res) || Number(status) < 400 || path === '/healthz') continue
      const content = res.content
      const schema = isMap(content) && isMap(content['application/json']) ? content['application/json'].schema : undefined
      t.same(schema, { $ref: '#/components/schemas/ErrorBody' }, `${label} ${status}: error body`)
      const listed = Array.isArray(res['x-error-codes']) ? res['x-error-codes'] : []
      t.ok(listed.length > 0, `${label} ${status}: lists its codes`)
      for (const code of listed) {
        t.ok(typeof code === 'string' && codes.has(code), `${label} ${status}: ${String(code)} is an error code`)
        if (typeof code === 'string' && P.isErrorCode(code)) t.equal(P.HTTP_STATUS[code], Number(status), `${label}: ${code} is HTTP ${status}`)
      }
    }
    if (path !== '/healthz') t.ok(isMap(responses['401']), `${label} answers 401 without a token`)
    for (const status of ['400', '408', '413', '431']) t.ok(isMap(responses[status]), `${label} lists ${status}, which the connection can answer before any route`)
  }
  const key = resolvePointer(doc, '#/components/parameters/IdempotencyKey')
  t.ok(isMap(key) && key.in === 'header' && key.name === 'Idempotency-Key' && key.required === true, 'Idempotency-Key is a required header')
})

t.test('federation samples validate against the OpenAPI component schemas', async (t) => {
  const doc = readJson('openapi.json')
  const ajv = newAjv()
  const components = resolvePointer(doc, '#/components/schemas')
  if (!isMap(components)) throw new TypeError('components.schemas missing')
  for (const [name, zodSchema] of Object.entries(FEDERATION_COMPONENTS)) {
    const schema = components[name]
    if (!isMap(schema)) {
      t.fail(`component ${name} is missing`)
      continue
    }
    const validate = ajv.compile(schema)
    const mine = allSamples.filter((s) => s.schema === zodSchema)
    t.ok(mine.length > 0, `${name} has a sample`)
    for (const s of mine) t.ok(validate(s.value), `${s.name}: valid against components.schemas.${name}`, { errors: validate.errors })
  }
})

t.test('error-codes.md has a section for every error code', async (t) => {
  const page = readFileSync(join(DOCS, 'error-codes.md'), 'utf8')
  for (const code of P.ERROR_CODES) t.match(page, new RegExp(`^## ${code}$`, 'm'), code)
})
