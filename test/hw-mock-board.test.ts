/** The mock board: an IO plugin that behaves like a board, and a car + meter that obey the relay. */
import t, { type Test } from 'tap'
import { once } from 'node:events'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { MockWatchdog, readMockBoardState } from '../hw/mock-watchdog.js'
import { MockIo } from '../hw/mock-io.js'
import { MockMeter } from '../hw/mock-meter.js'
import { JohnnyFiveBoard } from '../hw/five-board.js'
import { manualClock } from './helpers/hw-clock.js'
import { mockBoard } from './helpers/hw-mock-board.js'
import type { RelayType } from '../hw/types.js'

const HOUR = 3_600_000

async function station(t: Test, type: RelayType = 'NO', pluggedIn = true) {
  const clock = manualClock()
  const { io, board } = await mockBoard()
  const relay = await board.relay({ pin: 7, type })
  const meter = new MockMeter({ io, relayPin: 7, relayType: type, powerKw: 22, pluggedIn, clock })
  t.teardown(async () => {
    await meter.close()
    await board.close()
  })
  return { clock, io, board, relay, meter }
}

t.test('the IO plugin emits connect then ready, asynchronously, and only then is ready', async (t) => {
  const io = new MockIo()
  const events: string[] = []
  io.on('connect', () => events.push('connect'))
  io.on('ready', () => events.push('ready'))
  t.equal(io.isReady, false, 'not ready synchronously')
  await once(io, 'ready')
  t.same(events, ['connect', 'ready'])
  t.equal(io.isReady, true)
  t.equal(io.pins.length, 20)
  t.same(io.analogPins, [14, 15, 16, 17, 18, 19])
  t.same([io.HIGH, io.LOW], [1, 0])
})

t.test('digitalRead handlers are called asynchronously with the current level, then on each change', async (t) => {
  const io = new MockIo()
  await once(io, 'ready')
  io.pinMode(2, io.MODES.INPUT)
  const seen: number[] = []
  io.digitalRead(2, (v) => seen.push(v))
  t.same(seen, [], 'not called synchronously')
  await io.setInput(2, 1)
  await io.setInput(2, 0)
  t.same(seen, [0, 1, 0])
})

t.test('test hooks: lastWrite, pinValue and reset', async (t) => {
  const io = new MockIo()
  await once(io, 'ready')
  t.equal(io.lastWrite(5), undefined)
  io.pinMode(5, io.MODES.OUTPUT)
  io.digitalWrite(5, 1)
  t.equal(io.lastWrite(5), 1)
  t.equal(io.pinValue(5), 1)
  io.reset()
  t.equal(io.lastWrite(5), undefined)
  t.equal(io.pinValue(5), 0)
  t.throws(() => io.pinMode(3, io.MODES.ANALOG), 'pin 3 is not analog')
  t.throws(() => io.digitalWrite(42, 1), 'no pin 42')
})

t.test('a board that never becomes ready rejects ready() with HW_TIMEOUT', async (t) => {
  const board = new JohnnyFiveBoard({ io: new MockIo({ autoConnect: false }), readyTimeoutMs: 50 })
  await t.rejects(board.ready(), { code: 'HW_TIMEOUT' })
  t.equal(board.isReady, false)
})

t.test('energy flows only while the relay is closed and a car is plugged in', async (t) => {
  const { clock, relay, meter } = await station(t)
  const r0 = await meter.read()
  clock.advance(HOUR)
  t.equal((await meter.read()).energyWh, r0.energyWh, 'relay open: nothing flows')
  await relay.close()
  clock.advance(HOUR / 2)
  const r1 = await meter.read()
  t.equal(r1.energyWh - r0.energyWh, 11_000, 'half an hour at 22 kW')
  t.equal(r1.powerW, 22_000)
  meter.setPluggedIn(false)
  clock.advance(HOUR)
  const r2 = await meter.read()
  t.equal(r2.energyWh, r1.energyWh, 'car unplugged: nothing flows')
  t.equal(r2.powerW, 0)
  meter.setPluggedIn(true)
  clock.advance(HOUR / 4)
  await relay.open()
  clock.advance(HOUR)
  const r3 = await meter.read()
  t.equal(r3.energyWh - r2.energyWh, 5_500, 'only the quarter hour with the relay closed counts')
  t.equal(r3.powerW, 0)
})

t.test('with an NC relay, energy still flows only while the relay is closed', async (t) => {
  const { clock, io, relay, meter } = await station(t, 'NC')
  t.equal(io.pinValue(7), 1, 'NC relay held open by a HIGH pin')
  clock.advance(HOUR)
  t.equal((await meter.read()).energyWh, 0)
  await relay.close()
  t.equal(io.pinValue(7), 0)
  clock.advance(HOUR)
  t.equal((await meter.read()).energyWh, 22_000)
})

t.test('a car that is not plugged in draws nothing even with the relay closed', async (t) => {
  const { clock, relay, meter } = await station(t, 'NO', false)
  t.equal(meter.pluggedIn, false)
  await relay.close()
  clock.advance(HOUR)
  const r = await meter.read()
  t.same([r.energyWh, r.powerW], [0, 0])
})

t.test('freeze() makes the meter repeat a stale value with fresh timestamps', async (t) => {
  const { clock, relay, meter } = await station(t)
  await relay.close()
  clock.advance(HOUR / 10)
  meter.freeze()
  const a = await meter.read()
  clock.advance(HOUR / 10)
  const b = await meter.read()
  t.equal(b.energyWh, a.energyWh, 'register stuck')
  t.equal(b.powerW, a.powerW)
  t.ok(b.ts > a.ts, 'timestamps move on')
  meter.unfreeze()
  clock.advance(HOUR / 10)
  t.ok((await meter.read()).energyWh > a.energyWh, 'thawed: the register moves again (energy kept flowing meanwhile)')
})

t.test('emitReading() replaces fields of the next reading only', async (t) => {
  const { meter } = await station(t)
  meter.emitReading({ energyWh: 3, powerW: 999 })
  const r = await meter.read()
  t.same([r.energyWh, r.powerW], [3, 999])
  t.same([(await meter.read()).energyWh], [0])
})

t.test('failNextRead() fails exactly the next read with the given code', async (t) => {
  const { meter } = await station(t)
  meter.failNextRead('HW_TIMEOUT')
  await t.rejects(meter.read(), { code: 'HW_TIMEOUT' })
  await t.resolves(meter.read())
})

t.test('energy counts from startWh and is exact across many small steps', async (t) => {
  const clock = manualClock()
  const { io, board } = await mockBoard()
  t.teardown(() => board.close())
  const relay = await board.relay({ pin: 7, type: 'NO' })
  const meter = new MockMeter({ io, relayPin: 7, relayType: 'NO', powerKw: 3.6, startWh: 500, clock })
  await relay.close()
  for (let i = 0; i < 1000; i++) clock.advance(1000) // 1000 s at 3.6 kW = 1000 Wh
  t.equal((await meter.read()).energyWh, 1500)
})

t.test('with a heartbeat pin, only its edges feed the mock board\'s watchdog: relay writes alone let it trip', async (t) => {
  const { clock, io, board, relay, meter } = await station(t)
  const dataDir = mkdtempSync(join(tmpdir(), 'voltway-mockwd-'))
  const wd = new MockWatchdog({ dataDir, io, meter, relayPin: 7, relayType: 'NO', watchdogMs: 1000, heartbeatPin: 8, clock })
  const beat = await board.output(8)
  await beat.toggle()
  await relay.close()
  t.equal(readMockBoardState(dataDir, clock.now())?.relay, 'closed')
  clock.advance(900)
  await relay.close() // a relay write is not a heartbeat
  clock.advance(200)
  t.match(readMockBoardState(dataDir, clock.now()), { relay: 'open', watchdogTripped: true }, 'tripped 1000 ms after the last edge despite the later relay write')
  await beat.toggle()
  t.match(readMockBoardState(dataDir, clock.now()), { relay: 'closed', watchdogTripped: false }, 'an edge re-arms it')
  wd.close()
})
