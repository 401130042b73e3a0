/**
 * charge.start acts once per (vehicle, request id) (docs/protocol.md
 * "Repeated requests"): its session is named after the request, so a run of
 * the request after its first run's answer was lost or its claim lapsed
 * answers the session that run started, starts no second one and commands no
 * station. Over the op path (op handler, request-id rules, ChargingService,
 * store) on memory, SQLite and PostgreSQL, with a scripted station.
 */
import t, { type Test } from 'tap'
import { pino } from 'pino'
import { TestClock } from '../hub/clock.js'
import { ChargingService } from '../hub/charging/service.js'
import { chargeStart } from '../hub/ops/charge-start.js'
import { chargeStop } from '../hub/ops/charge-stop.js'
import { createHubContext } from '../hub/ops/index.js'
import { effectId, idempotentOps } from '../hub/requests/idempotent.js'
import type { CommandChannel } from '../hub/station-link/command-channel.js'
import type { Store } from '../hub/store/index.js'
import { VoltwayError, type HandlerTable, type OpHandler, type StationCommand, type StationCommandResult } from '../protocol/index.js'
import { onEveryStore } from './helpers/store-harnesses.js'
import { NOW, testConfig } from './helpers/store-hub.js'

const STATION = 'NEAR'
/** A second station of the hub, for a request id reused with other args. */
const OTHER_STATION = 'MID'
const START_WH = 1_000
const STOP_WH = 1_500

/** How the scripted station answers a start: with its reading, refusing, or not at all. */
type StartScript = 'ok' | 'refuse' | 'silent'

/** A station that answers commands as scripted, counting them, and reports its status to the registry as a real one would. */
function scriptedStation(hub: { stations: ReturnType<typeof createHubContext>['stations']; clock: TestClock }) {
  const sent: Array<Omit<StationCommand, 'id'>> = []
  let script: StartScript = 'ok'
  const report = (status: 'available' | 'charging', sessionId: string | null, stationId = STATION): void => {
    hub.stations.applyState(stationId, { online: true, status, sessionId, meterWh: START_WH, agentVersion: 'test', ts: new Date(hub.clock.now()).toISOString() })
  }
  report('available', null)
  report('available', null, OTHER_STATION)
  const commands: CommandChannel = {
    async send(stationId, cmd): Promise<StationCommandResult> {
      sent.push(cmd)
      if (cmd.op === 'stop') {
        report('available', null, stationId)
        return { id: 'c', ok: true, meterWh: STOP_WH }
      }
      if (script === 'silent') throw new VoltwayError('TIMEOUT', `station ${stationId} did not answer start`, { stationId, op: 'start' })
      if (script === 'refuse') return { id: 'c', ok: false, error: { code: 'STATION_OFFLINE', message: 'no car plugged in' } }
      report('charging', cmd.sessionId ?? null, stationId)
      return { id: 'c', ok: true, meterWh: START_WH }
    },
  } as Pick<CommandChannel, 'send'> as CommandChannel
  return {
    commands,
    starts: () => sent.filter((c) => c.op === 'start').length,
    script(s: StartScript) {
      script = s
    },
  }
}

/** One hub replica's request path on `store`: op handlers under the request-id rules, a ChargingService, the scripted station. */
function replica(store: Store, clock: TestClock, station?: ReturnType<typeof scriptedStation>) {
  const ctx = createHubContext({ config: testConfig(), store, clock })
  const st = station ?? scriptedStation({ stations: ctx.stations, clock })
  const charging = new ChargingService({ hubId: 'feira', store, stations: ctx.stations, commands: st.commands, clock, rules: ctx.rules, logger: pino({ enabled: false }), commandTimeoutMs: 300 })
  const table = { 'charge.start': chargeStart({ charging }), 'charge.stop': chargeStop({ charging }) } as unknown as HandlerTable
  const handlers = idempotentOps(table, { store: store.idempotency, clock, logger: pino({ enabled: false }), waitMs: 0 })
  const start = (requestId: string, vehicleId = 'V1', stationId = STATION) =>
    (handlers['charge.start'] as OpHandler<'charge.start'>)({ stationId }, { hubId: 'feira', vehicleId, requestId, op: 'charge.start' })
  const stop = (requestId: string, sessionId: string) =>
    (handlers['charge.stop'] as OpHandler<'charge.stop'>)({ sessionId }, { hubId: 'feira', vehicleId: 'V1', requestId, op: 'charge.stop' })
  return { ctx, station: st, charging, start, stop }
}

/** The first run's claim lapsed before its answer was recorded (its replica died, kill -9): the id's record is gone. */
async function answerLost(store: Store, clock: TestClock): Promise<void> {
  await store.idempotency.deleteOlderThan(clock.now() + 1)
}

const outcome = (p: Promise<unknown>): Promise<unknown> => p.then((v) => v, (e: unknown) => (e instanceof VoltwayError ? { code: e.code, details: e.details } : e))

await onEveryStore(t, (t: Test, name, open) => {
  /** A fresh store of this kind (disposed with `t`), a clock at NOW and one replica on them. */
  const fresh = async (t: Test) => {
    const h = await open()
    t.teardown(() => h.dispose())
    const clock = new TestClock(NOW)
    return { h, clock, r: replica(h.store, clock) }
  }
  t.test(`[${name}] a charge.start run again after its session ended answers that session, starts no second one, commands no station`, async (t) => {
    const { h, clock, r } = await fresh(t)
    const first = await r.start('start-1')
    t.equal(first.session.sessionId, effectId('s', { vehicleId: 'V1', requestId: 'start-1' }), "the session's id comes from the request")
    t.equal(first.session.meterStartWh, START_WH)
    await r.stop('stop-1', first.session.sessionId)
    await answerLost(h.store, clock)
    clock.advance(60_000)

    t.same(await r.start('start-1'), first, 'the re-run answers the session as its first run started it')
    t.equal(r.station.starts(), 1, 'one start command reached the station')
    t.same(await h.store.charging.activeSessions(), [], 'no session was opened')
    t.equal((await h.store.charging.listReceipts('V1', 10)).length, 1, 'one session billed')
    t.match(await h.store.charging.getSession(first.session.sessionId), { state: 'stopped', meterStartWh: START_WH, meterStopWh: STOP_WH }, 'the session is as it ended')
    const next = await r.start('start-2')
    t.not(next.session.sessionId, first.session.sessionId, 'a new request id at the same station starts a new session')
    t.equal(r.station.starts(), 2, 'and commands the station')
  })

  t.test(`[${name}] a charge.start run again while its session still charges answers that session (not STATION_BUSY), changing nothing`, async (t) => {
    const { h, clock, r } = await fresh(t)
    const first = await r.start('start-1')
    await answerLost(h.store, clock)
    t.same(await r.start('start-1'), first)
    t.equal(r.station.starts(), 1, 'one start command reached the station')
    t.same((await h.store.charging.activeSessions()).map((s) => s.sessionId), [first.session.sessionId], 'the one session still charges')
    t.equal(r.ctx.stations.get(STATION)?.live.sessionId, first.session.sessionId)
  })

  t.test(`[${name}] a charge.start whose start failed answers the same coded error when run again, and starts nothing`, async (t) => {
    const { h, clock, r } = await fresh(t)
    r.station.script('refuse')
    const refused = await outcome(r.start('start-1'))
    t.match(refused, { code: 'STATION_OFFLINE' }, "the first run answers the station's refusal")
    await answerLost(h.store, clock)
    r.station.script('ok')
    t.match(await outcome(r.start('start-1')), { code: 'STATION_OFFLINE', details: { sessionId: effectId('s', { vehicleId: 'V1', requestId: 'start-1' }) } }, 'the re-run answers it again')
    // TIMEOUT (5xx) is not kept under the id: its repeat runs afresh, and finds the failed session.
    r.station.script('silent')
    t.match(await outcome(r.start('start-2')), { code: 'TIMEOUT' })
    r.station.script('ok')
    t.match(await outcome(r.start('start-2')), { code: 'TIMEOUT', details: { op: 'start', sessionId: effectId('s', { vehicleId: 'V1', requestId: 'start-2' }) } }, 'a repeat of a start the station never answered answers TIMEOUT again')
    t.equal(r.station.starts(), 2, 'one start command per request, none for the repeats')
    t.same(await h.store.charging.activeSessions(), [], 'nothing charges')
    t.match(await outcome(r.start('start-3')), { session: { meterStartWh: START_WH } }, 'a new request starts')
  })

  t.test(`[${name}] a request id whose record is gone, sent again with another station, is refused IDEMPOTENCY_KEY_REUSED, not answered the first request's start`, async (t) => {
    const { h, clock, r } = await fresh(t)
    // A started session whose answer was lost, then the id sent for another station.
    const first = await r.start('start-1')
    await answerLost(h.store, clock)
    t.match(await outcome(r.start('start-1', 'V1', OTHER_STATION)), { code: 'IDEMPOTENCY_KEY_REUSED' }, "not NEAR's session as if MID had started")
    await r.stop('stop-1', first.session.sessionId)
    // A start answered TIMEOUT, which the request-id rules do not keep (the id's record is dropped), then the id for another station.
    r.station.script('silent')
    t.match(await outcome(r.start('start-2')), { code: 'TIMEOUT' })
    r.station.script('ok')
    t.match(await outcome(r.start('start-2', 'V1', OTHER_STATION)), { code: 'IDEMPOTENCY_KEY_REUSED' }, "not NEAR's TIMEOUT again")
    t.equal(r.station.starts(), 2, 'no station commanded for the reused ids')
    t.same(await h.store.charging.activeSessions(), [], 'nothing opened at MID')
  })

  // docs/protocol.md keeps a request id for 24 hours, but the session named after it stays: the id sent again
  // after that (a vehicle whose counter of ids restarted) is an earlier use's id, not a repeat of this request.
  t.test(`[${name}] a request id sent again after its record expired (24 h) is refused IDEMPOTENCY_KEY_REUSED, not answered the old, ended session as started`, async (t) => {
    const { h, clock, r } = await fresh(t)
    const first = await r.start('start-1')
    await r.stop('stop-1', first.session.sessionId)
    clock.advance(25 * 3_600_000)
    await h.store.idempotency.deleteOlderThan(clock.now() - 24 * 3_600_000) // the sweeper's retention
    const again = await outcome(r.start('start-1'))
    t.match(again, { code: 'IDEMPOTENCY_KEY_REUSED' }, 'not the session that ended a day ago')
    t.notMatch(JSON.stringify(again), new RegExp(first.session.sessionId), 'nothing of the old session')
    t.equal(r.station.starts(), 1, 'no station commanded')
    t.same(await h.store.charging.activeSessions(), [], 'no session opened')
    t.match(await h.store.charging.getSession(first.session.sessionId), { state: 'stopped', meterStopWh: STOP_WH }, 'the old session is as it ended')
    t.match(await outcome(r.start('start-2')), { session: { meterStartWh: START_WH } }, 'a new id starts')
  })

  t.test(`[${name}] a request id whose session id is another vehicle's is refused IDEMPOTENCY_KEY_REUSED, revealing nothing of that session`, async (t) => {
    const { h, clock, r } = await fresh(t)
    const taken = effectId('s', { vehicleId: 'V1', requestId: 'start-1' })
    await h.store.charging.openSession({ sessionId: taken, stationId: 'MID', vehicleId: 'V2', reservationId: null, startedAtMs: clock.now(), maxWh: null, priceMinorPerKwh: 90, currency: 'BRL' })
    await h.store.charging.markCharging(taken, 42)
    const e = await r.start('start-1').then(() => null, (x: unknown) => x)
    t.ok(e instanceof VoltwayError && e.code === 'IDEMPOTENCY_KEY_REUSED', 'coded')
    t.notMatch(JSON.stringify(e instanceof VoltwayError ? e.toWire() : e), /V2|MID|42/, "nothing of V2's session")
    t.equal(r.station.starts(), 0, 'no station commanded')
  })

  t.test(`[${name}] two runs of one charge.start at once (two replicas, the claim lapsed) end with one session, both answered it`, async (t) => {
    const h = await open()
    t.teardown(() => h.dispose())
    const clock = new TestClock(NOW)
    const a = replica(h.store, clock)
    const b = replica(h.other(), clock)
    const sessionId = effectId('s', { vehicleId: 'V1', requestId: 'start-1' })
    // Below the request-id rules, as two replicas run it once the first one's claim lapsed.
    const both = await Promise.all([a, b].map((x) => outcome(x.charging.start('V1', { stationId: STATION }, { sessionId }))))
    t.match(both[0], { session: { sessionId, meterStartWh: START_WH } })
    t.same(both[1], both[0], 'both answer the one session')
    t.equal(a.station.starts() + b.station.starts(), 1, 'one start command reached the station')
    t.same((await h.store.charging.activeSessions()).map((s) => s.sessionId), [sessionId], 'one session')
  })
})
