/** What a fleet run counts; turned into the summary at the end. */
export interface FleetCounters {
  connected: number
  connectFailed: Record<string, number>
  arrived: number
  stranded: number
  distanceKm: number
  trips: { booked: number; failed: Record<string, number>; failedHopReasons: Record<string, number>; cancelled: number }
  reservations: { booked: number; failed: Record<string, number>; cancelled: number }
  charging: {
    sessions: number
    startFailed: Record<string, number>
    stopFailed: Record<string, number>
    /** Metered energy on the receipts. */
    energyWh: number
    /** Energy the simulated batteries took in (on the compressed clock). */
    simulatedWh: number
    costMinor: Record<string, number>
    /** Receipts per hub where the session ran. */
    perHub: Record<string, { sessions: number; energyWh: number }>
    /** Sessions at other companies' stations, started and stopped through the vehicle's home hub (roaming). */
    roaming: { sessions: number; energyWh: number }
  }
}

export function newCounters(): FleetCounters {
  return {
    connected: 0,
    connectFailed: {},
    arrived: 0,
    stranded: 0,
    distanceKm: 0,
    trips: { booked: 0, failed: {}, failedHopReasons: {}, cancelled: 0 },
    reservations: { booked: 0, failed: {}, cancelled: 0 },
    charging: { sessions: 0, startFailed: {}, stopFailed: {}, energyWh: 0, simulatedWh: 0, costMinor: {}, perHub: {}, roaming: { sessions: 0, energyWh: 0 } },
  }
}
