/**
 * A station's electrics simulated outside the agent's process, on real
 * pseudo-terminals: a Firmata board driving the relay coil, an external
 * hardware watchdog on the heartbeat pin, and an Eastron SDM meter on RS-485.
 * The agent opens the host ends with the real serialport native binding.
 *
 * Wiring modelled: the watchdog's output is in series with the relay coil, so
 * the contacts are closed only while the relay pin is driven AND the watchdog
 * has seen an edge on its trigger input within its period.
 */
import { EventEmitter } from 'node:events'
import type { SerialPort } from 'serialport'
import { registerMap } from '../../hw/meter-models.js'
import { FirmataDevice, handshake } from './hw-firmata-sim.js'
import { closeDeviceEnd, hostLineSettings, openDeviceEnd, ptyPair, type PtyPair } from './hw-pty.js'
import { SdmDevice, serveSdm, type MeterLine } from './hw-sdm-sim.js'

/**
 * A retriggerable monostable (a 555 missing-pulse detector, a 74HC123, or a
 * watchdog IC): its output is enabled while edges arrive on its trigger
 * input less than `periodMs` apart; it starts disabled (fail safe at power-up).
 */
export class WatchdogChip extends EventEmitter {
  readonly periodMs: number
  enabled = false
  edges = 0
  trips = 0
  lastEdgeAt = 0
  trippedAt = 0
  #timer: ReturnType<typeof setTimeout> | undefined

  constructor(periodMs: number) {
    super()
    this.periodMs = periodMs
  }

  edge(): void {
    this.edges++
    this.lastEdgeAt = Date.now()
    this.enabled = true
    clearTimeout(this.#timer)
    this.#timer = setTimeout(() => {
      this.enabled = false
      this.trips++
      this.trippedAt = Date.now()
      this.emit('trip')
    }, this.periodMs)
  }

  close(): void {
    clearTimeout(this.#timer)
  }
}

export interface StationSimOptions {
  relayPin: number
  heartbeatPin: number
  watchdogPeriodMs: number
  meterModel: string
  meterUnitId: number
  /** The meter's own line settings (default: 2400 baud, 1 stop bit, an SDM120 from the factory). */
  meterLine?: MeterLine
  /** What the car draws while the contacts are closed, W. */
  carPowerW: number
}

export class StationSim {
  readonly chip: WatchdogChip
  readonly meter: SdmDevice
  readonly board: FirmataDevice
  readonly boardPath: string
  readonly meterPath: string
  readonly #o: StationSimOptions
  readonly #ptys: PtyPair[]
  readonly #ports: SerialPort[]
  readonly #timers: ReturnType<typeof setInterval>[] = []
  #energyKwh = 100

  private constructor(o: StationSimOptions, ptys: [PtyPair, PtyPair], ports: [SerialPort, SerialPort]) {
    this.#o = o
    this.#ptys = ptys
    this.#ports = ports
    this.boardPath = ptys[0].host
    this.meterPath = ptys[1].host
    this.chip = new WatchdogChip(o.watchdogPeriodMs)
    const [boardPort, meterPort] = ports
    this.board = new FirmataDevice((b) => boardPort.write(b))
    let heardHost = false
    boardPort.on('data', (b: Buffer) => {
      heardHost = true
      this.board.receive(b)
    })
    // A board that does not reset when the port opens: announce until the host speaks.
    const announce = setInterval(() => {
      if (heardHost) clearInterval(announce)
      else boardPort.write(handshake())
    }, 100)
    this.#timers.push(announce)
    this.board.onWrite((pin) => {
      if (pin === o.heartbeatPin) this.chip.edge()
    })
    this.meter = new SdmDevice(o.meterUnitId, registerMap(o.meterModel))
    const meterHost = ptys[1].host
    serveSdm(meterPort, this.meter, o.meterLine ?? { baudRate: 2400, stopBits: 1 }, () => hostLineSettings(meterHost))
    this.#updateMeter(0)
    let last = Date.now()
    this.#timers.push(
      setInterval(() => {
        const now = Date.now()
        this.#updateMeter(now - last)
        last = now
      }, 50),
    )
  }

  static async start(o: StationSimOptions): Promise<StationSim> {
    const ptys = [await ptyPair(), await ptyPair()] as [PtyPair, PtyPair]
    const ports = [await openDeviceEnd(ptys[0].device), await openDeviceEnd(ptys[1].device)] as [SerialPort, SerialPort]
    return new StationSim(o, ptys, ports)
  }

  /** The relay pin is driven (NO relay: HIGH closes). */
  get relayDriven(): boolean {
    return this.board.levels.get(this.#o.relayPin) === 1
  }

  /** Current flows: the coil gets power only through the watchdog's output. */
  get contactsClosed(): boolean {
    return this.relayDriven && this.chip.enabled
  }

  #updateMeter(dtMs: number): void {
    const powerW = this.contactsClosed ? this.#o.carPowerW : 0
    this.#energyKwh += (powerW * dtMs) / 3_600_000_000
    this.meter.setReading({ energyKwh: this.#energyKwh, powerW, voltageV: 230, currentA: powerW / 230 })
  }

  async close(): Promise<void> {
    for (const t of this.#timers) clearInterval(t)
    this.chip.close()
    for (const p of this.#ports) await closeDeviceEnd(p)
    for (const p of this.#ptys) await p.close()
  }
}
