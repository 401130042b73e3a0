/**
 * Bearer-token check for `/federation/v1/*` (docs/protocol.md): the token names the
 * calling peer. Tokens are compared in constant time over fixed-length
 * digests, so neither content nor length leaks through timing.
 */
import { createHash, timingSafeEqual } from 'node:crypto'

export interface PeerToken {
  hubId: string
  acceptToken: string
}

const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest()

export class PeerAuthenticator {
  private readonly peers: Array<{ hubId: string; digest: Buffer }>

  constructor(peers: readonly PeerToken[]) {
    this.peers = peers.map((p) => ({ hubId: p.hubId, digest: digest(p.acceptToken) }))
  }

  /** The peer's hub id for an `Authorization` header value, or null. Checks every peer so timing does not reveal which matched. */
  authenticate(header: string | undefined): string | null {
    if (typeof header !== 'string') return null
    const m = /^Bearer ([\x21-\x7e]{1,512})$/.exec(header)
    if (!m?.[1]) return null
    const d = digest(m[1])
    let found: string | null = null
    for (const p of this.peers) if (timingSafeEqual(p.digest, d) && found === null) found = p.hubId
    return found
  }
}
