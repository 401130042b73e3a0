/** docs/protocol.md's MQTT permission table, enforced by a real Mosquitto with the files `voltway hub acl` writes. */
import t from 'tap'
import { aclSuite } from './helpers/acl-suite.js'
import { startMosquittoForAcl } from './helpers/broker-fixtures.js'
import { mosquittoTools } from './helpers/mosquitto.js'

if (mosquittoTools().broker === null) {
  t.skip('SKIP: no mosquitto binary on this machine; the generated password/ACL files are not checked against a real Mosquitto', () => undefined)
} else {
  aclSuite(t, (f) => startMosquittoForAcl(f))
}
