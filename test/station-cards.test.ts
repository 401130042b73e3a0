/**
 * Cards at the charger (docs/protocol.md): a tap starts a session online
 * (the hub authorizes, opens and bills it) and offline (the local cache);
 * unknown cards are refused with CARD_UNKNOWN; a revoked card works offline
 * only until its cached authorization expires.
 */
import { pino } from 'pino'
import t, { type Test } from 'tap'
import { StationAgent } from '../station/agent.js'
import type { CardDecision } from '../station/card-auth.js'
import { StationConfigSchema } from '../station/config.js'
import { MockCardReader } from '../hw/mock-card-reader.js'
import { formatTime, type CardAuthRequest } from '../protocol/index.js'
import { agentConfig } from './helpers/charging-e2e.js'
import { FakeStation } from './helpers/fake-station.js'
import { connectVehicle, hubConfig, startTestHub } from './helpers/hub.js'
import { waitUntil } from './helpers/net.js'
import { ManualClock, stationConfig, tempDir } from './helpers/station-agent.js'
import { LinkDouble } from './helpers/station-doubles.js'

const CARD = '04A1B2C3D4'
const STRANGER = '0500000001'

interface LogLine {
  msg: string
  code?: string
  idTag?: string
}

/** An agent on the mock board with a mock card reader and a link double; its log and card decisions recorded. */
async function cardAgent(t: Test, clock = new ManualClock()) {
  const config = StationConfigSchema.parse({
    ...stationConfig({ url: 'mqtt://127.0.0.1:1', dataDir: tempDir() }),
    hardware: { ...stationConfig({ url: 'mqtt://127.0.0.1:1', dataDir: '.' }).hardware, cardReader: { type: 'mock' } },
    cards: { authTimeoutMs: 300 },
  })
  const link = new LinkDouble(clock.now)
  const log: LogLine[] = []
  const decisions: CardDecision[] = []
  const logger = pino({ level: 'info' }, { write: (s: string) => void log.push(JSON.parse(s) as LogLine) })
  const agent = await StationAgent.create({ config, link, clock, logger, pollIntervalMs: 0, heartbeatIntervalMs: 0, systemd: null, onCardDecision: (d) => decisions.push(d) })
  await agent.start()
  t.teardown(() => agent.stop())
  const reader = agent.hardware.cardReader as MockCardReader
  /** Tap a card (lifted between taps: the clock moves past the debounce time) and resolve the decision. */
  const tap = async (uid: string): Promise<CardDecision> => {
    const n = decisions.length
    clock.advance(2000)
    reader.tap(uid)
    return waitUntil(() => decisions[n], 3000, `the decision on card ${uid}`)
  }
  const request = (n: number): Promise<CardAuthRequest> => waitUntil(() => link.authRequests[n], 3000, `card request ${n}`)
  return { agent, link, log, clock, tap, request }
}

t.test('online, a card tap at an idle station asks the hub and starts a session whose session.started carries the idTag; the same card stops it', async (t) => {
  const { agent, link, tap, request, clock } = await cardAgent(t)
  link.connect()
  const decided = tap(CARD)
  const req = await request(0)
  t.equal(req.idTag, CARD)
  link.authAnswer({ id: req.id, ok: true, vehicleId: 'V1', expiresAt: formatTime(clock.now() + 86_400_000) })
  const d = await decided
  t.match(d, { ok: true, source: 'hub', vehicleId: 'V1' })
  t.ok(agent.hardware.relay.isClosed, 'the relay closed')
  t.match(link.events.find((e) => e.type === 'session.started'), { idTag: CARD, sessionId: agent.charger.sessionId })
  t.match(await tap(CARD), { ok: true, stopped: (d as { sessionId: string }).sessionId })
  t.notOk(agent.hardware.relay.isClosed, 'the relay opened')
  t.match(link.events.at(-1), { type: 'session.stopped', reason: 'requested' })
})

t.test('an unknown card is refused with CARD_UNKNOWN, shown in the agent log, and the hub answer makes the agent forget the card', async (t) => {
  const { agent, link, log, tap, request, clock } = await cardAgent(t)
  link.connect()
  const first = tap(CARD)
  link.authAnswer({ id: (await request(0)).id, ok: true, vehicleId: 'V1', expiresAt: formatTime(clock.now() + 86_400_000) })
  await first
  await tap(CARD) // stop
  // The card is revoked at the hub: its answer is CARD_UNKNOWN now.
  const second = tap(CARD)
  link.authAnswer({ id: (await request(1)).id, ok: false, error: { code: 'CARD_UNKNOWN', message: 'no such card' } })
  t.match(await second, { ok: false, code: 'CARD_UNKNOWN' })
  t.ok(log.some((l) => l.code === 'CARD_UNKNOWN' && l.idTag === CARD && /card refused/.test(l.msg)), 'the refusal is in the log with its code')
  t.equal(agent.charger.sessionId, null, 'no session')
  link.drop()
  t.match(await tap(CARD), { ok: false, code: 'CARD_UNKNOWN' }, 'offline too: the revoked card left the cache at once')
})

t.test('offline, a card the hub authorized starts from the local cache and its events wait in the outbox; an unknown card is refused locally', async (t) => {
  const { agent, link, log, tap, request, clock } = await cardAgent(t)
  link.connect()
  const first = tap(CARD)
  link.authAnswer({ id: (await request(0)).id, ok: true, vehicleId: 'V1', expiresAt: formatTime(clock.now() + 86_400_000) })
  await first
  await tap(CARD)
  link.drop()
  await waitUntil(() => !link.connected || undefined)
  const d = await tap(CARD)
  t.match(d, { ok: true, source: 'cache', vehicleId: 'V1' })
  t.equal(link.authRequests.length, 1, 'the hub was not asked')
  t.ok(agent.hardware.relay.isClosed)
  t.match(agent.outbox.pending().at(-1), { type: 'session.started', idTag: CARD }, 'the session.started waits for the hub in the outbox')
  await tap(CARD)
  t.match(await tap(STRANGER), { ok: false, code: 'CARD_UNKNOWN' })
  t.ok(log.some((l) => l.code === 'CARD_UNKNOWN' && l.idTag === STRANGER))
})

t.test("a revoked card keeps working offline only until its cached authorization expires", async (t) => {
  const { link, tap, request, clock } = await cardAgent(t)
  link.connect()
  const first = tap(CARD)
  link.authAnswer({ id: (await request(0)).id, ok: true, vehicleId: 'V1', expiresAt: formatTime(clock.now() + 3_600_000) })
  await first
  await tap(CARD)
  link.drop()
  clock.advance(3_500_000)
  t.match(await tap(CARD), { ok: true, source: 'cache' }, 'before expiresAt')
  await tap(CARD)
  clock.advance(200_000)
  t.match(await tap(CARD), { ok: false, code: 'CARD_UNKNOWN', message: /expired/ }, 'after expiresAt')
})

t.test('a hub that does not answer in time leaves the decision to the local cache', async (t) => {
  const { link, tap, request } = await cardAgent(t)
  link.connect()
  const d = tap(STRANGER)
  await request(0)
  t.match(await d, { ok: false, code: 'CARD_UNKNOWN', message: /not in the local authorization cache/ })
})

t.test('with a real hub: a registered card starts a session on its vehicle account, the vehicle sees it, and the hub bills it when the card stops it; an unknown card gets CARD_UNKNOWN from the hub', async (t) => {
  const cfg = hubConfig({ vehicles: [{ vehicleId: 'V1', password: 'v1-pass', cards: [CARD] }] })
  const hub = await startTestHub(cfg)
  t.teardown(() => hub.close())
  const s1 = cfg.stations[0]
  if (!s1) throw new Error('a station expected')
  const base = agentConfig(hub, s1)
  const config = StationConfigSchema.parse({ ...base, hardware: { ...base.hardware, cardReader: { type: 'mock' } } })
  const clock = new ManualClock(Date.now())
  const decisions: CardDecision[] = []
  const agent = await StationAgent.create({ config, clock, reconnectPeriodMs: 100, systemd: null, onCardDecision: (d) => decisions.push(d) })
  await agent.start()
  t.teardown(() => agent.stop())
  const v1 = await connectVehicle(hub.mqttUrl, 'feira', 'V1', 'v1-pass')
  t.teardown(() => v1.close())
  await waitUntil(async () => (await v1.rpc.request('station.list', {})).stations.find((s) => s.stationId === 'FSA-1')?.online, 10_000, 'the station online')
  const reader = agent.hardware.cardReader as MockCardReader
  const tap = async (uid: string): Promise<CardDecision> => {
    const n = decisions.length
    clock.advance(2000)
    reader.tap(uid)
    return waitUntil(() => decisions[n], 5000, 'a card decision')
  }

  t.match(await tap(STRANGER), { ok: false, code: 'CARD_UNKNOWN' }, 'the hub refuses an unknown card')
  const d = await tap(CARD)
  t.match(d, { ok: true, source: 'hub', vehicleId: 'V1' })
  const sessionId = (d as { sessionId: string }).sessionId
  const live = await waitUntil(async () => (await v1.rpc.request('charge.status', { sessionId }).catch(() => undefined))?.session, 5000, 'the hub to open the card session')
  t.match(live, { sessionId, stationId: 'FSA-1', vehicleId: 'V1' }, "the session is the card's vehicle's")
  clock.advance(60_000) // a minute of charging on the mock board's clock
  await tap(CARD)
  const done = await waitUntil(async () => {
    const st = (await v1.rpc.request('charge.status', { sessionId })).session
    return st.state === 'stopped' ? st : undefined
  }, 5000, 'the receipt')
  t.ok(done.energyWh > 0, `billed ${done.energyWh} Wh`)
})

t.test("the hub bills a session a card started offline when its events arrive later, on the card's vehicle; a card it does not know opens nothing", async (t) => {
  const cfg = hubConfig({ vehicles: [{ vehicleId: 'V1', password: 'v1-pass', cards: [CARD] }] })
  const hub = await startTestHub(cfg)
  t.teardown(() => hub.close())
  const station = await FakeStation.connect(hub.mqttUrl, 'FSA-1', 's3cret-1', () => null)
  t.teardown(() => station.close())
  await station.state()
  const ts = formatTime(Date.now() - 3_600_000)
  await station.event({ type: 'session.started', sessionId: 's-offline-1', meterWh: 1000, meterStartWh: 1000, idTag: CARD, ts })
  await station.event({ type: 'session.stopped', sessionId: 's-offline-1', meterWh: 5000, meterStartWh: 1000, energyWh: 4000, reason: 'requested', ts })
  await station.event({ type: 'session.started', sessionId: 's-offline-2', meterWh: 5000, meterStartWh: 5000, idTag: STRANGER, ts })
  await station.event({ type: 'session.stopped', sessionId: 's-offline-2', meterWh: 6000, meterStartWh: 5000, energyWh: 1000, reason: 'requested', ts })
  const v1 = await connectVehicle(hub.mqttUrl, 'feira', 'V1', 'v1-pass')
  t.teardown(() => v1.close())
  const st = await v1.rpc.request('charge.status', { sessionId: 's-offline-1' })
  t.match(st.session, { state: 'stopped', energyWh: 4000, vehicleId: 'V1', costMinor: Math.round((4000 * 73) / 1000) })
  await t.rejects(v1.rpc.request('charge.status', { sessionId: 's-offline-2' }), { code: 'NOT_FOUND' }, 'the unknown card billed nobody')
})

t.test('hub.json: a card listed on two vehicles is refused (it could not tell whom to bill)', async (t) => {
  t.throws(() => hubConfig({ vehicles: [{ vehicleId: 'V1', password: 'a', cards: [CARD] }, { vehicleId: 'V2', password: 'b', cards: [CARD] }] }), /card 04A1B2C3D4 already belongs to vehicle V1/)
  t.throws(() => hubConfig({ vehicles: [{ vehicleId: 'V1', password: 'a', cards: ['04a1b2c3d4'] }] }), /uppercase hex/, 'UIDs are uppercase hex, as readers report them')
})
