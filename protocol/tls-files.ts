/**
 * TLS material named in a config file (docs/configuration.md "TLS"): the
 * schema of a `tls` block, resolving its paths against the config file, and
 * reading the PEM files once at start. Every failure is a ConfigError naming
 * the field and the file, with a hint, so a hub, a station or a vehicle with a
 * wrong path or a mismatched key exits 2 before it listens or connects.
 */
import { readProblem, readRegularFile } from '../base/read-regular-file.js'
import { X509Certificate, createPrivateKey } from 'node:crypto'
import { isAbsolute, resolve } from 'node:path'
import { z } from 'zod'
import { ConfigError } from './validation.js'

const PemPath = z.string().min(1).max(4096)

/** A server's TLS block: `{"cert", "key", "ca"?, "requestCert"?}`; with `requestCert` clients must present a certificate signed by `ca`. */
export const TlsServerConfig = z
  .strictObject({ cert: PemPath, key: PemPath, ca: PemPath.optional(), requestCert: z.boolean().default(false) })
  .refine((t) => !t.requestCert || t.ca !== undefined, { message: 'requestCert needs "ca": the CA that signs the client certificates', path: ['requestCert'] })
export type TlsServerConfig = z.output<typeof TlsServerConfig>

/** PEM contents, ready for `tls.createServer` / `tls.connect` / undici `connect`. */
export interface TlsMaterial {
  cert?: Buffer
  key?: Buffer
  ca?: Buffer
}

const HINT = 'see docs/operator-guide.md "TLS" to make one with openssl'

/** A path from a config file, made absolute against the directory of that file (as `dataDir` is). */
export function resolveConfigPath(configDir: string, path: string): string
export function resolveConfigPath(configDir: string, path: string | undefined): string | undefined
export function resolveConfigPath(configDir: string, path: string | undefined): string | undefined {
  return path === undefined || isAbsolute(path) ? path : resolve(configDir, path)
}

/** The same object with its `cert`, `key` and `ca` paths resolved against `configDir`. */
export function resolveTlsPaths<T extends { cert?: string | undefined; key?: string | undefined; ca?: string | undefined }>(configDir: string, t: T): T {
  const out = { ...t }
  for (const k of ['cert', 'key', 'ca'] as const) if (t[k] !== undefined) out[k] = resolveConfigPath(configDir, t[k]) as T[typeof k]
  return out
}

/**
 * Read and check the files of one TLS block. `where` names it for messages,
 * e.g. `hub.json: mqtt.listen.tls`. Checks: each file is readable; `cert` and
 * `ca` hold a PEM certificate, `key` a PEM private key (unencrypted); the key
 * belongs to the certificate; the certificate has not expired at `now`.
 */
export function readTlsMaterial(
  where: string,
  files: { cert?: string | undefined; key?: string | undefined; ca?: string | undefined },
  now: Date = new Date(),
): TlsMaterial {
  const out: TlsMaterial = {}
  let cert: X509Certificate | undefined
  if (files.cert !== undefined) {
    out.cert = readPem(where, 'cert', files.cert)
    cert = parseCert(where, 'cert', files.cert, out.cert)
    if (Date.parse(cert.validTo) < now.getTime()) throw new ConfigError(`${fieldLabel(where, 'cert')}: ${files.cert} expired on ${cert.validTo}; issue a new certificate and restart (docs/operator-guide.md "Rotating certificates")`)
  }
  if (files.key !== undefined) {
    out.key = readPem(where, 'key', files.key)
    let key
    try {
      key = createPrivateKey(out.key)
    } catch {
      throw new ConfigError(`${fieldLabel(where, 'key')}: ${files.key} is not an unencrypted PEM private key; ${HINT}`)
    }
    if (cert && !cert.checkPrivateKey(key)) throw new ConfigError(`${fieldLabel(where, 'key')}: ${files.key} is not the key of the certificate ${files.cert ?? ''}; give the key the certificate was issued for`)
  }
  if (files.ca !== undefined) {
    out.ca = readPem(where, 'ca', files.ca)
    parseCert(where, 'ca', files.ca, out.ca)
  }
  return out
}

/** `hub.json: http.tls` + `key` -> `hub.json: http.tls.key`; a command-line flag (`--ca`) is its own label. */
function fieldLabel(where: string, field: string): string {
  return where.startsWith('-') ? where : `${where}.${field}`
}

/** The largest PEM file read: a CA bundle of a few hundred certificates is well under 1 MiB. */
const MAX_PEM_BYTES = 4 * 1024 * 1024

function readPem(where: string, field: string, file: string): Buffer {
  try {
    return readRegularFile(file, MAX_PEM_BYTES)
  } catch (err) {
    const problem = readProblem(err)
    throw new ConfigError(`${fieldLabel(where, field)}: cannot read ${file}${problem ? ` ${problem}` : ''}; check the path (in a config file, relative to the file) and that this user may read it`)
  }
}

function parseCert(where: string, field: string, file: string, pem: Buffer): X509Certificate {
  try {
    return new X509Certificate(pem)
  } catch {
    throw new ConfigError(`${fieldLabel(where, field)}: ${file} is not a PEM certificate; ${HINT}`)
  }
}

/** A server's TLS block read (see readTlsMaterial), or undefined when the config has none: plain TCP. */
export function readServerTls(where: string, cfg: TlsServerConfig | undefined): (TlsMaterial & { requestCert: boolean }) | undefined {
  return cfg === undefined ? undefined : { ...readTlsMaterial(where, cfg), requestCert: cfg.requestCert }
}

/**
 * Whether an error code is a TLS failure: Node's TLS errors and OpenSSL's
 * verification results (X509_V_ERR_* without the prefix), e.g.
 * `UNABLE_TO_VERIFY_LEAF_SIGNATURE` for a certificate whose CA is not trusted.
 */
export function isTlsErrorCode(code: unknown): boolean {
  return typeof code === 'string' && /^(ERR_TLS_|ERR_SSL_|CERT_|UNABLE_TO_|DEPTH_ZERO_|SELF_SIGNED_|HOSTNAME_MISMATCH|INVALID_CA|INVALID_PURPOSE)/.test(code)
}
