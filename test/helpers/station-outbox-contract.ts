/**
 * The StationOutbox contract (station/outbox.ts), one suite run against every
 * implementation: the SQLite outbox and the in-memory double.
 */
import type { Test } from 'tap'
import type { StationOutbox } from '../../station/outbox.js'

export interface OutboxUnderTest {
  outbox: StationOutbox
  /** The same storage as a new agent would open it after a restart. */
  reopen(): StationOutbox
}

const TS = '2026-11-24T18:00:00Z'
const started = (sessionId: string) => ({ type: 'session.started' as const, sessionId, meterWh: 100, meterStartWh: 100, ts: TS })

export function outboxContract(t: Test, name: string, make: () => OutboxUnderTest): void {
  t.test(`${name}: each appended event gets lastSeq + 1, and pending lists the unacked ones oldest first`, async (t) => {
    const { outbox } = make()
    t.teardown(() => outbox.close())
    t.equal(outbox.lastSeq, 0)
    t.equal(outbox.append(started('a')).seq, 1)
    t.equal(outbox.append(started('b')).seq, 2)
    t.equal(outbox.append(started('c')).seq, 3)
    t.equal(outbox.lastSeq, 3)
    t.same(outbox.pending().map((e) => e.seq), [1, 2, 3])
    t.same(outbox.pending(2).map((e) => e.seq), [2, 3])
    t.equal(outbox.pendingCount, 3)
  })

  t.test(`${name}: ack({seq}) acknowledges every event up to seq; an ack for another epoch changes nothing; seq keeps growing`, async (t) => {
    const { outbox } = make()
    t.teardown(() => outbox.close())
    for (const s of ['a', 'b', 'c']) outbox.append(started(s))
    t.ok(outbox.epoch, 'the outbox has an epoch')
    t.same(outbox.ack({ seq: 2, epoch: 'some-other-card' }), { applied: false, reason: 'other-epoch' })
    t.equal(outbox.pendingCount, 3, "another epoch's ack acknowledged nothing")
    t.match(outbox.ack({ seq: 2, ...(outbox.epoch ? { epoch: outbox.epoch } : {}) }), { applied: true, beyondLast: false })
    t.equal(outbox.ackedSeq, 2)
    outbox.ack({ seq: 2 })
    t.equal(outbox.ackedSeq, 2, 'acking again changes nothing')
    t.same(outbox.pending().map((e) => e.seq), [3])
    t.match(outbox.ack({ seq: 3, resendFrom: 2 }), { applied: true, resendFrom: 2 }, 'a hub that lacks seq 2 gets it again (still kept)')
    t.same(outbox.pending().map((e) => e.seq), [2, 3])
    outbox.ack({ seq: 3 })
    t.equal(outbox.pendingCount, 0)
    t.equal(outbox.append(started('d')).seq, 4, 'an empty outbox does not restart at 1')
  })

  t.test(`${name}: an invalid event is refused and nothing is stored`, async (t) => {
    const { outbox } = make()
    t.teardown(() => outbox.close())
    t.throws(() => outbox.append({ ...started('a'), ts: 'yesterday' }, { session: { sessionId: 'a', meterStartWh: 1, maxWh: null, startedAt: 1 } }))
    t.equal(outbox.lastSeq, 0)
    t.equal(outbox.pendingCount, 0)
    t.equal(outbox.currentSession(), null, 'the session change is not stored either')
  })

  t.test(`${name}: the session change is stored with its event; null clears it; ended sessions are remembered`, async (t) => {
    const { outbox } = make()
    t.teardown(() => outbox.close())
    const session = { sessionId: 's1', meterStartWh: 100, maxWh: 5000, startedAt: 1000 }
    outbox.append(started('s1'), { session })
    t.same(outbox.currentSession(), session)
    const ended = { sessionId: 's1', reason: 'requested', energyWh: 50, meterStopWh: 150, endedAt: 2000 }
    outbox.append(
      { type: 'session.stopped', sessionId: 's1', meterWh: 150, meterStartWh: 100, energyWh: 50, reason: 'requested', ts: TS },
      { session: null, ended },
    )
    t.equal(outbox.currentSession(), null)
    t.same(outbox.endedSession('s1'), ended)
    t.equal(outbox.endedSession('nope'), undefined)
  })

  t.test(`${name}: command answers and the disabled flag are kept`, async (t) => {
    const { outbox } = make()
    t.teardown(() => outbox.close())
    t.equal(outbox.commandResult('c1'), undefined)
    outbox.saveCommandResult({ id: 'c1', ok: true, meterWh: 7 }, 1000)
    t.same(outbox.commandResult('c1'), { id: 'c1', ok: true, meterWh: 7 })
    t.equal(outbox.disabled, false)
    outbox.disabled = true
    t.equal(outbox.disabled, true)
  })

  t.test(`${name}: everything survives a restart (seq, unacked events, session, answers, flag)`, async (t) => {
    const under = make()
    const session = { sessionId: 's1', meterStartWh: 100, maxWh: null, startedAt: 1000 }
    under.outbox.append(started('s0'))
    under.outbox.append(started('s1'), { session })
    under.outbox.ack({ seq: 1 })
    under.outbox.saveCommandResult({ id: 'c1', ok: true }, 1000)
    under.outbox.disabled = true
    under.outbox.close()
    const again = under.reopen()
    t.teardown(() => again.close())
    t.equal(again.lastSeq, 2)
    t.same(again.pending().map((e) => e.seq), [2])
    t.same(again.currentSession(), session)
    t.same(again.commandResult('c1'), { id: 'c1', ok: true })
    t.equal(again.disabled, true)
  })
}
