/**
 * Password hashes for accounts: scrypt from node:crypto (Node's binding of
 * OpenSSL's EVP_PBE_scrypt, RFC 7914), a memory-hard KDF kept by the Node.js
 * and OpenSSL projects, so no third-party hashing code runs in the hub.
 *
 * Encoded as `$scrypt$N=16384,r=8,p=1$<salt>$<hash>` (salt 16 random bytes,
 * hash 32 bytes, both base64 without padding, PHC string format). N=2^14, r=8,
 * p=1 are the parameters OWASP's Password Storage Cheat Sheet lists as a
 * minimum for scrypt (about 16 MiB and 80 ms per hash on a small machine).
 */
import { randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto'

const PARAMS = { N: 16384, r: 8, p: 1 }
const KEY_BYTES = 32
const PATTERN = /^\$scrypt\$N=(\d+),r=(\d+),p=(\d+)\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/

function scrypt(password: string, salt: Buffer, keylen: number, opts: ScryptOptions): Promise<Buffer> {
  // 128 * N * r bytes, plus room: Node's default maxmem (32 MiB) is too tight for stronger parameters.
  const maxmem = 256 * (opts.N ?? PARAMS.N) * (opts.r ?? PARAMS.r)
  return new Promise((resolve, reject) => scryptCb(password, salt, keylen, { ...opts, maxmem }, (err, key) => (err ? reject(err) : resolve(key))))
}

const b64 = (b: Buffer): string => b.toString('base64').replace(/=+$/, '')

/** Hash a password with a fresh salt (runs on libuv's thread pool). */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16)
  const key = await scrypt(password, salt, KEY_BYTES, PARAMS)
  return `$scrypt$N=${PARAMS.N},r=${PARAMS.r},p=${PARAMS.p}$${b64(salt)}$${b64(key)}`
}

/** A hash of a random password: verifying against it costs what a real check costs, so an unknown user takes as long as a wrong password. */
let dummy: Promise<string> | undefined
export function dummyHash(): Promise<string> {
  dummy ??= hashPassword(randomBytes(32).toString('base64url'))
  return dummy
}

/**
 * Whether `password` matches `encoded`; false for a malformed hash or
 * parameters out of range. The comparison is constant-time (`timingSafeEqual`).
 */
export async function verifyPassword(password: string, encoded: string): Promise<boolean> {
  const m = PATTERN.exec(encoded.startsWith(SEEDED) ? encoded.slice(SEEDED.length) : encoded)
  if (!m) return false
  const [N, r, p] = [Number(m[1]), Number(m[2]), Number(m[3])]
  if (N < 2 || N > 2 ** 20 || (N & (N - 1)) !== 0 || r < 1 || r > 32 || p < 1 || p > 16) return false
  const salt = Buffer.from(m[4] as string, 'base64')
  const expected = Buffer.from(m[5] as string, 'base64')
  if (expected.length < 16) return false
  const key = await scrypt(password, salt, expected.length, { N, r, p })
  return timingSafeEqual(key, expected)
}

/** Whether a string is a hash this module made, bare or seeded (for the test that no clear text is stored). */
export function isPasswordHash(s: string): boolean {
  return PATTERN.test(s.startsWith(SEEDED) ? s.slice(SEEDED.length) : s)
}

/**
 * Prefix of the hash of an account seeded from hub.json and not changed
 * since (`seed:$scrypt$...`), and the whole value while its hash is being
 * computed after start (`seed:pending`). While an account carries it and
 * hub.json still lists it, logins are checked against hub.json's password
 * (which the operator's file holds anyway), so a hub with many accounts in
 * hub.json pays no scrypt at start or at login; a password set with the CLI or
 * `/admin/v1` is a bare `$scrypt$` hash and the store wins.
 */
export const SEEDED = 'seed:'
export const SEED_PENDING = 'seed:pending'
