/**
 * Accounts over HTTP: the operator API under `/admin/v1` (bearer: an operator
 * token) and station enrollment at `POST /enroll/v1` (docs/configuration.md
 * "Accounts"). A password appears in an answer only when the hub generated it,
 * and only in that one answer.
 */
import { z } from 'zod'
import { Id, Position, Time } from './common.js'

/** What a person may choose as a password (the same bound as hub.json's). */
export const Password = z.string().min(1).max(256)

export const StationSpecBody = z.strictObject({
  position: z.strictObject(Position.shape),
  powerKw: z.number().positive().max(2000),
  priceMinorPerKwh: z.number().int().nonnegative().max(1_000_000),
})

/** `POST /admin/v1/vehicles`; without `password` the hub generates one and answers it. */
export const AddVehicleBody = z.strictObject({ vehicleId: Id, password: Password.optional() })
/** `POST /admin/v1/{vehicles|stations}/:id/password`; without `password` the hub generates one. */
export const SetPasswordBody = z.strictObject({ password: Password.optional() })
/** `POST /admin/v1/stations`: answers a one-time enrollment code. */
export const AddStationBody = StationSpecBody.extend({ stationId: Id })
export const AccountIdParams = z.strictObject({ id: Id })

export const AccountSummary = z.object({
  id: Id,
  kind: z.enum(['vehicle', 'station']),
  /** False for a station that has no password yet (waiting for enrollment). */
  hasPassword: z.boolean(),
  station: StationSpecBody.nullable(),
  createdAt: Time,
  updatedAt: Time,
})
export type AccountSummary = z.output<typeof AccountSummary>

export const PasswordAnswer = z.object({ id: Id, password: z.string().optional() })
export const EnrollmentCodeAnswer = z.object({ stationId: Id, code: z.string(), expiresAt: Time })

/** `POST /enroll/v1` (no bearer: the code is the credential). */
export const EnrollBody = z.strictObject({ stationId: Id, code: z.string().min(1).max(128) })
export const EnrollAnswer = z.object({ stationId: Id, hubId: Id, username: Id, password: Password })
export type EnrollAnswer = z.output<typeof EnrollAnswer>
