/**
 * Taking a station out of service and back (docs/protocol.md, station
 * commands `disable` / `enable`). The station keeps the flag across restarts,
 * ends a running session with reason `disabled`, reports status `disabled`
 * in its retained state (which vehicles see in `station.list`), and refuses
 * `start` while disabled; the hub's `charge.start` refuses it with
 * STATION_BUSY `{status: 'disabled'}` as soon as that state arrives.
 */
import { VoltwayError } from '../../protocol/index.js'
import type { CommandChannel } from '../station-link/command-channel.js'
import type { StationRegistry } from './registry.js'

/**
 * Send `disable` (enabled false) or `enable` and wait for the station's
 * answer. Errors: NOT_FOUND (not this hub's station), STATION_OFFLINE, TIMEOUT
 * (no answer within `timeoutMs`), STATION_BUSY (the station refused, its code
 * in `details.stationCode`).
 */
export async function setStationEnabled(deps: { stations: StationRegistry; commands: CommandChannel }, stationId: string, enabled: boolean, timeoutMs: number): Promise<void> {
  const station = deps.stations.get(stationId)
  if (!station) throw new VoltwayError('NOT_FOUND', `no station ${stationId} at hub ${deps.stations.hubId}`)
  if (!station.live.online) throw new VoltwayError('STATION_OFFLINE', `station ${stationId} is offline: it cannot be ${enabled ? 'enabled' : 'disabled'} now`)
  const op = enabled ? 'enable' : 'disable'
  const res = await deps.commands.send(stationId, { op }, timeoutMs)
  if (!res.ok) throw new VoltwayError('STATION_BUSY', `station ${stationId} refused to ${op}: ${res.error?.message ?? 'no reason given'}`, { stationCode: res.error?.code })
}
