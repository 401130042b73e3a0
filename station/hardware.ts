/**
 * The station's hardware from station.json, through hw/'s factory. On the
 * mock board it also runs the simulated firmware watchdog (hw/mock-watchdog):
 * the register continues from what the last agent left on the board, and the
 * agent's heartbeat keeps the board's relay alive. With `hardware.watchdog`
 * it opens the heartbeat pin to the external watchdog; on the mock board the
 * simulated firmware watchdog is then fed by that pin's edges (as the real
 * chip is) instead of by every relay write and heartbeat call.
 */
import { createHardware, type Hardware, type HardwareSpec } from '../hw/create-hardware.js'
import { resolvePin } from '../hw/io-plugin.js'
import { MockWatchdog, readMockBoardState } from '../hw/mock-watchdog.js'
import { systemClock, type Clock } from '../base/clock.js'
import type { OutputPin } from '../hw/types.js'
import type { StationConfig } from './config.js'
import { persistS0Register, readS0Register } from './s0-register.js'

export interface StationHardware extends Hardware {
  /** Tell the board's watchdog the agent is alive (no-op on boards whose firmware has its own). */
  heartbeat(): void
  /** The external watchdog's trigger input, when `hardware.watchdog` is configured. */
  watchdogPin?: OutputPin
}

export interface OpenHardwareOptions {
  clock?: Clock
  /** Keep the mock board's state file in dataDir (default true; `station check` turns it off). */
  persistMockBoard?: boolean
}

export async function openStationHardware(cfg: StationConfig, opts: OpenHardwareOptions = {}): Promise<StationHardware> {
  const clock = opts.clock ?? systemClock
  const board = cfg.hardware.board
  const meter = cfg.hardware.meter
  const persist = board.type === 'mock' && opts.persistMockBoard !== false
  const spec: HardwareSpec = { board: cfg.hardware.board, relay: cfg.hardware.relay, meter, ...(cfg.hardware.cardReader ? { cardReader: cfg.hardware.cardReader } : {}) }
  if (persist && meter.type === 'mock') {
    // The register is the board's, not the agent's: continue from what flowed until the watchdog tripped.
    const left = readMockBoardState(cfg.dataDir, clock.now())
    if (left) spec.meter = { ...meter, startWh: Math.max(left.energyWh, meter.startWh) }
  }
  if (meter.type === 's0') spec.meter = { ...meter, startWh: readS0Register(cfg.dataDir) }
  const created = await createHardware(spec, { clock })
  const hw = meter.type === 's0' ? { ...created, meter: persistS0Register(created.meter, cfg.dataDir, clock) } : created
  let watchdogPin: OutputPin | undefined
  try {
    if (cfg.hardware.watchdog) watchdogPin = await hw.board.output(cfg.hardware.watchdog.pin)
  } catch (err) {
    await hw.close()
    throw err
  }
  let watchdog: MockWatchdog | undefined
  const io = hw.mock?.io
  const mockMeter = hw.mock?.meter
  if (persist && board.type === 'mock' && io && mockMeter) {
    const relayPin = resolvePin(io, cfg.hardware.relay.pin)
    if (relayPin !== undefined) {
      watchdog = new MockWatchdog({
        dataDir: cfg.dataDir,
        io,
        meter: mockMeter,
        relayPin,
        relayType: cfg.hardware.relay.type,
        watchdogMs: board.watchdogMs,
        clock,
        ...(watchdogPin ? { heartbeatPin: resolvePin(io, watchdogPin.pin) } : {}),
      })
      watchdog.heartbeat()
    }
  }
  const fedByPin = watchdogPin !== undefined
  return {
    ...hw,
    ...(watchdogPin ? { watchdogPin } : {}),
    heartbeat: () => {
      if (!fedByPin) watchdog?.heartbeat()
    },
    async close() {
      await hw.close()
      watchdog?.close()
    },
  }
}
