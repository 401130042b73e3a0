/** The factory: the hardware section of station.json alone picks real drivers or the mock board. */
import t from 'tap'
import { join } from 'node:path'
import { createHardware, type HardwareSpec } from '../hw/create-hardware.js'
import { listSerialPorts } from '../hw/serial-port.js'
import { StationConfigSchema } from '../station/config.js'
import { manualClock } from './helpers/hw-clock.js'
import { MockBinding, sdmOnMockBinding } from './helpers/hw-sdm-sim.js'
import { METER_MODELS } from '../hw/meter-models.js'

const HOUR = 3_600_000

function hardwareFromStationJson(hardware: unknown): HardwareSpec {
  return StationConfigSchema.parse({
    stationId: 'FSA-1',
    hubId: 'feira',
    mqtt: { url: 'mqtt://127.0.0.1:1883', password: 'x' },
    dataDir: './data',
    hardware,
  }).hardware
}

t.test('the docs/configuration.md example builds the mock board: relay starts open, energy flows at powerKw once closed', async (t) => {
  const clock = manualClock()
  const hw = await createHardware(
    hardwareFromStationJson({ board: { type: 'mock' }, relay: { pin: 7, type: 'NO' }, meter: { type: 'mock', powerKw: 22 } }),
    { clock },
  )
  t.teardown(() => hw.close())
  t.ok(hw.mock, 'mock hooks are exposed')
  t.equal(hw.relay.state, 'open')
  t.equal(hw.mock?.io.pinValue(7), 0)
  await hw.relay.close()
  clock.advance(HOUR)
  t.equal((await hw.meter.read()).energyWh, 22_000)
  hw.mock?.meter?.setPluggedIn(false)
  clock.advance(HOUR)
  t.equal((await hw.meter.read()).energyWh, 22_000)
})

t.test('board.pluggedIn false starts the simulated car unplugged', async (t) => {
  const clock = manualClock()
  const hw = await createHardware(
    hardwareFromStationJson({ board: { type: 'mock', pluggedIn: false }, relay: { pin: 7 }, meter: { type: 'mock', powerKw: 11, startWh: 100 } }),
    { clock },
  )
  t.teardown(() => hw.close())
  await hw.relay.close()
  clock.advance(HOUR)
  t.equal((await hw.meter.read()).energyWh, 100)
})

t.test('close() opens the relay and releases the meter', async (t) => {
  const hw = await createHardware(hardwareFromStationJson({ board: { type: 'mock' }, relay: { pin: 8, type: 'NC' }, meter: { type: 'mock', powerKw: 7 } }))
  await hw.relay.close()
  t.equal(hw.mock?.io.pinValue(8), 0)
  await hw.close()
  t.equal(hw.mock?.io.pinValue(8), 1, 'NC relay opened (pin HIGH)')
  await t.rejects(hw.meter.read(), { code: 'HW_CLOSED' })
})

t.test('a modbus-rtu meter from config reads the simulated SDM through the injected binding', async (t) => {
  const sim = sdmOnMockBinding(2, METER_MODELS.SDM120!.map)
  sim.device.setReading({ energyKwh: 10.5, powerW: 3000 })
  const hw = await createHardware(
    hardwareFromStationJson({ board: { type: 'mock' }, relay: { pin: 7 }, meter: { type: 'modbus-rtu', path: sim.path, unitId: 2, model: 'SDM120', timeoutMs: 300 } }),
    { binding: sim.binding },
  )
  t.teardown(() => hw.close())
  t.equal(hw.meter.kind, 'modbus-rtu')
  t.equal(hw.mock?.meter, undefined)
  const r = await hw.meter.read()
  t.same([r.energyWh, r.powerW], [10_500, 3000])
})

t.test('an s0 meter from config counts pulses on the mock board', async (t) => {
  const hw = await createHardware(hardwareFromStationJson({ board: { type: 'mock' }, relay: { pin: 7 }, meter: { type: 's0', pin: 2, pulsesPerKwh: 1000 } }))
  t.teardown(() => hw.close())
  for (let i = 0; i < 3; i++) {
    await hw.mock?.io.setInput(2, 1)
    await hw.mock?.io.setInput(2, 0)
  }
  t.equal((await hw.meter.read()).energyWh, 3)
})

t.test('an unknown meter model is a coded error naming the known models, before any port opens', async (t) => {
  await t.rejects(
    createHardware(hardwareFromStationJson({ board: { type: 'firmata', path: '/dev/ttyNOPE' }, relay: { pin: 7 }, meter: { type: 'modbus-rtu', path: '/dev/ttyNOPE2', model: 'XYZ' } })),
    { code: 'HW_METER_UNKNOWN_MODEL', message: /SDM120, SDM230, SDM630/ },
  )
})

t.test('a Firmata board on a serial path with no device is HW_SERIAL_NOT_FOUND', async (t) => {
  await t.rejects(
    createHardware(hardwareFromStationJson({ board: { type: 'firmata', path: '/dev/ttyNOPE-FIRMATA' }, relay: { pin: 7 }, meter: { type: 's0', pin: 2, pulsesPerKwh: 1000 } }), {
      binding: MockBinding,
      readyTimeoutMs: 2000,
    }),
    { code: 'HW_SERIAL_NOT_FOUND' },
  )
})

t.test('a mock meter on a real board is a coded config error', async (t) => {
  await t.rejects(
    createHardware(hardwareFromStationJson({ board: { type: 'firmata', path: '/dev/ttyX' }, relay: { pin: 7 }, meter: { type: 'mock', powerKw: 22 } })),
    { code: 'HW_BAD_CONFIG' },
  )
})

t.test('an IO plugin that is not installed is HW_PLUGIN_NOT_FOUND', async (t) => {
  await t.rejects(
    createHardware(hardwareFromStationJson({ board: { type: 'plugin', module: 'voltway-no-such-io-plugin' }, relay: { pin: 7 }, meter: { type: 's0', pin: 2, pulsesPerKwh: 1000 } })),
    { code: 'HW_PLUGIN_NOT_FOUND' },
  )
})

t.test('a relay pin the board lacks is HW_BAD_PIN and leaves nothing running', async (t) => {
  await t.rejects(createHardware(hardwareFromStationJson({ board: { type: 'mock' }, relay: { pin: 50 }, meter: { type: 'mock', powerKw: 22 } })), { code: 'HW_BAD_PIN' })
})

t.test('listSerialPorts lists the ports the binding sees', async (t) => {
  const sim = sdmOnMockBinding(1, METER_MODELS.SDM120!.map)
  const ports = await listSerialPorts(sim.binding)
  t.ok(ports.some((p) => p.path === sim.path))
})

t.test('an IO plugin exported by name is loaded with board.export, or on its own when it is the only class', async (t) => {
  const module = join(import.meta.dirname, 'fixtures-hw', 'named-io-plugin.ts')
  for (const board of [{ type: 'plugin', module, export: 'NamedIo' }, { type: 'plugin', module }]) {
    const hw = await createHardware(hardwareFromStationJson({ board, relay: { pin: 7 }, meter: { type: 's0', pin: 2, pulsesPerKwh: 1000 } }))
    t.notOk(hw.relay.isClosed, `${board.export ?? 'the only class'}: the relay starts open on the plugin's board`)
    await hw.close()
  }
  await t.rejects(
    createHardware(hardwareFromStationJson({ board: { type: 'plugin', module, export: 'Nope' }, relay: { pin: 7 }, meter: { type: 's0', pin: 2, pulsesPerKwh: 1000 } })),
    { code: 'HW_PLUGIN_NOT_FOUND', message: /no export "Nope".*NamedIo/ },
  )
})
