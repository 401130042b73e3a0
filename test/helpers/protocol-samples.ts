/**
 * One valid example of every message in docs/protocol.md, keyed by a readable
 * name, with the schema it must satisfy. Used by the round-trip tests and
 * by the JSON Schema/OpenAPI generation checks.
 */
import type { z } from 'zod'
import * as P from '../../protocol/index.js'

const at = '2026-11-24T18:00:00Z'
const pos = { lat: -12.25, lon: -38.95 }
const station = { stationId: 'FSA-1', hubId: 'feira', position: pos, powerKw: 22, priceMinorPerKwh: 73, currency: 'BRL', status: 'available' as const, online: true }
const reservation = { reservationId: 'r-1', stationId: 'FSA-1', hubId: 'feira', vehicleId: 'V1', position: pos, at, windowStart: '2026-11-24T16:00:00Z', windowEnd: '2026-11-24T20:00:00Z' }
const receipt = { sessionId: 's-1', stationId: 'FSA-1', hubId: 'feira', vehicleId: 'V1', startedAt: at, endedAt: '2026-11-24T18:30:00Z', energyWh: 11000, priceMinorPerKwh: 73, costMinor: 803, currency: 'BRL' }
const hop = { hubId: 'feira', name: 'Feira Charging', city: 'Feira de Santana', position: pos }

export const samples: Array<{ name: string; schema: z.ZodType; value: unknown }> = [
  { name: 'hub.info args', schema: P.OPS['hub.info'].args, value: {} },
  { name: 'hub.info result', schema: P.OPS['hub.info'].result, value: { hubId: 'feira', name: 'Feira Charging', city: 'Feira de Santana', position: pos, stations: 2, peers: ['salvador'] } },
  { name: 'station.list args', schema: P.OPS['station.list'].args, value: {} },
  { name: 'station.list args, a page', schema: P.OPS['station.list'].args, value: { after: 'FSA-1', limit: 200 } },
  { name: 'station.list result', schema: P.OPS['station.list'].result, value: { stations: [station] } },
  { name: 'station.list result, a page with more after it', schema: P.OPS['station.list'].result, value: { stations: [station], next: station.stationId } },
  { name: 'station.nearest args', schema: P.OPS['station.nearest'].args, value: { position: pos, rangeKm: 50, at, limit: 3 } },
  { name: 'station.nearest result', schema: P.OPS['station.nearest'].result, value: { stations: [{ ...station, distanceKm: 1.2, free: true }] } },
  { name: 'reservation.create args', schema: P.OPS['reservation.create'].args, value: { at, position: pos, rangeKm: 40, stationId: 'FSA-1' } },
  { name: 'reservation.create result', schema: P.OPS['reservation.create'].result, value: { reservation } },
  { name: 'reservation.cancel args (id)', schema: P.OPS['reservation.cancel'].args, value: { reservationId: 'r-1' } },
  { name: 'reservation.cancel args (all)', schema: P.OPS['reservation.cancel'].args, value: { all: true } },
  { name: 'reservation.cancel result', schema: P.OPS['reservation.cancel'].result, value: { cancelled: 1 } },
  { name: 'reservation.list result', schema: P.OPS['reservation.list'].result, value: { reservations: [reservation] } },
  { name: 'route.list args', schema: P.OPS['route.list'].args, value: { destination: 'vca', index: 1 } },
  { name: 'route.list result', schema: P.OPS['route.list'].result, value: { destination: 'vca', index: 0, total: 2, route: { routeId: 'feira-vca-0', hops: [hop, { ...hop, hubId: 'vca' }], distanceKm: 400 } } },
  { name: 'route.reserve args', schema: P.OPS['route.reserve'].args, value: { routeId: 'feira-vca-0', times: [at, '2026-11-24T22:00:00Z'], position: pos, rangeKm: 300 } },
  { name: 'route.reserve result', schema: P.OPS['route.reserve'].result, value: { trip: { tripId: 't-1', legs: [{ hubId: 'feira', stationId: 'FSA-1', position: pos, at, reservationId: 'r-1' }] } } },
  { name: 'trip.cancel args', schema: P.OPS['trip.cancel'].args, value: { tripId: 't-1' } },
  { name: 'trip.cancel result', schema: P.OPS['trip.cancel'].result, value: { cancelled: 2 } },
  { name: 'trip.list args', schema: P.OPS['trip.list'].args, value: { limit: 5 } },
  {
    name: 'trip.list result',
    schema: P.OPS['trip.list'].result,
    value: {
      trips: [
        { tripId: 't-1', routeId: 'rt_abc', state: 'confirmed', createdAt: '2026-11-24T12:00:00Z', legs: [{ hubId: 'feira', at: '2026-11-24T15:00:00Z', stationId: 'FSA-1', reservationId: 'r-1' }], failure: null },
        { tripId: 't-2', routeId: 'rt_abc', state: 'failed', createdAt: '2026-11-24T12:01:00Z', legs: [{ hubId: 'feira', at: '2026-11-24T15:00:00Z', stationId: null, reservationId: null }], failure: { failedHop: 0, reason: 'NO_STATION_AVAILABLE' } },
      ],
    },
  },
  { name: 'charge.start args', schema: P.OPS['charge.start'].args, value: { stationId: 'FSA-1', reservationId: 'r-1', maxWh: 20000 } },
  { name: 'charge.start result', schema: P.OPS['charge.start'].result, value: { session: { sessionId: 's-1', stationId: 'FSA-1', startedAt: at, meterStartWh: 1000 } } },
  { name: 'charge.status args', schema: P.OPS['charge.status'].args, value: { sessionId: 's-1' } },
  { name: 'charge.status result', schema: P.OPS['charge.status'].result, value: { session: { sessionId: 's-1', stationId: 'FSA-1', startedAt: at, meterStartWh: 1000, energyWh: 500, powerW: 22000, costMinor: 37 } } },
  { name: 'charge.stop args', schema: P.OPS['charge.stop'].args, value: { sessionId: 's-1' } },
  { name: 'charge.stop result', schema: P.OPS['charge.stop'].result, value: { receipt } },
  { name: 'history.list args', schema: P.OPS['history.list'].args, value: { limit: 10 } },
  { name: 'history.list result', schema: P.OPS['history.list'].result, value: { receipts: [receipt], partial: true, unreachableHubs: ['vca'] } },
  { name: 'request envelope', schema: P.RequestEnvelope, value: { id: 'r-17', op: 'station.nearest', args: { position: pos, rangeKm: 10 } } },
  { name: 'ok response', schema: P.ResponseEnvelope, value: { id: 'r-17', ok: true, result: { stations: [] } } },
  { name: 'error response', schema: P.ResponseEnvelope, value: { id: 'r-17', ok: false, error: { code: 'RESERVATION_CONFLICT', message: 'taken', details: {} } } },
  { name: 'error response without id', schema: P.ResponseEnvelope, value: { id: null, ok: false, error: { code: 'BAD_REQUEST', message: 'not JSON' } } },
  { name: 'station state', schema: P.StationState, value: { online: true, status: 'available', sessionId: null, meterWh: 12345, agentVersion: '0.1.0', ts: at } },
  { name: 'station will', schema: P.StationState, value: { online: false, status: 'available', sessionId: null, meterWh: null, agentVersion: '0.1.0', ts: at } },
  { name: 'telemetry', schema: P.Telemetry, value: { sessionId: 's-1', powerW: 22000, meterWh: 12400, ts: at } },
  { name: 'event session.started', schema: P.StationEvent, value: { seq: 1, type: 'session.started', sessionId: 's-1', meterWh: 12345, ts: at } },
  { name: 'event session.stopped', schema: P.StationEvent, value: { seq: 2, type: 'session.stopped', sessionId: 's-1', meterWh: 13345, energyWh: 1000, reason: 'requested', ts: at } },
  { name: 'event fault', schema: P.StationEvent, value: { seq: 3, type: 'fault', code: 'METER_STALE', meterWh: 13345, ts: at } },
  { name: 'ack', schema: P.StationAck, value: { seq: 3 } },
  { name: 'command start', schema: P.StationCommand, value: { id: 'c-1', op: 'start', sessionId: 's-1', maxWh: 5000 } },
  { name: 'command disable', schema: P.StationCommand, value: { id: 'c-2', op: 'disable' } },
  { name: 'command result', schema: P.StationCommandResult, value: { id: 'c-1', ok: false, error: { code: 'STATION_BUSY', message: 'busy' } } },
  { name: 'event session.started by a card', schema: P.StationEvent, value: { seq: 4, type: 'session.started', sessionId: 's-2', meterWh: 13345, idTag: '04A1B2C3D4', ts: at } },
  { name: 'card auth request', schema: P.CardAuthRequest, value: { id: 'a-1', idTag: '04A1B2C3D4' } },
  { name: 'card auth result', schema: P.CardAuthResult, value: { id: 'a-1', ok: true, vehicleId: 'V1', expiresAt: '2026-11-25T16:00:00Z' } },
  { name: 'card auth refusal', schema: P.CardAuthResult, value: { id: 'a-1', ok: false, error: { code: 'CARD_UNKNOWN', message: 'unknown card' } } },
  { name: 'federation hub', schema: P.FedHubInfo, value: { hubId: 'feira', name: 'Feira Charging', city: 'Feira de Santana', position: pos, stations: 2 } },
  { name: 'federation stations', schema: P.FedStations, value: { stations: [{ ...station, distanceKm: 3, free: false }] } },
  { name: 'federation hold request', schema: P.HoldRequest, value: { txId: 't-1', txStartedAt: at, vehicleId: 'V1', at, from: pos, rangeKm: 200, ttlSeconds: 30 } },
  { name: 'federation hold', schema: P.Hold, value: { holdId: 'h-1', stationId: 'SSA-1', position: pos, at, expiresAt: '2026-11-24T16:00:30Z' } },
  { name: 'federation hold confirmation', schema: P.HoldConfirmation, value: { reservationId: 'r-9', holdId: 'h-1', stationId: 'SSA-1', position: pos, at } },
  { name: 'federation receipts', schema: P.FedReceipts, value: { receipts: [receipt] } },
  { name: 'federation roaming start', schema: P.FedSessionStart, value: { vehicleId: 'V1', stationId: 'SSA-1', reservationId: 'r-9', maxWh: 20000 } },
  { name: 'federation roaming started', schema: P.FedSessionStarted, value: { session: { sessionId: 's-1', stationId: 'SSA-1', hubId: 'salvador', startedAt: at, meterStartWh: 12345 } } },
  { name: 'federation roaming session', schema: P.FedSession, value: { session: { sessionId: 's-1', stationId: 'SSA-1', startedAt: at, meterStartWh: 12345, vehicleId: 'V1', hubId: 'salvador', state: 'charging', energyWh: 1000, powerW: 7200, costMinor: 45, currency: 'BRL' } } },
  { name: 'federation roaming receipt', schema: P.FedReceipt, value: { receipt } },
  { name: 'federation error body', schema: P.FedErrorBody, value: { error: { code: 'NO_STATION_AVAILABLE', message: 'nothing free', details: { hop: 1 } } } },
]
