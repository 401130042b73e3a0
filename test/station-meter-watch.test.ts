/** Judging meter readings: stale and jumping registers are faults; limits come from station.json and the meter model. */
import t from 'tap'
import { StationConfigSchema } from '../station/config.js'
import { MeterWatch, meterWatchOptions } from '../station/meter-watch.js'

const at = (energyWh: number, powerW: number, ts = 0) => ({ energyWh, powerW, ts })

t.test('a register that rises by more than the rated power allows between two reads is METER_JUMP', async (t) => {
  const watch = new MeterWatch({ maxPowerW: 7400 })
  t.same(watch.observe(at(1000, 7400), 0, true), { ok: true })
  // 10 s at 7.4 kW is 20.6 Wh (+ slack for the 1 Wh resolution and 1 s of jitter): 23 Wh passes, 60 Wh does not.
  t.same(watch.observe(at(1023, 7400), 10_000, true), { ok: true }, 'what 7.4 kW can deliver passes')
  const v = watch.observe(at(1083, 7400), 20_000, true)
  t.match(v, { ok: false, code: 'METER_JUMP' })
  t.match(!v.ok && v.message, /jumped by 60 Wh in 10000 ms/)
})

t.test('a long gap between reads allows a proportionally larger rise (no METER_JUMP after a slow read)', async (t) => {
  const watch = new MeterWatch({ maxPowerW: 3600 })
  watch.observe(at(0, 3600), 0, true)
  t.same(watch.observe(at(3600, 3600), 3_600_000, true), { ok: true }, 'one hour at 3.6 kW is 3.6 kWh')
})

t.test('without a power bound there is no jump check', async (t) => {
  const watch = new MeterWatch()
  watch.observe(at(0, 0), 0, false)
  t.same(watch.observe(at(1_000_000, 0), 1000, false), { ok: true })
})

t.test('METER_STALE fires after the configured staleAfterSeconds, not before', async (t) => {
  const watch = new MeterWatch({ staleMinMs: 30_000, staleMinWh: 1 })
  watch.observe(at(500, 7000), 0, true)
  t.same(watch.observe(at(500, 7000), 20_000, true), { ok: true }, '20 s stuck at 7 kW is not yet stale at a 30 s limit')
  t.match(watch.observe(at(500, 7000), 31_000, true), { ok: false, code: 'METER_STALE' })
})

const base = { stationId: 'S1', hubId: 'H', mqtt: { url: 'mqtt://h:1883', password: 'pw' }, dataDir: '.' }
const hw = (meter: unknown, meterChecks?: unknown) =>
  StationConfigSchema.parse({ ...base, hardware: { board: { type: 'mock' }, relay: { pin: 7 }, meter, ...(meterChecks ? { meterChecks } : {}) } }).hardware

t.test('meter checks come from station.json: stale seconds, and the jump bound from maxPowerKw, else the Modbus model rating or the mock power', async (t) => {
  t.same(meterWatchOptions(hw({ type: 'mock', powerKw: 11 })), { staleMinMs: 10_000, maxPowerW: 11_000 }, 'defaults: 10 s, mock power')
  t.same(meterWatchOptions(hw({ type: 'modbus-rtu', path: '/dev/ttyUSB0', model: 'sdm120' })), { staleMinMs: 10_000, maxPowerW: 45 * 230 }, 'SDM120: Imax 45 A')
  t.same(meterWatchOptions(hw({ type: 'modbus-rtu', path: '/dev/ttyUSB0', model: 'SDM630' }, { staleAfterSeconds: 30, maxPowerKw: 22 })), { staleMinMs: 30_000, maxPowerW: 22_000 })
  t.same(meterWatchOptions(hw({ type: 's0', pin: 2, pulsesPerKwh: 1000 })), { staleMinMs: 10_000 }, 'an S0 meter has no rating')
  t.throws(() => hw({ type: 'mock', powerKw: 11 }, { staleAfterSeconds: 0 }), 'staleAfterSeconds is validated')
})
