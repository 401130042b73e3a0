/** Modbus RTU meter: the real modbus-serial path against a simulated Eastron SDM behind serialport's MockBinding. */
import t, { type Test } from 'tap'
import { KNOWN_METER_MODELS, METER_MODELS, registerMap } from '../hw/meter-models.js'
import { ModbusMeter, type ModbusMeterOptions } from '../hw/modbus-meter.js'
import { manualClock } from './helpers/hw-clock.js'
import { crc16, MockBinding, sdmOnMockBinding } from './helpers/hw-sdm-sim.js'

async function setup(t: Test, model = 'SDM120', over: Partial<ModbusMeterOptions> = {}) {
  const clock = manualClock()
  const sim = sdmOnMockBinding(over.unitId ?? 7, registerMap(model))
  const meter = await ModbusMeter.open({ path: sim.path, baudRate: 9600, unitId: 7, model, timeoutMs: 300, binding: sim.binding, clock, ...over })
  t.teardown(() => meter.close())
  return { ...sim, meter, clock }
}

t.test('a reading converts the float32 kWh register to integer Wh and reports V, A, W', async (t) => {
  const { device, meter, clock } = await setup(t)
  device.setReading({ energyKwh: 1234.567, powerW: 7360.5, voltageV: 230.1, currentA: 32.01 })
  const r = await meter.read()
  t.same(r, { energyWh: 1_234_567, powerW: 7360.5, voltageV: 230.1, currentA: 32.01, ts: clock.now() })
})

t.test('requests are function 0x04 frames to the configured unit with a valid CRC, one per register pair', async (t) => {
  const { device, meter } = await setup(t)
  device.setReading({ energyKwh: 1, powerW: 0, voltageV: 230, currentA: 0 })
  await meter.read()
  t.equal(device.requests.length, 4)
  const addresses = device.requests.map((f) => {
    t.equal(f[0], 7, 'unit id')
    t.equal(f[1], 0x04, 'read input registers')
    t.equal(f.readUInt16BE(4), 2, 'two registers (one float32)')
    t.equal(f.readUInt16LE(6), crc16(f.subarray(0, 6)), 'CRC')
    return f.readUInt16BE(2)
  })
  t.same(addresses, [0x0048, 0x000c, 0x0000, 0x0006])
})

t.test('the SDM630 map reads total system power, not phase 1 power', async (t) => {
  const { device, meter } = await setup(t, 'SDM630')
  device.set(0x000c, 7000) // phase 1 only
  device.set(0x0034, 21000) // total
  device.set(0x0048, 10)
  const r = await meter.read()
  t.equal(r.powerW, 21000)
  t.equal(r.energyWh, 10_000)
})

t.test('model names are matched case-insensitively', async (t) => {
  const { device, meter } = await setup(t, 'sdm230')
  device.setReading({ energyKwh: 2, powerW: 0 })
  t.equal((await meter.read()).energyWh, 2000)
})

t.test('an unknown meter model is a coded error naming the known models', async (t) => {
  let err: unknown
  try {
    new ModbusMeter({ path: '/dev/null', baudRate: 9600, unitId: 1, model: 'ACME-9000', timeoutMs: 100 })
  } catch (e) {
    err = e
  }
  t.match(err, { code: 'HW_METER_UNKNOWN_MODEL' })
  for (const known of KNOWN_METER_MODELS) t.match((err as Error).message, known)
  t.same((err as { details: unknown }).details, { model: 'ACME-9000', known: ['SDM120', 'SDM230', 'SDM630'] })
})

t.test('a Modbus read timeout from a meter that answered before rejects with HW_TIMEOUT', async (t) => {
  const { device, meter } = await setup(t, 'SDM120', { timeoutMs: 50 })
  await meter.read()
  device.mode = 'silent'
  await t.rejects(meter.read(), { code: 'HW_TIMEOUT' })
  device.mode = 'normal'
  device.setReading({ energyKwh: 5 })
  t.equal((await meter.read()).energyWh, 5000, 'the next read works once the meter answers again')
})

t.test('a meter that never answered (here: another unit id) rejects with HW_METER_NO_ANSWER, whose hint names the unit id and the line settings', async (t) => {
  const clock = manualClock()
  const sim = sdmOnMockBinding(3, METER_MODELS.SDM120!.map)
  const meter = await ModbusMeter.open({ path: sim.path, baudRate: 9600, unitId: 4, model: 'SDM120', timeoutMs: 50, binding: sim.binding, clock })
  t.teardown(() => meter.close())
  const err = await meter.read().then(() => undefined, (e: unknown) => e)
  t.match(err, { code: 'HW_METER_NO_ANSWER', details: { unitId: 4, serial: { baudRate: 9600, parity: 'none' } } })
  t.match((err as { hint: string }).hint, /unit id/)
  t.match((err as { hint: string }).hint, /baudRate, parity/)
})

t.test('a Modbus exception answer rejects with HW_METER_READ_FAILED carrying the exception code', async (t) => {
  const { device, meter } = await setup(t)
  device.mode = 'exception'
  device.exceptionCode = 0x02
  await t.rejects(meter.read(), { code: 'HW_METER_READ_FAILED', details: { modbusCode: 2, unitId: 7 } })
})

t.test('a reply with a bad CRC is a read failure, not a value', async (t) => {
  const { device, meter } = await setup(t)
  device.setReading({ energyKwh: 42 })
  device.mode = 'bad-crc'
  await t.rejects(meter.read(), { code: 'HW_METER_READ_FAILED' })
})

t.test('an impossible register value (NaN or negative energy) is a read failure, not a value', async (t) => {
  const { device, meter } = await setup(t)
  device.setReading({ energyKwh: Number.NaN, powerW: 0 })
  await t.rejects(meter.read(), { code: 'HW_METER_READ_FAILED' })
  device.setReading({ energyKwh: -3, powerW: 0 })
  await t.rejects(meter.read(), { code: 'HW_METER_READ_FAILED' })
})

t.test('a serial path with no device is HW_SERIAL_NOT_FOUND', async (t) => {
  const { binding } = sdmOnMockBinding(1, METER_MODELS.SDM120!.map)
  await t.rejects(ModbusMeter.open({ path: '/dev/ttyNOPE-0', baudRate: 9600, unitId: 1, model: 'SDM120', timeoutMs: 50, binding }), {
    code: 'HW_SERIAL_NOT_FOUND',
    details: { path: '/dev/ttyNOPE-0' },
  })
})

t.test('a port another program holds is HW_SERIAL_OPEN_FAILED', async (t) => {
  const { path, binding } = sdmOnMockBinding(1, METER_MODELS.SDM120!.map)
  const first = await ModbusMeter.open({ path, baudRate: 9600, unitId: 1, model: 'SDM120', timeoutMs: 50, binding })
  t.teardown(() => first.close())
  await t.rejects(ModbusMeter.open({ path, baudRate: 9600, unitId: 1, model: 'SDM120', timeoutMs: 50, binding }), { code: 'HW_SERIAL_OPEN_FAILED' })
})

t.test('a pulled cable rejects reads with HW_DISCONNECTED', async (t) => {
  const { device, meter, unplug } = await setup(t)
  device.setReading({ energyKwh: 1 })
  await meter.read()
  device.mode = 'silent'
  const pending = meter.read()
  unplug()
  await t.rejects(pending, { code: 'HW_DISCONNECTED' })
})

t.test('after a disconnect the meter reopens its port on the next read', async (t) => {
  const { device, meter, unplug, replug } = await setup(t)
  device.setReading({ energyKwh: 1 })
  await meter.read()
  unplug()
  await t.rejects(meter.read(), { code: 'HW_DISCONNECTED' })
  await t.rejects(meter.read(), { code: 'HW_DISCONNECTED' }, 'still gone while unplugged')
  replug()
  device.setReading({ energyKwh: 2 })
  t.equal((await meter.read()).energyWh, 2000)
})

t.teardown(() => MockBinding.reset())

t.test('each meter model opens with its maker\'s factory line settings (SDM120/SDM230 2400 8N1, SDM630 9600 8N1); each setting can be overridden', async (t) => {
  const table: Array<[string, Partial<ModbusMeterOptions>, object]> = [
    ['SDM120', {}, { baudRate: 2400, parity: 'none', dataBits: 8, stopBits: 1 }],
    ['SDM230', {}, { baudRate: 2400, parity: 'none', dataBits: 8, stopBits: 1 }],
    ['sdm630', {}, { baudRate: 9600, parity: 'none', dataBits: 8, stopBits: 1 }],
    ['SDM120', { baudRate: 9600, parity: 'even' }, { baudRate: 9600, parity: 'even', dataBits: 8, stopBits: 1 }],
    ['SDM630', { stopBits: 2, dataBits: 7, parity: 'odd' }, { baudRate: 9600, parity: 'odd', dataBits: 7, stopBits: 2 }],
  ]
  for (const [model, over, want] of table) {
    const sim = sdmOnMockBinding(1, registerMap(model))
    const meter = await ModbusMeter.open({ path: sim.path, unitId: 1, model, timeoutMs: 100, binding: sim.binding, ...over })
    t.same(meter.serial, want, `${model} ${JSON.stringify(over)}`)
    await meter.close()
  }
})
