import t from 'tap'
import { relayContract } from './helpers/hw-relay-contract.js'
import { disconnected, mockBoard } from './helpers/hw-mock-board.js'
import type { RelayType } from '../hw/types.js'
import { createFirmataBoard } from '../hw/firmata-board.js'
import { firmataOnMockBinding } from './helpers/hw-firmata-sim.js'

const PIN = 7

for (const type of ['NO', 'NC'] as RelayType[]) {
  relayContract(t, `johnny-five relay (${type}) on the mock IO plugin`, async () => {
    const { io, board } = await mockBoard()
    const relay = await board.relay({ pin: PIN, type })
    return {
      board,
      relay,
      level: () => io.lastWrite(PIN),
      closedLevel: type === 'NO' ? 1 : 0,
      failNextWrite: () => io.failNextWrite(),
      stallWrites: (s) => io.stallWrites(s),
      async disconnect() {
        const noticed = disconnected(board)
        io.disconnect()
        await noticed
      },
      dispose: () => board.close(),
    }
  })
}

for (const type of ['NO', 'NC'] as RelayType[]) {
  relayContract(t, `johnny-five relay (${type}) on Firmata over serialport (simulated board on MockBinding)`, async () => {
    const sim = firmataOnMockBinding()
    const board = createFirmataBoard({ path: sim.path, baudRate: 57600, binding: sim.binding, readyTimeoutMs: 3000, writeTimeoutMs: 100 })
    const relay = await board.relay({ pin: PIN, type })
    return {
      board,
      relay,
      level: () => sim.level(PIN),
      closedLevel: type === 'NO' ? 1 : 0,
      stallWrites: (s) => sim.stallWrites(s),
      async disconnect() {
        const noticed = disconnected(board)
        sim.unplug()
        await noticed
      },
      dispose: () => board.close(),
    }
  })
}

t.test('a relay on a pin the board does not have is a coded error', async (t) => {
  const { board } = await mockBoard()
  t.teardown(() => board.close())
  await t.rejects(board.relay({ pin: 99, type: 'NO' }), { code: 'HW_BAD_PIN' })
  await t.rejects(board.relay({ pin: 'X9', type: 'NO' }), { code: 'HW_BAD_PIN' })
})

t.test('an "A0"-style pin name addresses the analog pins as digital outputs', async (t) => {
  const { io, board } = await mockBoard()
  t.teardown(() => board.close())
  const relay = await board.relay({ pin: 'A0', type: 'NO' })
  await relay.close()
  t.equal(io.lastWrite(io.analogPins[0] ?? -1), 1)
})
