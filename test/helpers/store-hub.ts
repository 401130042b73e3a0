/**
 * A hub's reservation side without a broker: config, clock, store, context
 * and handler table, plus `call`, which validates args and result with the
 * protocol schemas exactly as the RPC server and a client would.
 */
import { HubConfigSchema, type HubConfig } from '../../hub/config.js'
import { TestClock } from '../../hub/clock.js'
import { coreOpHandlers, createHubContext, type HubContext } from '../../hub/ops/index.js'
import { MemoryStore, type Store } from '../../hub/store/index.js'
import {
  OPS,
  VoltwayError,
  type ErrorCode,
  type HandlerTable,
  type OpArgs,
  type OpArgsInput,
  type OpHandler,
  type OpName,
  type OpResult,
  type Position,
} from '../../protocol/index.js'
import { tempSqlite, type TempSqlite } from './store-sqlite.js'

export const MIN = 60_000
export const NOW = '2026-11-24T12:00:00Z'
export const NOW_MS = Date.parse(NOW)
/** Where the test vehicle stands. */
export const HERE: Position = { lat: -12.25, lon: -38.95 }

/** Stations due north of HERE: ~1.1, ~5.6, ~22 and ~111 km away. */
export const TEST_STATIONS = [
  { stationId: 'NEAR', position: { lat: -12.24, lon: -38.95 }, powerKw: 22, priceMinorPerKwh: 73, password: 'p-near' },
  { stationId: 'MID', position: { lat: -12.2, lon: -38.95 }, powerKw: 50, priceMinorPerKwh: 90, password: 'p-mid' },
  { stationId: 'FAR', position: { lat: -12.05, lon: -38.95 }, powerKw: 150, priceMinorPerKwh: 120, password: 'p-far' },
  { stationId: 'AWAY', position: { lat: -11.25, lon: -38.95 }, powerKw: 22, priceMinorPerKwh: 70, password: 'p-away' },
]

export function testConfig(over: Partial<Record<string, unknown>> = {}): HubConfig {
  return HubConfigSchema.parse({
    hubId: 'feira',
    name: 'Feira Charging',
    city: 'Feira de Santana',
    position: { lat: -12.2664, lon: -38.9663 },
    currency: 'BRL',
    dataDir: '/nonexistent',
    http: { port: 0 },
    stations: TEST_STATIONS,
    federation: { peers: [{ hubId: 'salvador', url: 'http://127.0.0.1:1', token: 'a', acceptToken: 'b' }] },
    ...over,
  })
}

export type StoreKind = 'memory' | 'sqlite'
export const STORE_KINDS: readonly StoreKind[] = ['memory', 'sqlite']

export interface TestHub {
  clock: TestClock
  store: Store
  ctx: HubContext
  handlers: HandlerTable
  sqlite: TempSqlite | null
  call<O extends OpName>(op: O, args: OpArgsInput<O>, vehicleId?: string): Promise<OpResult<O>>
  /** The code of the VoltwayError the call rejects with; throws if it resolves or throws something else. */
  callError<O extends OpName>(op: O, args: OpArgsInput<O>, vehicleId?: string): Promise<{ code: ErrorCode; details: Record<string, unknown> | undefined }>
  /** Close the store (and for SQLite reopen it on the same file) with a fresh context: a hub restart. */
  restart(): Promise<void>
  dispose(): Promise<void>
}

/** `at` as an RFC 3339 string, `minutes` after the test clock's now. */
export function inMinutes(clock: TestClock, minutes: number): string {
  return new Date(clock.now() + Math.round(minutes * MIN)).toISOString().replace('.000Z', 'Z')
}

export async function testHub(kind: StoreKind = 'memory', config: HubConfig = testConfig()): Promise<TestHub> {
  const clock = new TestClock(NOW)
  const sqlite = kind === 'sqlite' ? tempSqlite() : null
  const openStore = (): Store => (sqlite ? sqlite.open() : new MemoryStore())
  let n = 0
  // Each call is a new request with its own id, as a vehicle sends them (the id names what a request creates).
  let requests = 0
  const build = (store: Store): { ctx: HubContext; handlers: HandlerTable } => {
    const ctx = createHubContext({ config, store, clock, newReservationId: () => `r${++n}` })
    return { ctx, handlers: coreOpHandlers(ctx) }
  }
  const store = openStore()
  const hub: TestHub = {
    clock,
    store,
    sqlite,
    ...build(store),
    async call(op, args, vehicleId = 'V1') {
      const handler = hub.handlers[op] as OpHandler<typeof op> | undefined
      if (!handler) throw new Error(`no handler for ${op}`)
      const parsed = OPS[op].args.parse(args) as OpArgs<typeof op>
      const result = await handler(parsed, { hubId: config.hubId, vehicleId, requestId: `req-${++requests}`, op })
      return OPS[op].result.parse(result) as OpResult<typeof op>
    },
    async callError(op, args, vehicleId = 'V1') {
      try {
        await hub.call(op, args, vehicleId)
      } catch (err) {
        if (err instanceof VoltwayError) return { code: err.code, details: err.details }
        throw err
      }
      throw new Error(`${op} succeeded but an error was expected`)
    },
    async restart() {
      await hub.store.close()
      hub.store = openStore()
      Object.assign(hub, build(hub.store))
    },
    async dispose() {
      await hub.store.close()
      await sqlite?.dispose()
    },
  }
  return hub
}
