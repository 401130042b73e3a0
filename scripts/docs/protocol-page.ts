/**
 * The generated part of docs/protocol.md: one entry per op with its schemas,
 * fields and error codes. The rest of the page is written by hand; the part
 * between the markers is replaced on every run.
 */
import { ID_PATTERN, OPS, OP_NAMES, type OpName } from '../../protocol/index.js'
import { COMMON_OP_ERRORS, OP_ERRORS } from '../../protocol/error-docs.js'
import { codeAnchor } from './error-codes-page.js'
import { isObject, type Json } from './json.js'
import { OP_SUMMARIES, jsonSchemaOf } from './messages.js'

export const OPS_BEGIN = '<!-- BEGIN GENERATED: ops (scripts/gen-docs.ts) -->'
export const OPS_END = '<!-- END GENERATED: ops -->'

/** A short type name for a field's schema: `id`, `time`, `position`, `integer`, `Station[]`... */
function typeName(s: Json): string {
  if (!isObject(s)) return 'any'
  if (s.const !== undefined) return `\`${JSON.stringify(s.const)}\``
  if (Array.isArray(s.enum)) return s.enum.map((v) => `\`${JSON.stringify(v)}\``).join(' \\| ')
  if (Array.isArray(s.anyOf)) return s.anyOf.map(typeName).join(' \\| ')
  if (Array.isArray(s.oneOf)) return s.oneOf.map(typeName).join(' \\| ')
  switch (s.type) {
    case 'string':
      if (s.format === 'date-time') return 'time'
      if (s.pattern === ID_PATTERN.source) return 'id'
      return 'string'
    case 'array':
      return `${typeName(s.items ?? {})}[]`
    case 'object': {
      const props = isObject(s.properties) ? Object.keys(s.properties) : []
      if (props.length === 2 && props.includes('lat') && props.includes('lon')) return 'position'
      return props.length === 0 ? 'object' : `{${props.join(', ')}}`
    }
    case 'null':
      return 'null'
    default:
      return typeof s.type === 'string' ? s.type : 'any'
  }
}

function fieldsOf(s: Json): string {
  if (!isObject(s)) return ''
  const alternatives = Array.isArray(s.anyOf) ? s.anyOf : Array.isArray(s.oneOf) ? s.oneOf : null
  if (alternatives) return `either ${alternatives.map(fieldsOf).join(', or ')}`
  const props = isObject(s.properties) ? s.properties : {}
  const required = Array.isArray(s.required) ? s.required : []
  const names = Object.keys(props)
  if (names.length === 0) return '`{}`'
  return names
    .map((name) => {
      const p = props[name] ?? {}
      const notes = [typeName(p)]
      if (isObject(p) && p.default !== undefined) notes.push(`default \`${JSON.stringify(p.default)}\``)
      else if (!required.includes(name)) notes.push('optional')
      return `\`${name}\` (${notes.join(', ')})`
    })
    .join(', ')
}

function codes(list: readonly string[]): string {
  return list.map((c) => `[\`${c}\`](error-codes.md#${codeAnchor(c)})`).join(', ')
}

function opEntry(op: OpName): string[] {
  const args = jsonSchemaOf(OPS[op].args)
  const result = jsonSchemaOf(OPS[op].result)
  const specific = OP_ERRORS[op]
  return [
    `### \`${op}\``,
    '',
    OP_SUMMARIES[op],
    '',
    `- Args ([schema](schemas/ops/${op}.args.json)): ${fieldsOf(args)}`,
    `- Result ([schema](schemas/ops/${op}.result.json)): ${fieldsOf(result)}`,
    `- Errors: ${specific.length > 0 ? `${codes(specific)}, and ` : ''}the common ${codes(COMMON_OP_ERRORS)}`,
    '',
  ]
}

export function renderOpsSection(): string {
  const lines = [OPS_BEGIN, '', ...OP_NAMES.flatMap(opEntry), OPS_END]
  return lines.join('\n')
}

/** The page with its generated section replaced; throws when the markers are missing. */
export function withOpsSection(page: string): string {
  const begin = page.indexOf(OPS_BEGIN)
  const end = page.indexOf(OPS_END)
  if (begin === -1 || end === -1 || end < begin) throw new Error(`docs/protocol.md needs the markers ${OPS_BEGIN} and ${OPS_END}`)
  return page.slice(0, begin) + renderOpsSection() + page.slice(end + OPS_END.length)
}
