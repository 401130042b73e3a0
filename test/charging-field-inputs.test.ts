/**
 * Stations that are not ours (issue 10, items 7 and 8): a fake station that
 * follows docs/protocol.md but answers as other vendors do, against a real hub on
 * an injected clock. A reading is never defaulted; the station's clock is
 * never trusted.
 */
import t, { type Test } from 'tap'
import { TestClock } from '../hub/clock.js'
import { formatTime, parseTime } from '../protocol/index.js'
import { FakeStation, type CommandScript } from './helpers/fake-station.js'
import { connectVehicle, hubConfig, startTestHub, type TestVehicle } from './helpers/hub.js'
import { waitUntil } from './helpers/net.js'

const REGISTER_WH = 909_948
const STOP_WH = 910_031

async function setup(t: Test, answer: CommandScript, opts: { commandTimeoutMs?: number } = {}) {
  const clock = new TestClock('2026-11-24T12:00:00Z')
  const cfg = hubConfig()
  const hub = await startTestHub(cfg, { clock, commandTimeoutMs: opts.commandTimeoutMs ?? 3000 })
  t.teardown(() => hub.close())
  const s1 = cfg.stations[0]
  if (!s1) throw new Error('a station expected')
  const station = await FakeStation.connect(hub.mqttUrl, s1.stationId, s1.password, answer)
  t.teardown(() => station.close())
  await station.state({ meterWh: REGISTER_WH, ts: formatTime(clock.now()) })
  await waitUntil(() => hub.context.stations.get(s1.stationId)?.live.online, 5000, 'the station online')
  const v1: TestVehicle = await connectVehicle(hub.mqttUrl, 'feira', 'V1', 'v1-pass')
  t.teardown(() => v1.close())
  return { hub, clock, station, v1, stationId: s1.stationId }
}

t.test('a reading is never defaulted: a start answer without meterWh takes the start reading from the session.started event', async (t) => {
  // `{id, ok: true}` is a valid answer per docs/protocol.md; the reading follows in the event.
  let started: Promise<number> | undefined
  const { v1, station, stationId } = await setup(t, async (cmd, st) => {
    if (cmd.op === 'start') {
      setImmediate(() => (started = st.event({ type: 'session.started', sessionId: cmd.sessionId as string, meterWh: REGISTER_WH, meterStartWh: REGISTER_WH, ts: formatTime(Date.now()) })))
      return { ok: true }
    }
    return { ok: true, meterWh: STOP_WH }
  })
  const { session } = await v1.rpc.request('charge.start', { stationId })
  t.equal(session.meterStartWh, REGISTER_WH, 'charge.start reports the reading the station gave for the session')
  await started
  const { receipt } = await v1.rpc.request('charge.stop', { sessionId: session.sessionId })
  t.equal(receipt.energyWh, STOP_WH - REGISTER_WH, 'bills 83 Wh, not the meter register')
  t.equal(receipt.costMinor, Math.round((83 * 73) / 1000))
  t.equal(station.commands.filter((c) => c.op === 'stop').length, 1)
})

t.test('the start reading is the first one the station reports for the session', async (t) => {
  const { v1, stationId } = await setup(t, async (cmd, st) => {
    if (cmd.op === 'start') {
      // The event (with the reading at relay close) arrives before the answer, whose reading is later.
      await st.event({ type: 'session.started', sessionId: cmd.sessionId as string, meterWh: REGISTER_WH, ts: formatTime(Date.now()) })
      return { ok: true, meterWh: REGISTER_WH + 5 }
    }
    return { ok: true, meterWh: STOP_WH }
  })
  const { session } = await v1.rpc.request('charge.start', { stationId })
  t.equal(session.meterStartWh, REGISTER_WH)
  const { receipt } = await v1.rpc.request('charge.stop', { sessionId: session.sessionId })
  t.equal(receipt.energyWh, 83)
})

t.test('no start reading anywhere is METER_FAULT: the station is stopped and nobody is billed', async (t) => {
  const { hub, v1, station, stationId } = await setup(t, (cmd) => (cmd.op === 'start' ? { ok: true } : { ok: true, meterWh: STOP_WH }), { commandTimeoutMs: 500 })
  const err = await v1.rpc.request('charge.start', { stationId }).then(
    () => null,
    (e: unknown) => e as { code: string; details?: { sessionId?: string; reason?: string } },
  )
  t.equal(err?.code, 'METER_FAULT')
  t.equal(err?.details?.reason, 'METER_MISSING_START')
  const sessionId = err?.details?.sessionId as string
  t.ok(sessionId, 'the error names the session')
  await station.command('stop')
  // The station's own stop event, without any start reading, does not bill either.
  await station.event({ type: 'session.stopped', sessionId, meterWh: STOP_WH, energyWh: STOP_WH, reason: 'requested', ts: formatTime(Date.now()) })
  t.equal(await hub.context.store.charging.getReceipt(sessionId), null, 'no receipt')
  t.match(await hub.context.store.charging.getSession(sessionId), { state: 'failed', stopReason: 'METER_MISSING_START', meterStartWh: null })
  await t.rejects(v1.rpc.request('charge.status', { sessionId }), { code: 'METER_FAULT' }, 'status says why there is no bill, never 0 Wh from 0')
  await t.rejects(v1.rpc.request('charge.stop', { sessionId }), { code: 'METER_FAULT' })
  t.same((await v1.rpc.request('history.list', {})).receipts, [], 'nothing in the history')
  t.equal(hub.context.stations.get(stationId)?.live.online, true)
})

t.test('a session closed by a stop event with no start reading at all is METER_FAULT, never billed from 0', async (t) => {
  // The station answers start without a reading and, before any session.started, ends the session itself.
  let stopped: Promise<number> | undefined
  const { hub, v1, station, stationId } = await setup(t, async (cmd, st) => {
    if (cmd.op !== 'start') return { ok: false, error: { code: 'NOT_CHARGING', message: 'no session' } }
    setImmediate(() => (stopped = st.event({ type: 'session.stopped', sessionId: cmd.sessionId as string, meterWh: STOP_WH, energyWh: 83, reason: 'unplugged', ts: formatTime(Date.now()) })))
    return { ok: true }
  })
  const err = await v1.rpc.request('charge.start', { stationId }).then(() => null, (e: unknown) => e as { code: string; details?: { sessionId?: string } })
  t.equal(err?.code, 'METER_FAULT')
  await stopped
  await station.command('stop')
  t.equal(await hub.context.store.charging.getReceipt(err?.details?.sessionId as string), null)
})

t.test("station clocks are not trusted: a stop stamped 2 h in the past or in 2099 ends on the hub's clock and sorts by it", async (t) => {
  const { hub, clock, v1, station, stationId } = await setup(t, (cmd) => (cmd.op === 'start' ? { ok: true, meterWh: REGISTER_WH } : { ok: false, error: { code: 'NOT_CHARGING', message: 'already stopped' } }))
  const stamps = ['2099-01-01T00:00:00Z', formatTime(clock.now() - 2 * 3600_000)]
  const ids: string[] = []
  for (const stamp of stamps) {
    const { session } = await v1.rpc.request('charge.start', { stationId })
    const startedMs = clock.now()
    clock.advanceMinutes(10)
    await station.event({ type: 'session.stopped', sessionId: session.sessionId, meterWh: STOP_WH, meterStartWh: REGISTER_WH, energyWh: 83, reason: 'limit', ts: stamp })
    const heardMs = clock.now()
    const { receipt } = await v1.rpc.request('charge.stop', { sessionId: session.sessionId })
    t.equal(parseTime(receipt.startedAt), startedMs, `[${stamp}] startedAt is the hub clock at start`)
    t.equal(parseTime(receipt.endedAt), heardMs, `[${stamp}] endedAt is the hub clock when the stop event arrived`)
    t.ok(parseTime(receipt.startedAt) <= parseTime(receipt.endedAt), `[${stamp}] never ends before it starts`)
    t.equal(receipt.energyWh, 83)
    t.equal((await hub.context.store.charging.getSession(session.sessionId))?.stationEndedAt, stamp, `[${stamp}] the station's ts is kept as reported`)
    ids.push(session.sessionId)
    clock.advanceMinutes(5)
  }
  const { receipts } = await v1.rpc.request('history.list', {})
  t.same(receipts.map((r) => r.sessionId), [...ids].reverse(), 'history.list: newest on the hub clock first, not the one stamped 2099')
})

t.test("a station's clock skew is logged and exported as voltway_station_clock_skew_seconds", async (t) => {
  const { hub, clock, station, v1, stationId } = await setup(t, (cmd) => ({ ok: true, meterWh: cmd.op === 'start' ? REGISTER_WH : STOP_WH }))
  const { session } = await v1.rpc.request('charge.start', { stationId })
  // The station's clock runs two hours ahead of the hub's.
  await station.event({ type: 'session.started', sessionId: session.sessionId, meterWh: REGISTER_WH, ts: formatTime(clock.now() + 7200_000) })
  const text = await hub.metrics.text()
  t.match(text, /voltway_station_clock_skew_seconds\{station="FSA-1",hub="feira"\} 7200\b/, 'skew per station, in seconds')
  t.notMatch(text, /voltway_station_clock_skew_seconds\{station="FSA-2"/, 'only stations that reported')
  const s = await hub.context.store.charging.getSession(session.sessionId)
  t.equal(s?.stationStartedAt, formatTime(clock.now() + 7200_000), "the station's start ts is stored as reported")
  t.equal(s?.startedAtMs, clock.now(), 'the session starts on the hub clock')
})

t.test('a stop answered without a reading takes it from the session.stopped event; with no event at all the session ends unbilled and frees the station', async (t) => {
  let withEvent = true
  const { hub, v1, station, stationId } = await setup(
    t,
    (cmd, st) => {
      if (cmd.op === 'start') return { ok: true, meterWh: REGISTER_WH }
      if (withEvent) {
        const sessionId = cmd.sessionId as string
        setImmediate(() => void st.event({ type: 'session.stopped', sessionId, meterWh: STOP_WH, meterStartWh: REGISTER_WH, energyWh: STOP_WH - REGISTER_WH, reason: 'requested', ts: formatTime(Date.now()) }))
      }
      return { ok: true }
    },
    { commandTimeoutMs: 500 },
  )
  const first = (await v1.rpc.request('charge.start', { stationId })).session
  const { receipt } = await v1.rpc.request('charge.stop', { sessionId: first.sessionId })
  t.equal(receipt.energyWh, STOP_WH - REGISTER_WH, "the event's reading bills the session")

  withEvent = false
  const second = (await v1.rpc.request('charge.start', { stationId })).session
  await t.rejects(v1.rpc.request('charge.stop', { sessionId: second.sessionId }), { code: 'METER_FAULT', details: { reason: 'METER_MISSING_STOP' } }, 'no reading anywhere: METER_FAULT, not a hang')
  t.match(await hub.context.store.charging.getSession(second.sessionId), { state: 'failed', stopReason: 'METER_MISSING_STOP' })
  t.equal(await hub.context.store.charging.getReceipt(second.sessionId), null, 'nobody billed')
  t.equal(await hub.context.store.charging.activeSession(stationId), null, 'the station is free again')
  const third = (await v1.rpc.request('charge.start', { stationId })).session
  t.ok(third.sessionId, 'the next charge.start there is accepted, not STATION_BUSY')
  t.equal(station.commands.filter((c) => c.op === 'stop').length, 2)
})
