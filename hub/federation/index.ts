/** The federation transport: the HTTP routes served to peers, the client that calls them, idempotency. */
export { FederationClient, type FederationClientOptions, type PeerEndpoint } from './client.js'
export { IdempotencyGuard, REPLAY_HEADER } from './idempotency.js'
export { registerFederationRoutes, type FederationServerDeps, type HoldParticipant, type RoamingParticipant } from './server.js'
