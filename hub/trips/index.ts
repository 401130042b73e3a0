/** Trips across hubs: both sides of Try-Confirm/Cancel (coordinator; holds and wait-die), over hub/federation's transport. */
export * from './federation.js'
export { HoldService, type HoldServiceOptions, type StationLocator } from './holds.js'
export * from './ids.js'
export * from './wait-die.js'
