/**
 * The agent runs on whatever outbox and link it is given (station/agent.ts
 * options): here the in-memory outbox and a link with no network.
 */
import t from 'tap'
import { StationAgent } from '../station/agent.js'
import { LinkDouble, MemoryOutbox } from './helpers/station-doubles.js'
import { ManualClock, stationConfig, tempDir, waitUntil } from './helpers/station-agent.js'

const config = (dataDir: string) => stationConfig({ url: 'mqtt://127.0.0.1:1', dataDir })

async function agentOn(dataDir: string, outbox: MemoryOutbox, clock: ManualClock): Promise<{ agent: StationAgent; link: LinkDouble }> {
  const link = new LinkDouble(clock.now)
  const agent = await StationAgent.create({ config: config(dataDir), outbox, link, clock, pollIntervalMs: 0, heartbeatIntervalMs: 0 })
  await agent.start()
  return { agent, link }
}

t.test('an agent given an outbox and a link publishes through the link, keeps events in that outbox until acked, and leaves it open', async (t) => {
  const clock = new ManualClock()
  const outbox = new MemoryOutbox()
  const { agent, link } = await agentOn(tempDir(), outbox, clock)
  t.ok(link.willState, 'the agent started the link with its will')
  t.equal(link.willState?.().online, false)
  link.connect()
  await waitUntil(() => link.states.some((s) => s.online), 2000, 'state published on connect')
  link.command({ id: 'c1', op: 'start', sessionId: 'inj-1' })
  await waitUntil(() => link.results.length === 1, 2000, 'the command answered')
  t.match(link.results[0], { id: 'c1', ok: true })
  t.same(link.events.map((e) => [e.seq, e.type]), [[1, 'session.started']])
  t.equal(outbox.pendingCount, 1, 'the event is in the injected outbox')
  t.same(outbox.commandResult('c1'), link.results[0], 'the answer too')
  link.ack(1)
  await waitUntil(() => outbox.pendingCount === 0, 2000, 'forgotten after the ack')
  await agent.stop()
  t.equal(outbox.closed, false, 'the caller owns an injected outbox')
  t.equal(link.closedWith?.online, false, 'the agent said goodbye on the link')
})

t.test('an injected outbox outlives its agent: the next agent reports the crashed session ended', async (t) => {
  const clock = new ManualClock()
  const outbox = new MemoryOutbox()
  const dataDir = tempDir()
  const first = await agentOn(dataDir, outbox, clock)
  first.link.connect()
  first.link.command({ id: 'c1', op: 'start', sessionId: 'inj-2' })
  await waitUntil(() => first.link.results.length === 1, 2000, 'started')
  first.agent.crash()
  t.ok(first.link.destroyed, 'crash drops the link')
  clock.advance(60_000)
  const second = await agentOn(dataDir, outbox, clock)
  t.teardown(() => second.agent.stop())
  second.link.connect()
  await waitUntil(() => second.link.events.some((e) => e.type === 'session.stopped'), 2000, 'the session end')
  t.match(
    second.link.events.find((e) => e.type === 'session.stopped'),
    { sessionId: 'inj-2', reason: 'shutdown', seq: 2 },
  )
})
