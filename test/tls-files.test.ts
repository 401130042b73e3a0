/** Reading TLS files at start (protocol/tls-files.ts): each bad file is a ConfigError naming the field and the file, with a hint. */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { ConfigError, readTlsMaterial } from '../protocol/index.js'
import { testCerts } from './helpers/certs.js'

const c = testCerts()
const junk = join(c.dir, 'junk.pem')
writeFileSync(junk, '-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n')
const inTenDays = new Date(Date.now() + 10 * 86_400_000)

const cases: Array<[string, Parameters<typeof readTlsMaterial>, RegExp]> = [
  ['a missing cert', ['hub.json: http.tls', { cert: join(c.dir, 'gone.crt'), key: c.serverKey }], /^hub\.json: http\.tls\.cert: cannot read .*gone\.crt \(ENOENT\); check the path/],
  ['a cert that is not a certificate', ['hub.json: http.tls', { cert: junk, key: c.serverKey }], /^hub\.json: http\.tls\.cert: .*junk\.pem is not a PEM certificate; see docs\/operator-guide\.md "TLS"/],
  ['a key that is not a key', ['hub.json: http.tls', { cert: c.serverCert, key: c.serverCert }], /^hub\.json: http\.tls\.key: .*server\.crt is not an unencrypted PEM private key/],
  ['the key of another certificate', ['hub.json: mqtt.listen.tls', { cert: c.serverCert, key: c.clientKey }], /^hub\.json: mqtt\.listen\.tls\.key: .*client\.key is not the key of the certificate .*server\.crt/],
  ['an expired certificate (clock injected)', ['hub.json: http.tls', { cert: c.serverCert, key: c.serverKey }, inTenDays], /^hub\.json: http\.tls\.cert: .*server\.crt expired on .*; issue a new certificate/],
  ['a ca that is not a certificate', ['station.json: mqtt', { ca: c.serverKey }], /^station\.json: mqtt\.ca: .*server\.key is not a PEM certificate/],
  ['a command-line flag is its own label', ['--ca', { ca: join(c.dir, 'nope.pem') }], /^--ca: cannot read .*nope\.pem \(ENOENT\)/],
]

for (const [what, args, message] of cases) {
  t.test(`TLS files: ${what} is a ConfigError naming field and file`, async (t) => {
    const err: unknown = (() => {
      try {
        readTlsMaterial(...args)
        return null
      } catch (e) {
        return e
      }
    })()
    t.ok(err instanceof ConfigError, 'a ConfigError (exit 2)')
    t.match((err as Error).message, message)
  })
}

t.test('TLS files: good ones come back as PEM buffers', async (t) => {
  const m = readTlsMaterial('hub.json: http.tls', { cert: c.serverCert, key: c.serverKey, ca: c.ca })
  t.match(m.cert?.toString(), /BEGIN CERTIFICATE/)
  t.match(m.key?.toString(), /BEGIN PRIVATE KEY/)
  t.match(m.ca?.toString(), /BEGIN CERTIFICATE/)
})

t.test('a certificate path that names a device or a FIFO is refused at once, not read forever', { skip: process.platform !== 'linux' && 'Linux devices' }, async (t) => {
  t.throws(() => readTlsMaterial('--ca', { ca: '/dev/zero' }), { name: 'ConfigError', message: /^--ca: cannot read \/dev\/zero \(not a regular file: a device, FIFO or socket\); check the path/ })
  t.throws(() => readTlsMaterial('--ca', { ca: '/dev/urandom' }), { name: 'ConfigError', message: /^--ca: cannot read \/dev\/urandom \(not a regular file/ })
})
