/**
 * Accounts over HTTP (schemas in protocol/schemas/accounts.ts):
 *
 * - `/admin/v1/*`, behind an operator token (hub.json `operators`) sent as
 *   `Authorization: Bearer <token>`: GET/POST `/vehicles`, DELETE
 *   `/vehicles/:id`, POST `/vehicles/:id/password`; GET/POST `/stations`,
 *   DELETE `/stations/:id`, POST `/stations/:id/password`, POST
 *   `/stations/:id/enrollment` (a new one-time code).
 * - `POST /enroll/v1` `{stationId, code}`, no token (the code is the
 *   credential): the station's MQTT login, once.
 *
 * Errors are the coded JSON of docs/protocol.md.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { AccountIdParams, AddStationBody, AddVehicleBody, EnrollBody, SetPasswordBody } from '../../protocol/index.js'
import { parse } from '../http/parse.js'
import { sendError } from '../http/server.js'
import { OperatorAuthenticator, type OperatorToken } from '../ui/operators.js'
import type { AccountService } from './service.js'

export const ADMIN_PREFIX = '/admin/v1'
export const ENROLL_PATH = '/enroll/v1'

declare module 'fastify' {
  interface FastifyRequest {
    /** The operator calling `/admin/v1`, set by its bearer check. */
    operator?: string
  }
}

const bearer = (header: string | undefined): string | null => {
  const m = /^Bearer ([\x21-\x7e]+)$/.exec(header ?? '')
  return m ? (m[1] as string) : null
}

export function accountRoutes(accounts: AccountService, operators: readonly OperatorToken[]): (app: FastifyInstance) => void {
  const auth = new OperatorAuthenticator(operators)
  return (app) => {
    void app.register(
      async (scope) => {
        scope.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
          const name = auth.login(bearer(req.headers.authorization))
          if (name === null) return sendError(reply, 'UNAUTHORIZED', 'missing or unknown operator token: send Authorization: Bearer <token> with a token from hub.json operators')
          req.operator = name
        })
        const id = (req: FastifyRequest): string => parse(AccountIdParams, req.params, 'path').id

        scope.get('/vehicles', async () => ({ vehicles: await accounts.list('vehicle') }))
        scope.post('/vehicles', async (req, reply) => {
          const body = parse(AddVehicleBody, req.body, 'body')
          return reply.status(201).send(await accounts.addVehicle(body.vehicleId, body.password))
        })
        scope.delete('/vehicles/:id', async (req) => {
          await accounts.remove('vehicle', id(req))
          return { removed: id(req) }
        })
        scope.post('/vehicles/:id/password', async (req) => accounts.setPassword('vehicle', id(req), parse(SetPasswordBody, req.body ?? {}, 'body').password))

        scope.get('/stations', async () => ({ stations: await accounts.list('station') }))
        scope.post('/stations', async (req, reply) => {
          const { stationId, ...spec } = parse(AddStationBody, req.body, 'body')
          return reply.status(201).send(await accounts.addStation(stationId, spec))
        })
        scope.delete('/stations/:id', async (req) => {
          await accounts.remove('station', id(req))
          return { removed: id(req) }
        })
        scope.post('/stations/:id/password', async (req) => accounts.setPassword('station', id(req), parse(SetPasswordBody, req.body ?? {}, 'body').password))
        scope.post('/stations/:id/enrollment', async (req) => accounts.issueEnrollment(id(req)))
      },
      { prefix: ADMIN_PREFIX },
    )

    app.post(ENROLL_PATH, async (req) => {
      const body = parse(EnrollBody, req.body, 'body')
      return accounts.enroll(body.stationId, body.code)
    })
  }
}
