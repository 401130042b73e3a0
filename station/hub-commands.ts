/**
 * Commands from the hub (`cmd`), one handler per op, answered on `cmd/res`.
 * Every payload passes the protocol schema first; garbage is ignored, or
 * answered `ok: false` when its id can be read. Commands are idempotent by
 * id (the first answer is stored in SQLite and repeated, across restarts)
 * and, for start/stop, by sessionId (see ChargingSession).
 */
import type { Logger } from 'pino'
import type { Clock } from '../base/clock.js'
import { Id, formatPath, parseJsonObject, StationCommand, type StationCommandResult } from '../protocol/index.js'
import { StationError } from './errors.js'
import type { StationOutbox } from './outbox.js'
import type { ChargingSession } from './session.js'

type Handler = (cmd: StationCommand, charger: ChargingSession) => Promise<{ meterWh: number | null }>

export const COMMAND_HANDLERS: Readonly<Record<StationCommand['op'], Handler>> = {
  start: (cmd, charger) => {
    if (cmd.sessionId === undefined) throw new StationError('BAD_REQUEST', 'start needs a sessionId')
    return charger.start(cmd.sessionId, cmd.maxWh)
  },
  stop: (cmd, charger) => charger.stop(cmd.sessionId),
  enable: (_cmd, charger) => charger.enable(),
  disable: (_cmd, charger) => charger.disable(),
}

export interface HubCommandsOptions {
  charger: ChargingSession
  outbox: StationOutbox
  clock: Clock
  log: Logger
}

export class HubCommands {
  readonly #o: HubCommandsOptions
  readonly #inFlight = new Map<string, Promise<StationCommandResult>>()

  constructor(opts: HubCommandsOptions) {
    this.#o = opts
  }

  /** The answer to publish on `cmd/res`, or undefined when the payload has no readable id. Never rejects. */
  async handle(payload: Buffer | string): Promise<StationCommandResult | undefined> {
    const json = parseJsonObject(payload)
    if (!json.ok) {
      const id = Id.safeParse(json.id)
      this.#o.log.warn({ reason: json.reason, id: id.success ? id.data : null }, 'refusing a command that is not a clean JSON object')
      return id.success ? { id: id.data, ok: false, error: { code: 'BAD_REQUEST', message: `command ${json.reason}` } } : undefined
    }
    const parsed = StationCommand.safeParse(json.value)
    if (!parsed.success) {
      const issue = parsed.error.issues[0]
      const where = issue ? `${formatPath(issue.path) || 'body'}: ${issue.message}` : 'invalid command'
      const id = Id.safeParse(json.value.id)
      this.#o.log.warn({ id: id.success ? id.data : null, issue: where }, 'invalid command')
      if (!id.success) return undefined
      return { id: id.data, ok: false, error: { code: 'BAD_REQUEST', message: where } }
    }
    const cmd = parsed.data
    const running = this.#inFlight.get(cmd.id)
    if (running) return running
    const stored = this.#o.outbox.commandResult(cmd.id)
    if (stored) {
      this.#o.log.debug({ id: cmd.id }, 'repeated command; answering as before')
      return stored
    }
    const p = this.#run(cmd).finally(() => this.#inFlight.delete(cmd.id))
    this.#inFlight.set(cmd.id, p)
    return p
  }

  async #run(cmd: StationCommand): Promise<StationCommandResult> {
    const log = this.#o.log.child({ cmdId: cmd.id, op: cmd.op })
    let result: StationCommandResult
    try {
      const { meterWh } = await COMMAND_HANDLERS[cmd.op](cmd, this.#o.charger)
      result = meterWh === null ? { id: cmd.id, ok: true } : { id: cmd.id, ok: true, meterWh }
      log.info({ sessionId: cmd.sessionId, meterWh }, 'command done')
    } catch (err) {
      const error =
        err instanceof StationError ? { code: err.code, message: err.message } : { code: 'INTERNAL', message: 'internal error in the station agent' }
      if (!(err instanceof StationError)) log.error({ err }, 'command failed unexpectedly')
      else log.warn({ error }, 'command refused')
      const meterWh = this.#o.charger.meterWh
      result = meterWh === null ? { id: cmd.id, ok: false, error } : { id: cmd.id, ok: false, error, meterWh }
    }
    try {
      this.#o.outbox.saveCommandResult(result, this.#o.clock.now())
    } catch (err) {
      log.error({ err }, 'could not store the command result')
    }
    return result
  }
}
