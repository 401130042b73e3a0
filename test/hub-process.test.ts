/** Real `voltway hub` processes: two on one SQLite file racing for one slot, and graceful SIGTERM. */
import t from 'tap'
import { formatTime } from '../protocol/index.js'
import { connectVehicle, hubConfig, tempDir } from './helpers/hub.js'
import { spawnHub, withFreePorts } from './helpers/hub-process.js'

t.test('two hub processes on one SQLite file racing 200 reservations for one station slot produce exactly one winner', async (t) => {
  const dir = tempDir()
  const vehicles = Array.from({ length: 200 }, (_, i) => ({ vehicleId: `V${i}`, password: `pw-${i}` }))
  const base = hubConfig({ dataDir: dir, vehicles })
  const [a, b] = await Promise.all([spawnHub(await withFreePorts(base), dir), spawnHub(await withFreePorts(base), dir)])
  t.teardown(async () => {
    await Promise.all([a?.kill('SIGKILL'), b?.kill('SIGKILL')])
  })
  if (!a || !b) throw new Error('hubs did not start')
  const at = formatTime(Date.now() + 4 * 3600_000)
  const clients = await Promise.all(vehicles.map((v, i) => connectVehicle((i % 2 ? a : b).mqttUrl, 'feira', v.vehicleId, v.password)))
  t.teardown(() => Promise.all(clients.map((c) => c.close())))
  const outcomes = await Promise.allSettled(clients.map((c) => c.rpc.request('reservation.create', { at, position: { lat: -12.25, lon: -38.95 }, rangeKm: 10, stationId: 'FSA-1' })))
  const won = outcomes.filter((o) => o.status === 'fulfilled')
  const lost = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected')
  t.equal(won.length, 1, 'exactly one winner')
  t.equal(lost.length, 199)
  t.ok(lost.every((o) => (o.reason as { code?: string }).code === 'RESERVATION_CONFLICT'), 'every loser is told RESERVATION_CONFLICT')
})

t.test('SIGTERM stops a hub gracefully with exit code 0', async (t) => {
  const dir = tempDir()
  const hub = await spawnHub(await withFreePorts(hubConfig({ dataDir: dir })), dir)
  const v = await connectVehicle(hub.mqttUrl, 'feira', 'V1', 'v1-pass')
  await v.rpc.request('station.list', {})
  await v.close()
  t.equal(await hub.kill('SIGTERM'), 0)
  t.notMatch(hub.output(), /"level":50/, 'no errors logged on the way down')
})
