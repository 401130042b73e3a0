/**
 * The retained hub state with two replicas (`voltway hub --replica`
 * processes on one PostgreSQL database and one Mosquitto): one replica killed
 * or stopped while the other runs leaves the hub online; both stopped, it ends
 * offline.
 */
import t, { type Test } from 'tap'
import { connectAsync, type MqttClient } from 'mqtt'
import { HubState, topics } from '../protocol/index.js'
import { hubConfig, tempDir } from './helpers/hub.js'
import { spawnHub, type HubProcess } from './helpers/hub-process.js'
import { mosquittoBinary, startMosquitto } from './helpers/mosquitto.js'
import { waitUntil } from './helpers/net.js'
import { postgresSkipReason, tempPostgres } from './helpers/store-postgres.js'

const skip = mosquittoBinary() ? (await postgresSkipReason()) ?? false : 'mosquitto is not installed'

/** Every hub state message in order, and a marker to know all before it arrived. */
class StateWatch {
  readonly seen: boolean[] = []
  #markers = 0
  private constructor(readonly client: MqttClient) {}

  static async start(url: string): Promise<StateWatch> {
    const client = await connectAsync(url, { clientId: `watch-${Math.random().toString(36).slice(2)}`, reconnectPeriod: 0 })
    const w = new StateWatch(client)
    client.on('message', (topic, payload) => {
      if (topic === 'test/marker') w.#markers++
      else if (topic === topics.hubState('feira') && payload.length > 0) w.seen.push(HubState.parse(JSON.parse(payload.toString())).online)
    })
    await client.subscribeAsync([topics.hubState('feira'), 'test/marker'], { qos: 1 })
    return w
  }

  /** Resolves once every state message the broker took before now has arrived here. */
  async flush(): Promise<void> {
    const want = this.#markers + 1
    await this.client.publishAsync('test/marker', 'x', { qos: 1 })
    await waitUntil(() => this.#markers >= want, 5000, 'the marker')
  }

  get last(): boolean | undefined {
    return this.seen.at(-1)
  }
}

/** What a station connecting now reads: the retained state. */
async function retained(url: string): Promise<boolean | undefined> {
  const w = await StateWatch.start(url)
  await w.flush()
  await w.client.endAsync()
  return w.last
}

async function twoReplicas(t: Test) {
  const m = await startMosquitto()
  t.teardown(() => m.close())
  const pg = await tempPostgres()
  t.teardown(() => pg.dispose())
  const config = hubConfig({ mqtt: { url: m.url }, store: { type: 'postgres', url: pg.url } })
  const dir = tempDir()
  const procs: HubProcess[] = []
  t.teardown(async () => {
    for (const p of procs) await p.kill('SIGKILL')
  })
  const replica = async (name: string): Promise<HubProcess> => {
    const p = await spawnHub(config, dir, 30_000, { args: ['--replica', name] })
    procs.push(p)
    return p
  }
  const watch = await StateWatch.start(m.url)
  t.teardown(() => watch.client.endAsync())
  return { url: m.url, replica, watch }
}

t.test('a replica killed while another runs: its Will says offline, the survivor says online again', { skip }, async (t) => {
  const { url, replica, watch } = await twoReplicas(t)
  const a = await replica('a')
  await replica('b')
  await watch.flush()
  t.equal(watch.last, true, 'online with both running')
  const before = watch.seen.length
  await a.kill('SIGKILL')
  await waitUntil(() => watch.seen.slice(before).includes(false) && watch.last === true, 10_000, "a's Will, then online again")
  t.equal(await retained(url), true, 'a station connecting now reads online')
})

t.test('a clean stop of one replica while another runs never says offline; stopping the last does', { skip }, async (t) => {
  const { url, replica, watch } = await twoReplicas(t)
  const a = await replica('a')
  const b = await replica('b')
  await watch.flush()
  const before = watch.seen.length
  t.equal(await a.kill('SIGTERM'), 0, 'a stopped cleanly')
  await watch.flush()
  t.same(watch.seen.slice(before), [], 'no offline, not even for a moment')
  t.equal(await retained(url), true)
  t.equal(await b.kill('SIGTERM'), 0, 'b stopped cleanly')
  await watch.flush()
  t.equal(watch.last, false, 'the last replica marked the hub offline')
  t.equal(await retained(url), false, 'a station connecting now reads offline')
})

t.test('both replicas stopped at once: the hub ends offline', { skip }, async (t) => {
  const { url, replica, watch } = await twoReplicas(t)
  const a = await replica('a')
  const b = await replica('b')
  t.same(await Promise.all([a.kill('SIGTERM'), b.kill('SIGTERM')]), [0, 0])
  await watch.flush()
  t.equal(await retained(url), false)
})
