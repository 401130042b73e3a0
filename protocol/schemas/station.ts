/** Station agent <-> hub messages (docs/protocol.md "Station agents"). */
import { z } from 'zod'
import { Id, StationStatus, Time, Wh } from './common.js'

/**
 * An RFID card's UID as readers report it (hw/types.ts CardReader): uppercase
 * hexadecimal, 2-32 digits (an RDM6300 gives 10, an ISO 14443 UID 8-20).
 */
export const IdTag = z.string().regex(/^[0-9A-F]{2,32}$/, 'expected a card UID: 2 to 32 uppercase hex digits')

const Seq = z.number().int().positive().max(Number.MAX_SAFE_INTEGER)

export const StationState = z.object({
  online: z.boolean(),
  status: StationStatus,
  sessionId: Id.nullable(),
  meterWh: Wh.nullable(),
  agentVersion: z.string().max(64),
  ts: Time,
})
export type StationState = z.infer<typeof StationState>

export const Telemetry = z.object({
  sessionId: Id.nullable(),
  powerW: z.number().nonnegative(),
  meterWh: Wh,
  ts: Time,
  voltageV: z.number().nonnegative().optional(),
  currentA: z.number().nonnegative().optional(),
})
export type Telemetry = z.infer<typeof Telemetry>

/**
 * The outbox an event comes from: a random id the agent makes when it creates
 * its outbox (a new SD card is a new epoch, and seq starts at 1 again). An
 * addition: events without it (other vendors' stations) are one epoch-less stream.
 */
export const Epoch = Id
const EventBase = { seq: Seq, meterWh: Wh, ts: Time, epoch: Epoch.optional() }

export const StopReason = z.enum(['requested', 'limit', 'fault', 'offline', 'shutdown', 'unplugged', 'disabled'])

export const SessionStartedEvent = z.object({
  ...EventBase,
  type: z.literal('session.started'),
  sessionId: Id,
  meterStartWh: Wh.optional(),
  /**
   * An addition: the card that started the session at the charger (no
   * `start` command came for it). The hub opens the session then, for the
   * card's vehicle (docs/protocol.md, "Cards at the charger").
   */
  idTag: IdTag.optional(),
})
export const SessionStoppedEvent = z.object({
  ...EventBase,
  type: z.literal('session.stopped'),
  sessionId: Id,
  energyWh: Wh,
  meterStartWh: Wh.optional(),
  reason: StopReason,
})
export const FaultEvent = z.object({
  ...EventBase,
  type: z.literal('fault'),
  sessionId: Id.optional(),
  code: z.string().min(1).max(64),
  message: z.string().max(500).optional(),
})
export const StationEvent = z.discriminatedUnion('type', [SessionStartedEvent, SessionStoppedEvent, FaultEvent])
export type StationEvent = z.infer<typeof StationEvent>

/**
 * `seq`: every event of the station (of `epoch`, when the events carry one) up
 * to seq is stored. `epoch` (an addition) names the outbox the ack is for.
 * `resendFrom` (an addition): the hub stored a later event but lacks this one;
 * the station sends its events again from this seq, now.
 */
export const StationAck = z.object({ seq: z.number().int().nonnegative(), epoch: Epoch.optional(), resendFrom: Seq.optional() })
export type StationAck = z.infer<typeof StationAck>

export const StationCommand = z.object({
  id: Id,
  op: z.enum(['start', 'stop', 'enable', 'disable']),
  sessionId: Id.optional(),
  maxWh: z.number().int().positive().optional(),
})
export type StationCommand = z.infer<typeof StationCommand>

export const StationCommandResult = z.object({
  id: Id,
  ok: z.boolean(),
  error: z.object({ code: z.string(), message: z.string() }).optional(),
  meterWh: Wh.optional(),
})
export type StationCommandResult = z.infer<typeof StationCommandResult>

/** A card tapped at the station: may it charge? On `voltway/v1/stations/S/auth` (an addition). */
export const CardAuthRequest = z.object({ id: Id, idTag: IdTag })
export type CardAuthRequest = z.infer<typeof CardAuthRequest>

/**
 * The hub's answer on `voltway/v1/stations/S/auth/res`, matched by `id`.
 * `ok`: the card may start a session now, on `vehicleId`'s account;
 * `expiresAt`: until when the station may accept it offline from its cache.
 * A refusal carries `error.code` (`CARD_UNKNOWN`, `RESERVED_BY_OTHER`,
 * `STATION_BUSY`, ...); `CARD_UNKNOWN` also tells the station to forget the card.
 */
export const CardAuthResult = z.object({
  id: Id,
  ok: z.boolean(),
  vehicleId: Id.optional(),
  expiresAt: Time.optional(),
  error: z.object({ code: z.string().max(64), message: z.string().max(500) }).optional(),
})
export type CardAuthResult = z.infer<typeof CardAuthResult>

/** Retained hub state on `voltway/v1/hubs/H/state` (not in docs/protocol.md's tables; an addition). */
export const HubState = z.object({ online: z.boolean(), hubId: Id, ts: Time })
