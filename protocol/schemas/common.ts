import { z } from 'zod'
import { ID_PATTERN } from '../ids.js'

export const Id = z.string().regex(ID_PATTERN, 'expected an id matching ^[A-Za-z0-9_-]{1,64}$')

/**
 * RFC 3339 date-time; docs/protocol.md asks for UTC, offsets are accepted and normalised by readers. At most 64
 * characters: RFC 3339 puts no bound on the fraction of a second, and a station's 60,000-digit one was stored and
 * logged whole.
 */
export const Time = z.iso.datetime({ offset: true }).max(64)

export const Position = z.object({
  lat: z.number().min(-90).max(90),
  lon: z.number().min(-180).max(180),
})
export type Position = z.infer<typeof Position>
/** A position in a config file: unknown keys there are typos, so they are refused (the wire Position is not strict). */
export const ConfigPosition = z.strictObject(Position.shape)

/** Kilometres; the largest great-circle distance on Earth is about 20,037 km. */
export const RangeKm = z.number().positive().max(20_100)

/**
 * A number in a URL query string (`?rangeKm=50`): a numeric string becomes the
 * number `inner` checks; a missing parameter stays undefined, so it reads
 * "required, expected a number" as a missing field does over MQTT
 * (protocol/validation.ts), and an empty or other string "expected a number"
 * (z.coerce.number() made the first NaN, "expected a number", and the second 0).
 */
export function queryNumber<S extends z.ZodType<number, number | undefined>>(inner: S) {
  return z.preprocess((v) => (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v)) ? Number(v) : v), inner)
}

export const Wh = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER)
export const MinorUnits = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER)
export const Currency = z.string().regex(/^[A-Z]{3}$/, 'expected an ISO 4217 code such as BRL')

export const StationStatus = z.enum(['available', 'charging', 'faulted', 'disabled'])
export type StationStatus = z.infer<typeof StationStatus>

/** Milliseconds since the epoch -> `2026-11-24T18:00:00Z` (milliseconds only when not zero). */
export function formatTime(ms: number): string {
  return new Date(ms).toISOString().replace('.000Z', 'Z')
}

/** A validated Time string -> milliseconds since the epoch. */
export function parseTime(s: string): number {
  return Date.parse(s)
}
