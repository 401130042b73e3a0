/**
 * One request id, two copies at the same instant, two replicas (docs/protocol.md
 * "Repeated requests", docs/federation.md section 4): real `voltway hub
 * --replica` processes on one PostgreSQL database behind one Mosquitto.
 *
 * - A vehicle publishes the same request twice back to back; the broker's
 *   shared subscription hands the copies to different replicas. The request
 *   acts once; each copy is answered the same answer (or
 *   IDEMPOTENCY_IN_PROGRESS, and the same answer when sent again).
 * - A peer sends the same Idempotency-Key to both replicas' federation API at
 *   once: one hold, one answer (or 409 IDEMPOTENCY_IN_PROGRESS, then that answer).
 */
import { randomBytes } from 'node:crypto'
import t from 'tap'
import { connectAsync, type MqttClient } from 'mqtt'
import { effectId } from '../hub/requests/idempotent.js'
import { ResponseEnvelope, formatTime, topics } from '../protocol/index.js'
import { hubConfig } from './helpers/hub-config.js'
import { mosquittoBinary } from './helpers/mosquitto.js'
import { fleet, startReplicaCluster, type ReplicaCluster } from './helpers/replica-cluster.js'
import { postgresSkipReason } from './helpers/store-postgres.js'

const skip = mosquittoBinary() === null ? 'mosquitto is not installed' : await postgresSkipReason()
if (skip !== null && process.env.CI) throw new Error(`replica tests cannot run in CI: ${skip}`)

const PEER = { hubId: 'salvador', url: 'http://127.0.0.1:1', token: 'to-salvador', acceptToken: 'from-salvador' }
const PAIRS = 12

/** A vehicle client that sends raw copies of one request and collects every answer to its id. */
async function rawVehicle(c: ReplicaCluster, vehicleId: string, password: string): Promise<{ client: MqttClient; copies(n: number, op: string, args: object, id: string): Promise<unknown[]> }> {
  const client = await connectAsync(c.broker.url, { clientId: vehicleId, username: vehicleId, password, protocolVersion: 5, reconnectPeriod: 200 })
  const reply = `${topics.vehicleResponse(vehicleId)}/${randomBytes(4).toString('hex')}`
  const answers = new Map<string, { got: unknown[]; want: number; done: () => void }>()
  client.on('message', (topic, payload) => {
    if (topic !== reply) return
    const env = ResponseEnvelope.parse(JSON.parse(payload.toString()))
    const w = env.id === null ? undefined : answers.get(env.id)
    if (!w) return
    w.got.push(env.ok ? { ok: true, result: env.result } : { ok: false, code: env.error?.code })
    if (w.got.length === w.want) w.done()
  })
  await client.subscribeAsync(reply, { qos: 1 })
  return {
    client,
    async copies(n, op, args, id) {
      const got: unknown[] = []
      const all = new Promise<void>((done) => answers.set(id, { got, want: n, done }))
      const body = JSON.stringify({ id, op, args })
      const opts = { qos: 1 as const, properties: { responseTopic: reply, correlationData: Buffer.from(id) } }
      // Back to back, in one write: the shared subscription gives consecutive messages to different replicas.
      for (let i = 0; i < n; i++) client.publish(topics.hubRequest(c.hubId, vehicleId), body, opts)
      let timer: NodeJS.Timeout | undefined
      await Promise.race([all, new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`${id}: not every copy answered`)), 20_000)))])
      clearTimeout(timer)
      answers.delete(id)
      return got
    },
  }
}

t.test('[2 replicas] the same request id published twice at once reaches both replicas: it acts once, both copies get the one answer', { skip: skip ?? false }, async (t) => {
  const VEHICLES = fleet(2)
  const c = await startReplicaCluster({ config: hubConfig({ vehicles: VEHICLES, rules: { windowMinutes: 10 }, replicas: { leaseTtlSeconds: 2, requestClaimSeconds: 2 } }), replicas: ['r1', 'r2'] })
  let raw: MqttClient | null = null
  t.teardown(async () => {
    await raw?.endAsync(true)
    await c.close()
  })
  const v = await rawVehicle(c, 'V1', 'v1-pass')
  raw = v.client
  const station = c.config.stations[0] as (typeof c.config.stations)[number]
  const base = Math.ceil(Date.now() / 60_000) * 60_000 + 3 * 3_600_000
  const inProgress = (a: unknown): boolean => (a as { code?: string }).code === 'IDEMPOTENCY_IN_PROGRESS'
  /** Both copies' final answers: a copy answered IDEMPOTENCY_IN_PROGRESS is sent again, alone, until it gets an answer. */
  const settle = (op: string, args: object, id: string, got: unknown[]): Promise<unknown[]> =>
    Promise.all(
      got.map(async (a) => {
        let answer = a
        while (inProgress(answer)) [answer] = await v.copies(1, op, args, id)
        return answer
      }),
    )

  let split = 0
  let waited = 0
  const wrong: string[] = []
  for (let k = 0; k < PAIRS; k++) {
    const before = await c.answered('reservation.create')
    const id = `pair-${k}`
    const args = { at: formatTime(base + k * 15 * 60_000), position: station.position, rangeKm: 5, stationId: station.stationId }
    const got = await v.copies(2, 'reservation.create', args, id)
    const after = await c.answered('reservation.create')
    const both = ['r1', 'r2'].every((r) => (after[r] ?? 0) > (before[r] ?? 0))
    if (both) split++
    waited += got.filter(inProgress).length
    const final = await settle('reservation.create', args, id, got)
    if (JSON.stringify(final[0]) !== JSON.stringify(final[1])) wrong.push(`${id}: create answered ${JSON.stringify(final)}`)
    const reservationId = effectId('r', { vehicleId: 'V1', requestId: id })
    if ((final[0] as { ok: boolean }).ok !== true) wrong.push(`${id}: create not ok: ${JSON.stringify(final[0])}`)

    // A cancel run twice would answer {cancelled: 1} and then NOT_FOUND: its copies show a double run.
    const cid = `cancel-${k}`
    const cgot = await v.copies(2, 'reservation.cancel', { reservationId }, cid)
    waited += cgot.filter(inProgress).length
    const cfinal = await settle('reservation.cancel', { reservationId }, cid, cgot)
    if (cfinal.some((a) => JSON.stringify(a) !== JSON.stringify({ ok: true, result: { cancelled: 1 } }))) wrong.push(`${cid}: cancel answered ${JSON.stringify(cfinal)}`)
  }
  t.same(wrong, [], 'every pair of copies acted once and got one answer')
  t.ok(split >= PAIRS / 2, `the copies of most pairs went to different replicas (${split} of ${PAIRS})`)
  const left = await c.db.sql<{ n: number }>('SELECT count(*)::int AS n FROM reservations')
  t.equal(left.rows[0]?.n, 0, 'every reservation made was cancelled once: none left, none twice')
  const keys = await c.db.sql<{ state: string; n: number }>(`SELECT state, count(*)::int AS n FROM idempotency_keys GROUP BY state`)
  t.same(keys.rows, [{ state: 'done', n: 2 * PAIRS }], 'one recorded answer per request id, none left running')
  t.comment(`figures: ${split} of ${PAIRS} pairs split over both replicas; ${waited} of ${4 * PAIRS} copies answered IDEMPOTENCY_IN_PROGRESS first`)
})

t.test('[2 replicas] a peer sends one Idempotency-Key to both replicas at once: one hold, one answer', { skip: skip ?? false }, async (t) => {
  const c = await startReplicaCluster({ config: hubConfig({ federation: { peers: [PEER], links: [] } }), replicas: ['r1', 'r2'] })
  t.teardown(() => c.close())
  const base = Math.ceil(Date.now() / 60_000) * 60_000 + 3 * 3_600_000
  const post = (replica: string, key: string, body: object): Promise<{ status: number; body: unknown }> =>
    fetch(`${c.httpUrl(replica)}/federation/v1/holds`, {
      method: 'POST',
      headers: { authorization: `Bearer ${PEER.acceptToken}`, 'idempotency-key': key, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    }).then(async (r) => ({ status: r.status, body: await r.json() }))
  const wrong: string[] = []
  let busy = 0
  for (let k = 0; k < PAIRS; k++) {
    const key = `hold-key-${k}`
    // No holdId: the hub derives it from the caller and the key, so both copies name one hold.
    const body = { txId: `tx-${k}`, txStartedAt: formatTime(Date.now()), vehicleId: 'V1', at: formatTime(base + k * 3 * 3_600_000), from: { lat: -12.25, lon: -38.95 }, rangeKm: 50, ttlSeconds: 60 }
    const both = await Promise.all([post('r1', key, body), post('r2', key, body)])
    busy += both.filter((a) => a.status === 409).length
    const final = await Promise.all(
      both.map(async (a) => {
        let r = a
        while (r.status === 409 && (r.body as { error?: { code?: string } }).error?.code === 'IDEMPOTENCY_IN_PROGRESS') r = await post('r1', key, body)
        return r
      }),
    )
    if (JSON.stringify(final[0]) !== JSON.stringify(final[1])) wrong.push(`${key}: ${JSON.stringify(final)}`)
    if (final[0]?.status !== 201) wrong.push(`${key}: ${JSON.stringify(final[0])}`)
  }
  t.same(wrong, [], 'both copies of every key got the one answer (201 and the same hold)')
  const holds = await c.db.sql<{ n: number }>('SELECT count(*)::int AS n FROM holds')
  t.equal(holds.rows[0]?.n, PAIRS, 'one hold per key')
  t.comment(`figures: ${busy} of ${2 * PAIRS} copies answered 409 IDEMPOTENCY_IN_PROGRESS first`)
})
