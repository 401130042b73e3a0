/**
 * Operator commands to a station: `enable` and `disable` on its `cmd` topic
 * (docs/protocol.md, "Station agents"), for an operator action (an HTTP
 * route, a CLI command) to call. A disabled station refuses `start` and shows
 * status `disabled` to vehicles (charge.start answers STATION_BUSY with
 * `details.status: "disabled"`); `enable` also clears a fault once the agent
 * finds its cause gone.
 *
 * Errors: NOT_FOUND (no such station), STATION_OFFLINE (its agent is not
 * connected: a command would expire unseen), TIMEOUT (no answer in time), and
 * the station's refusal: its code when it is a wire code (METER_FAULT),
 * STATION_BUSY otherwise, with `details.stationCode` (e.g. RELAY_FAULT).
 */
import type { Logger } from 'pino'
import { VoltwayError, isErrorCode, type StationCommand } from '../../protocol/index.js'
import type { StationRegistry } from '../stations/index.js'
import type { CommandChannel } from '../station-link/command-channel.js'

export interface StationControlDeps {
  stations: StationRegistry
  commands: CommandChannel
  logger: Logger
  /** How long to wait for the station's answer, ms (default 10 000). */
  commandTimeoutMs?: number
}

export class StationControl {
  readonly #d: StationControlDeps
  readonly #log: Logger

  constructor(deps: StationControlDeps) {
    this.#d = deps
    this.#log = deps.logger.child({ component: 'station-control' })
  }

  /** Make the station available again (clearing a fault whose cause is gone). Resolves its meter reading, Wh, if it gave one. */
  enable(stationId: string): Promise<{ meterWh: number | null }> {
    return this.#send(stationId, 'enable')
  }

  /** Take the station out of service: it ends a running session (reason `disabled`) and refuses `start`. */
  disable(stationId: string): Promise<{ meterWh: number | null }> {
    return this.#send(stationId, 'disable')
  }

  async #send(stationId: string, op: Extract<StationCommand['op'], 'enable' | 'disable'>): Promise<{ meterWh: number | null }> {
    const station = this.#d.stations.get(stationId)
    if (!station) throw new VoltwayError('NOT_FOUND', `no station ${stationId} at this hub`)
    if (!station.live.online) throw new VoltwayError('STATION_OFFLINE', `station ${stationId} is offline; ${op} it once its agent is connected`)
    const res = await this.#d.commands.send(stationId, { op }, this.#d.commandTimeoutMs ?? 10_000)
    if (!res.ok) {
      const stationCode = res.error?.code
      const code = isErrorCode(stationCode) ? stationCode : 'STATION_BUSY'
      this.#log.warn({ stationId, op, stationCode }, 'station refused an operator command')
      throw new VoltwayError(code, `station ${stationId} refused to ${op}: ${res.error?.message ?? 'no reason given'}`, { stationCode })
    }
    this.#log.info({ stationId, op }, 'operator command done')
    return { meterWh: res.meterWh ?? null }
  }
}
