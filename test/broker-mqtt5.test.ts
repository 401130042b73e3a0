/**
 * The embedded broker with the real Mosquitto command-line clients, MQTT 5 and
 * 3.1.1: docs/protocol.md promises that mosquitto_pub / mosquitto_sub work, and that
 * an MQTT 5 request's Response Topic and Correlation Data reach the hub.
 */
import t from 'tap'
import { randomUUID } from 'node:crypto'
import { connectAsync, type IPublishPacket, type MqttClient } from 'mqtt'
import { TOPIC_ROOT as R } from '../protocol/index.js'
import { startEmbeddedBroker, type EmbeddedBroker } from '../hub/broker/embedded-broker.js'
import { mosquittoTools } from './helpers/mosquitto.js'
import { run, start, type RunResult } from './helpers/broker-cli.js'
import { waitUntil } from './helpers/net.js'

const { pub, sub } = mosquittoTools()
if (pub === null || sub === null) {
  t.skip('SKIP: mosquitto_pub/mosquitto_sub are not installed; the embedded broker is not checked against the Mosquitto clients', () => undefined)
} else {
  const V1 = { vehicleId: 'V1', password: `pw-${randomUUID()}` }
  let broker: EmbeddedBroker
  let hub: MqttClient
  const received: IPublishPacket[] = []

  t.before(async () => {
    broker = await startEmbeddedBroker({ host: '127.0.0.1', port: 0, hubId: 'H', stations: [], vehicles: [V1] })
    hub = await connectAsync(broker.url, { ...broker.hubCredentials, protocolVersion: 5, reconnectPeriod: 0 })
    hub.on('message', (_topic, _payload, packet) => received.push(packet))
    await hub.subscribeAsync(`${R}/hubs/H/req/+`, { qos: 1 })
  })
  t.teardown(async () => {
    await hub?.endAsync(true)
    await broker?.close()
  })

  const base = (): string[] => ['-h', '127.0.0.1', '-p', String(broker.port), '-u', V1.vehicleId, '-P', V1.password]

  /**
   * Run mosquitto_sub as V1 on its reply topic until it has one message. Its
   * output is block-buffered on a pipe, so instead of waiting for its SUBACK
   * line the hub publishes every 50 ms until the process exits (-C 1, -W 10).
   */
  const receiveOnce = async (args: string[], body: string, properties?: { correlationData: Buffer }): Promise<RunResult> => {
    const s = start(sub, [...base(), '-q', '1', '-t', `${R}/vehicles/V1/res`, '-C', '1', '-W', '10', ...args])
    const timer = setInterval(() => hub.publish(`${R}/vehicles/V1/res`, body, { qos: 1, properties }), 50)
    try {
      return await s.done
    } finally {
      clearInterval(timer)
      await s.kill()
    }
  }

  for (const version of ['5', 'mqttv5', 'mqttv311']) {
    t.test(`mosquitto_pub -V ${version} with a vehicle's credentials reaches the hub${version.endsWith('5') ? ' with its Response Topic and Correlation Data' : ''}`, async (t) => {
      const body = JSON.stringify({ id: randomUUID(), op: 'hub.info', args: {} })
      const v5 = version.endsWith('5')
      const props = v5 ? ['-D', 'publish', 'response-topic', `${R}/vehicles/V1/res/x1`, '-D', 'publish', 'correlation-data', 'corr-42'] : []
      const r = await run(pub, [...base(), '-V', version, '-q', '1', '-t', `${R}/hubs/H/req/V1`, '-m', body, ...props])
      t.equal(r.code, 0, `mosquitto_pub exits 0 (stderr: ${r.stderr})`)
      const packet = await waitUntil(() => received.find((p) => p.payload.toString() === body), 5000, 'the request at the hub')
      t.equal(packet.topic, `${R}/hubs/H/req/V1`)
      if (v5) {
        t.equal(packet.properties?.responseTopic, `${R}/vehicles/V1/res/x1`, 'Response Topic reached the hub')
        t.equal(packet.properties?.correlationData?.toString(), 'corr-42', 'Correlation Data reached the hub')
      }
    })
  }

  t.test("mosquitto_sub -V 5 with a vehicle's credentials receives the hub's reply with its Correlation Data", async (t) => {
    const body = JSON.stringify({ id: 'r-1', ok: true, result: {} })
    const r = await receiveOnce(['-V', '5', '-F', 'MSG %t %p corr=%D'], body, { correlationData: Buffer.from('corr-7') })
    t.equal(r.code, 0, `mosquitto_sub exits 0 after one message (stderr: ${r.stderr})`)
    t.match(r.stdout, `MSG ${R}/vehicles/V1/res ${body} corr=corr-7`)
  })

  t.test('mosquitto_sub -V mqttv311 works too', async (t) => {
    const r = await receiveOnce(['-V', 'mqttv311', '-F', 'MSG %t %p'], 'hello-311')
    t.equal(r.code, 0)
    t.match(r.stdout, `MSG ${R}/vehicles/V1/res hello-311`)
  })

  t.test('mosquitto_pub with a wrong password is refused', async (t) => {
    for (const version of ['5', 'mqttv311']) {
      const r = await run(pub, ['-h', '127.0.0.1', '-p', String(broker.port), '-u', 'V1', '-P', 'wrong', '-V', version, '-t', `${R}/hubs/H/req/V1`, '-m', 'x'])
      t.not(r.code, 0, `-V ${version}: non-zero exit (${r.stderr.trim()})`)
    }
  })

  t.test('mosquitto_pub -V 5 without credentials is refused', async (t) => {
    const r = await run(pub, ['-h', '127.0.0.1', '-p', String(broker.port), '-V', '5', '-t', `${R}/hubs/H/req/V1`, '-m', 'x'])
    t.not(r.code, 0, `non-zero exit (${r.stderr.trim()})`)
  })
}
