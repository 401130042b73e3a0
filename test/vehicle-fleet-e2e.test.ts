/**
 * The vehicle simulator end to end: 50 vehicles of three companies against a
 * federation of three real hubs (embedded brokers, SQLite, federation over
 * HTTP) with a station agent on a mock board per station. Too few stations
 * for every trip, so some trips are booked and some fail; vehicles charge at
 * every stop of a booked trip, at other companies' stations through their
 * home hub (roaming): each company knows only its own drivers, and each car
 * opens one connection, to its home hub.
 *
 * Timing varies from run to run (which trip wins a station, when a car
 * reaches a stop), so the checks are invariants that hold exactly whatever
 * happened: the hubs hold exactly the reservations the fleet believes it
 * holds, failures are counted by reason, and the energy on receipts is the
 * energy the meters counted.
 */
import t, { type Test } from 'tap'
import type { Hub } from '../hub/app.js'
import { ownerKey } from '../hub/charging/owner.js'
import { connectVehicle } from '../vehicle-sim/connect.js'
import { runFleet } from '../vehicle-sim/fleet/engine.js'
import { credentialsOf, parseScenario, type ScenarioInput } from '../vehicle-sim/fleet/scenario.js'
import { waitUntil } from './helpers/net.js'
import { startVehicleFederation, type FedHubSpec } from './helpers/vehicle-federation.js'

const station = (stationId: string, lat: number, lon: number, powerKw: number, priceMinorPerKwh: number) => ({ stationId, position: { lat, lon }, powerKw, priceMinorPerKwh })

/** Three towns of the Recôncavo, 22 to 42 km apart; three stations each. */
const HUBS: FedHubSpec[] = [
  {
    hubId: 'feira',
    name: 'Feira Charging',
    city: 'Feira de Santana',
    position: { lat: -12.2664, lon: -38.9663 },
    stations: [station('FSA-1', -12.255, -38.955, 150, 73), station('FSA-2', -12.275, -38.975, 150, 95), station('FSA-3', -12.26, -38.98, 150, 80)],
  },
  {
    hubId: 'conceicao',
    name: 'Jacuípe Volts',
    city: 'Conceição do Jacuípe',
    position: { lat: -12.3267, lon: -38.7681 },
    stations: [station('CJ-1', -12.32, -38.76, 150, 79), station('CJ-2', -12.335, -38.775, 150, 85)],
  },
  {
    hubId: 'santoamaro',
    name: 'Recôncavo Energia',
    city: 'Santo Amaro',
    position: { lat: -12.5467, lon: -38.7117 },
    stations: [station('SAM-1', -12.54, -38.705, 150, 99), station('SAM-2', -12.555, -38.72, 150, 89), station('SAM-3', -12.55, -38.7, 150, 92)],
  },
]
const LINKS = [
  { from: 'feira', to: 'conceicao', distanceKm: 28 },
  { from: 'conceicao', to: 'santoamaro', distanceKm: 32 },
  { from: 'feira', to: 'santoamaro', distanceKm: 50 },
]
const FLEETS: Record<string, { prefix: string; count: number }> = {
  feira: { prefix: 'fsa-car-', count: 17 },
  conceicao: { prefix: 'cj-car-', count: 17 },
  santoamaro: { prefix: 'sam-car-', count: 16 },
}

type Fleet = Awaited<ReturnType<typeof runFleet>> & { connections: Array<{ vehicleId: string; hubId: string }> }
type Federation = Awaited<ReturnType<typeof startVehicleFederation>>

const scenarioInput = (urls: Map<string, string>, over: Partial<ScenarioInput> = {}): ScenarioInput => ({
  name: 'three hubs e2e',
  seed: 20261124,
  hubs: HUBS.map((h) => ({
    hubId: h.hubId,
    url: urls.get(h.hubId) as string,
    vehicles: { ...(FLEETS[h.hubId] as { prefix: string; count: number }), pad: 2, password: 'roam-{id}-pw' },
  })),
  start: { radiusKm: 4 },
  battery: { capacityKwh: 40, soc: { min: 0.3, max: 0.55 }, consumptionKwhPer100Km: 20 },
  driving: { speedKmh: { min: 70, max: 90 }, journeys: 1 },
  policy: { booking: 'mixed', tripShare: 0.8, lowSoc: 0.15, targetSoc: 0.9, leadMinutes: 125, retryMinutes: 30 },
  charging: { statusIntervalMs: 100, assumedPowerKw: 50, maxRealSeconds: 2 },
  clock: { compression: 1200, tickMs: 20 },
  stop: { whenAllDone: true, realSeconds: 50 },
  connect: { concurrency: 50, timeoutMs: 10_000 },
  requestTimeoutMs: 20_000,
  cleanup: true,
  ...over,
})

/** A federation whose hubs each register exactly their own vehicles of the scenario, and the fleet run against it. */
async function runAgainstFederation(t: Test, over: Partial<ScenarioInput> = {}): Promise<Fleet & { fed: Federation }> {
  const probe = parseScenario(scenarioInput(new Map(HUBS.map((h) => [h.hubId, 'mqtt://127.0.0.1:1'])), over))
  const credentials = probe.hubs.flatMap((h) => credentialsOf(h).map((c) => ({ ...c, hubId: h.hubId })))
  t.equal(credentials.length, 50)
  const fed = await startVehicleFederation({ hubs: HUBS, links: LINKS, vehicles: credentials })
  t.teardown(() => fed.close())
  const scenario = parseScenario(scenarioInput(new Map([...fed.hubs].map(([id, h]) => [id, h.mqttUrl])), over))
  // Every connection the fleet opens, to which hub's broker.
  const connections: Fleet['connections'] = []
  const { summary: s, vehicles } = await runFleet(scenario, {
    connect: (v, sc, hub) => {
      connections.push({ vehicleId: v.vehicleId, hubId: hub.hubId })
      return connectVehicle({ url: hub.url, hubId: hub.hubId, vehicleId: v.vehicleId, password: v.credential.password, mqttVersion: hub.mqttVersion, connectTimeoutMs: sc.connect.timeoutMs, requestTimeoutMs: sc.requestTimeoutMs }, { reconnectPeriodMs: 2000 })
    },
  })
  t.comment(
    `trips ${s.trips.booked} booked, failed ${JSON.stringify(s.trips.failed)} ${JSON.stringify(s.trips.failedHopReasons)}, ${s.trips.cancelled} cancelled; ` +
      `nearest ${s.reservations.booked} booked ${JSON.stringify(s.reservations.failed)}, ${s.reservations.cancelled} cancelled; sessions ${s.charging.sessions} (${s.charging.roaming.sessions} roaming), ` +
      `start failed ${JSON.stringify(s.charging.startFailed)}, ${s.charging.energyWh} Wh; arrived ${s.vehicles.arrived}, stranded ${s.vehicles.stranded}; ${s.realSeconds} s`,
  )
  return { summary: s, vehicles, connections, fed }
}

/** What holds after any run, whatever the timing: trips, bookings and energy agree between the fleet, the hubs and the meters. */
async function checkInvariants(t: Test, { summary: s, vehicles, connections, fed }: Fleet & { fed: Federation }): Promise<void> {
  const hubOf = (id: string): Hub => fed.hubs.get(id) as Hub
  t.equal(s.seed, 20261124)
  t.equal(s.vehicles.total, 50)
  t.equal(s.vehicles.connected, 50, JSON.stringify(s.vehicles.connectFailed))
  t.same(
    connections.map((c) => `${c.vehicleId}>${c.hubId}`).sort(),
    vehicles.map((v) => `${v.vehicleId}>${v.hubEntry.hubId}`).sort(),
    'each car opened one connection, to its home hub, and none to another company',
  )
  t.ok(vehicles.every((v) => v.conn === null && v.activeSessionId === null), 'every connection closed, no session left open')
  // Trips: one route.reserve per trip-booking car, booked or failed with a coded reason.
  const tripCars = vehicles.filter((v) => v.strategy === 'trip')
  const failed = Object.values(s.trips.failed).reduce((a, b) => a + b, 0)
  t.equal(s.trips.booked + failed, tripCars.length, 'every trip attempt counted once')
  t.equal(s.trips.booked, vehicles.filter((v) => v.trip !== null).length)
  t.ok(s.trips.booked > 0, `some trips booked (${s.trips.booked})`)
  t.ok(failed > 0, `too few stations for all: some trips failed (${JSON.stringify(s.trips.failed)}, hops: ${JSON.stringify(s.trips.failedHopReasons)})`)
  for (const code of Object.keys(s.trips.failed)) t.match(code, /^[A-Z_]+$/, `failure reason ${code} is a code`)
  t.equal(
    Object.values(s.trips.failedHopReasons).reduce((a, b) => a + b, 0),
    s.trips.failed.ROUTE_FAILED ?? 0,
    'every ROUTE_FAILED has the reason of its failed hop',
  )
  t.equal(s.trips.cancelled, vehicles.filter((v) => v.trip?.cancelled).length)

  // Each booked trip is at its home hub, confirmed, or cancelled when the cleanup cancelled it.
  for (const v of vehicles) {
    if (!v.trip) continue
    const rec = await hubOf(v.hubEntry.hubId).context.store.trips.getTrip(v.trip.tripId)
    t.equal(rec?.state, v.trip.cancelled ? 'cancelled' : 'confirmed', `trip ${v.trip.tripId} of ${v.vehicleId}`)
    t.equal(rec?.legs.length, v.trip.legs.length)
  }
  // No other trip was left confirmed anywhere (failed ones rolled back).
  let confirmedOrCancelled = 0
  for (const h of fed.hubs.values()) confirmedOrCancelled += (await h.context.store.trips.listTrips(['confirmed', 'cancelling', 'cancelled'])).length
  t.equal(confirmedOrCancelled, s.trips.booked, 'the hubs hold exactly the booked trips')

  // Exactly the reservations the fleet holds exist at the hubs: every leg of a trip it kept, every
  // nearest-station booking it did not cancel; nothing of failed trips or cancelled bookings.
  const key = (hubId: string, r: { reservationId: string; stationId: string; vehicleId: string }): string => `${hubId}/${r.stationId}/${r.reservationId}/${r.vehicleId}`
  const expected = vehicles.flatMap((v) => v.bookings.filter((b) => !b.cancelled).map((b) => key(b.hubId, { ...b, vehicleId: v.vehicleId }))).sort()
  const atHubs = async (): Promise<string[]> => {
    const out: string[] = []
    for (const [hubId, h] of fed.hubs) {
      for (const v of vehicles) for (const r of await h.context.store.reservations.listVehicleReservations(v.vehicleId, 0)) out.push(key(hubId, r))
    }
    return out.sort()
  }
  // A trip cancel releases the other hubs' legs over HTTP before it answers; waiting covers a retried release.
  await waitUntil(async () => JSON.stringify(await atHubs()) === JSON.stringify(expected), 10_000, 'the hubs to hold exactly the fleet\'s bookings').catch(() => undefined)
  t.same(await atHubs(), expected, 'reservations at the hubs = the fleet\'s bookings not cancelled')
  for (const v of vehicles) {
    for (const leg of v.trip?.legs ?? []) {
      const r = await hubOf(leg.hubId).context.store.reservations.getReservation(leg.reservationId)
      if (leg.cancelled) t.equal(r, null, `cancelled leg ${leg.reservationId} is gone from ${leg.hubId}`)
      else t.match(r, { reservationId: leg.reservationId, stationId: leg.stationId, vehicleId: v.vehicleId }, `leg ${leg.reservationId} is at ${leg.hubId}`)
    }
  }

  // Charging: at the home hub and at other companies' stations through it, every session with a receipt.
  t.same(s.charging.stopFailed, {}, 'every session stopped with a receipt')
  t.notOk(s.requests.errors.TIMEOUT, 'no request timed out (a lost answer would break the energy balance)')

  // Receipts at the three hubs = the summary = the meters (register now - register at start). A peer's
  // vehicle is stored at a hub as the pair (home hub, vehicle id), and the home hub keeps the peer's receipt too.
  let receiptWh = 0
  let receipts = 0
  let roamingWh = 0
  let roamingReceipts = 0
  for (const [hubId, h] of fed.hubs) {
    let hubWh = 0
    let hubReceipts = 0
    for (const v of vehicles) {
      const home = v.hubEntry.hubId
      const owner = ownerKey({ vehicleId: v.vehicleId, homeHubId: home === hubId ? null : home })
      const stored = await h.context.store.charging.listReceipts(owner, 1000)
      if (home !== hubId) t.same(await h.context.store.charging.listReceipts(v.vehicleId, 1000), [], `${hubId} bills no session to a bare ${v.vehicleId} of ${home}`)
      for (const r of stored) {
        hubWh += r.energyWh
        hubReceipts++
        if (home !== hubId) {
          roamingWh += r.energyWh
          roamingReceipts++
          const atHome = await hubOf(home).context.store.charging.getRoamingSession(r.sessionId)
          t.match(atHome, { state: 'stopped', hubId, vehicleId: v.vehicleId, receipt: { energyWh: r.energyWh, costMinor: r.costMinor } }, `${home} keeps ${hubId}'s receipt ${r.sessionId}`)
        }
      }
    }
    t.same(s.charging.perHub[hubId] ?? { sessions: 0, energyWh: 0 }, { sessions: hubReceipts, energyWh: hubWh }, `receipts at ${hubId}`)
    receiptWh += hubWh
    receipts += hubReceipts
  }
  t.equal(receipts, s.charging.sessions, 'one receipt per session')
  t.equal(roamingReceipts, s.charging.roaming.sessions, 'roaming sessions are receipts at other companies\' hubs')
  t.equal(roamingWh, s.charging.roaming.energyWh)
  t.equal(receiptWh, s.charging.energyWh, 'energy on receipts = the summary\'s metered energy')
  const idle = (): boolean => [...fed.agents.values()].every((a) => a.charger.sessionId === null)
  await waitUntil(idle, 5000, 'every relay open')
  t.equal(await fed.meteredSinceStartWh(), receiptWh, 'energy on receipts = energy the meters counted')
}

t.test('50 vehicles over three federated hubs: booked trips exist at the hubs, failures by reason, receipts = metered energy', async (t) => {
  const run = await runAgainstFederation(t)
  t.equal(run.summary.stoppedBy, 'all-done', 'every car arrived or was stranded before the time limit')
  t.equal(run.summary.vehicles.arrived + run.summary.vehicles.stranded, 50)
  t.ok(run.summary.charging.sessions > 0 && run.summary.charging.energyWh > 0, `charged (${run.summary.charging.sessions} sessions, ${run.summary.charging.energyWh} Wh)`)
  t.ok(run.summary.charging.roaming.sessions > 0, `charged at other companies' stations through the home hub: ${run.summary.charging.roaming.sessions}`)
  await checkInvariants(t, run)
})

t.test('a fleet stopped on its way: the cleanup stops running sessions (also at other hubs) and cancels unused trips at every hub', async (t) => {
  const run = await runAgainstFederation(t, { stop: { whenAllDone: false, simMinutes: 25 } })
  t.equal(run.summary.stoppedBy, 'time')
  t.ok(run.summary.trips.cancelled > 0, `trips with legs not reached yet were cancelled (${run.summary.trips.cancelled})`)
  await checkInvariants(t, run)
})
