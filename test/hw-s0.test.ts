/** S0 pulse meter on the mock board: pulses emitted on the pin become energy and power. */
import t, { type Test } from 'tap'
import { S0Meter } from '../hw/s0-meter.js'
import { manualClock } from './helpers/hw-clock.js'
import { disconnected, mockBoard } from './helpers/hw-mock-board.js'

const PIN = 2

async function setup(t: Test, pulsesPerKwh = 1000) {
  const clock = manualClock()
  const { io, board } = await mockBoard()
  const meter = new S0Meter({ board, pin: PIN, pulsesPerKwh, clock })
  t.teardown(async () => {
    await meter.close()
    await board.close()
  })
  const pulse = async (n: number, everyMs: number): Promise<void> => {
    for (let i = 0; i < n; i++) {
      clock.advance(everyMs)
      await io.setInput(PIN, 1)
      await io.setInput(PIN, 0)
    }
  }
  return { clock, io, board, meter, pulse }
}

t.test('each rising edge on the S0 pin is 1/pulsesPerKwh kWh', async (t) => {
  const { meter, pulse } = await setup(t, 800)
  await pulse(400, 1000)
  t.equal(meter.pulses, 400)
  t.equal((await meter.read()).energyWh, 500) // 400 / 800 kWh
})

t.test('a level that stays high is one pulse, not many', async (t) => {
  const { io, meter } = await setup(t)
  await io.setInput(PIN, 1)
  await io.setInput(PIN, 1)
  await io.setInput(PIN, 1)
  await io.setInput(PIN, 0)
  t.equal(meter.pulses, 1)
})

t.test('power comes from the interval between pulses', async (t) => {
  const { meter, pulse } = await setup(t)
  await pulse(3, 500) // 1 Wh every 0.5 s = 7.2 kW
  t.equal((await meter.read()).powerW, 7200)
})

t.test('when pulses stop, the reported power falls instead of freezing', async (t) => {
  const { clock, meter, pulse } = await setup(t)
  await pulse(3, 500)
  clock.advance(10_000) // no pulse for 10 s: at most 1 Wh in 10 s = 360 W
  t.equal((await meter.read()).powerW, 360)
})

t.test('fewer than two pulses give no power figure to invent: 0 W', async (t) => {
  const { meter, pulse } = await setup(t)
  t.equal((await meter.read()).powerW, 0)
  await pulse(1, 500)
  t.equal((await meter.read()).powerW, 0)
})

t.test('after the board disconnects, S0 reads reject with HW_DISCONNECTED (pulses may be lost)', async (t) => {
  const { io, board, meter, pulse } = await setup(t)
  await pulse(2, 100)
  const noticed = disconnected(board)
  io.disconnect()
  await noticed
  await t.rejects(meter.read(), { code: 'HW_DISCONNECTED' })
})

t.test('an S0 meter on a pin the board does not have is HW_BAD_PIN', async (t) => {
  const { board } = await mockBoard()
  t.teardown(() => board.close())
  t.throws(() => new S0Meter({ board, pin: 77, pulsesPerKwh: 1000 }), { code: 'HW_BAD_PIN' })
})
