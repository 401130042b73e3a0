/**
 * Vehicle request/response ops (docs/protocol.md "Vehicle requests"): for each op,
 * the schema of its args and of its result. The hub validates args with these
 * before any handler runs; clients and tests validate results with them.
 */
import { z } from 'zod'
import { Id, Position, RangeKm, Time } from './common.js'
import { NearStation, Receipt, Reservation, Route, SessionStart, SessionStatus, Station, Trip, TripSummary } from './entities.js'

const Empty = z.object({})
const MAX_HOPS = 16
/** The largest `station.list` page: about 170 KB of answer at 170 bytes a station. */
export const STATION_PAGE_MAX = 1000

export const OPS = {
  'hub.info': {
    args: Empty,
    result: z.object({
      hubId: Id,
      name: z.string(),
      city: z.string(),
      position: Position,
      stations: z.number().int().nonnegative(),
      peers: z.array(Id),
    }),
  },
  'station.list': {
    // Paging is an addition: `{}` still lists every station, as before it.
    args: z.object({ after: Id.optional(), limit: z.number().int().min(1).max(STATION_PAGE_MAX).optional() }),
    result: z.object({ stations: z.array(Station), next: Id.optional() }),
  },
  'station.nearest': {
    args: z.object({
      position: Position,
      rangeKm: RangeKm,
      at: Time.optional(),
      limit: z.number().int().min(1).max(100).default(5),
    }),
    result: z.object({ stations: z.array(NearStation) }),
  },
  'reservation.create': {
    args: z.object({ at: Time, position: Position, rangeKm: RangeKm, stationId: Id.optional() }),
    result: z.object({ reservation: Reservation }),
  },
  'reservation.cancel': {
    args: z.union([z.object({ reservationId: Id }), z.object({ all: z.literal(true) })]),
    result: z.object({ cancelled: z.number().int().nonnegative() }),
  },
  'reservation.list': {
    args: Empty,
    result: z.object({ reservations: z.array(Reservation) }),
  },
  'route.list': {
    args: z.object({ destination: Id, index: z.number().int().min(0).max(1000).default(0) }),
    result: z.object({
      destination: Id,
      index: z.number().int().nonnegative(),
      total: z.number().int().nonnegative(),
      route: Route,
    }),
  },
  'route.reserve': {
    args: z.object({
      routeId: Id,
      times: z.array(Time).min(1).max(MAX_HOPS),
      position: Position,
      rangeKm: RangeKm,
    }),
    result: z.object({ trip: Trip }),
  },
  'trip.cancel': {
    args: z.object({ tripId: Id }),
    result: z.object({ cancelled: z.number().int().nonnegative() }),
  },
  'trip.list': {
    args: z.object({ limit: z.number().int().min(1).max(100).default(20) }),
    result: z.object({ trips: z.array(TripSummary) }),
  },
  'charge.start': {
    args: z.object({
      stationId: Id,
      reservationId: Id.optional(),
      maxWh: z.number().int().positive().max(1_000_000).optional(),
      // Roaming (docs/protocol.md): the station's hub; default the vehicle's home hub.
      hubId: Id.optional(),
    }),
    result: z.object({ session: SessionStart }),
  },
  'charge.status': {
    args: z.object({ sessionId: Id }),
    result: z.object({ session: SessionStatus }),
  },
  'charge.stop': {
    args: z.object({ sessionId: Id }),
    result: z.object({ receipt: Receipt }),
  },
  'history.list': {
    args: z.object({ limit: z.number().int().min(1).max(500).default(50) }),
    result: z.object({ receipts: z.array(Receipt), partial: z.boolean(), unreachableHubs: z.array(Id) }),
  },
} as const

export type OpName = keyof typeof OPS
export const OP_NAMES = Object.keys(OPS) as OpName[]
export type OpArgs<O extends OpName> = z.output<(typeof OPS)[O]['args']>
/** Args as a caller may write them (defaults still optional). */
export type OpArgsInput<O extends OpName> = z.input<(typeof OPS)[O]['args']>
export type OpResult<O extends OpName> = z.output<(typeof OPS)[O]['result']>

/**
 * The ops that change something (docs/protocol.md "Repeated requests"): their
 * request id is an idempotency key at the hub, so a vehicle repeats one whose
 * answer was lost with the same id and it acts once.
 */
export const MUTATING_OPS = ['reservation.create', 'reservation.cancel', 'route.reserve', 'trip.cancel', 'charge.start', 'charge.stop'] as const satisfies readonly OpName[]

export type MutatingOp = (typeof MUTATING_OPS)[number]

export function isMutatingOp(op: unknown): op is MutatingOp {
  return (MUTATING_OPS as readonly unknown[]).includes(op)
}

export function isOpName(s: unknown): s is OpName {
  return typeof s === 'string' && Object.hasOwn(OPS, s)
}
