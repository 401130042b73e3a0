/**
 * No requests are lost while a hub starts: `/healthz` is 200 only once
 * vehicle requests are served; recovery of unfinished trips never blocks
 * start-up on a peer; on an external broker the hub keeps a persistent
 * session, so a request published while it is down is answered after it
 * comes back.
 */
import { rmSync } from 'node:fs'
import { connectAsync } from 'mqtt'
import { pino } from 'pino'
import { request } from 'undici'
import t from 'tap'
import { startHub, type Hub } from '../hub/app.js'
import { SqliteStore, type TripRecord } from '../hub/store/index.js'
import { topics } from '../protocol/index.js'
import { startHangingServer } from './helpers/federation-hubs.js'
import { connectVehicle, hubConfig, startTestHub, tempDir } from './helpers/hub.js'
import { spawnHub, withFreePorts } from './helpers/hub-process.js'
import { mosquittoBinary, startMosquitto } from './helpers/mosquitto.js'
import { onceWithTimeout, waitUntil } from './helpers/net.js'

async function health(url: string): Promise<{ status: number; body: Record<string, unknown> } | null> {
  try {
    const res = await request(`${url}/healthz`)
    return { status: res.statusCode, body: (await res.body.json()) as Record<string, unknown> }
  } catch {
    return null
  }
}

t.test('/healthz is 200 only once requests are served, and recovery does not hold up start-up on a hanging peer', async (t) => {
  const peer = await startHangingServer()
  t.teardown(() => peer.close())
  const cfg = await withFreePorts(
    hubConfig({
      federation: {
        peers: [{ hubId: 'salvador', url: peer.url, token: 'to-salvador', acceptToken: 'from-salvador' }],
        links: [{ from: 'feira', to: 'salvador', distanceKm: 108 }],
      },
    }),
  )
  // A trip left half-done by a crash: its hop at the hanging peer must be released at start.
  const store = new SqliteStore({ dataDir: cfg.dataDir })
  const now = Date.now()
  const trip: TripRecord = {
    tripId: 't-crashed', vehicleId: 'V1', routeId: 'feira>salvador', txStartedAtMs: now, attempt: 1, state: 'trying',
    legs: [
      { hop: 0, hubId: 'feira', holdId: 'h-0', atMs: now + 3 * 3_600_000, stationId: null, position: null, expiresAtMs: null, reservationId: null },
      { hop: 1, hubId: 'salvador', holdId: 'h-1', atMs: now + 5 * 3_600_000, stationId: null, position: null, expiresAtMs: null, reservationId: null },
    ],
    failure: null, createdAtMs: now, updatedAtMs: now,
  }
  await store.trips.createTrip(trip)

  const httpUrl = `http://127.0.0.1:${cfg.http.port}`
  let hub: Hub | undefined
  const starting = startHub(cfg, {
    logger: pino({ level: process.env.VOLTWAY_TEST_LOG ?? 'silent' }),
    store,
    federationTuning: { requestTimeoutMs: 4000, maxRetries: 0 },
  }).then((h) => (hub = h))
  t.teardown(async () => {
    await starting.catch(() => undefined)
    await peer.close()
    await hub?.close()
  })

  // Poll from the moment HTTP answers: the first 200 must mean requests are served.
  const first = await waitUntil(async () => {
    const h = await health(httpUrl)
    return h?.status === 200 ? h : null
  }, 20_000, '/healthz 200', 5)
  t.match(first.body, { ok: true, ready: true }, '/healthz has a ready part')
  const vehicle = await connectVehicle(`mqtt://127.0.0.1:${'listen' in cfg.mqtt ? cfg.mqtt.listen.port : 0}`, 'feira', 'V1', 'v1-pass')
  t.teardown(() => vehicle.close())
  const info = await vehicle.rpc.request('hub.info', {}, { timeoutMs: 2000 })
  t.equal(info.hubId, 'feira', 'a request sent at the first 200 is answered')

  await starting
  let recovered = false
  void (hub as Hub).federation.recovered().then(() => (recovered = true))
  await new Promise((r) => setImmediate(r))
  t.notOk(recovered, 'start-up finished while recovery still waits on the hanging peer')
  await waitUntil(() => peer.received().includes('DELETE /federation/v1/holds/h-1'), 5000, 'the release call at the hanging peer')
  t.match(await (hub as Hub).federation.recovered(), { undone: 1 }, 'recovery finishes in the background')
  const pending = await store.trips.listReleases()
  t.same(pending.map((r) => r.targetId), ['h-1'], 'the release the peer did not answer is queued durably')
})

/**
 * A hub on Mosquitto stops (`signal`), a vehicle publishes a QoS 1 request meanwhile, the hub starts
 * again on the same data: the request, kept in the hub's persistent session, is answered.
 */
const restartCases: Array<[name: string, signal: NodeJS.Signals]> = [
  ['on an external broker a request published while the hub is down (kill -9) is answered after it restarts', 'SIGKILL'],
  // A clean stop, as systemctl restart does: the hub keeps its subscription and leaves later requests unacknowledged.
  ['on an external broker a request published while the hub restarts after SIGTERM is answered by the restarted hub', 'SIGTERM'],
]
for (const [name, signal] of restartCases) {
  t.test(name, { skip: mosquittoBinary() ? false : 'mosquitto is not installed' }, async (t) => {
    const mosq = await startMosquitto()
    t.teardown(() => mosq.close())
    const dir = tempDir()
    t.teardown(() => rmSync(dir, { recursive: true, force: true }))
    const cfg = await withFreePorts(hubConfig({ mqtt: { url: mosq.url } }))
    const first = await spawnHub(cfg, dir)
    t.teardown(() => first.kill('SIGKILL'))
    const vehicle = await connectVehicle(mosq.url, 'feira', 'V1', 'v1-pass')
    t.teardown(() => vehicle.close())
    t.equal((await vehicle.rpc.request('hub.info', {})).hubId, 'feira', 'the hub answers')

    // A witness subscribed to the hub's requests: once it has the request, so has the hub's queued session.
    const witness = await connectAsync(mosq.url, { clientId: 'witness', protocolVersion: 5, reconnectPeriod: 0 })
    t.teardown(() => witness.endAsync(true))
    await witness.subscribeAsync(topics.hubRequestFilter('feira'), { qos: 1 })
    const seen = onceWithTimeout(witness, 'message', 10_000)

    await first.kill(signal)
    const asked = vehicle.rpc.request('station.list', {}, { timeoutMs: 30_000 })
    await seen
    const second = await spawnHub(cfg, dir)
    t.teardown(() => second.kill('SIGKILL'))
    const answer = await asked
    t.equal(answer.stations.length, 2, 'the request published while the hub was stopped is answered after the restart')
  })
}

t.test('the embedded broker: a hub that has started answers at once and /healthz says ready', async (t) => {
  const hub = await startTestHub()
  t.teardown(() => hub.close())
  const h = await health(hub.httpUrl)
  t.match(h, { status: 200, body: { ok: true, ready: true, broker: true, database: true } })
})
