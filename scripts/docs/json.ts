/**
 * Deterministic JSON for generated files: JSON Schema keywords in one fixed
 * order, property maps in declaration order (the order a reader expects),
 * two-space indent and a trailing newline, so `--check` can compare bytes.
 */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json }
export type JsonObject = { [key: string]: Json }

const FIRST = ['$schema', '$id', '$ref', 'title', 'description', 'type']
/** Keywords whose value maps names to schemas: the names keep their order. */
const SCHEMA_MAPS = new Set(['properties', '$defs', 'definitions', 'patternProperties', 'dependentSchemas'])
/** Keywords whose value is one schema. */
const SCHEMA_ONE = new Set(['items', 'not', 'additionalProperties', 'propertyNames', 'contains', 'if', 'then', 'else', 'unevaluatedProperties', 'unevaluatedItems'])
/** Keywords whose value is a list of schemas. */
const SCHEMA_LISTS = new Set(['anyOf', 'oneOf', 'allOf', 'prefixItems'])

export function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function keywordRank(k: string): [number, string] {
  const i = FIRST.indexOf(k)
  return i === -1 ? [FIRST.length, k] : [i, k]
}

function compareKeywords(a: string, b: string): number {
  const [ra, ka] = keywordRank(a)
  const [rb, kb] = keywordRank(b)
  if (ra !== rb) return ra - rb
  return ka < kb ? -1 : ka > kb ? 1 : 0
}

/** A JSON Schema with its keywords in canonical order, recursively. */
export function canonicalSchema(node: Json): Json {
  if (!isObject(node)) return node
  const out: JsonObject = {}
  for (const key of Object.keys(node).sort(compareKeywords)) {
    const value = node[key] as Json
    if (SCHEMA_MAPS.has(key) && isObject(value)) {
      const map: JsonObject = {}
      for (const [name, sub] of Object.entries(value)) map[name] = canonicalSchema(sub)
      out[key] = map
    } else if (SCHEMA_ONE.has(key)) {
      out[key] = canonicalSchema(value)
    } else if (SCHEMA_LISTS.has(key) && Array.isArray(value)) {
      out[key] = value.map(canonicalSchema)
    } else {
      out[key] = value
    }
  }
  return out
}

/** Plain data (from JSON.parse or a schema generator) as Json; throws on anything JSON cannot carry. */
export function toJson(value: unknown): Json {
  const text = JSON.stringify(value)
  if (text === undefined) throw new TypeError('value has no JSON form')
  return JSON.parse(text) as Json
}

export function renderJson(value: Json): string {
  return `${JSON.stringify(value, null, 2)}\n`
}
