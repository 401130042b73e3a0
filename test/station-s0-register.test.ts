/** An S0 meter's count survives the agent: the next agent continues the register, so a crashed session can still be billed. */
import t from 'tap'
import { ManualClock } from '../base/clock.js'
import { StationConfigSchema } from '../station/config.js'
import { openStationHardware } from '../station/hardware.js'
import { readS0Register } from '../station/s0-register.js'
import { tempDir } from './helpers/hub.js'

const PIN = 2

t.test('the S0 register is kept in dataDir and the next agent continues from it', async (t) => {
  const dataDir = tempDir('voltway-s0-')
  const cfg = StationConfigSchema.parse({
    stationId: 'S1',
    hubId: 'H',
    mqtt: { url: 'mqtt://127.0.0.1:1', password: 'x' },
    dataDir,
    hardware: { board: { type: 'mock' }, relay: { pin: 7, type: 'NO' }, meter: { type: 's0', pin: PIN, pulsesPerKwh: 1000 } },
  })
  const clock = new ManualClock(Date.parse('2026-11-24T18:00:00Z'))
  const first = await openStationHardware(cfg, { clock, persistMockBoard: false })
  const io = first.mock?.io
  if (!io) throw new Error('expected the mock board')
  for (let i = 0; i < 25; i++) {
    clock.advance(1000)
    await io.setInput(PIN, 1)
    await io.setInput(PIN, 0)
  }
  t.equal((await first.meter.read()).energyWh, 25, '25 pulses at 1,000/kWh are 25 Wh')
  t.equal(readS0Register(dataDir), 25, 'the register is on disk')
  await first.close()

  const second = await openStationHardware(cfg, { clock, persistMockBoard: false })
  t.teardown(() => second.close())
  t.equal((await second.meter.read()).energyWh, 25, 'a new agent starts from the register, not from 0')
  t.equal(readS0Register(tempDir('voltway-s0-empty-')), 0, 'no file: 0')
})
