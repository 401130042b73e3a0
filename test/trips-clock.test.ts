/** Waits of the trip protocol run on the injected clock, not on the machine's timers. */
import { pino } from 'pino'
import t from 'tap'
import type { Clock } from '../base/clock.js'
import { HoldService } from '../hub/trips/index.js'
import { StationRegistry } from '../hub/stations/index.js'
import { MemoryStore } from '../hub/store/index.js'
import { formatTime } from '../protocol/index.js'

/** Wall time fixed; every timer fires at once and moves monotonic time by its delay. */
class JumpingClock implements Clock {
  monotonicMs = 0
  readonly delays: number[] = []
  now(): number {
    return Date.UTC(2026, 10, 24, 12)
  }
  monotonic(): number {
    return this.monotonicMs
  }
  setTimer(fn: () => void, ms: number): () => void {
    this.delays.push(ms)
    this.monotonicMs += ms
    const i = setImmediate(fn)
    return () => clearImmediate(i)
  }
}

t.test('a wait-die wait is timed by the injected clock: a 60 s wait ends when that clock says so, not after 60 real seconds', async (t) => {
  const clock = new JumpingClock()
  const position = { lat: -12, lon: -38 }
  const stations = new StationRegistry({ hubId: 'H', currency: 'BRL', stations: [{ stationId: 'S1', position, powerKw: 22, priceMinorPerKwh: 70 }], clock })
  const store = new MemoryStore()
  t.teardown(() => store.close())
  const holds = new HoldService({
    hubId: 'H', store, clock, logger: pino({ level: 'silent' }), stations,
    rules: { windowMs: 7_200_000, minLeadMs: 0, maxAdvanceMs: 30 * 86_400_000, maxPerVehicle: 20, holdTtlSeconds: 600 },
    maxWaitMs: 60_000,
  })
  const at = formatTime(clock.now() + 3 * 3_600_000)
  const req = (txId: string, startedMs: number) => ({ txId, txStartedAt: formatTime(startedMs), vehicleId: `V-${txId}`, at, from: position, rangeKm: 10, ttlSeconds: 600, maxWaitMs: 60_000 })
  await holds.place('peer', 'h-young', req('young', clock.now()))
  const started = performance.now()
  const refused = await holds.place('peer', 'h-old', req('old', clock.now() - 60_000)).then(
    () => null,
    (err: unknown) => err,
  )
  t.match(refused, { code: 'NO_STATION_AVAILABLE', details: { waitDie: 'timeout' } }, 'the older one waited, then gave up')
  t.ok(clock.delays.length > 0, 'it waited on the injected timers')
  t.ok(clock.monotonicMs >= 60_000, `the injected clock moved past the wait (${clock.monotonicMs} ms)`)
  t.ok(performance.now() - started < 10_000, 'far less real time went by')
})
