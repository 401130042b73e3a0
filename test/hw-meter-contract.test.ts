/** The EnergyMeter contract, run against every meter: mock, Modbus RTU (simulated SDM120 on MockBinding), S0. */
import t from 'tap'
import { METER_MODELS } from '../hw/meter-models.js'
import { MockMeter } from '../hw/mock-meter.js'
import { ModbusMeter } from '../hw/modbus-meter.js'
import { S0Meter } from '../hw/s0-meter.js'
import { manualClock } from './helpers/hw-clock.js'
import { meterContract } from './helpers/hw-meter-contract.js'
import { disconnected, mockBoard } from './helpers/hw-mock-board.js'
import { sdmOnMockBinding } from './helpers/hw-sdm-sim.js'

meterContract(t, 'mock meter', async () => {
  const clock = manualClock()
  const { io, board } = await mockBoard()
  const relay = await board.relay({ pin: 7, type: 'NO' })
  const meter = new MockMeter({ io, relayPin: 7, relayType: 'NO', powerKw: 11, startWh: 1000, clock })
  await relay.close()
  return {
    meter,
    clock,
    resolutionWh: 1,
    async deliver(wh, ms) {
      meter.setPowerKw((wh * 3600) / ms)
      clock.advance(ms)
    },
    async breakNextRead() {
      meter.failNextRead()
      return 'HW_METER_READ_FAILED'
    },
    heal: async () => true,
    async dispose() {
      await meter.close()
      await board.close()
    },
  }
})

meterContract(t, 'Modbus RTU meter (SDM120 simulated behind MockBinding)', async () => {
  const clock = manualClock()
  const { path, binding, device } = sdmOnMockBinding(1, METER_MODELS.SDM120!.map)
  let energyKwh = 123.456
  device.setReading({ energyKwh, powerW: 0, voltageV: 231.2, currentA: 0 })
  const meter = await ModbusMeter.open({ path, baudRate: 9600, unitId: 1, model: 'SDM120', timeoutMs: 500, binding, clock })
  return {
    meter,
    clock,
    resolutionWh: 1,
    async deliver(wh, ms) {
      energyKwh += wh / 1000
      device.setReading({ energyKwh, powerW: (wh * 3_600_000) / ms })
      clock.advance(ms)
    },
    async breakNextRead() {
      device.mode = 'exception'
      return 'HW_METER_READ_FAILED'
    },
    async heal() {
      device.mode = 'normal'
      return true
    },
    dispose: () => meter.close(),
  }
})

meterContract(t, 'S0 pulse meter on the mock board', async () => {
  const clock = manualClock()
  const { io, board } = await mockBoard()
  const PIN = 2
  const meter = new S0Meter({ board, pin: PIN, pulsesPerKwh: 1000, clock })
  return {
    meter,
    clock,
    resolutionWh: 1,
    async deliver(wh, ms) {
      const pulses = Math.round(wh) // 1000 imp/kWh: one pulse per Wh
      for (let i = 0; i < pulses; i++) {
        clock.advance(ms / pulses)
        await io.setInput(PIN, 1)
        await io.setInput(PIN, 0)
      }
    },
    async breakNextRead() {
      const noticed = disconnected(board)
      io.disconnect()
      await noticed
      return 'HW_DISCONNECTED'
    },
    heal: async () => false,
    async dispose() {
      await meter.close()
      await board.close()
    },
  }
})
