/**
 * The EnergyMeter contract (hw/types.ts), as tests, run against the mock,
 * Modbus and S0 meters alike.
 */
import type { Test } from 'tap'
import { isHwError, type HwErrorCode } from '../../hw/errors.js'
import type { EnergyMeter } from '../../hw/types.js'
import type { ManualClock } from './hw-clock.js'

export interface MeterHarness {
  meter: EnergyMeter
  clock: ManualClock
  /** Make the meter register `wh` more energy (as a charging car would), taking `ms` of clock time. */
  deliver(wh: number, ms: number): Promise<void>
  /** Energy resolution of this meter, Wh (S0: Wh per pulse; Modbus: float32 rounding). */
  resolutionWh: number
  /** Make the next read fail; returns the code it must fail with. */
  breakNextRead(): Promise<HwErrorCode>
  /** Undo breakNextRead; false when this fault rightly persists (an S0 count that lost pulses). */
  heal(): Promise<boolean>
  dispose(): Promise<void>
}

export function meterContract(tap: Test, name: string, open: () => Promise<MeterHarness>): void {
  const check = (rule: string, body: (t: Test, h: MeterHarness) => Promise<void>): void => {
    tap.test(`${name}: ${rule}`, async (t) => {
      const h = await open()
      t.teardown(() => h.dispose())
      await body(t, h)
    })
  }

  check('a reading has an integer, non-negative energyWh, a finite powerW and the clock time', async (t, h) => {
    const r = await h.meter.read()
    t.ok(Number.isInteger(r.energyWh), `energyWh ${r.energyWh} is an integer`)
    t.ok(r.energyWh >= 0)
    t.ok(Number.isFinite(r.powerW))
    t.equal(r.ts, h.clock.now())
  })

  check('delivered energy shows up in the cumulative register', async (t, h) => {
    const before = await h.meter.read()
    await h.deliver(500, 60_000)
    const after = await h.meter.read()
    t.ok(Math.abs(after.energyWh - before.energyWh - 500) <= h.resolutionWh, `delta ${after.energyWh - before.energyWh} ~ 500 Wh`)
    t.ok(after.powerW > 0, 'power is reported while energy flows')
  })

  check('the register never decreases across reads', async (t, h) => {
    let last = (await h.meter.read()).energyWh
    for (let i = 0; i < 5; i++) {
      await h.deliver(100, 10_000)
      const r = await h.meter.read()
      t.ok(r.energyWh >= last, `${r.energyWh} >= ${last}`)
      last = r.energyWh
    }
  })

  check('a failed read rejects with a coded HwError and invents no value', async (t, h) => {
    const code = await h.breakNextRead()
    const err: unknown = await h.meter.read().then(
      (r) => r,
      (e: unknown) => e,
    )
    t.ok(isHwError(err, code), `rejected with ${code}, got ${String(err)}`)
    if (await h.heal()) {
      const r = await h.meter.read()
      t.ok(Number.isInteger(r.energyWh), 'reads work again once the fault is gone')
    }
  })

  check('concurrent reads are serialised and all resolve', async (t, h) => {
    const rs = await Promise.all([h.meter.read(), h.meter.read(), h.meter.read()])
    t.equal(rs.length, 3)
    for (const r of rs) t.ok(Number.isInteger(r.energyWh))
  })

  check('a read after close() rejects with HW_CLOSED', async (t, h) => {
    await h.meter.close()
    await h.meter.close()
    const err: unknown = await h.meter.read().catch((e: unknown) => e)
    t.ok(isHwError(err, 'HW_CLOSED'), `got ${String(err)}`)
  })
}
