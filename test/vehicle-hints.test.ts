/** Every hint matches its cause: errors as the hub and the client make them, and the hint a user reads. */
import t from 'tap'
import { pino } from 'pino'
import { ManualClock } from '../base/clock.js'
import { VoltwayError, type OpArgs } from '../protocol/index.js'
import { RouteCatalog } from '../hub/routes/catalog.js'
import { HubDirectory } from '../hub/routes/directory.js'
import { listRoute } from '../hub/routes/route-list.js'
import { routeFailed, tripNotFound } from '../hub/trips/errors.js'
import { hintFor } from '../vehicle-sim/hints.js'
import { errorReport } from '../vehicle-sim/output.js'

const links = [
  { from: 'feira', to: 'salvador', distanceKm: 108 },
  { from: 'feira', to: 'jequie', distanceKm: 250 },
  { from: 'jequie', to: 'salvador', distanceKm: 360 },
]
const catalog = new RouteCatalog('feira', links, ['salvador', 'jequie'])
const directory = new HubDirectory({
  self: { hubId: 'feira', name: 'Feira', city: 'Feira', position: { lat: 0, lon: 0 } },
  fetch: () => Promise.reject(new Error('no peers in this test')),
  clock: new ManualClock(0),
  logger: pino({ level: 'silent' }),
})

async function routeError(args: OpArgs<'route.list'>): Promise<VoltwayError> {
  try {
    await listRoute(catalog, directory, args)
  } catch (err) {
    if (err instanceof VoltwayError) return err
  }
  throw new Error('route.list did not fail')
}

t.test('route.list to an unknown hub lists the hubs this hub routes to, and the likely one', async (t) => {
  const err = await routeError({ destination: 'salvadr', index: 0 })
  t.equal(err.code, 'NOT_FOUND')
  t.equal(err.message, 'no route to hub salvadr; this hub routes to jequie, salvador (did you mean salvador?)')
  t.same(err.details, { destination: 'salvadr', knownHubs: ['jequie', 'salvador'], didYouMean: 'salvador' })
})

// [cause, the error as its producer makes it, what the hint must say, what it must not]
const causes: Array<[string, () => Promise<VoltwayError> | VoltwayError, RegExp, RegExp?]> = [
  ['a route to an unknown hub', () => routeError({ destination: 'salvadr', index: 0 }), /^did you mean salvador\? --to takes one of .*: jequie, salvador$/, /reservations/],
  ['a route to a hub nothing resembles', () => routeError({ destination: 'recife', index: 0 }), /^--to takes one of the hubs this hub routes to: jequie, salvador$/],
  ['a route index past the end', () => routeError({ destination: 'salvador', index: 5 }), /there are 2 routes; pass --index 0 to 1/],
  ['a route id this hub never offered', () => new VoltwayError('NOT_FOUND', 'no route r_x from this hub', { routeId: 'r_x' }), /voltway vehicle routes --to/],
  ['an unknown trip', () => tripNotFound('t_1'), /no such trip/],
  ['an unknown reservation', () => new VoltwayError('NOT_FOUND', 'no reservation r_1 of this vehicle', { reservationId: 'r_1' }), /voltway vehicle reservations/],
  ['an unknown station', () => new VoltwayError('NOT_FOUND', 'no station X at this hub', { stationId: 'X' }), /voltway vehicle stations/],
  [
    'a station that does not answer start',
    () => new VoltwayError('TIMEOUT', 'station FSA-1 did not answer start within 10000 ms', { stationId: 'FSA-1', op: 'start' }),
    /station FSA-1 did not answer its hub: its agent may be offline, restarting or slow/,
    /--hub-id|--timeout-ms/,
  ],
  ['a hub that does not answer', () => new VoltwayError('TIMEOUT', 'no answer to hub.info from hub feira within 10000 ms', { op: 'hub.info', hubId: 'feira', timeoutMs: 10000 }), /--hub-id is the hub's hubId .* --timeout-ms/],
  [
    'a trip whose hop found no station',
    () => routeFailed({ failedHop: 1, hubId: 'salvador', reason: 'NO_STATION_AVAILABLE', message: 'none free' }),
    /^nothing was kept; hop 1 at salvador failed with NO_STATION_AVAILABLE: no free station within range/,
  ],
  ['a trip whose peer is down', () => routeFailed({ failedHop: 2, hubId: 'jequie', reason: 'PEER_UNAVAILABLE', message: 'down' }), /hop 2 at jequie failed with PEER_UNAVAILABLE: a federated hub did not answer/],
]

t.test('every hint matches its cause', async (t) => {
  for (const [cause, make, says, never] of causes) {
    const report = errorReport(await make())
    t.match(report.hint, says, cause)
    if (never) t.notMatch(report.hint, never, `${cause}: no hint of another cause`)
  }
})

t.test('a cause the table does not know falls back to the hint of its code', async (t) => {
  t.match(hintFor('NOT_FOUND', { sessionId: 's_1' }), /no such id for this vehicle/)
  t.match(hintFor('ROUTE_FAILED', { reason: 'SOMETHING_NEW' }), /see failedHop\/reason/)
})
