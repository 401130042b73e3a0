/**
 * Operator logins for the dashboard (`operators` in hub.json). A token is
 * compared in constant time over fixed-length SHA-256 digests against every
 * operator, as the federation's bearer check does, so neither its content,
 * its length nor which operator matched leaks through timing. Only operator
 * tokens are known here: peer tokens and MQTT passwords never log in.
 */
import { createHash, timingSafeEqual } from 'node:crypto'

export interface OperatorToken {
  name: string
  token: string
}

const sha256 = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest()

export class OperatorAuthenticator {
  readonly #ops: ReadonlyArray<{ name: string; digest: Buffer }>

  constructor(operators: readonly OperatorToken[]) {
    this.#ops = operators.map((o) => ({ name: o.name, digest: sha256(o.token) }))
  }

  /** The operator's name for a submitted token, or null (wrong type, too long, unknown). */
  login(token: unknown): string | null {
    if (typeof token !== 'string' || token.length === 0 || token.length > 512) return null
    const d = sha256(token)
    let name: string | null = null
    for (const o of this.#ops) if (timingSafeEqual(o.digest, d) && name === null) name = o.name
    return name
  }
}
