/**
 * Outbox epochs (docs/protocol.md, "Events"): events carry their outbox's
 * epoch beside seq; the hub stores and acks them per (station, epoch, seq),
 * every epoch from seq 1, and asks for what it lacks (`resendFrom`).
 */
import { copyFileSync, existsSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import t, { type Test } from 'tap'
import { Outbox, OUTBOX_FILE } from '../station/outbox.js'
import { startMosquittoForAcl } from './helpers/broker-fixtures.js'
import { agentConfig } from './helpers/charging-e2e.js'
import { FakeStation } from './helpers/fake-station.js'
import { hubConfig, startTestHub } from './helpers/hub.js'
import { mosquittoBinary } from './helpers/mosquitto.js'
import { ManualClock, agentWithHubDouble, startAgent, tempDir, waitUntil } from './helpers/station-agent.js'
import type { StationAgent } from '../station/agent.js'

interface Row {
  epoch: string
  seq: number
  body: string
}

/** The station's events as the hub stored them, by epoch then seq. */
function storedEvents(hubDataDir: string, stationId: string): Row[] {
  const db = new Database(join(hubDataDir, 'hub.sqlite'), { readonly: true, fileMustExist: true })
  try {
    return db.prepare('SELECT epoch, seq, body FROM station_events WHERE station_id = ? ORDER BY epoch, seq').all(stationId) as Row[]
  } finally {
    db.close()
  }
}

/** One session, start and stop: two events. Resolves once the hub has acknowledged them. */
async function session(agent: StationAgent, sessionId: string): Promise<void> {
  await agent.charger.start(sessionId, undefined)
  await agent.charger.stop(sessionId)
  const last = agent.outbox.lastSeq
  await waitUntil(() => agent.outbox.ackedSeq === last, 10_000, `the hub acknowledges events up to ${last}`)
}


t.test('a new outbox (a new SD card) is a new epoch from seq 1: the hub stores its events instead of taking them for duplicates', async (t) => {
  const cfg = hubConfig()
  const hub = await startTestHub(cfg)
  t.teardown(() => hub.close())
  const station = cfg.stations[0]!
  const first = await startAgent(agentConfig(hub, station))
  await session(first, 'old-card')
  await first.stop()
  const second = await startAgent(agentConfig(hub, station)) // another dataDir: a fresh outbox
  t.teardown(() => second.stop())
  t.not(second.outbox.epoch, first.outbox.epoch, 'a new epoch')
  await session(second, 'new-card')
  t.equal(second.outbox.lastSeq, 2, 'numbered from 1 again')
  const rows = storedEvents(cfg.dataDir, station.stationId)
  const byEpoch = (epoch: string | null) => rows.filter((r) => r.epoch === epoch).map((r) => [r.seq, (JSON.parse(r.body) as { sessionId: string }).sessionId])
  t.same(byEpoch(first.outbox.epoch), [[1, 'old-card'], [2, 'old-card']])
  t.same(byEpoch(second.outbox.epoch), [[1, 'new-card'], [2, 'new-card']], 'the new card\'s seq 1 and 2 are stored, not dropped as repeats')
})

/** A started hub and a FakeStation of its first station (commands unanswered), both closed at teardown. */
async function hubAndFakeStation(t: Test): Promise<{ cfg: ReturnType<typeof hubConfig>; s1: ReturnType<typeof hubConfig>['stations'][number]; fake: FakeStation }> {
  const cfg = hubConfig()
  const hub = await startTestHub(cfg)
  t.teardown(() => hub.close())
  const s1 = cfg.stations[0]!
  const fake = await FakeStation.connect(hub.mqttUrl, s1.stationId, s1.password, () => null)
  t.teardown(() => fake.close())
  return { cfg, s1, fake }
}

t.test('a first event with seq 2 from a station the hub never heard from is not acknowledged past the missing seq 1', async (t) => {
  const { fake } = await hubAndFakeStation(t)
  const fault = { type: 'fault' as const, code: 'TEST', meterWh: 0, ts: new Date().toISOString() }
  await fake.publishEvent(2, fault)
  await waitUntil(() => fake.acks.length === 1, 5000, 'the hub answers seq 2')
  t.same(fake.acks[0], { seq: 0, resendFrom: 1 }, 'nothing acknowledged; seq 1 asked for')
  await fake.publishEvent(1, fault)
  await waitUntil(() => fake.acked === 2, 5000, 'seq 1 arrives: acknowledged through 2')
})

t.test('a hub restored from an older backup asks for the events it lacks and the station sends them at once, not on its 30 s resend', { skip: mosquittoBinary() ? false : 'mosquitto is not installed' }, async (t) => {
  const base = hubConfig()
  // An external broker: it stays up while the hub restarts, as in production.
  const m = await startMosquittoForAcl({ hubId: base.hubId, stations: base.stations, vehicles: base.vehicles })
  t.teardown(() => m.close())
  const cfg = { ...base, mqtt: { url: m.url, username: m.hub.username, password: m.hub.password } }
  let hub = await startTestHub(cfg)
  t.teardown(() => hub.close())
  // The agent's clock never moves, so its periodic resend cannot fire: only the hub's request can bring the events back.
  const agent = await startAgent(agentConfig(hub, cfg.stations[0]!), { clock: new ManualClock(), resendAfterMs: 3_600_000 })
  t.teardown(() => agent.stop())
  await session(agent, 'before-backup')

  const file = join(cfg.dataDir, 'hub.sqlite')
  await hub.close()
  t.notOk(existsSync(`${file}-wal`), 'the closed hub left no WAL beside the file')
  copyFileSync(file, join(cfg.dataDir, 'backup.sqlite'))
  hub = await startTestHub(cfg)
  await session(agent, 'after-backup') // seq 3 and 4: acknowledged, then lost with the restore
  await hub.close()
  copyFileSync(join(cfg.dataDir, 'backup.sqlite'), file)
  rmSync(`${file}-shm`, { force: true })
  hub = await startTestHub(cfg)
  t.same(storedEvents(cfg.dataDir, 'FSA-1').map((r) => r.seq), [1, 2], 'the restored hub lacks 3 and 4')

  await agent.charger.start('after-restore', undefined) // seq 5
  await waitUntil(() => storedEvents(cfg.dataDir, 'FSA-1').length === 5, 10_000, 'the hub has every event again')
  t.same(storedEvents(cfg.dataDir, 'FSA-1').map((r) => r.seq), [1, 2, 3, 4, 5])
  await waitUntil(() => agent.outbox.ackedSeq === 5 && agent.outbox.pendingCount === 0, 5000, 'all acknowledged')
})

t.test('an ack for another outbox epoch changes nothing', async (t) => {
  const { agent, hub } = await agentWithHubDouble(t, {}, {}, { autoAck: false })
  await hub.command({ op: 'start', sessionId: 'ep-1' })
  await hub.command({ op: 'stop' })
  await waitUntil(() => hub.deliveries.length === 2, 5000, 'two events')
  t.ok(hub.deliveries.every((e) => e.epoch === agent.outbox.epoch), 'events carry the outbox epoch')
  await hub.ackRaw(JSON.stringify({ seq: 2, epoch: 'e-an-old-sd-card' }))
  await hub.ackRaw(JSON.stringify({ seq: 1, epoch: agent.outbox.epoch }))
  await waitUntil(() => agent.outbox.ackedSeq === 1, 5000, 'the ack of its own epoch applied')
  t.equal(agent.outbox.pendingCount, 1, 'the other epoch\'s ack did not acknowledge seq 2')
})

t.test('an outbox from before epochs sends its pending events without an epoch, then starts an epoch at seq 1', async (t) => {
  const dir = tempDir()
  const v1 = new Database(join(dir, OUTBOX_FILE))
  v1.exec(`
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE events (seq INTEGER PRIMARY KEY, body TEXT NOT NULL);
    CREATE TABLE session (one INTEGER PRIMARY KEY CHECK (one = 1), session_id TEXT NOT NULL, meter_start_wh INTEGER NOT NULL, max_wh INTEGER, started_at INTEGER NOT NULL);
    CREATE TABLE ended_sessions (session_id TEXT PRIMARY KEY, reason TEXT NOT NULL, energy_wh INTEGER NOT NULL, meter_stop_wh INTEGER NOT NULL, ended_at INTEGER NOT NULL);
    CREATE TABLE commands (id TEXT PRIMARY KEY, result TEXT NOT NULL, at INTEGER NOT NULL);
    INSERT INTO meta VALUES ('lastSeq', '7');
    INSERT INTO events VALUES (7, '{"seq":7,"type":"fault","code":"X","meterWh":0,"ts":"2026-01-01T00:00:00Z"}');
    PRAGMA user_version = 1;
  `)
  v1.close()
  const outbox = new Outbox(join(dir, OUTBOX_FILE))
  t.teardown(() => outbox.close())
  t.equal(outbox.epoch, null, 'no epoch while epoch-less events are pending')
  t.same(outbox.pending().map((e) => [e.seq, e.epoch]), [[7, undefined]])
  t.match(outbox.ack({ seq: 7 }), { applied: true }, 'an ack without an epoch applies')
  const next = outbox.append({ type: 'fault', code: 'Y', meterWh: 0, ts: '2026-01-01T00:00:01Z' })
  t.equal(next.seq, 1, 'the first epoch starts at seq 1')
  t.equal(next.epoch, outbox.epoch)
  t.match(outbox.epoch, /^e-/)
})

t.test('the hub stores an event as it read it: a field it does not know (a 60 KiB one) is not kept', async (t) => {
  const { cfg, s1, fake } = await hubAndFakeStation(t)
  const fault = { type: 'fault' as const, code: 'TEST', meterWh: 0, ts: new Date().toISOString(), message: 'meter stale' }
  // Readers ignore fields they do not know (docs/protocol.md): the event is valid, its padding is nobody's.
  await fake.publishEvent(1, { ...fault, vendorBlob: 'x'.repeat(60 * 1024) } as typeof fault)
  await waitUntil(() => fake.acked === 1, 5000, 'the event is acknowledged')
  const [row] = storedEvents(cfg.dataDir, s1.stationId)
  t.same(JSON.parse(row?.body ?? '{}'), { seq: 1, ...fault }, 'its known fields, and nothing else')
  t.ok((row?.body.length ?? Infinity) < 300, 'a few hundred bytes, not 60 KiB')
})
