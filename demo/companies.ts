/**
 * The demo federation: four charging companies in Bahia along BR-324 and
 * BR-116, their stations, the road links between their cities, and the
 * drivers of the story. Positions are the real cities; road distances are
 * rounded from the highways.
 */
import type { Position } from '../protocol/index.js'

export interface DemoStation {
  stationId: string
  position: Position
  powerKw: number
  priceMinorPerKwh: number
}

export interface DemoCompany {
  hubId: string
  name: string
  city: string
  position: Position
  stations: DemoStation[]
}

export const COMPANIES: readonly DemoCompany[] = [
  {
    hubId: 'salvador',
    name: 'Baía Eletroposto',
    city: 'Salvador',
    position: { lat: -12.9777, lon: -38.5016 },
    stations: [
      // A DC fast charger, so the demo's few seconds of charging show real energy.
      { stationId: 'SSA-1', position: { lat: -12.9714, lon: -38.5124 }, powerKw: 350, priceMinorPerKwh: 189 },
      { stationId: 'SSA-2', position: { lat: -12.9386, lon: -38.4139 }, powerKw: 150, priceMinorPerKwh: 159 },
    ],
  },
  {
    hubId: 'feira',
    name: 'Feira Charging',
    city: 'Feira de Santana',
    position: { lat: -12.2664, lon: -38.9663 },
    stations: [
      { stationId: 'FSA-1', position: { lat: -12.25, lon: -38.95 }, powerKw: 22, priceMinorPerKwh: 73 },
      { stationId: 'FSA-2', position: { lat: -12.28, lon: -38.99 }, powerKw: 50, priceMinorPerKwh: 95 },
    ],
  },
  {
    hubId: 'jequie',
    name: 'Sertão Volts',
    city: 'Jequié',
    position: { lat: -13.8578, lon: -40.0853 },
    stations: [
      { stationId: 'JEQ-1', position: { lat: -13.861, lon: -40.079 }, powerKw: 60, priceMinorPerKwh: 99 },
      { stationId: 'JEQ-2', position: { lat: -13.85, lon: -40.094 }, powerKw: 22, priceMinorPerKwh: 79 },
    ],
  },
  {
    hubId: 'conquista',
    name: 'Planalto Energia',
    city: 'Vitória da Conquista',
    position: { lat: -14.8615, lon: -40.8442 },
    stations: [
      { stationId: 'VDC-1', position: { lat: -14.8567, lon: -40.8397 }, powerKw: 120, priceMinorPerKwh: 129 },
      { stationId: 'VDC-2', position: { lat: -14.87, lon: -40.86 }, powerKw: 22, priceMinorPerKwh: 85 },
    ],
  },
]

/** Road links between the cities (every hub has the same list). */
export const LINKS = [
  { from: 'salvador', to: 'feira', distanceKm: 108 },
  { from: 'feira', to: 'jequie', distanceKm: 245 },
  { from: 'jequie', to: 'conquista', distanceKm: 155 },
  { from: 'salvador', to: 'jequie', distanceKm: 365 },
] as const

/** The drivers, each a customer of one company (its home hub) and known only there; elsewhere they roam through it. */
export const DRIVERS = [
  { vehicleId: 'ana', name: 'Ana', password: 'ana-demo-pass', home: 'salvador' },
  { vehicleId: 'bruno', name: 'Bruno', password: 'bruno-demo-pass', home: 'salvador' },
  { vehicleId: 'carla', name: 'Carla', password: 'carla-demo-pass', home: 'jequie' },
  { vehicleId: 'tester', name: 'you', password: 'tester-demo-pass', home: 'salvador' },
] as const

export type DriverId = (typeof DRIVERS)[number]['vehicleId']
