import { randomUUID } from 'node:crypto'

/** docs/protocol.md: identifiers are `^[A-Za-z0-9_-]{1,64}$`. */
export const ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/

/** A new random identifier that satisfies ID_PATTERN (`prefix-uuid`). */
export function newId(prefix = ''): string {
  const id = randomUUID()
  return prefix ? `${prefix}-${id}` : id
}
