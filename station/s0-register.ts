/**
 * An S0 meter is a pulse counter on the board's input: nothing on the board
 * remembers the count when the agent stops. The agent keeps the register in
 * a small file in dataDir, written after each read (throttled, atomically),
 * and the next agent continues from it. Without that, a session cut by a
 * crash would end below its start reading and could never be billed.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Clock } from '../base/clock.js'
import type { EnergyMeter, MeterReading } from '../hw/types.js'

export const S0_REGISTER_FILE = 's0-register.json'

/** The register the last agent left, or 0. */
export function readS0Register(dataDir: string): number {
  try {
    const v = (JSON.parse(readFileSync(join(dataDir, S0_REGISTER_FILE), 'utf8')) as { energyWh?: unknown }).energyWh
    return typeof v === 'number' && Number.isInteger(v) && v >= 0 ? v : 0
  } catch {
    return 0
  }
}

/** Wrap a meter so every reading's register is kept (at most once per `everyMs`). */
export function persistS0Register(meter: EnergyMeter, dataDir: string, clock: Clock, everyMs = 1000): EnergyMeter {
  const file = join(dataDir, S0_REGISTER_FILE)
  let lastWrite = -Infinity
  let lastWh = -1
  const save = (wh: number): void => {
    if (wh === lastWh || clock.now() - lastWrite < everyMs) return
    try {
      writeFileSync(`${file}.tmp`, JSON.stringify({ energyWh: wh }))
      renameSync(`${file}.tmp`, file)
      lastWrite = clock.now()
      lastWh = wh
    } catch {
      // A full or read-only disk must not turn into a meter fault: the reading itself is good.
    }
  }
  return {
    kind: meter.kind,
    async read(): Promise<MeterReading> {
      const r = await meter.read()
      save(r.energyWh)
      return r
    },
    async close(): Promise<void> {
      await meter.close()
    },
  }
}
