/**
 * One permission suite (docs/protocol.md's MQTT table) run against every broker a
 * hub can use: the embedded aedes broker and a real Mosquitto with the files
 * `voltway hub acl` writes. Brokers differ in how they refuse (aedes closes a
 * 3.1.1 connection on a forbidden publish, Mosquitto acks and drops it; aedes
 * refuses a wildcard subscription, Mosquitto grants it and filters at
 * delivery), so every test checks effects, never return codes, and proves a
 * negative with a positive control: after the forbidden action has settled, a
 * permitted message takes the same path to the same observer; once it has
 * arrived, the forbidden one can no longer be on its way.
 */
import { randomBytes, randomUUID } from 'node:crypto'
import type { Test } from 'tap'
import { connectAsync, type IClientOptions, type MqttClient } from 'mqtt'
import { TOPIC_ROOT as R } from '../../protocol/index.js'
import { waitUntil } from './net.js'

export interface AclFixture {
  hubId: string
  stations: Array<{ stationId: string; password: string }>
  vehicles: Array<{ vehicleId: string; password: string }>
}

export interface AclBrokerUnderTest {
  url: string
  /** The login the hub uses: full access to voltway/v1/#. */
  hub: { username: string; password: string }
  close(): Promise<void>
}

/** Start a broker that enforces the permission table for exactly these stations and vehicles. */
export type StartAclBroker = (fixture: AclFixture) => Promise<AclBrokerUnderTest>

interface Message {
  topic: string
  payload: string
  retain: boolean
}

const WAIT_MS = 5000

class Peer {
  readonly messages: Message[] = []
  constructor(
    readonly client: MqttClient,
    readonly name: string,
  ) {
    client.on('message', (topic, payload, packet) => this.messages.push({ topic, payload: payload.toString(), retain: packet.retain }))
  }

  /** Subscribe at QoS 1; 'refused' when the SUBACK says so (brokers may also grant and filter later). */
  async sub(filter: string): Promise<'granted' | 'refused'> {
    try {
      const grants = await this.client.subscribeAsync(filter, { qos: 1 })
      return grants.every((g) => g.qos < 128) ? 'granted' : 'refused'
    } catch {
      return 'refused'
    }
  }

  async pub(topic: string, payload: string, retain = false): Promise<void> {
    await this.client.publishAsync(topic, payload, { qos: 1, retain })
  }

  saw(payload: string): boolean {
    return this.messages.some((m) => m.payload === payload)
  }

  async waitFor(topic: string, payload: string): Promise<void> {
    await waitUntil(() => this.messages.some((m) => m.topic === topic && m.payload === payload), WAIT_MS, `${this.name} to receive ${payload} on ${topic}`)
  }
}

const secret = (): string => `forbidden-${randomUUID()}`
const control = (): string => `control-${randomUUID()}`

export function aclSuite(t: Test, start: StartAclBroker): void {
  const pw = (): string => randomBytes(12).toString('base64url')
  const fixture: AclFixture = {
    hubId: 'H',
    stations: [
      { stationId: 'S1', password: pw() },
      { stationId: 'S2', password: pw() },
    ],
    vehicles: [
      { vehicleId: 'V1', password: pw() },
      { vehicleId: 'V2', password: pw() },
    ],
  }
  const passwords = new Map<string, string>([...fixture.stations.map((s) => [s.stationId, s.password] as const), ...fixture.vehicles.map((v) => [v.vehicleId, v.password] as const)])
  let broker: AclBrokerUnderTest | undefined

  t.before(async () => {
    broker = await start(fixture)
    passwords.set('hub', broker.hub.password)
  })
  t.teardown(async () => {
    await broker?.close()
  })

  for (const version of [4, 5] as const) {
    t.test(`MQTT ${version === 4 ? '3.1.1' : '5'} clients`, async (t) => {
      const open: MqttClient[] = []
      t.afterEach(async () => {
        // Every identity connects once per test (client id = username), so close all before the next test.
        await Promise.all(open.splice(0).map((c) => c.endAsync(true).catch(() => undefined)))
      })

      const options = (name: string, extra: Partial<IClientOptions>): IClientOptions => {
        const username = name === 'hub' ? broker?.hub.username : name
        return { protocolVersion: version, reconnectPeriod: 0, connectTimeout: WAIT_MS, username, password: passwords.get(name), ...extra }
      }
      /** Log in as `name` ('hub', a station or a vehicle id) with its right password. */
      const connect = async (name: string, extra: Partial<IClientOptions> = {}): Promise<Peer> => {
        const c = await connectAsync(broker?.url ?? '', options(name, extra))
        open.push(c)
        return new Peer(c, name)
      }
      /** Like connect, but a refused login is an answer, not a failure. */
      const tryConnect = async (name: string, extra: Partial<IClientOptions>): Promise<Peer | Error> => {
        try {
          return await connect(name, extra)
        } catch (err) {
          return err instanceof Error ? err : new Error(String(err))
        }
      }
      /**
       * Publish at QoS 1 as `name` on a connection of its own and wait until the
       * broker has dealt with it: acknowledged (Mosquitto), refused with 0x87
       * (MQTT 5) or closed the connection (aedes, MQTT 3.1.1).
       */
      const publishForbidden = async (name: string, topic: string, payload: string): Promise<void> => {
        const p = await connect(name)
        await new Promise<void>((resolve) => {
          const onClose = (): void => resolve()
          p.client.once('close', onClose)
          p.client.publish(topic, payload, { qos: 1 }, () => {
            p.client.off('close', onClose)
            resolve()
          })
        })
        await p.client.endAsync(true)
      }
      /** Drop the connection without DISCONNECT, so the broker sends the Last Will, and wait until it is gone. */
      const crash = async (p: Peer): Promise<void> => {
        const closed = new Promise<void>((r) => p.client.once('close', () => r()))
        p.client.stream.destroy()
        await closed
      }

      t.test('the hub can publish and subscribe to everything under voltway/v1', async (t) => {
        const hub = await connect('hub')
        t.equal(await hub.sub(`${R}/#`), 'granted')
        const all = [
          `${R}/hubs/H/req/V1`,
          `${R}/hubs/H/state`,
          `${R}/vehicles/V1/res`,
          `${R}/vehicles/V2/res/custom`,
          ...['state', 'telemetry', 'events', 'cmd', 'cmd/res', 'ack', 'auth', 'auth/res'].map((k) => `${R}/stations/S1/${k}`),
        ]
        const sent = all.map((topic) => ({ topic, payload: control() }))
        for (const m of sent) await hub.pub(m.topic, m.payload)
        for (const m of sent) await hub.waitFor(m.topic, m.payload)
        t.pass('the hub received all it published')
      })

      t.test('a vehicle can publish requests as itself and read its own replies', async (t) => {
        const hub = await connect('hub')
        await hub.sub(`${R}/hubs/+/req/+`)
        const v1 = await connect('V1')
        t.equal(await v1.sub(`${R}/vehicles/V1/#`), 'granted')
        const req = control()
        const otherHub = control()
        await v1.pub(`${R}/hubs/H/req/V1`, req)
        await v1.pub(`${R}/hubs/OTHER/req/V1`, otherHub)
        await hub.waitFor(`${R}/hubs/H/req/V1`, req)
        await hub.waitFor(`${R}/hubs/OTHER/req/V1`, otherHub)
        const res = control()
        const res5 = control()
        await hub.pub(`${R}/vehicles/V1/res`, res)
        await hub.pub(`${R}/vehicles/V1/res/r-17`, res5)
        await v1.waitFor(`${R}/vehicles/V1/res`, res)
        await v1.waitFor(`${R}/vehicles/V1/res/r-17`, res5)
        t.pass('request delivered to the hub and replies to the vehicle')
      })

      t.test('a station can publish its own state, telemetry, events, command results and card requests and read its own commands, acks and card answers', async (t) => {
        const hub = await connect('hub')
        await hub.sub(`${R}/stations/#`)
        const s1 = await connect('S1')
        t.equal(await s1.sub(`${R}/stations/S1/cmd`), 'granted')
        t.equal(await s1.sub(`${R}/stations/S1/ack`), 'granted')
        t.equal(await s1.sub(`${R}/stations/S1/auth/res`), 'granted')
        for (const kind of ['state', 'telemetry', 'events', 'cmd/res', 'auth']) {
          const p = control()
          await s1.pub(`${R}/stations/S1/${kind}`, p)
          await hub.waitFor(`${R}/stations/S1/${kind}`, p)
        }
        for (const kind of ['cmd', 'ack', 'auth/res']) {
          const p = control()
          await hub.pub(`${R}/stations/S1/${kind}`, p)
          await s1.waitFor(`${R}/stations/S1/${kind}`, p)
        }
        t.pass('station topics flow both ways')
      })

      t.test('a vehicle may read stations/+/state and hubs/+/state', async (t) => {
        const hub = await connect('hub')
        const v1 = await connect('V1')
        t.equal(await v1.sub(`${R}/stations/+/state`), 'granted')
        t.equal(await v1.sub(`${R}/hubs/+/state`), 'granted')
        const s2 = await connect('S2')
        const fromStation = control()
        await s2.pub(`${R}/stations/S2/state`, fromStation)
        const sent = [`${R}/stations/S1/state`, `${R}/hubs/H/state`, `${R}/hubs/OTHER/state`].map((topic) => ({ topic, payload: control() }))
        for (const m of sent) await hub.pub(m.topic, m.payload)
        await v1.waitFor(`${R}/stations/S2/state`, fromStation)
        for (const m of sent) await v1.waitFor(m.topic, m.payload)
        t.pass('the vehicle received every state')
      })

      const spyFilters = [`${R}/vehicles/V2/res`, `${R}/vehicles/V2/#`, `${R}/vehicles/+/res`, `${R}/vehicles/#`, `${R}/#`, '#', '+/+/+/+/+']
      for (const filter of spyFilters) {
        t.test(`a vehicle cannot read another vehicle's replies (subscribing to ${filter})`, async (t) => {
          const hub = await connect('hub')
          const v1 = await connect('V1')
          const v2 = await connect('V2')
          t.comment(`V1 subscribing to ${filter}: ${await v1.sub(filter)} by the broker`)
          await v1.sub(`${R}/vehicles/V1/res`)
          await v2.sub(`${R}/vehicles/V2/res`)
          const forbidden = secret()
          await hub.pub(`${R}/vehicles/V2/res`, forbidden)
          await v2.waitFor(`${R}/vehicles/V2/res`, forbidden) // control: the reply was really sent
          const own = control()
          await hub.pub(`${R}/vehicles/V1/res`, own)
          await v1.waitFor(`${R}/vehicles/V1/res`, own) // control: V1's connection has caught up
          t.notOk(v1.saw(forbidden), "V1 did not receive V2's reply")
        })
      }

      t.test("a vehicle cannot read another vehicle's retained message through a wildcard", async (t) => {
        const hub = await connect('hub')
        await hub.sub(`${R}/vehicles/#`)
        const tag = randomUUID()
        const forbidden = secret()
        const own = control()
        await hub.pub(`${R}/vehicles/V2/r-${tag}`, forbidden, true)
        await hub.pub(`${R}/vehicles/V1/r-${tag}`, own, true)
        await hub.waitFor(`${R}/vehicles/V1/r-${tag}`, own) // both are stored as retained by now
        t.teardown(async () => {
          // Clear the retained messages (a fresh hub connection: the test's own is closed by then).
          const c = await connectAsync(broker?.url ?? '', options('hub', {}))
          await c.publishAsync(`${R}/vehicles/V2/r-${tag}`, '', { qos: 1, retain: true })
          await c.publishAsync(`${R}/vehicles/V1/r-${tag}`, '', { qos: 1, retain: true })
          await c.endAsync()
        })
        const v1 = await connect('V1')
        await v1.sub(`${R}/vehicles/+/+`)
        await v1.sub(`${R}/vehicles/V1/#`)
        await v1.waitFor(`${R}/vehicles/V1/r-${tag}`, own)
        t.notOk(v1.saw(forbidden), "V1 did not receive V2's retained message")
      })

      t.test('a vehicle cannot publish a request as another vehicle', async (t) => {
        const hub = await connect('hub')
        await hub.sub(`${R}/hubs/+/req/+`)
        const forbidden = secret()
        await publishForbidden('V1', `${R}/hubs/H/req/V2`, forbidden)
        const v2 = await connect('V2')
        const ok = control()
        await v2.pub(`${R}/hubs/H/req/V2`, ok)
        await hub.waitFor(`${R}/hubs/H/req/V2`, ok)
        t.notOk(hub.saw(forbidden), "the hub never saw V1's request under V2's name")
      })

      t.test('a vehicle cannot publish station commands, acks or station state, nor replies or hub state', async (t) => {
        const hub = await connect('hub')
        await hub.sub(`${R}/#`)
        const s1 = await connect('S1')
        await s1.sub(`${R}/stations/S1/cmd`)
        await s1.sub(`${R}/stations/S1/ack`)
        const v2 = await connect('V2')
        await v2.sub(`${R}/vehicles/V2/res`)
        const forbidden = secret()
        const targets = [
          `${R}/stations/S1/cmd`,
          `${R}/stations/S1/ack`,
          `${R}/stations/S1/state`,
          `${R}/stations/S1/events`,
          `${R}/stations/V1/state`, // its own id as a station: the hole `pattern` ACL rules would leave
          `${R}/vehicles/V2/res`,
          `${R}/vehicles/V1/res`,
          `${R}/hubs/H/state`,
        ]
        for (const topic of targets) await publishForbidden('V1', topic, forbidden)
        const cmd = control()
        await hub.pub(`${R}/stations/S1/cmd`, cmd)
        await s1.waitFor(`${R}/stations/S1/cmd`, cmd)
        await hub.waitFor(`${R}/stations/S1/cmd`, cmd)
        const res = control()
        await hub.pub(`${R}/vehicles/V2/res`, res)
        await v2.waitFor(`${R}/vehicles/V2/res`, res)
        t.notOk(s1.saw(forbidden), 'the station received nothing from the vehicle')
        t.notOk(v2.saw(forbidden), 'V2 received no reply forged by V1')
        t.notOk(hub.saw(forbidden), 'the hub saw none of it')
      })

      t.test("a station cannot publish another station's state, nor commands, acks, requests or replies", async (t) => {
        const hub = await connect('hub')
        await hub.sub(`${R}/#`)
        const forbidden = secret()
        const targets = [
          ...['state', 'telemetry', 'events', 'cmd/res', 'cmd', 'ack', 'auth', 'auth/res'].map((k) => `${R}/stations/S2/${k}`),
          `${R}/stations/S1/cmd`,
          `${R}/stations/S1/ack`,
          `${R}/stations/S1/auth/res`,
          `${R}/hubs/H/req/S1`,
          `${R}/vehicles/V1/res`,
          `${R}/hubs/H/state`,
        ]
        for (const topic of targets) await publishForbidden('S1', topic, forbidden)
        const s2 = await connect('S2')
        const ok = control()
        await s2.pub(`${R}/stations/S2/state`, ok)
        await hub.waitFor(`${R}/stations/S2/state`, ok)
        t.notOk(hub.saw(forbidden), "the hub never saw S1's messages on others' topics")
      })

      t.test("a station cannot read another station's commands, nor stations' states or vehicle replies; it reads the hubs' state", async (t) => {
        const hub = await connect('hub')
        const s1 = await connect('S1')
        const s2 = await connect('S2')
        for (const f of [`${R}/stations/S2/cmd`, `${R}/stations/+/cmd`, `${R}/stations/+/state`, `${R}/vehicles/+/res`, `${R}/#`]) {
          t.comment(`S1 subscribing to ${f}: ${await s1.sub(f)} by the broker`)
        }
        await s1.sub(`${R}/stations/S1/cmd`)
        await s2.sub(`${R}/stations/S2/cmd`)
        const forbidden = secret()
        await hub.pub(`${R}/stations/S2/state`, forbidden)
        await hub.pub(`${R}/vehicles/V1/res`, forbidden)
        await hub.pub(`${R}/stations/S2/cmd`, forbidden)
        await s2.waitFor(`${R}/stations/S2/cmd`, forbidden)
        const own = control()
        await hub.pub(`${R}/stations/S1/cmd`, own)
        await s1.waitFor(`${R}/stations/S1/cmd`, own)
        t.notOk(s1.saw(forbidden), 'S1 received nothing meant for others')
        t.equal(await s1.sub(`${R}/hubs/+/state`), 'granted')
        const hubState = control()
        await hub.pub(`${R}/hubs/H/state`, hubState)
        await s1.waitFor(`${R}/hubs/H/state`, hubState)
      })

      t.test("a station's Last Will to a foreign topic is dropped", async (t) => {
        const hub = await connect('hub')
        await hub.sub(`${R}/#`)
        const forbidden = secret()
        for (const topic of [`${R}/stations/S2/state`, `${R}/vehicles/V1/res`, `${R}/hubs/H/req/V1`]) {
          const s1 = await tryConnect('S1', { will: { topic, payload: Buffer.from(forbidden), qos: 1, retain: false } })
          if (s1 instanceof Error) {
            t.comment(`login with a will to ${topic} refused: ${s1.message}`)
            continue
          }
          t.comment(`login with a will to ${topic} accepted; crashing the connection`)
          await crash(s1)
        }
        // Control: the same station's will to its own state topic does arrive, after the forbidden ones.
        const ok = control()
        const s1 = await connect('S1', { will: { topic: `${R}/stations/S1/state`, payload: Buffer.from(ok), qos: 1, retain: false } })
        await crash(s1)
        await hub.waitFor(`${R}/stations/S1/state`, ok)
        t.notOk(hub.saw(forbidden), 'no foreign will was delivered')
      })

      t.test('a wrong password is refused', async (t) => {
        const wrong = async (username: string | undefined, password: string): Promise<void> => {
          await t.rejects(connectAsync(broker?.url ?? '', { ...options('V1', {}), username, password }), `login as ${username} refused`)
        }
        await wrong('V1', 'not-the-password')
        await wrong('V1', passwords.get('S1') ?? '') // another identity's password
        await wrong('V1', `${passwords.get('V1') ?? ''}x`)
        await wrong('V9', passwords.get('V1') ?? '') // unknown user
        await wrong(broker?.hub.username, 'guess')
        // Control: the right password works.
        await connect('V1')
      })

      t.test('anonymous clients are refused', async (t) => {
        await t.rejects(connectAsync(broker?.url ?? '', { protocolVersion: version, reconnectPeriod: 0, connectTimeout: WAIT_MS }), 'no username: refused')
        await t.rejects(
          connectAsync(broker?.url ?? '', { protocolVersion: version, reconnectPeriod: 0, connectTimeout: WAIT_MS, clientId: 'V1' }),
          'no username with a known client id: refused',
        )
      })

      t.test("a client id is its username: another login cannot take over a station's session by id", async (t) => {
        const hub = await connect('hub')
        const s1 = await connect('S1', { clientId: 'S1' })
        await s1.sub(`${R}/stations/S1/cmd`)
        const v1 = await connect('V1', { clientId: 'S1' })
        const spied = await v1.sub(`${R}/stations/S1/cmd`)
        const cmd = control()
        await hub.pub(`${R}/stations/S1/cmd`, cmd)
        await s1.waitFor(`${R}/stations/S1/cmd`, cmd)
        t.ok(s1.client.connected, 'S1 is still connected')
        // V1 may have been granted the subscription (Mosquitto filters at delivery); it got nothing either way.
        const own = control()
        await v1.sub(`${R}/vehicles/V1/res`)
        await hub.pub(`${R}/vehicles/V1/res`, own)
        await v1.waitFor(`${R}/vehicles/V1/res`, own)
        t.notOk(v1.saw(cmd), `V1 (subscription ${spied}) did not receive S1's command`)
      })
    })
  }
}
