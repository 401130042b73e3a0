/**
 * The federation API this hub serves to its peers (docs/protocol.md "HTTP
 * federation between hubs", with the additions of docs/federation.md). These
 * routes are registered inside the federation scope of hub/http/server.ts,
 * whose bearer-token hook has run and set `req.peerHubId` before any of them.
 * Bodies, params and queries pass the protocol schemas first (a route
 * without a body accepts none, an empty one or `{}`); errors are the coded
 * JSON of docs/protocol.md.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify'
import {
  FedStationsQuery,
  VoltwayError,
  HoldRequest,
  parseTime,
  type FedHubInfo,
  type Hold,
  type HoldConfirmation,
  type NearStation,
  type Position,
  type Receipt,
} from '../../protocol/index.js'
import type { Clock } from '../../base/clock.js'
import type { Answer, IdempotencyGuard } from './idempotency.js'
import { IdParam, NoBody, VehicleParam } from './schemas.js'
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
  /** `POST /holds`: place (or return the already placed) hold; id from the body, else from peer and key. */
  placeForPeer(peer: string, req: HoldRequest, idempotencyKey: string): Promise<Hold>
  /** `POST /holds/:id/confirm`. */
  confirm(peer: string, holdId: string): Promise<HoldConfirmation>
  /** `DELETE /holds/:id`: release, or leave a tombstone for an id not yet placed. */
  release(peer: string, holdId: string): Promise<void>
  /** `DELETE /reservations/:id`: cancel a reservation made from one of `peer`'s holds. */
  cancelReservation(peer: string, reservationId: string): Promise<void>
}

export interface FederationServerDeps {
  clock: Clock
  /** `GET /federation/v1/hub`. */
  hubInfo: () => FedHubInfo
  /** `GET /federation/v1/stations`: the hub's nearest search (as `station.nearest`). */
  nearestStations: (q: NearestStationsQuery) => Promise<NearStation[]>
  /** `GET /federation/v1/vehicles/:vehicleId/receipts`: this hub's receipts of a vehicle. */
  receipts: (vehicleId: string) => Promise<Receipt[]>
  holds: HoldParticipant
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

  app.post(`${P}/holds`, async (req, reply) => {
    const body = parse(HoldRequest, req.body ?? {}, 'body')
    return idempotency.run(req, reply, async () => {
      const peer = peerOf(req)
      const key = String(req.headers['idempotency-key'])
      return { status: 201, body: await holds.placeForPeer(peer, body, key) }
    })
  })

  app.post(`${P}/holds/:id/confirm`, async (req, reply) => {
    const { id } = parse(IdParam, req.params, 'path')
    noBody(req)
    return idempotency.run(req, reply, async () => ({ status: 200, body: await holds.confirm(peerOf(req), id) }))
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

  app.get(`${P}/vehicles/:vehicleId/receipts`, async (req) => {
    const { vehicleId } = parse(VehicleParam, req.params, 'path')
    return { receipts: await deps.receipts(vehicleId) }
  })
}

const noContent: Answer = { status: 204, body: null }

function peerOf(req: FastifyRequest): string {
  if (req.peerHubId === undefined) throw new VoltwayError('UNAUTHORIZED', 'missing or unknown bearer token')
  return req.peerHubId
}

/**
 * A route without a body takes none, an empty one or `{}` alike (the same
 * request, so the same idempotency fingerprint); any other body is BAD_REQUEST.
 */
function noBody(req: FastifyRequest): void {
  parse(NoBody, req.body, 'body')
  req.body = undefined
}


