/**
 * The drivers on the real serialport native binding (@serialport/bindings-cpp),
 * over socat pseudo-terminal pairs with the devices simulated on the far end.
 */
import t from 'tap'
import { createFirmataBoard } from '../hw/firmata-board.js'
import { ModbusMeter } from '../hw/modbus-meter.js'
import { hasSocat, hostLineSettings } from './helpers/hw-pty.js'
import { waitUntil } from './helpers/net.js'
import { StationSim } from './helpers/hw-station-sim.js'

if (!hasSocat()) {
  t.comment('socat is not installed (apt-get install socat): skipping the pseudo-terminal hardware tests')
  t.pass('skipped: no socat')
} else {
  const sim = await StationSim.start({ relayPin: 7, heartbeatPin: 8, watchdogPeriodMs: 500, meterModel: 'SDM120', meterUnitId: 1, carPowerW: 7000 })
  t.teardown(() => sim.close())

  t.test('an SDM120 at its factory settings answers a meter opened with the model defaults (2400 baud, 1 stop bit on the wire)', async (t) => {
    const meter = await ModbusMeter.open({ path: sim.meterPath, unitId: 1, model: 'SDM120', timeoutMs: 500 })
    t.teardown(() => meter.close())
    t.match(hostLineSettings(sim.meterPath), { baudRate: 2400, stopBits: 1 }, 'the kernel holds the factory settings')
    const r = await meter.read()
    t.ok(r.energyWh >= 100_000, `register read: ${r.energyWh} Wh`)
    t.equal(r.voltageV, 230)
  })

  t.test('a meter opened at the wrong baud rate fails with HW_METER_NO_ANSWER, whose message names the line settings and whose hint names baud rate and parity', async (t) => {
    const meter = await ModbusMeter.open({ path: sim.meterPath, unitId: 1, model: 'SDM120', baudRate: 9600, timeoutMs: 200 })
    t.teardown(() => meter.close())
    const err = await meter.read().then(
      () => undefined,
      (e: unknown) => e,
    )
    t.match(err, { code: 'HW_METER_NO_ANSWER', details: { serial: { baudRate: 9600 } } })
    t.match((err as Error).message, /9600 8N1/)
    t.match((err as { hint: string }).hint, /baudRate, parity/)
    t.match((err as { hint: string }).hint, /2400/)
  })

  t.test('the Firmata board over a pty switches the relay pin and the heartbeat pin (real binding, real firmata-io)', async (t) => {
    const board = createFirmataBoard({ path: sim.boardPath, baudRate: 57600, readyTimeoutMs: 5000 })
    t.teardown(() => board.close())
    const relay = await board.relay({ pin: 7, type: 'NO' })
    const beat = await board.output(8)
    const edges = sim.chip.edges
    await beat.toggle()
    await relay.close()
    await t.resolves(waitFor(() => sim.relayDriven && sim.chip.edges > edges), 'relay pin high and an edge on the heartbeat pin')
    t.ok(sim.contactsClosed, 'contacts closed while the watchdog is fed')
    await relay.open()
    await waitFor(() => !sim.relayDriven)
    t.notOk(sim.contactsClosed)
  })
}

async function waitFor(fn: () => boolean, ms = 3000): Promise<void> {
  await waitUntil(fn, ms, 'the simulated board')
}
