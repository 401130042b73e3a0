/**
 * Roaming through the home hub (docs/protocol.md "Roaming"): a vehicle of
 * company A, known only to A, charges at company B's station by asking A.
 */
import t, { type Test } from 'tap'
import { connectAsync } from 'mqtt'
import { costMinor } from '../protocol/index.js'
import { B_PRICE, roamingPair, type RoamingPair } from './helpers/roaming.js'
import { waitUntil } from './helpers/net.js'
import { IdVehicle } from './helpers/replica-vehicle.js'
import { errorReport } from '../vehicle-sim/output.js'
import { cleanEnv, jsonOf, runInProcess } from './helpers/vehicle-cli.js'

/** Start at B through A and wait until B's mock board has metered energy; the session id. */
async function startAtB(t: Test, p: RoamingPair): Promise<string> {
  const { session } = await p.v1.rpc.request('charge.start', { stationId: 'SSA-1', hubId: 'salvador' })
  t.equal(session.stationId, 'SSA-1')
  t.ok(p.agent.hardware.relay.isClosed, "the relay closed on B's mock board")
  await waitUntil(async () => (await p.v1.rpc.request('charge.status', { sessionId: session.sessionId })).session.energyWh > 0, 10_000, 'energy at B')
  return session.sessionId
}

/** The receipt is B's price times B's meter difference; A's history shows it once; B's store names A as the owner. */
async function checkSettled(t: Test, p: RoamingPair, sessionId: string): Promise<void> {
  const history = await waitUntil(async () => {
    const h = await p.v1.rpc.request('history.list', {})
    return h.receipts.some((r) => r.sessionId === sessionId) && !h.partial ? h : null
  }, 15_000, 'the receipt in history.list')
  const shown = history.receipts.filter((r) => r.sessionId === sessionId)
  t.equal(shown.length, 1, "A's history.list shows the roaming receipt once")
  const receipt = shown[0]
  if (!receipt) return
  t.match(receipt, { hubId: 'salvador', stationId: 'SSA-1', vehicleId: 'V1', priceMinorPerKwh: B_PRICE })
  const atB = await p.withBStore(async (s) => ({ session: await s.charging.getSession(sessionId), receipt: await s.charging.getReceipt(sessionId) }))
  t.equal(atB.session?.vehicleId, 'V1@feira', "B's store shows the session's owner as the pair (home hub feira, vehicle V1)")
  const metered = (atB.session?.meterStopWh ?? NaN) - (atB.session?.meterStartWh ?? NaN)
  t.equal(receipt.energyWh, metered, "the energy is B's meter difference")
  t.ok(receipt.energyWh > 0, 'energy was billed')
  t.equal(receipt.costMinor, costMinor(metered, B_PRICE), "the cost is B's price times B's meter difference")
  t.equal(atB.receipt?.costMinor, receipt.costMinor, "B's own receipt is the one A shows")
}

async function bRefusesV1(t: Test, p: RoamingPair, mqttUrl: string): Promise<void> {
  t.same(p.bCfg.vehicles, [], 'B is configured with no vehicle')
  await t.rejects(connectAsync(mqttUrl, { clientId: 'V1', username: 'V1', password: 'v1-pass', reconnectPeriod: 0, connectTimeout: 3000 }), "B's broker refuses the vehicle's credentials: it holds none")
}

t.test("a vehicle known only to its home hub charges at a peer's station through it, billed at the peer's price, listed once", async (t) => {
  const p = await roamingPair()
  t.teardown(() => p.close())
  await bRefusesV1(t, p, p.b?.mqttUrl ?? '')
  const sessionId = await startAtB(t, p)
  const { receipt } = await p.v1.rpc.request('charge.stop', { sessionId })
  t.equal(receipt.sessionId, sessionId)
  t.notOk(p.agent.hardware.relay.isClosed, "the relay opened on B's mock board")
  await checkSettled(t, p, sessionId)
  const again = await p.v1.rpc.request('charge.stop', { sessionId })
  t.same(again.receipt, receipt, 'a second stop answers the same receipt')
  const status = await p.v1.rpc.request('charge.status', { sessionId })
  t.match(status.session, { state: 'stopped', hubId: 'salvador', energyWh: receipt.energyWh, costMinor: receipt.costMinor })
})

t.test('a roaming charge.start run again at the home hub (its answer lost) answers the session it started at the peer, which starts no second one', async (t) => {
  const p = await roamingPair()
  t.teardown(() => p.close())
  // The vehicle names its request ids here; its client id is the test vehicle's, so that one goes first.
  await p.v1.close()
  const v = await IdVehicle.connect(p.a.mqttUrl, 'feira', 'V1', 'v1-pass')
  t.teardown(() => v.close())
  const start = { stationId: 'SSA-1', hubId: 'salvador' }
  const first = await v.send('charge.start', start, 'roam-start-1', 20_000)
  if (!first?.ok) throw new Error(`the first start failed: ${JSON.stringify(first)}`)
  const { session } = first.result as { session: { sessionId: string } }
  t.ok(p.agent.hardware.relay.isClosed, "the relay closed on B's mock board")
  await waitUntil(() => p.withBStore(async (s) => ((await s.charging.getSession(session.sessionId))?.meterStartWh ?? null) !== null), 10_000, 'the session charging at B')
  const stopped = await v.send('charge.stop', { sessionId: session.sessionId }, 'roam-stop-1', 20_000)
  t.equal(stopped?.ok, true, 'stopped')
  // The home hub's first run died before its answer was recorded: the request id's record is gone there.
  await p.a.context.store.idempotency.deleteOlderThan(Date.now() + 60_000)

  const again = await v.send('charge.start', start, 'roam-start-1', 20_000)
  t.same(again, first, 'the re-run answers the session its first run started')
  t.notOk(p.agent.hardware.relay.isClosed, "the relay stayed open on B's mock board")
  const atB = await p.withBStore(async (s) => ({
    active: await s.charging.activeSessions(),
    receipts: await s.charging.listReceipts('V1@feira', 10),
    started: (await s.charging.listStationEvents('SSA-1', 100)).filter((e) => e.type === 'session.started').length,
  }))
  t.same(atB.active, [], 'B opened no second session')
  t.equal(atB.receipts.length, 1, 'B billed one session')
  t.equal(atB.started, 1, "B's station started once")
  t.equal((await p.a.context.store.charging.getRoamingSession(session.sessionId))?.state, 'stopped', "A's record of it is as it was")
})

t.test("a roaming session is only its home hub's: another peer's or an unknown hub is refused", async (t) => {
  const p = await roamingPair()
  t.teardown(() => p.close())
  const notPeer = await p.v1.rpc.request('charge.start', { stationId: 'SSA-1', hubId: 'recife' }).catch((e: unknown) => e)
  t.match(notPeer, { code: 'NOT_FOUND', details: { hubId: 'recife', peers: ['salvador'] } }, 'a hub that is not a peer: NOT_FOUND, with the peers')
  t.match(errorReport(notPeer).hint, /^--station-hub takes one of your home hub's peers: salvador$/, 'its hint names the peers')
  const noStation = await p.v1.rpc.request('charge.start', { stationId: 'NOPE', hubId: 'salvador' }).catch((e: unknown) => e)
  t.match(noStation, { code: 'NOT_FOUND', details: { stationId: 'NOPE', hubId: 'salvador' } }, "a station the peer does not have: the peer's NOT_FOUND")
  t.match(errorReport(noStation).hint, /voltway vehicle stations/, 'its hint is about the station')
  const sessionId = await startAtB(t, p)
  const stop = await fetch(`${p.b?.httpUrl}/federation/v1/sessions/${sessionId}/stop`, { method: 'POST', headers: { authorization: 'Bearer nobody', 'idempotency-key': 'k1' } })
  t.equal(stop.status, 401, 'an unknown caller cannot stop it')
  const local = await p.b?.charging.status('V1', sessionId).catch((e: { code?: string }) => e.code)
  t.equal(local, 'NOT_FOUND', "a local vehicle of B with the same id cannot read it")
  await p.v1.rpc.request('charge.stop', { sessionId })
})

t.test('the stop through a cut link is queued and completes when the link returns; the receipt is listed once', async (t) => {
  const p = await roamingPair()
  t.teardown(() => p.close())
  const sessionId = await startAtB(t, p)
  await p.link.cut()
  await t.rejects(p.v1.rpc.request('charge.stop', { sessionId }), { code: 'PEER_UNAVAILABLE', details: { queued: true, hubId: 'salvador' } }, 'the vehicle is told the stop is queued')
  const during = await p.v1.rpc.request('history.list', {})
  t.ok(during.partial && during.unreachableHubs.includes('salvador'), 'history.list names B unreachable meanwhile')
  t.equal((await p.a.context.store.charging.getRoamingSession(sessionId))?.state, 'stopping', "A's store holds the queued stop")
  await p.link.restore()
  await checkSettled(t, p, sessionId)
  t.notOk(p.agent.hardware.relay.isClosed, "the relay opened on B's mock board once the stop arrived")
  t.equal((await p.a.context.store.charging.getRoamingSession(sessionId))?.state, 'stopped', 'the queued stop settled with the receipt')
})

t.test('a roaming session survives its station hub killed -9 and restarted between start and stop', async (t) => {
  const p = await roamingPair({ bAsProcess: true })
  t.teardown(() => p.close())
  await bRefusesV1(t, p, p.bProc?.mqttUrl ?? '')
  const sessionId = await startAtB(t, p)
  await p.restartB()
  // B may be up before its station is back: then the stop is queued (TIMEOUT/STATION_OFFLINE are not final) and the receipt follows.
  await p.v1.rpc.request('charge.stop', { sessionId }).catch((e: { code?: string; details?: { queued?: boolean } }) => {
    t.ok(e.details?.queued, `the stop after the restart was queued (${e.code})`)
  })
  await checkSettled(t, p, sessionId)
  t.notOk(p.agent.hardware.relay.isClosed, "the relay opened on B's mock board")
})

t.test('voltway vehicle charge --station-hub charges at a peer\'s station over the one connection to the home hub', async (t) => {
  const p = await roamingPair()
  t.teardown(() => p.close())
  const env = cleanEnv({ VOLTWAY_HUB: p.a.mqttUrl, VOLTWAY_HUB_ID: 'feira', VOLTWAY_VEHICLE: 'V1', VOLTWAY_PASSWORD: 'v1-pass' })
  const r = await runInProcess(['charge', '--json', '--station', 'SSA-1', '--station-hub', 'salvador', '--kwh', '0.005', '--interval-ms', '100'], env)
  t.equal(r.code, 0, `exit 0 (stderr: ${r.stderr.trim()})`)
  const run = jsonOf(r) as { receipt: { sessionId: string; hubId: string; priceMinorPerKwh: number; vehicleId: string } }
  t.match(run.receipt, { hubId: 'salvador', vehicleId: 'V1', priceMinorPerKwh: B_PRICE }, "billed by B at B's price")
  t.notOk(p.agent.hardware.relay.isClosed, "the relay opened on B's mock board")
  await checkSettled(t, p, run.receipt.sessionId)
})

t.test("voltway vehicle charge at a peer's station without --station-hub: NOT_FOUND whose hint says how to charge there", async (t) => {
  const p = await roamingPair()
  t.teardown(() => p.close())
  const env = cleanEnv({ VOLTWAY_HUB: p.a.mqttUrl, VOLTWAY_HUB_ID: 'feira', VOLTWAY_VEHICLE: 'V1', VOLTWAY_PASSWORD: 'v1-pass' })
  const r = await runInProcess(['charge', '--station', 'SSA-1', '--kwh', '0.005', '--interval-ms', '100'], env)
  t.equal(r.code, 1)
  t.match(r.stderr, /^error NOT_FOUND: no station SSA-1 at hub feira \(hint: no such station at your home hub \(`voltway vehicle stations` lists its own\); another company's station takes --station-hub <its hub id>/)
  const atPeer = await runInProcess(['charge', '--station', 'NOPE', '--station-hub', 'salvador', '--kwh', '0.005'], env)
  t.equal(atPeer.code, 1)
  t.match(atPeer.stderr, /hint: no such station at this hub; list them with `voltway vehicle stations`/, 'with --station-hub given, the hint is about the station')
})
