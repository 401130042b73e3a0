/**
 * A session left `starting` by a hub process that died between opening it
 * and its station's answer (kill -9, power cut) is recovered
 * (hub/charging/stale-start.ts): past twice the command timeout it fails with
 * the no-answer reason, its station is sent `stop`, the station may start
 * again and a repeat of the request answers TIMEOUT. A session that got its
 * start reading is never touched; a run still alive cannot bring it back; a
 * late `session.started` for it stops the station. Once per database. Over the
 * op path on memory, SQLite and PostgreSQL, with a scripted station.
 */
import t, { type Test } from 'tap'
import { pino } from 'pino'
import { TestClock } from '../hub/clock.js'
import { ChargingService } from '../hub/charging/service.js'
import { StaleStartRecovery, staleStartAfterMs } from '../hub/charging/stale-start.js'
import { chargeStart } from '../hub/ops/charge-start.js'
import { createHubContext } from '../hub/ops/index.js'
import { effectId, idempotentOps } from '../hub/requests/idempotent.js'
import type { CommandChannel } from '../hub/station-link/command-channel.js'
import { MemoryStore, type SessionRecord, type Store } from '../hub/store/index.js'
import { LeaseKeeper, leaseNames } from '../hub/trips/lease-keeper.js'
import { VoltwayError, formatTime, type HandlerTable, type OpHandler, type StationCommand, type StationCommandResult } from '../protocol/index.js'
import { FakeStation } from './helpers/fake-station.js'
import { connectVehicle, hubConfig, startTestHub, type TestVehicle } from './helpers/hub.js'
import { waitUntil } from './helpers/net.js'
import { onEveryStore } from './helpers/store-harnesses.js'
import { NOW, testConfig } from './helpers/store-hub.js'

const STATION = 'NEAR'
const OTHER = 'MID'
const START_WH = 1_000
const STOP_WH = 1_500
const TIMEOUT_MS = 300
const BOUND_MS = staleStartAfterMs(TIMEOUT_MS)
const silent = pino({ enabled: false })

/** A station that answers commands (a start with its reading, or when the test lets it), recording them, and reports its status as a real one would. */
function scriptedStation(hub: { stations: ReturnType<typeof createHubContext>['stations']; clock: TestClock }) {
  const sent: Array<Omit<StationCommand, 'id'> & { stationId: string }> = []
  let held: ((r: StationCommandResult) => void) | null = null
  let holdStarts = false
  const report = (stationId: string, status: 'available' | 'charging', sessionId: string | null): void => {
    hub.stations.applyState(stationId, { online: true, status, sessionId, meterWh: START_WH, agentVersion: 'test', ts: formatTime(hub.clock.now()) })
  }
  report(STATION, 'available', null)
  report(OTHER, 'available', null)
  const commands: CommandChannel = {
    async send(stationId, cmd): Promise<StationCommandResult> {
      sent.push({ stationId, ...cmd })
      if (cmd.op === 'stop') {
        report(stationId, 'available', null)
        return { id: 'c', ok: true, meterWh: STOP_WH }
      }
      report(stationId, 'charging', cmd.sessionId ?? null)
      if (holdStarts) return new Promise((resolve) => (held = resolve))
      return { id: 'c', ok: true, meterWh: START_WH }
    },
  } as Pick<CommandChannel, 'send'> as CommandChannel
  return {
    commands,
    sent,
    stops: (sessionId?: string) => sent.filter((c) => c.op === 'stop' && (sessionId === undefined || c.sessionId === sessionId)),
    /** Starts wait until `answerStart` (a start answer that comes late). */
    holdStarts() {
      holdStarts = true
    },
    answerStart() {
      held?.({ id: 'c', ok: true, meterWh: START_WH })
    },
  }
}

/** One hub replica on `store`: the op path under the request-id rules, a ChargingService, the recovery (under the real lease, owner `replica`), the scripted station. */
function replica(store: Store, clock: TestClock, name = 'main') {
  const ctx = createHubContext({ config: testConfig(), store, clock })
  const station = scriptedStation({ stations: ctx.stations, clock })
  const charging = new ChargingService({ hubId: 'feira', store, stations: ctx.stations, commands: station.commands, clock, rules: ctx.rules, logger: silent, commandTimeoutMs: TIMEOUT_MS })
  const leases = new LeaseKeeper({ store: store.leases, clock, logger: silent, owner: name })
  const recovery = new StaleStartRecovery({ store, commands: station.commands, clock, logger: silent, acquireLease: () => leases.acquire(leaseNames.staleStarts), commandTimeoutMs: TIMEOUT_MS })
  const table = { 'charge.start': chargeStart({ charging }) } as unknown as HandlerTable
  const handlers = idempotentOps(table, { store: store.idempotency, clock, logger: silent, waitMs: 0 })
  const start = (requestId: string, vehicleId = 'V1') =>
    (handlers['charge.start'] as OpHandler<'charge.start'>)({ stationId: STATION }, { hubId: 'feira', vehicleId, requestId, op: 'charge.start' })
  return { ctx, station, charging, recovery, start }
}

/** What a hub that died after opening the session of request `requestId` (before its station answered) leaves in the store. */
async function leftStarting(store: Store, clock: TestClock, requestId: string, stationId = STATION): Promise<SessionRecord> {
  const opened = await store.charging.openSession({
    sessionId: effectId('s', { vehicleId: 'V1', requestId }),
    stationId,
    vehicleId: 'V1',
    reservationId: null,
    startedAtMs: clock.now(),
    maxWh: null,
    priceMinorPerKwh: 73,
    currency: 'BRL',
  })
  if (!opened.ok) throw new Error('the station has a session open')
  return opened.session
}

const outcome = (p: Promise<unknown>): Promise<unknown> => p.then((v) => v, (e: unknown) => (e instanceof VoltwayError ? { code: e.code, details: e.details } : e))

await onEveryStore(t, (t: Test, name, open) => {
  t.test(`[${name}] a session left starting is failed (no answer) and its station stopped past twice the command timeout, not before; a charging one of the same age is untouched; the station starts again; the request's repeat answers TIMEOUT`, async (t) => {
    const h = await open()
    t.teardown(() => h.dispose())
    const clock = new TestClock(NOW)
    const r = replica(h.store, clock)
    const dead = await leftStarting(h.store, clock, 'start-1')
    const charging = (await h.store.charging.openSession({ sessionId: 's-charging', stationId: OTHER, vehicleId: 'V2', reservationId: null, startedAtMs: clock.now(), maxWh: null, priceMinorPerKwh: 90, currency: 'BRL' })) as { ok: true; session: SessionRecord }
    await h.store.charging.markCharging(charging.session.sessionId, 42)

    t.match(await outcome(r.start('start-1')), { code: 'IDEMPOTENCY_IN_PROGRESS' }, 'before: the repeat waits on the dead run')
    clock.advance(BOUND_MS - 1)
    t.same(await r.recovery.recover(), [], 'before the bound nothing is recovered')
    t.match(await h.store.charging.getSession(dead.sessionId), { state: 'starting', stopReason: null })
    t.same(r.station.sent, [], 'no command before the bound')

    clock.advance(1)
    t.same((await r.recovery.recover()).map((s) => s.sessionId), [dead.sessionId], 'at the bound the session is recovered')
    t.match(await h.store.charging.getSession(dead.sessionId), { state: 'failed', stopReason: 'no answer', meterStartWh: null, endedAtMs: clock.now() })
    t.same(r.station.sent, [{ stationId: STATION, op: 'stop', sessionId: dead.sessionId }], 'its station was sent stop, and only it')
    t.same(await h.store.charging.getSession(charging.session.sessionId), { ...charging.session, state: 'charging', meterStartWh: 42 }, 'the charging session is untouched')
    t.equal(await h.store.charging.getReceipt(dead.sessionId), null, 'nobody billed')
    t.same(await r.recovery.recover(), [], 'a second pass recovers nothing')
    t.equal(r.station.stops().length, 1, 'and sends no second stop')

    t.match(
      await outcome(r.start('start-1')),
      { code: 'TIMEOUT', details: { op: 'start', sessionId: dead.sessionId } },
      "the request's repeat answers the coded no-answer failure, not IDEMPOTENCY_IN_PROGRESS",
    )
    t.match(await outcome(r.start('start-2')), { session: { meterStartWh: START_WH } }, 'a new request starts at the station')
  })

  t.test(`[${name}] two recoverers on one database (two replicas, each under its lease) recover a session once, one stop`, async (t) => {
    const h = await open()
    t.teardown(() => h.dispose())
    const clock = new TestClock(NOW)
    const a = replica(h.store, clock, 'a')
    const b = replica(h.other(), clock, 'b')
    const dead = await leftStarting(h.store, clock, 'start-1')
    clock.advance(BOUND_MS)
    const [ra, rb] = await Promise.all([a.recovery.recover(), b.recovery.recover()])
    t.same([...ra, ...rb].map((s) => s.sessionId), [dead.sessionId], 'recovered once')
    t.equal(a.station.stops().length + b.station.stops().length, 1, 'one stop command')
    t.ok(ra.length === 0 || rb.length === 0, 'by the replica holding the lease')
    t.match(await h.store.charging.getSession(dead.sessionId), { state: 'failed', stopReason: 'no answer' })
  })

  t.test(`[${name}] the fail is a compare-and-set: two passes at once that both hold a lease (a lease that lapsed) still fail the session once, one stop`, async (t) => {
    const h = await open()
    t.teardown(() => h.dispose())
    const clock = new TestClock(NOW)
    const stations = [scriptedStation({ stations: createHubContext({ config: testConfig(), store: h.store, clock }).stations, clock }), scriptedStation({ stations: createHubContext({ config: testConfig(), store: h.store, clock }).stations, clock })]
    const recoverers = stations.map((s, i) => new StaleStartRecovery({ store: i === 0 ? h.store : h.other(), commands: s.commands, clock, logger: silent, acquireLease: async () => true, commandTimeoutMs: TIMEOUT_MS }))
    const dead = await leftStarting(h.store, clock, 'start-1')
    clock.advance(BOUND_MS)
    const both = await Promise.all(recoverers.map((r) => r.recover()))
    t.same(both.flat().map((s) => s.sessionId), [dead.sessionId], 'recovered once')
    t.equal(stations.reduce((n, s) => n + s.stops().length, 0), 1, 'one stop command')
  })

  t.test(`[${name}] a session that gets its start reading between the recovery's read and its fail stays charging (failStarting is a compare-and-set)`, async (t) => {
    const h = await open()
    t.teardown(() => h.dispose())
    const clock = new TestClock(NOW)
    const dead = await leftStarting(h.store, clock, 'start-1')
    await h.store.charging.markCharging(dead.sessionId, START_WH)
    t.equal(await h.store.charging.failStarting(dead.sessionId, 'no answer', clock.now()), false, 'not starting: not failed')
    t.match(await h.store.charging.getSession(dead.sessionId), { state: 'charging', meterStartWh: START_WH, stopReason: null })
    t.equal(await h.store.charging.failStarting('s-none', 'no answer', clock.now()), false, 'no such session')
  })

  t.test(`[${name}] a run still alive past the bound cannot bring its recovered session back: its late start answer stops the station and it answers TIMEOUT`, async (t) => {
    const h = await open()
    t.teardown(() => h.dispose())
    const clock = new TestClock(NOW)
    const r = replica(h.store, clock)
    r.station.holdStarts()
    const sessionId = effectId('s', { vehicleId: 'V1', requestId: 'start-1' })
    const run = outcome(r.charging.start('V1', { stationId: STATION }, { sessionId }))
    const opened = await waitFor(() => r.station.sent.some((c) => c.op === 'start'))
    t.ok(opened, 'the run sent its start')
    clock.advance(BOUND_MS)
    t.same((await r.recovery.recover()).map((s) => s.sessionId), [sessionId], 'recovered while its run still waits')
    r.station.answerStart()
    t.match(await run, { code: 'TIMEOUT', details: { op: 'start', sessionId } }, 'the late run answers as the recovered session does')
    t.match(await h.store.charging.getSession(sessionId), { state: 'failed', stopReason: 'no answer', meterStartWh: null }, 'the session stays failed, unbilled')
    t.equal(r.station.stops(sessionId).length, 2, "the recovery's stop and the late run's (its station did start)")
    t.same(await h.store.charging.activeSessions(), [], 'nothing charges at the hub')
  })

  t.test(`[${name}] a session.started event (with its meter reading) for a session failed this way stops the station and bills nobody`, async (t) => {
    const h = await open()
    t.teardown(() => h.dispose())
    const clock = new TestClock(NOW)
    const r = replica(h.store, clock)
    const dead = await leftStarting(h.store, clock, 'start-1')
    clock.advance(BOUND_MS)
    await r.recovery.recover()
    r.station.sent.length = 0
    await r.charging.applyEvent(STATION, { type: 'session.started', seq: 1, sessionId: dead.sessionId, meterWh: START_WH, meterStartWh: START_WH, ts: formatTime(clock.now()) })
    t.same(r.station.sent, [{ stationId: STATION, op: 'stop', sessionId: dead.sessionId }], 'the station is sent stop')
    t.match(await h.store.charging.getSession(dead.sessionId), { state: 'failed', stopReason: 'no answer', meterStartWh: null }, 'the session stays failed')
    await r.charging.applyEvent(STATION, { type: 'session.stopped', seq: 2, sessionId: dead.sessionId, meterWh: STOP_WH, meterStartWh: START_WH, energyWh: STOP_WH - START_WH, reason: 'requested', ts: formatTime(clock.now()) })
    t.equal(await h.store.charging.getReceipt(dead.sessionId), null, 'nobody billed')
    t.equal(r.station.stops().length, 1, 'its stop event sends nothing more')
  })
})

t.test('the recovery runs at start() and then every interval on the injected clock, and close() stops it', async (t) => {
  const store = new MemoryStore()
  t.teardown(() => store.close())
  const clock = new TestClock(NOW)
  const r = replica(store, clock)
  const recovery = new StaleStartRecovery({ store, commands: r.station.commands, clock, logger: silent, acquireLease: async () => true, commandTimeoutMs: TIMEOUT_MS, intervalMs: 5 })
  const first = await leftStarting(store, clock, 'start-1')
  clock.advance(BOUND_MS)
  recovery.start()
  t.ok(await waitFor(() => r.station.stops(first.sessionId).length === 1), 'the pass at start() recovered it')
  const second = await leftStarting(store, clock, 'start-2', OTHER)
  clock.advance(BOUND_MS)
  t.ok(await waitFor(() => r.station.stops(second.sessionId).length === 1), 'a later pass recovered the next one')
  await recovery.close()
  const third = await leftStarting(store, clock, 'start-3')
  clock.advance(BOUND_MS)
  t.notOk(await waitFor(() => r.station.stops(third.sessionId).length === 1, 100), 'no pass after close()')
  t.match(await store.charging.getSession(third.sessionId), { state: 'starting' })
})

/** Whether `cond` holds within `ms` (checked on every turn of the event loop). */
async function waitFor(cond: () => boolean, ms = 5000): Promise<boolean> {
  const deadline = performance.now() + ms
  while (!cond()) {
    if (performance.now() > deadline) return false
    await new Promise((resolve) => setImmediate(resolve))
  }
  return true
}

t.test('a hub (startHub) recovers a session left starting by the process before it: its station gets stop, and a vehicle starts there again', async (t) => {
  const clock = new TestClock(NOW)
  const store = new MemoryStore()
  const cfg = hubConfig()
  const s1 = cfg.stations[0]
  if (!s1) throw new Error('a station expected')
  const dead = await leftStarting(store, clock, 'start-1', s1.stationId)
  const hub = await startTestHub(cfg, { clock, store, commandTimeoutMs: TIMEOUT_MS })
  t.teardown(() => hub.close())
  const station = await FakeStation.connect(hub.mqttUrl, s1.stationId, s1.password, (cmd) => ({ ok: true, meterWh: cmd.op === 'stop' ? STOP_WH : START_WH }))
  t.teardown(() => station.close())
  await station.state({ meterWh: START_WH, ts: formatTime(clock.now()) })
  await waitUntil(() => hub.context.stations.get(s1.stationId)?.live.online, 5000, 'the station online')
  t.match(await store.charging.getSession(dead.sessionId), { state: 'starting' }, 'within the bound the session is left to its run')
  clock.advance(BOUND_MS)
  const stop = await station.command('stop')
  t.equal(stop.sessionId, dead.sessionId, "a pass of the hub's recovery sent its station stop")
  t.match(await store.charging.getSession(dead.sessionId), { state: 'failed', stopReason: 'no answer' })
  const v1: TestVehicle = await connectVehicle(hub.mqttUrl, 'feira', 'V1', 'v1-pass')
  t.teardown(() => v1.close())
  const { session } = await v1.rpc.request('charge.start', { stationId: s1.stationId })
  t.equal(session.meterStartWh, START_WH, 'the station starts a new session')
})
