/**
 * A vehicle whose answer is lost on the way back: the real hub on a test
 * broker (aedes) that drops the first answer to the vehicle, and the real
 * `voltway vehicle` CLI in a child process. The CLI sends the request again
 * with the same id, the hub answers with the first answer, and the booking
 * exists once. Without retries the driver gets TIMEOUT with a hint to look,
 * and the list shows what happened. A repeat answered
 * IDEMPOTENCY_IN_PROGRESS keeps the client waiting for the real answer.
 */
import t, { type Test } from 'tap'
import { execFileSync } from 'node:child_process'
import { connectAsync } from 'mqtt'
import { OPS, createRpcClient, topics } from '../protocol/index.js'
import { startAedes } from './helpers/aedes.js'
import { hubConfig, startTestHub } from './helpers/hub.js'
import { cleanEnv, runCli } from './helpers/vehicle-cli.js'

/** A hub on a broker that loses the first `lose` answers to vehicle V1, and what V1 sent. */
async function lossyHub(t: Test, lose: number) {
  const requests: string[] = []
  let lost = 0
  const broker = await startAedes({
    authorizeForward: (client, packet) => {
      if (client.id.startsWith('V1-') && packet.topic.startsWith(topics.vehicleResponse('V1')) && lost < lose) {
        lost++
        return null
      }
      return packet
    },
  })
  t.teardown(() => broker.close())
  broker.broker.on('publish', (packet, client) => {
    if (client && packet.topic === topics.hubRequest('feira', 'V1')) requests.push(packet.payload.toString())
  })
  const hub = await startTestHub(hubConfig({ mqtt: { url: broker.url } }))
  t.teardown(() => hub.close())
  const reserve = (extra: string[] = []) =>
    runCli(['reserve', '--hub', broker.url, '--hub-id', 'feira', '--vehicle', 'V1', '--password', 'v1-pass', '--at', '+3h', '--lat', '-12.25', '--lon', '-38.95', '--range-km', '20', '--station', 'FSA-1', '--timeout-ms', '1500', '--json', ...extra], { env: cleanEnv() })
  return { hub, broker, requests, lost: () => lost, reserve }
}

t.test('an answer lost on the way: the CLI asks again with the same id, gets the first answer, and the hub booked once', async (t) => {
  const { hub, requests, lost, reserve } = await lossyHub(t, 1)
  const r = await reserve()
  t.equal(r.code, 0, r.stderr)
  const answer = OPS['reservation.create'].result.parse(JSON.parse(r.stdout))
  t.equal(lost(), 1, 'the first answer was lost')
  t.equal(requests.length, 2, 'the request went out twice')
  t.equal(requests[0], requests[1], 'the same request, byte for byte: same id, same args')
  const booked = await hub.context.store.reservations.listVehicleReservations('V1', 0)
  t.same(booked.map((b) => b.reservationId), [answer.reservation.reservationId], 'one reservation, the one the CLI printed')
})

t.test('with --retries 0 the lost answer is a TIMEOUT whose hint says where to look, and the list shows the booking', async (t) => {
  const { hub, broker, requests, reserve } = await lossyHub(t, 1)
  const r = await reserve(['--retries', '0'])
  t.equal(r.code, 1)
  t.match(r.stderr, /^error TIMEOUT: no answer to reservation\.create from hub feira within 1500 ms/)
  t.match(r.stderr, /hint: .*it may have been done all the same: send it again unchanged, which the hub acts on once, with the same command and --at \S+ --request-id \S+ \(or run `voltway vehicle reservations`/)
  t.equal(requests.length, 1, 'sent once')
  const list = await runCli(['reservations', '--hub', broker.url, '--hub-id', 'feira', '--vehicle', 'V1', '--password', 'v1-pass', '--json'], { env: cleanEnv() })
  t.equal(list.code, 0, list.stderr)
  const { reservations } = OPS['reservation.list'].result.parse(JSON.parse(list.stdout))
  const booked = await hub.context.store.reservations.listVehicleReservations('V1', 0)
  t.equal(booked.length, 1, 'the hub did book it')
  t.same(reservations.map((x) => x.reservationId), booked.map((b) => b.reservationId), 'reservation.list tells the vehicle what happened')
})

t.test('a TIMEOUT sent again as its hint says (--at as sent, --request-id) gets the first answer, and the hub booked once', async (t) => {
  const { hub, requests, reserve } = await lossyHub(t, 1)
  const lostRun = await reserve(['--retries', '0'])
  t.equal(lostRun.code, 1)
  const repeat = /the same command and (--at \S+) (--request-id \S+)/.exec(lostRun.stderr)
  if (!repeat) return t.fail(`no repeat flags in the hint: ${lostRun.stderr}`)
  const [, atFlag = '', idFlag = ''] = repeat
  // The flags printed last win over the command's own (--at +3h was relative: now it would be another time).
  const again = await reserve(['--retries', '0', ...atFlag.split(' '), ...idFlag.split(' ')])
  t.equal(again.code, 0, again.stderr)
  const answer = OPS['reservation.create'].result.parse(JSON.parse(again.stdout))
  t.equal(requests.length, 2)
  t.equal(requests[0], requests[1], 'the same request, byte for byte: same id, same args')
  const booked = await hub.context.store.reservations.listVehicleReservations('V1', 0)
  t.same(booked.map((b) => b.reservationId), [answer.reservation.reservationId], 'one reservation, the one the repeat printed')
  const bad = await reserve(['--request-id', 'a\u0007b'])
  t.equal(bad.code, 2, 'a request id with a control character is a usage error')
  t.match(bad.stderr, /--request-id: expected 1 to 128 characters, without control characters/)
  t.equal(requests.length, 2, 'and nothing was sent')
})

t.test('a request id the shell would read specially is quoted in the repeat hint, so the line pastes back as it was', async (t) => {
  const { requests, reserve } = await lossyHub(t, 1)
  const id = "it's mine $HOME"
  const r = await reserve(['--retries', '0', '--request-id', id])
  t.equal(r.code, 1)
  t.ok(r.stderr.includes(`--request-id 'it'\\''s mine $HOME' (or run`), r.stderr)
  // What a shell makes of the printed word is the id that was sent.
  const word = /--request-id ('(?:[^']|'\\'')*') \(or run/.exec(r.stderr)?.[1] ?? ''
  const echoed = execFileSync('/bin/sh', ['-c', `printf %s ${word}`], { encoding: 'utf8' })
  t.equal(echoed, id)
  t.equal(JSON.parse(requests[0] ?? '{}').id, id, 'the id the hub got')
})

t.test('a hub that never answers: TIMEOUT after every copy, all with one id', async (t) => {
  const { requests, reserve } = await lossyHub(t, 100)
  const r = await reserve(['--timeout-ms', '300', '--retries', '2'])
  t.equal(r.code, 1)
  t.match(r.stderr, /^error TIMEOUT: no answer to reservation\.create from hub feira within 300 ms per copy, sent 3 times \(900 ms in all\) with request id \S+/)
  t.equal(requests.length, 3)
  t.equal(new Set(requests).size, 1, 'three copies of one request')
})

t.test('IDEMPOTENCY_IN_PROGRESS to a repeat is not the answer: the client waits on for the first copy\'s', async (t) => {
  const broker = await startAedes()
  t.teardown(() => broker.close())
  // A hub by hand: the first copy is running (no answer yet); the repeat finds it so and says so, then the first copy ends.
  const hub = await connectAsync(broker.url, { clientId: 'hub' })
  t.teardown(() => hub.endAsync())
  const result = { cancelled: 1 }
  let copies = 0
  hub.on('message', (_topic, payload) => {
    const { id } = JSON.parse(payload.toString()) as { id: string }
    if (++copies < 2) return
    const res = topics.vehicleResponse('V1')
    void hub
      .publishAsync(res, JSON.stringify({ id, ok: false, error: { code: 'IDEMPOTENCY_IN_PROGRESS', message: 'still running' } }), { qos: 1 })
      .then(() => hub.publishAsync(res, JSON.stringify({ id, ok: true, result }), { qos: 1 }))
  })
  await hub.subscribeAsync(topics.hubRequest('feira', 'V1'), { qos: 1 })
  const vehicle = await connectAsync(broker.url, { clientId: 'V1-test' })
  t.teardown(() => vehicle.endAsync())
  const rpc = createRpcClient({ client: vehicle, hubId: 'feira', vehicleId: 'V1', timeoutMs: 300, retries: 2 })
  await rpc.start()
  const answer = await rpc.request('reservation.cancel', { reservationId: 'r-1' }).catch((e: unknown) => e)
  t.same(answer, OPS['reservation.cancel'].result.parse(result), 'the answer of the first copy, not IDEMPOTENCY_IN_PROGRESS')
  t.equal(copies, 2, 'settled after the first repeat')
})
