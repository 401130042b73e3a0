/** Client ids on the embedded broker: a login may open a second connection as `<username>:<suffix>`, never another's session. */
import t from 'tap'
import { connectAsync } from 'mqtt'
import { startEmbeddedBroker } from '../hub/broker/index.js'
import { onceWithTimeout } from './helpers/net.js'

t.test("a vehicle may hold two connections (V1 and V1:sub) and neither takes over the other or another vehicle's session", async (t) => {
  const broker = await startEmbeddedBroker({ host: '127.0.0.1', port: 0, hubId: 'H', stations: [], vehicles: [{ vehicleId: 'V1', password: 'p1' }, { vehicleId: 'V2', password: 'p2' }] })
  t.teardown(() => broker.close())
  const main = await connectAsync(broker.url, { clientId: 'V1', username: 'V1', password: 'p1', reconnectPeriod: 0 })
  const sub = await connectAsync(broker.url, { clientId: 'V1:sub', username: 'V1', password: 'p1', reconnectPeriod: 0 })
  const v2 = await connectAsync(broker.url, { clientId: 'V2', username: 'V2', password: 'p2', reconnectPeriod: 0 })
  t.teardown(() => Promise.all([main.endAsync(true), sub.endAsync(true), v2.endAsync(true)]))
  await sub.subscribeAsync('voltway/v1/vehicles/V1/res', { qos: 1 })
  const hub = await connectAsync(broker.url, { clientId: 'hub', username: broker.hubCredentials.username, password: broker.hubCredentials.password, reconnectPeriod: 0 })
  t.teardown(() => hub.endAsync(true))
  const got = onceWithTimeout(sub, 'message', 5000)
  await hub.publishAsync('voltway/v1/vehicles/V1/res', '{"id":"1","ok":true,"result":{}}', { qos: 1 })
  await got
  t.ok(main.connected, 'the first connection of V1 is still up')
  t.ok(sub.connected, 'the second one received the reply')
  // V1 claiming the ids "V2" or "V2:x" gets a session of its own login, never V2's.
  const spoof = await connectAsync(broker.url, { clientId: 'V2', username: 'V1', password: 'p1', reconnectPeriod: 0 })
  const spoof2 = await connectAsync(broker.url, { clientId: 'V2:x', username: 'V1', password: 'p1', reconnectPeriod: 0 })
  t.teardown(() => Promise.all([spoof.endAsync(true), spoof2.endAsync(true)]))
  await v2.publishAsync('voltway/v1/hubs/H/req/V2', '{}', { qos: 1 })
  t.ok(v2.connected, "V2's session was not taken over")
})
