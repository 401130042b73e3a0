/**
 * A hub on a real Mosquitto, where anyone with the right may retain what they
 * publish: a retained request or station event is never run again when the
 * hub restarts and Mosquitto replays it.
 */
import t from 'tap'
import { topics } from '../protocol/index.js'
import { startMosquittoForAcl } from './helpers/broker-fixtures.js'
import { connectVehicle, hubConfig, startTestHub } from './helpers/hub.js'
import { mosquittoBinary } from './helpers/mosquitto.js'
import { waitUntil } from './helpers/net.js'

const inHours = (h: number): string => new Date(Date.now() + h * 3600_000).toISOString()

t.test('a retained reservation.create on Mosquitto is run once, never again at hub restarts', { skip: mosquittoBinary() ? false : 'mosquitto is not installed' }, async (t) => {
  const base = hubConfig()
  const m = await startMosquittoForAcl({ hubId: base.hubId, stations: base.stations, vehicles: base.vehicles })
  t.teardown(() => m.close())
  const config = { ...base, mqtt: { url: m.url, username: m.hub.username, password: m.hub.password } }
  let hub = await startTestHub(config)
  const v = await connectVehicle(m.url, config.hubId, 'V1', 'v1-pass')
  t.teardown(() => v.close())
  await v.client.subscribeAsync(topics.vehicleResponse('V1'), { qos: 1 })
  const answers: string[] = []
  v.client.on('message', (topic, payload) => {
    if (topic === topics.vehicleResponse('V1') && payload.toString().includes('"retained-1"')) answers.push(payload.toString())
  })
  const request = { id: 'retained-1', op: 'reservation.create', args: { at: inHours(3), position: { lat: -12.25, lon: -38.95 }, rangeKm: 10 } }
  await v.client.publishAsync(topics.hubRequest(config.hubId, 'V1'), JSON.stringify(request), { qos: 1, retain: true })
  t.teardown(() => v.client.publishAsync(topics.hubRequest(config.hubId, 'V1'), '', { qos: 1, retain: true }))
  const listed = async (): Promise<number> => (await v.rpc.request('reservation.list', {})).reservations.length
  await waitUntil(() => answers.length === 1, 5000, 'the answer to the live request')
  t.equal(await listed(), 1, 'the live request booked once')
  for (let restart = 1; restart <= 2; restart++) {
    await hub.close()
    hub = await startTestHub(config)
    // Mosquitto replays the retained request at the hub's subscribe, before any later request.
    await listed()
    t.equal(await listed(), 1, `still one reservation after restart ${restart}`)
  }
  t.equal(answers.length, 1, 'the retained request was answered once, live')
  await hub.close()
})
