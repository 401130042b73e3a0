/** The hub's MQTT broker side: the embedded broker and the files for an external Mosquitto. */
export { startEmbeddedBroker, type EmbeddedBroker, type EmbeddedBrokerOptions } from './embedded-broker.js'
export { checkIdentityCollisions, assertNoIdentityCollisions, defaultHubUsername, hubUsernameOf, replicaUsername, requestUsername, type IdentityConfig, type StationCredential, type VehicleCredential } from './identities.js'
export { PERMISSIONS, type IdentityKind, type RoleRules } from './permissions.js'
export { mosquittoAclFile, mosquittoConf, mosquittoConfLines, mosquittoPasswordFile, mosquittoPasswordHash, type MosquittoAclInput } from './mosquitto-acl.js'
export { brokerStartFailure, isRefusedLogin } from './start-failure.js'
export { MAX_PACKET_BYTES } from './packet-limit.js'
