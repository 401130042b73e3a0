/** docs/protocol.md's MQTT permission table, enforced by the hub's embedded aedes broker. */
import t from 'tap'
import { aclSuite } from './helpers/acl-suite.js'
import { startEmbeddedForAcl } from './helpers/broker-fixtures.js'

aclSuite(t, (f) => startEmbeddedForAcl(f))
