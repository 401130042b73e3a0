/** A valid hub config for tests, without starting anything (so helpers that only need a config stay light). */
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { HubConfigSchema, type HubConfig } from '../../hub/config.js'

export type HubConfigInput = Partial<Omit<HubConfig, 'rules' | 'federation'>> & {
  rules?: Partial<HubConfig['rules']>
  federation?: Partial<HubConfig['federation']>
}

export function tempDir(prefix = 'voltway-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix))
}

/** A valid hub config with two stations and two vehicles unless told otherwise. */
export function hubConfig(over: HubConfigInput = {}): HubConfig {
  const raw = {
    hubId: 'feira',
    name: 'Feira Charging',
    city: 'Feira de Santana',
    position: { lat: -12.2664, lon: -38.9663 },
    currency: 'BRL',
    dataDir: tempDir(),
    mqtt: { listen: { host: '127.0.0.1', port: 0 } },
    http: { host: '127.0.0.1', port: 0 },
    stations: [
      { stationId: 'FSA-1', position: { lat: -12.25, lon: -38.95 }, powerKw: 22, priceMinorPerKwh: 73, password: 's3cret-1' },
      { stationId: 'FSA-2', position: { lat: -12.3, lon: -38.99 }, powerKw: 50, priceMinorPerKwh: 90, password: 's3cret-2' },
    ],
    vehicles: [
      { vehicleId: 'V1', password: 'v1-pass' },
      { vehicleId: 'V2', password: 'v2-pass' },
    ],
    ...over,
    federation: { peers: [], links: [], ...over.federation },
    rules: { windowMinutes: 120, minLeadMinutes: 120, holdTtlSeconds: 30, ...over.rules },
  }
  return HubConfigSchema.parse(raw)
}
