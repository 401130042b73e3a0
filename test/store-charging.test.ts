/** The charging sub-store's contract, run against every Store implementation. */
import t from 'tap'
import { MemoryStore, SqliteStore, StoreError, type Store } from '../hub/store/index.js'
import { LATEST_STREAMS_KEPT } from '../hub/store/charging-rules.js'
import { tempDir } from './helpers/hub.js'
import { postgresSkipReason, tempPostgres } from './helpers/store-postgres.js'

const impls: Array<{ name: string; make: () => Store | Promise<Store> }> = [
  { name: 'memory', make: () => new MemoryStore() },
  { name: 'sqlite', make: () => new SqliteStore({ dataDir: tempDir('voltway-charging-store-') }) },
]
const pgSkip = await postgresSkipReason()
if (pgSkip) {
  t.skip(`SKIP [postgres]: ${pgSkip}`, () => undefined)
} else {
  const pg = await tempPostgres()
  t.teardown(() => pg.dispose())
  // Each check's schema goes with the database at the end.
  impls.push({ name: 'postgres', make: () => pg.schema().open() })
}

const open = (store: Store, sessionId: string, stationId = 'S1', vehicleId = 'V1') =>
  store.charging.openSession({ sessionId, stationId, vehicleId, reservationId: null, startedAtMs: 1000, maxWh: null, priceMinorPerKwh: 73, currency: 'BRL' })

for (const { name, make } of impls) {
  t.test(`[${name}] one active session per station: a second open is refused and names the active one`, async (t) => {
    const store = await make()
    t.teardown(() => store.close())
    t.ok((await open(store, 's1')).ok)
    const again = await open(store, 's2', 'S1', 'V2')
    t.equal(again.ok, false)
    if (!again.ok) t.equal(again.active.sessionId, 's1')
    t.ok((await open(store, 's3', 'S2')).ok, 'another station is free')
    await store.charging.failSession('s1', 'no answer', 2000)
    t.ok((await open(store, 's4', 'S1', 'V2')).ok, 'a failed session frees the station')
  })

  t.test(`[${name}] a receipt bills stop minus start reading once; closing again changes nothing`, async (t) => {
    const store = await make()
    t.teardown(() => store.close())
    await open(store, 's1')
    await store.charging.markCharging('s1', 12_000)
    const first = await store.charging.closeSession({ sessionId: 's1', meterStopWh: 23_000, endedAtMs: 5000, reason: 'requested' })
    t.match(first, { status: 'closed', created: true, receipt: { energyWh: 11_000, costMinor: 803, priceMinorPerKwh: 73, currency: 'BRL', startedAtMs: 1000, endedAtMs: 5000 } })
    const again = await store.charging.closeSession({ sessionId: 's1', meterStopWh: 99_000, endedAtMs: 9000, reason: 'limit' })
    t.match(again, { status: 'closed', created: false, receipt: { energyWh: 11_000, endedAtMs: 5000 } })
    t.equal((await store.charging.getSession('s1'))?.state, 'stopped')
    t.equal((await store.charging.activeSession('S1')), null, 'the station is free again')
  })

  t.test(`[${name}] a backwards or missing reading is a fault, never a bill`, async (t) => {
    const store = await make()
    t.teardown(() => store.close())
    await open(store, 's1')
    t.match(await store.charging.closeSession({ sessionId: 's1', meterStopWh: 5, endedAtMs: 2, reason: 'requested' }), { status: 'fault', code: 'METER_MISSING_START' })
    await store.charging.markCharging('s1', 1000)
    t.match(await store.charging.closeSession({ sessionId: 's1', meterStopWh: 999, endedAtMs: 2, reason: 'requested' }), { status: 'fault', code: 'METER_BACKWARDS' })
    t.equal(await store.charging.getReceipt('s1'), null)
    t.match(await store.charging.closeSession({ sessionId: 'nope', meterStopWh: 1, endedAtMs: 2, reason: 'requested' }), { status: 'not_found' })
  })

  t.test(`[${name}] the start reading is the first one reported; the station's own times are kept as reported, apart from the hub's`, async (t) => {
    const store = await make()
    t.teardown(() => store.close())
    await open(store, 's1')
    t.match(await store.charging.markCharging('s1', 909_948, '2099-01-01T00:00:00Z'), { state: 'charging', meterStartWh: 909_948, stationStartedAt: '2099-01-01T00:00:00Z', startedAtMs: 1000 })
    t.match(await store.charging.markCharging('s1', 5, '2000-01-01T00:00:00Z'), { meterStartWh: 909_948, stationStartedAt: '2099-01-01T00:00:00Z' }, 'a later report changes nothing')
    const out = await store.charging.closeSession({ sessionId: 's1', meterStopWh: 910_031, endedAtMs: 4000, reason: 'limit', meterStartWh: 0, stationEndedAt: '2026-11-24T10:00:00.123Z' })
    t.match(out, { status: 'closed', receipt: { energyWh: 83, startedAtMs: 1000, endedAtMs: 4000 } }, "a stop event's meterStartWh never replaces the stored one")
    t.match(await store.charging.getSession('s1'), { stationStartedAt: '2099-01-01T00:00:00Z', stationEndedAt: '2026-11-24T10:00:00.123Z', endedAtMs: 4000 })
  })

  t.test(`[${name}] a receipt never ends before it starts: an end before the start is taken as the start`, async (t) => {
    const store = await make()
    t.teardown(() => store.close())
    await open(store, 's1')
    await store.charging.markCharging('s1', 100)
    const out = await store.charging.closeSession({ sessionId: 's1', meterStopWh: 183, endedAtMs: 1000 - 2 * 3600_000, reason: 'requested' })
    t.match(out, { status: 'closed', receipt: { startedAtMs: 1000, endedAtMs: 1000, energyWh: 83 } })
    t.equal((await store.charging.getSession('s1'))?.endedAtMs, 1000)
  })

  t.test(`[${name}] each (station, epoch, seq) is stored once and the ack only covers what is stored from seq 1 without a gap`, async (t) => {
    const store = await make()
    t.teardown(() => store.close())
    const rec = (stationId: string, epoch: string | null, seq: number) => store.charging.recordEvent(stationId, epoch, seq, 'fault', '{}', 1)
    t.same(await rec('S1', null, 1), { inserted: true, ackSeq: 1 })
    t.same(await rec('S1', null, 1), { inserted: false, ackSeq: 1 }, 'a duplicate is not stored again')
    t.same(await rec('S1', null, 3), { inserted: true, ackSeq: 1, resendFrom: 2 }, 'a gap holds the ack back and asks for the missing seq')
    t.same(await rec('S1', null, 2), { inserted: true, ackSeq: 3 }, 'filling the gap acks through')
    t.same(await rec('S2', null, 1), { inserted: true, ackSeq: 1 }, 'stations are counted apart')
  })

  t.test(`[${name}] a first event with seq 2 from a station never heard from is not acknowledged past the missing seq 1`, async (t) => {
    const store = await make()
    t.teardown(() => store.close())
    t.same(await store.charging.recordEvent('S9', null, 2, 'fault', '{}', 1), { inserted: true, ackSeq: 0, resendFrom: 1 }, 'epoch-less')
    t.same(await store.charging.recordEvent('S9', 'e-new', 2, 'fault', '{}', 1), { inserted: true, ackSeq: 0, resendFrom: 1 }, 'with an epoch')
    t.same(await store.charging.recordEvent('S9', null, 1, 'fault', '{}', 1), { inserted: true, ackSeq: 2 }, 'seq 1 arrives: acked through 2')
  })

  t.test(`[${name}] an outbox reset to seq 1 under a new epoch is stored, not taken for duplicates`, async (t) => {
    const store = await make()
    t.teardown(() => store.close())
    for (const seq of [1, 2, 3]) await store.charging.recordEvent('S1', 'e-old', seq, 'fault', `{"old":${seq}}`, 1)
    t.same(await store.charging.recordEvent('S1', 'e-new', 1, 'fault', '{"new":1}', 1), { inserted: true, ackSeq: 1 }, 'the new epoch starts at 1')
    t.same(await store.charging.recordEvent('S1', 'e-new', 2, 'fault', '{"new":2}', 1), { inserted: true, ackSeq: 2 })
    t.same(await store.charging.recordEvent('S1', 'e-old', 3, 'fault', '{}', 1), { inserted: false, ackSeq: 3 }, 'the old epoch keeps its own count')
  })

  t.test(`[${name}] rule isActive: only starting and charging sessions hold a station; a stopped or failed one is never made charging again`, async (t) => {
    const store = await make()
    t.teardown(() => store.close())
    await open(store, 's1')
    t.match(await store.charging.activeSession('S1'), { sessionId: 's1', state: 'starting' })
    await store.charging.markCharging('s1', 10)
    t.same((await store.charging.activeSessions()).map((s) => s.sessionId), ['s1'])
    await store.charging.closeSession({ sessionId: 's1', meterStopWh: 20, endedAtMs: 2000, reason: 'requested' })
    t.equal(await store.charging.activeSession('S1'), null, 'stopped: not active')
    t.equal(await store.charging.markCharging('s1', 10), null, 'a stopped session is not made charging')
    await store.charging.failSession('s1', 'late', 3000)
    t.match(await store.charging.getSession('s1'), { state: 'stopped', stopReason: 'requested', endedAtMs: 2000 }, 'a stopped session is not failed')
    await open(store, 's2')
    await store.charging.failSession('s2', 'no answer', 2500)
    t.equal(await store.charging.markCharging('s2', 10), null, 'a failed session is not made charging')
    t.same(await store.charging.activeSessions(), [])
  })

  t.test(`[${name}] a session id is opened once: an id that exists, in any state, is refused with DUPLICATE_ID and nothing changes`, async (t) => {
    const store = await make()
    t.teardown(() => store.close())
    const refused = async (sessionId: string, stationId: string, vehicleId = 'V1'): Promise<unknown> =>
      open(store, sessionId, stationId, vehicleId).then((out) => out, (e: unknown) => (e instanceof StoreError ? e.code : e))
    await open(store, 's1')
    t.equal(await refused('s1', 'S1'), 'DUPLICATE_ID', 'starting, at its own station')
    await store.charging.markCharging('s1', 10)
    t.equal(await refused('s1', 'S2'), 'DUPLICATE_ID', 'charging, opened again at a free station')
    await store.charging.closeSession({ sessionId: 's1', meterStopWh: 20, endedAtMs: 2000, reason: 'requested' })
    t.equal(await refused('s1', 'S1', 'V2'), 'DUPLICATE_ID', 'stopped, its station free, for another vehicle')
    await open(store, 's2', 'S2')
    t.equal(await refused('s1', 'S2'), 'DUPLICATE_ID', 'stopped, at a station another session holds')
    await store.charging.failSession('s2', 'no answer', 2500)
    t.equal(await refused('s2', 'S2'), 'DUPLICATE_ID', 'failed')
    t.match(await store.charging.getSession('s1'), { vehicleId: 'V1', stationId: 'S1', state: 'stopped', meterStartWh: 10, meterStopWh: 20 }, 'the session is as it was')
    t.same(await store.charging.activeSessions(), [], 'nothing was opened')
  })

  t.test(`[${name}] receipts list newest first, only the vehicle's own`, async (t) => {
    const store = await make()
    t.teardown(() => store.close())
    for (const [i, v] of [['1', 'V1'], ['2', 'V1'], ['3', 'V2']] as const) {
      await open(store, `s${i}`, `S${i}`, v)
      await store.charging.markCharging(`s${i}`, 0)
      await store.charging.closeSession({ sessionId: `s${i}`, meterStopWh: 100, endedAtMs: Number(i) * 1000, reason: 'requested' })
    }
    t.same((await store.charging.listReceipts('V1', 10)).map((r) => r.sessionId), ['s2', 's1'])
    t.same((await store.charging.listReceipts('V1', 1)).map((r) => r.sessionId), ['s2'])
  })

  t.test(`[${name}] listReceiptsBetween lists every vehicle's receipts ended in [fromMs, toMs), of one station or all, newest first, bounded`, async (t) => {
    const store = await make()
    t.teardown(() => store.close())
    // s1..s4 end at 1000..4000 ms; S1 has s1, s3; S2 has s2, s4.
    for (const i of [1, 2, 3, 4]) {
      const st = i % 2 === 1 ? 'S1' : 'S2'
      await open(store, `s${i}`, st, `V${i}`)
      await store.charging.markCharging(`s${i}`, 0)
      await store.charging.closeSession({ sessionId: `s${i}`, meterStopWh: 100 * i, endedAtMs: i * 1000, reason: 'requested' })
    }
    const ids = async (q: Parameters<Store['charging']['listReceiptsBetween']>[0]) => (await store.charging.listReceiptsBetween(q)).map((r) => r.sessionId)
    t.same(await ids({ limit: 10 }), ['s4', 's3', 's2', 's1'], 'no filter: all, newest first')
    t.same(await ids({ fromMs: 2000, toMs: 4000, limit: 10 }), ['s3', 's2'], 'from is inclusive, to exclusive')
    t.same(await ids({ stationId: 'S1', limit: 10 }), ['s3', 's1'], 'one station')
    t.same(await ids({ stationId: 'S2', fromMs: 3000, limit: 10 }), ['s4'], 'station and open upper bound')
    t.same(await ids({ limit: 2 }), ['s4', 's3'], 'the limit keeps the newest')
    t.same(await ids({ limit: 0 }), ['s4'], 'a limit below 1 is 1')
    t.same(await ids({ stationId: 'nope', limit: 10 }), [])
    t.match((await store.charging.listReceiptsBetween({ fromMs: 4000, limit: 1 }))[0], { sessionId: 's4', stationId: 'S2', vehicleId: 'V4', energyWh: 400, endedAtMs: 4000 }, 'whole receipts')
  })

  t.test(`[${name}] listStationEvents gives one station's stored events, newest first, bounded, with the epoch as stored`, async (t) => {
    const store = await make()
    t.teardown(() => store.close())
    await store.charging.recordEvent('S1', null, 1, 'session.started', '{"a":1}', 100)
    await store.charging.recordEvent('S1', 'e1', 1, 'fault', '{"a":2}', 200)
    await store.charging.recordEvent('S2', null, 1, 'fault', '{"b":1}', 300)
    await store.charging.recordEvent('S1', 'e1', 2, 'session.stopped', '{"a":3}', 300)
    await store.charging.recordEvent('S1', 'e1', 2, 'session.stopped', '{"dup":1}', 400)
    const evs = await store.charging.listStationEvents('S1', 10)
    t.same(evs, [
      { stationId: 'S1', epoch: 'e1', seq: 2, type: 'session.stopped', body: '{"a":3}', receivedAtMs: 300 },
      { stationId: 'S1', epoch: 'e1', seq: 1, type: 'fault', body: '{"a":2}', receivedAtMs: 200 },
      { stationId: 'S1', epoch: null, seq: 1, type: 'session.started', body: '{"a":1}', receivedAtMs: 100 },
    ], 'a duplicate keeps the first copy; other stations are left out')
    t.same((await store.charging.listStationEvents('S1', 1)).map((e) => e.seq), [2], 'the limit keeps the newest')
    t.same(await store.charging.listStationEvents('S3', 10), [])
  })

  t.test(`[${name}] deleteStationEventsOlderThan deletes events received before the cutoff, oldest first and at most limit at a time, of every station; newer ones and the acks stay`, async (t) => {
    const store = await make()
    t.teardown(() => store.close())
    for (let seq = 1; seq <= 5; seq++) await store.charging.recordEvent('S1', null, seq, 'fault', `{"n":${seq}}`, seq * 100)
    await store.charging.recordEvent('S2', 'e1', 1, 'fault', '{"b":1}', 150)
    const seqs = async (stationId: string) => (await store.charging.listStationEvents(stationId, 10)).map((e) => e.seq)

    t.equal(await store.charging.deleteStationEventsOlderThan(300, 2), 2, 'at most limit: the two oldest')
    t.same(await seqs('S1'), [5, 4, 3, 2], 'S1 seq 1 (100) went first')
    t.same(await seqs('S2'), [], 'then S2 seq 1 (150), another station')
    t.equal(await store.charging.deleteStationEventsOlderThan(300, 2), 1, 'fewer than limit: nothing older is left')
    t.same(await seqs('S1'), [5, 4, 3], 'an event received at the cutoff is kept')
    t.equal(await store.charging.deleteStationEventsOlderThan(300, 2), 0)

    // A backlog larger than one batch goes over several calls.
    const steps: number[] = []
    for (let n = -1; n !== 0; ) steps.push((n = await store.charging.deleteStationEventsOlderThan(1000, 2)))
    t.same(steps, [2, 1, 0])
    t.same(await seqs('S1'), [])

    const next = await store.charging.recordEvent('S1', null, 6, 'fault', '{"n":6}', 600)
    t.same(next, { inserted: true, ackSeq: 6 }, 'the ack stayed: the next event is acknowledged on from it, nothing asked again')
    t.same(await seqs('S1'), [6])
  })

  t.test(`[${name}] rule: isAcknowledged: an acknowledged event sent again once its row is deleted is a repeat, not stored again; a deleted event beyond the ack is stored again`, async (t) => {
    const store = await make()
    t.teardown(() => store.close())
    t.same(await store.charging.recordEvent('S1', 'e1', 1, 'fault', '{"n":1}', 100), { inserted: true, ackSeq: 1 })
    t.same(await store.charging.recordEvent('S1', 'e1', 3, 'fault', '{"n":3}', 100), { inserted: true, ackSeq: 1, resendFrom: 2 }, 'seq 2 missing: 3 is stored beyond the ack')
    t.equal(await store.charging.deleteStationEventsOlderThan(200, 10), 2)

    t.same(await store.charging.recordEvent('S1', 'e1', 1, 'fault', '{"n":1}', 300), { inserted: false, ackSeq: 1 }, 'seq 1 was acknowledged: a repeat, though its row is gone')
    t.same(await store.charging.listStationEvents('S1', 10), [], 'not stored twice')
    t.same(await store.charging.recordEvent('S1', 'e1', 3, 'fault', '{"n":3}', 300), { inserted: true, ackSeq: 1, resendFrom: 2 }, 'seq 3 was never acknowledged: stored again, seq 2 still asked for')
    t.same(await store.charging.recordEvent('S1', 'e1', 2, 'fault', '{"n":2}', 400), { inserted: true, ackSeq: 3 })
    t.same((await store.charging.listStationEvents('S1', 10)).map((e) => [e.seq, e.receivedAtMs]), [[2, 400], [3, 300]])
    t.same(await store.charging.recordEvent('S1', 'e2', 1, 'fault', '{"n":1}', 500), { inserted: true, ackSeq: 1 }, 'another epoch has its own ack')
  })

  t.test(`[${name}] rule: isForgettableStream: the retention forgets a stream's ack once none of its events is left, it was last used before the cutoff, and ${LATEST_STREAMS_KEPT} of its station's streams were used after it`, async (t) => {
    const store = await make()
    t.teardown(() => store.close())
    const rec = (stationId: string, epoch: string | null, seq: number, at: number) => store.charging.recordEvent(stationId, epoch, seq, 'fault', '{}', at)
    // S1 used the epoch-less stream, then e1..e5; S2 one stream.
    t.same(await rec('S1', null, 1, 100), { inserted: true, ackSeq: 1 })
    for (let i = 1; i <= 5; i++) {
      t.same(await rec('S1', `e${i}`, 1, 100 + 10 * i), { inserted: true, ackSeq: 1 })
      t.same(await rec('S1', `e${i}`, 2, 101 + 10 * i), { inserted: true, ackSeq: 2 })
    }
    t.same(await rec('S2', 'e9', 1, 150), { inserted: true, ackSeq: 1 }, "S2's only stream")
    t.equal(await store.charging.forgetStationStreamsUnusedSince(1000, 10), 0, 'every stream still has its events')
    t.equal(await store.charging.deleteStationEventsOlderThan(1000, 100), 12)
    t.equal(await store.charging.forgetStationStreamsUnusedSince(1000, 1), 1, 'at most limit: the least recently used, the epoch-less stream')
    t.equal(await store.charging.forgetStationStreamsUnusedSince(1000, 10), 2, 'then e1 and e2')
    t.equal(await store.charging.forgetStationStreamsUnusedSince(1000, 10), 0, `each station's ${LATEST_STREAMS_KEPT} latest stay, however quiet`)
    for (const e of ['e3', 'e4', 'e5']) t.same(await rec('S1', e, 2, 1100), { inserted: false, ackSeq: 2 }, `${e}: still a repeat`)
    t.same(await rec('S2', 'e9', 1, 1100), { inserted: false, ackSeq: 1 }, "S2's too")
    t.same(await rec('S1', 'e1', 3, 1100), { inserted: true, ackSeq: 0, resendFrom: 1 }, 'a forgotten stream starts afresh, nothing of it left to read through')

    // A station that makes epoch after epoch keeps one ack per stream only as long as its events.
    for (let i = 0; i < 100; i++) t.same(await rec('S3', `x${i}`, 1, 2000 + i), { inserted: true, ackSeq: 1 })
    t.equal(await store.charging.deleteStationEventsOlderThan(3000, 1000), 101, "S3's events, and e1's new one")
    t.equal(await store.charging.forgetStationStreamsUnusedSince(3000, 1000), 100 - LATEST_STREAMS_KEPT + 1, `all of S3's streams but its ${LATEST_STREAMS_KEPT} latest, and S1's e3 (e4, e5 and e1 came after it)`)
    t.same(await rec('S3', 'x99', 1, 3100), { inserted: false, ackSeq: 1 }, "S3's latest is kept")
    t.same(await rec('S3', `x${99 - LATEST_STREAMS_KEPT}`, 1, 3101), { inserted: true, ackSeq: 1 }, 'the one before its kept ones went')
  })

  t.test(`[${name}] rule: isForgettableStream: streams are ordered by the events the hub stored, whatever the clock says; a repeat uses nothing`, async (t) => {
    const store = await make()
    t.teardown(() => store.close())
    const rec = (epoch: string | null, seq: number, at: number) => store.charging.recordEvent('S1', epoch, seq, 'fault', '{}', at)
    for (let i = 0; i < LATEST_STREAMS_KEPT; i++) t.same(await rec(`old${i}`, 1, 500 + i), { inserted: true, ackSeq: 1 })
    // The hub's clock steps back (NTP, another replica), and events at one instant: the order still tells.
    t.same(await rec('cur', 1, 400), { inserted: true, ackSeq: 1 })
    t.same(await rec('cur', 2, 400), { inserted: true, ackSeq: 2 })
    // Late repeats of older streams (a QoS 1 redelivery, a restored card) after the agent's last event.
    for (let i = 0; i < LATEST_STREAMS_KEPT; i++) t.same(await rec(`old${i}`, 1, 450), { inserted: false, ackSeq: 1 }, `old${i}: a repeat`)
    t.equal(await store.charging.deleteStationEventsOlderThan(1000, 10), LATEST_STREAMS_KEPT + 2)
    t.equal(await store.charging.forgetStationStreamsUnusedSince(1000, 10), 1, 'old0 went, though its time is later')
    t.same(await rec('cur', 3, 1100), { inserted: true, ackSeq: 3 }, 'the stream in use kept its ack')
    t.same(await rec('old0', 1, 1101), { inserted: true, ackSeq: 1 }, 'old0 starts afresh')
  })
}
