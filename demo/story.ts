/**
 * The demo's story, told on the terminal: nearest station, routes, an atomic
 * trip across four companies, a second driver losing the race for a full stop
 * with nothing left booked, charging at another company's station through
 * the driver's own company (roaming) with that company's receipt, and the
 * history from every company. Each driver talks only to her home hub.
 */
import { connectAsync, type MqttClient } from 'mqtt'
import { ARROW, VoltwayError, createRpcClient, formatEnergy, formatLocalTime, formatMoney, formatPricePerKwh, formatTime, type OpResult, type RpcClient } from '../protocol/index.js'
import { COMPANIES, DRIVERS, LINKS, type DriverId } from './companies.js'
import type { DemoFederation } from './federation.js'

export interface StoryOutcome {
  tripId: string
  winner: DriverId
  loser: DriverId
  loserError: { code: string; details?: Record<string, unknown> }
  loserBookingsLeft: number
  receipt: OpResult<'charge.stop'>['receipt']
  /** The winner's home hub, where she asked (the receipt's hubId is the station's company). */
  homeHub: string
  historyCount: number
  /** How often the roaming receipt appears in the winner's history (once). */
  receiptListed: number
}

interface Driver {
  id: DriverId
  name: string
  client: MqttClient
  rpc: RpcClient
}

const pause = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

/** A driver connects to her home hub only: no other company knows her. */
async function connectDriver(fed: DemoFederation, id: DriverId): Promise<Driver> {
  const d = DRIVERS.find((x) => x.vehicleId === id)
  const hubId = d?.home ?? ''
  const hub = fed.hubs.get(hubId)
  if (!d || !hub) throw new Error(`unknown driver ${id} or hub ${hubId}`)
  const client = await connectAsync(hub.mqttUrl, { clientId: `${id}:demo-${hubId}`, username: id, password: d.password, protocolVersion: 5, reconnectPeriod: 0, connectTimeout: 5000 })
  const rpc = createRpcClient({ client, hubId, vehicleId: id, timeoutMs: 15_000 })
  await rpc.start()
  return { id, name: d.name, client, rpc }
}

async function closeDriver(d: Driver): Promise<void> {
  await d.rpc.close()
  await d.client.endAsync()
}

export async function tellStory(fed: DemoFederation, say: (line?: string) => void): Promise<StoryOutcome> {
  const salvador = COMPANIES[0]
  if (!salvador) throw new Error('no companies')
  const drivers: Driver[] = []
  try {
    const ana = await connectDriver(fed, 'ana')
    const bruno = await connectDriver(fed, 'bruno')
    drivers.push(ana, bruno)
    const home = { lat: -12.9822, lon: -38.4813 } // Ana's street in Salvador
    const rangeKm = 380 // a 75 kWh car at 80% that uses 16 kWh/100 km

    say('1. Ana, in Salvador, asks her company for the nearest free charger.')
    const near = await ana.rpc.request('station.nearest', { position: home, rangeKm: 30, limit: 2 })
    for (const s of near.stations) say(`   ${s.stationId}  ${s.distanceKm.toFixed(1)} km  ${s.powerKw} kW  ${formatPricePerKwh(s.priceMinorPerKwh, 'BRL')}  ${s.free ? 'free' : 'taken'}  ${s.online ? 'online' : 'offline'}`)
    say()

    say('2. She plans a trip to Vitória da Conquista and lists the routes across the federation.')
    const first = await ana.rpc.request('route.list', { destination: 'conquista', index: 0 })
    const routes = [first]
    for (let i = 1; i < first.total; i++) routes.push(await ana.rpc.request('route.list', { destination: 'conquista', index: i }))
    for (const r of routes) say(`   route ${r.index}: ${r.route.hops.map((h) => h.city).join(ARROW)}  (${r.route.distanceKm} km)`)
    const route = first.route
    say()

    // Each stop's time from the road distance at 80 km/h, leaving in 2 h 10 min (bookings need 2 h of lead time).
    const depart = Date.now() + 130 * 60_000
    const legKm = route.hops.map((h, i) => (i === 0 ? 0 : (LINK_KM.get(`${route.hops[i - 1]?.hubId}|${h.hubId}`) ?? 0)))
    let acc = 0
    const times = legKm.map((km) => formatTime(depart + ((acc += km) / 80) * 3_600_000))

    const jequieHop = route.hops.findIndex((h) => h.hubId === 'jequie')
    const jequieAt = times[jequieHop] as string
    say('3. Carla, who lives in Jequié, has already booked one of its two chargers for that evening.')
    const carla = await connectDriver(fed, 'carla')
    drivers.push(carla)
    const carlaBooking = await carla.rpc.request('reservation.create', { at: jequieAt, position: { lat: -13.8578, lon: -40.0853 }, rangeKm: 10, stationId: 'JEQ-1' })
    say(`   Carla holds ${carlaBooking.reservation.stationId} at ${formatLocalTime(jequieAt)}.`)
    say()

    say(`4. Ana and Bruno book the same route at the same times, at the same moment. Jequié has one free charger left.`)
    const tries = await Promise.allSettled([
      ana.rpc.request('route.reserve', { routeId: route.routeId, times, position: home, rangeKm }),
      bruno.rpc.request('route.reserve', { routeId: route.routeId, times, position: { lat: -12.9714, lon: -38.5014 }, rangeKm }),
    ])
    const won = tries.findIndex((t) => t.status === 'fulfilled')
    const lost = won === 0 ? 1 : 0
    const winner = [ana, bruno][won]
    const loser = [ana, bruno][lost]
    const wonTry = tries[won]
    const lostTry = tries[lost]
    if (!winner || !loser || wonTry?.status !== 'fulfilled' || lostTry?.status !== 'rejected') {
      throw new Error('expected exactly one of the two trips to be booked')
    }
    const trip = wonTry.value.trip
    say(`   ${winner.name} wins: trip ${trip.tripId}, every stop booked in one step:`)
    for (const leg of trip.legs) say(`     ${COMPANY_NAME.get(leg.hubId) ?? leg.hubId} (${leg.hubId}): ${leg.stationId} at ${formatLocalTime(leg.at)}`)
    const err = lostTry.reason instanceof VoltwayError ? lostTry.reason : new VoltwayError('INTERNAL', String(lostTry.reason))
    const d = err.details ?? {}
    say(`   ${loser.name} is told why: ${err.code} at stop ${String(d.failedHop)} (${String(d.reason)}), rolled back: ${String(d.rolledBack)}.`)
    // Nothing of the loser's trip is left at any company: each company's own database, as its operator sees it.
    let left = 0
    for (const c of COMPANIES) left += (await fed.hubs.get(c.hubId)?.context.store.reservations.listVehicleReservations(loser.id, 0))?.length ?? 0
    say(`   ${loser.name}'s bookings left at the four companies: ${left}.`)
    say()

    const homeHub = DRIVERS.find((x) => x.vehicleId === winner.id)?.home ?? 'salvador'
    const leg = trip.legs.find((l) => l.hubId !== homeHub) ?? trip.legs[0]
    if (!leg) throw new Error('trip without legs')
    const company = COMPANY_NAME.get(leg.hubId) ?? leg.hubId
    say(`5. ${winner.name} reaches her stop at ${company} early and charges at ${leg.stationId} (mock board, energy flowing on its meter).`)
    say(`   She asks only her own company, ${COMPANY_NAME.get(homeHub) ?? homeHub}; it starts the charger at ${company} over the federation (roaming).`)
    const started = await winner.rpc.request('charge.start', { stationId: leg.stationId, hubId: leg.hubId, reservationId: leg.reservationId })
    for (let i = 0; i < 3; i++) {
      await pause(1000)
      const st = await winner.rpc.request('charge.status', { sessionId: started.session.sessionId })
      say(`   ${formatEnergy(st.session.energyWh)}  ${(st.session.powerW / 1000).toFixed(1)} kW  ${formatMoney(st.session.costMinor, st.session.currency ?? 'BRL')}`)
    }
    const { receipt } = await winner.rpc.request('charge.stop', { sessionId: started.session.sessionId })
    say(`   Receipt from ${COMPANY_NAME.get(receipt.hubId) ?? receipt.hubId} ${receipt.sessionId}: ${formatEnergy(receipt.energyWh)} x ${formatPricePerKwh(receipt.priceMinorPerKwh, receipt.currency)} = ${formatMoney(receipt.costMinor, receipt.currency)}.`)
    say()

    say(`6. ${winner.name}'s charging history, gathered from every company of the federation:`)
    const history = await winner.rpc.request('history.list', { limit: 10 })
    for (const r of history.receipts) say(`   ${formatLocalTime(r.endedAt)}  ${COMPANY_NAME.get(r.hubId) ?? r.hubId}  ${r.stationId}  ${formatEnergy(r.energyWh)}  ${formatMoney(r.costMinor, r.currency)}`)
    say(`   complete: ${history.partial ? `no, unreachable: ${history.unreachableHubs.join(', ')}` : 'yes, every company answered'}`)
    say()
    return {
      tripId: trip.tripId,
      winner: winner.id,
      loser: loser.id,
      loserError: { code: err.code, ...(err.details ? { details: err.details } : {}) },
      loserBookingsLeft: left,
      receipt,
      homeHub,
      historyCount: history.receipts.length,
      receiptListed: history.receipts.filter((r) => r.hubId === receipt.hubId && r.sessionId === receipt.sessionId).length,
    }
  } finally {
    await Promise.allSettled(drivers.map(closeDriver))
  }
}

const COMPANY_NAME = new Map(COMPANIES.map((c) => [c.hubId, c.name]))
const LINK_KM = new Map<string, number>(LINKS.flatMap((l) => [[`${l.from}|${l.to}`, l.distanceKm] as [string, number], [`${l.to}|${l.from}`, l.distanceKm] as [string, number]]))
