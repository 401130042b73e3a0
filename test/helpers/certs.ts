/**
 * Certificates made at test time with the openssl CLI, in a temp dir: a CA,
 * a server certificate for 127.0.0.1/localhost (subjectAltName), one for a
 * wrong name, a client certificate, and a second CA that signed nothing we
 * trust. The commands are those of docs/operator-guide.md "TLS".
 */
import { execFileSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { tempDir } from './hub-config.js'

export interface TestCerts {
  dir: string
  /** The CA everything below is signed by. */
  ca: string
  /** Server certificate for 127.0.0.1, ::1 and localhost, and its key. */
  serverCert: string
  serverKey: string
  /** Signed by the CA, but for `wrong.example` only. */
  wrongNameCert: string
  wrongNameKey: string
  /** A client certificate (CN hub-client), for mutual TLS. */
  clientCert: string
  clientKey: string
  /** Another CA: trusting it instead of `ca` must fail. */
  otherCa: string
  /** A server certificate for 127.0.0.1 signed by `otherCa`. */
  otherServerCert: string
  otherServerKey: string
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] })
}

function makeCa(dir: string, name: string): void {
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.crt`, '-days', '2', '-subj', `/CN=${name}`], dir)
}

/** A key and a certificate signed by `ca`, with the given subjectAltName (and extendedKeyUsage). */
function issue(dir: string, ca: string, name: string, san: string, usage: 'serverAuth' | 'clientAuth'): void {
  writeFileSync(join(dir, `${name}.ext`), `subjectAltName=${san}\nextendedKeyUsage=${usage}\n`)
  openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`], dir)
  openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-out', `${name}.crt`, '-days', '2', '-extfile', `${name}.ext`], dir)
}

let cached: TestCerts | undefined

/** One set per test process (openssl takes a few tens of ms per call). */
export function testCerts(): TestCerts {
  if (cached) return cached
  const dir = tempDir('voltway-certs-')
  makeCa(dir, 'ca')
  makeCa(dir, 'other-ca')
  issue(dir, 'ca', 'server', 'IP:127.0.0.1,IP:::1,DNS:localhost', 'serverAuth')
  issue(dir, 'ca', 'wrong-name', 'DNS:wrong.example', 'serverAuth')
  issue(dir, 'ca', 'client', 'DNS:hub-client', 'clientAuth')
  issue(dir, 'other-ca', 'other-server', 'IP:127.0.0.1,DNS:localhost', 'serverAuth')
  const f = (n: string): string => join(dir, n)
  cached = {
    dir,
    ca: f('ca.crt'),
    serverCert: f('server.crt'),
    serverKey: f('server.key'),
    wrongNameCert: f('wrong-name.crt'),
    wrongNameKey: f('wrong-name.key'),
    clientCert: f('client.crt'),
    clientKey: f('client.key'),
    otherCa: f('other-ca.crt'),
    otherServerCert: f('other-server.crt'),
    otherServerKey: f('other-server.key'),
  }
  return cached
}
