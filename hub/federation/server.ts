/**
 * The federation API this hub serves to its peers (docs/protocol.md "HTTP
 * federation between hubs", with the additions of docs/federation.md). These
 * routes are registered inside the federation scope of hub/http/server.ts,
 * whose bearer-token hook has run and set `req.peerHubId` before any of them.
 * Bodies, params and queries pass the protocol schemas first (a route
 * without a body accepts none, an empty one or any object, its fields
 * ignored); errors are the coded JSON of docs/protocol.md.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import {
  FedSessionStart,
  FedStationsQuery,
  VoltwayError,
  HoldRequest,
  parseTime,
  type FedHubInfo,
  type FedReceipt,
  type FedSession,
  type FedSessionStarted,
  type Hold,
  type HoldConfirmation,
  type NearStation,
  type Position,
  type Receipt,
} from '../../protocol/index.js'
import type { Clock } from '../../base/clock.js'
import type { KeyedCall, KeyedStatus } from '../store/index.js'
import type { Answer, IdempotencyGuard } from './idempotency.js'
import { IdParam, NoBody, SessionParam, VehicleParam } from './schemas.js'
import { parse } from '../http/parse.js'

export interface NearestStationsQuery {
  position: Position
  rangeKm: number
  atMs: number
  limit: number
}

/**
 * The participant side of Try-Confirm/Cancel as these routes call it
 * (hub/trips/holds.ts implements it). `peer` is the authenticated caller.
 * Failures are VoltwayErrors, answered with their code's HTTP status.
 */
export interface HoldParticipant {
  /**
   * Whether placeForPeer and confirm take the call's KeyedCall (`keyed`) and write its key's claim
   * and answer with their effect: the routes then run them under IdempotencyGuard.runKeyed.
   */
  readonly keyedWrites: boolean
  /** `POST /holds`: place (or return the already placed) hold; id from the body, else from peer and key. */
  placeForPeer(peer: string, req: HoldRequest, idempotencyKey: string, keyed?: KeyedStatus): Promise<Hold>
  /** `POST /holds/:id/confirm`. */
  confirm(peer: string, holdId: string, keyed?: KeyedStatus): Promise<HoldConfirmation>
  /** `DELETE /holds/:id`: release, or leave a tombstone for an id not yet placed. */
  release(peer: string, holdId: string): Promise<void>
  /** `DELETE /reservations/:id`: cancel a reservation made from one of `peer`'s holds. */
  cancelReservation(peer: string, reservationId: string): Promise<void>
}

/**
 * The station side (CPO) of roaming as these routes call it (docs/protocol.md
 * "Roaming"; hub/roaming/cpo.ts implements it). `peer` is the authenticated
 * caller, the home hub of `vehicleId`; a session or receipt of another
 * owner is NOT_FOUND. Failures are VoltwayErrors.
 */
export interface RoamingParticipant {
  /** `POST /sessions`: start at one of this hub's stations for the peer's vehicle; `idempotencyKey` is the call's (every run of one key starts one session). */
  startSession(peer: string, req: FedSessionStart, idempotencyKey: string): Promise<FedSessionStarted>
  /** `GET /sessions/:sessionId`. */
  session(peer: string, sessionId: string): Promise<FedSession>
  /** `POST /sessions/:sessionId/stop`: stop and bill at this hub's price; a stopped session answers its receipt again. */
  stopSession(peer: string, sessionId: string): Promise<FedReceipt>
  /** `GET /vehicles/:vehicleId/receipts`: the receipts of the peer's vehicle here, newest first. */
  receipts(peer: string, vehicleId: string): Promise<Receipt[]>
}

export interface FederationServerDeps {
  clock: Clock
  /** `GET /federation/v1/hub`. */
  hubInfo: () => FedHubInfo
  /** `GET /federation/v1/stations`: the hub's nearest search (as `station.nearest`). */
  nearestStations: (q: NearestStationsQuery) => Promise<NearStation[]>
  holds: HoldParticipant
  /** Roaming sessions and `GET /federation/v1/vehicles/:vehicleId/receipts` (without it: 404, and no receipts). */
  roaming?: RoamingParticipant
  idempotency: IdempotencyGuard
}

const P = '/federation/v1'

export function registerFederationRoutes(app: FastifyInstance, deps: FederationServerDeps): void {
  const { holds, idempotency } = deps

  app.get(`${P}/hub`, async () => deps.hubInfo())

  app.get(`${P}/stations`, async (req) => {
    const q = parse(FedStationsQuery, req.query, 'query')
    const atMs = q.at === undefined ? deps.clock.now() : parseTime(q.at)
    const stations = await deps.nearestStations({ position: { lat: q.lat, lon: q.lon }, rangeKm: q.rangeKm, atMs, limit: q.limit })
    return { stations }
  })

  /**
   * A hold route's `status` answer under the key rules: the key's claim and answer go in the
   * work's own write where the participant can (runKeyed), else around it (run).
   */
  const keyedRoute = (req: FastifyRequest, reply: FastifyReply, status: number, work: (keyed?: KeyedStatus) => Promise<unknown>): Promise<FastifyReply> => {
    const answer = async (call?: KeyedCall): Promise<Answer> => ({ status, body: await work(call && { call, status }) })
    return holds.keyedWrites ? idempotency.runKeyed(req, reply, answer) : idempotency.run(req, reply, () => answer())
  }

  app.post(`${P}/holds`, async (req, reply) => {
    const body = parse(HoldRequest, req.body ?? {}, 'body')
    return keyedRoute(req, reply, 201, (keyed) => holds.placeForPeer(peerOf(req), body, String(req.headers['idempotency-key']), keyed))
  })

  app.post(`${P}/holds/:id/confirm`, async (req, reply) => {
    const { id } = parse(IdParam, req.params, 'path')
    noBody(req)
    return keyedRoute(req, reply, 200, (keyed) => holds.confirm(peerOf(req), id, keyed))
  })

  app.delete(`${P}/holds/:id`, async (req, reply) => {
    const { id } = parse(IdParam, req.params, 'path')
    noBody(req)
    return idempotency.run(req, reply, async () => {
      await holds.release(peerOf(req), id)
      return noContent
    })
  })

  app.delete(`${P}/reservations/:id`, async (req, reply) => {
    const { id } = parse(IdParam, req.params, 'path')
    noBody(req)
    return idempotency.run(req, reply, async () => {
      await holds.cancelReservation(peerOf(req), id)
      return noContent
    })
  })

  // Answers only the calling peer's own vehicles (docs/protocol.md "Roaming").
  app.get(`${P}/vehicles/:vehicleId/receipts`, async (req) => {
    const { vehicleId } = parse(VehicleParam, req.params, 'path')
    return { receipts: deps.roaming ? await deps.roaming.receipts(peerOf(req), vehicleId) : [] }
  })

  const roaming = deps.roaming
  if (!roaming) return

  app.post(`${P}/sessions`, async (req, reply) => {
    const body = parse(FedSessionStart, req.body ?? {}, 'body')
    return idempotency.run(req, reply, async () => ({ status: 201, body: await roaming.startSession(peerOf(req), body, String(req.headers['idempotency-key'])) }))
  })

  app.get(`${P}/sessions/:sessionId`, async (req) => {
    const { sessionId } = parse(SessionParam, req.params, 'path')
    return roaming.session(peerOf(req), sessionId)
  })

  app.post(`${P}/sessions/:sessionId/stop`, async (req, reply) => {
    const { sessionId } = parse(SessionParam, req.params, 'path')
    noBody(req)
    return idempotency.run(req, reply, async () => ({ status: 200, body: await roaming.stopSession(peerOf(req), sessionId) }))
  })
}

const noContent: Answer = { status: 204, body: null }

function peerOf(req: FastifyRequest): string {
  if (req.peerHubId === undefined) throw new VoltwayError('UNAUTHORIZED', 'missing or unknown bearer token')
  return req.peerHubId
}

/**
 * A route without a body takes none, an empty one or an object alike, the
 * object's fields ignored (the same request, so the same idempotency
 * fingerprint).
 */
function noBody(req: FastifyRequest): void {
  parse(NoBody, req.body, 'body')
  req.body = undefined
}


