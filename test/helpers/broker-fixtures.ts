/** Start each kind of broker a hub can use, configured for a station/vehicle list, for the shared ACL suite. */
import { randomBytes } from 'node:crypto'
import { startEmbeddedBroker } from '../../hub/broker/embedded-broker.js'
import { mosquittoAclFile, mosquittoConfLines, mosquittoPasswordFile } from '../../hub/broker/mosquitto-acl.js'
import type { AclBrokerUnderTest, AclFixture } from './acl-suite.js'
import { startMosquitto } from './mosquitto.js'

export async function startEmbeddedForAcl(f: AclFixture, allowAnonymous = false): Promise<AclBrokerUnderTest> {
  const b = await startEmbeddedBroker({ host: '127.0.0.1', port: 0, hubId: f.hubId, stations: f.stations, vehicles: f.vehicles, allowAnonymous })
  return { url: b.url, hub: b.hubCredentials, close: () => b.close() }
}

/** A real Mosquitto with the passwd, acl and conf lines that `voltway hub acl` generates, then `ownLines` (an operator's conf.d/). */
export async function startMosquittoForAcl(f: AclFixture, ownLines: readonly string[] = []): Promise<AclBrokerUnderTest> {
  const hub = { username: `hub.${f.hubId}`, password: randomBytes(16).toString('base64url') }
  const input = { hubId: f.hubId, hub, stations: f.stations, vehicles: f.vehicles }
  const m = await startMosquitto({
    files: { passwd: mosquittoPasswordFile(input), acl: mosquittoAclFile(input) },
    config: [
      ...mosquittoConfLines({ passwordFile: '$DIR/passwd', aclFile: '$DIR/acl' }),
      ...ownLines,
      // As root, Mosquitto would switch to user `mosquitto`, which cannot read our 0600 files.
      ...(process.getuid?.() === 0 ? ['user root'] : []),
    ],
  })
  return { url: m.url, hub, close: () => m.close() }
}
