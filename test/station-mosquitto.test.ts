/**
 * The station agent against a real Mosquitto: what a session left on the
 * broker, or a retained message on a command topic, must not do to it.
 */
import t from 'tap'
import { topics } from '../protocol/index.js'
import { runChecks } from '../station/commands/check.js'
import { mosquittoBinary, startMosquitto } from './helpers/mosquitto.js'
import { startAgent, stationConfig, tempDir } from './helpers/station-agent.js'
import { HubDouble } from './helpers/station-hub.js'

const skip = mosquittoBinary() ? false : 'mosquitto is not installed'

t.test('voltway station check before the first start never leaves the agent deaf: it subscribes whatever sessionPresent says', { skip }, async (t) => {
  const m = await startMosquitto()
  t.teardown(() => m.close())
  const cfg = stationConfig({ url: m.url, dataDir: tempDir() })
  const steps = await runChecks(cfg, { hubTimeoutMs: 5000 })
  t.match(steps.find((s) => s.step === 'hub'), { ok: true }, 'the check logged in (and left a persistent session without subscriptions)')
  const agent = await startAgent(cfg)
  t.teardown(() => agent.stop())
  const hub = await HubDouble.connect(m.url, 'S1')
  t.teardown(() => hub.close())
  await hub.waitState((s) => s.online, 'the agent online')
  t.match(await hub.command({ op: 'start', sessionId: 'after-check' }), { ok: true }, 'the agent gets charge commands')
  t.equal(agent.charger.status, 'charging')
})

t.test('a retained command is never executed by a station', { skip }, async (t) => {
  const m = await startMosquitto()
  t.teardown(() => m.close())
  const hub = await HubDouble.connect(m.url, 'S1')
  t.teardown(() => hub.close())
  await hub.client.publishAsync(topics.station('S1', 'cmd'), JSON.stringify({ id: 'retained-1', op: 'start', sessionId: 'ghost' }), { qos: 1, retain: true })
  await hub.client.publishAsync(topics.station('S1', 'ack'), JSON.stringify({ seq: 1_000_000 }), { qos: 1, retain: true })
  const agent = await startAgent(stationConfig({ url: m.url, dataDir: tempDir() }))
  t.teardown(() => agent.stop())
  await hub.waitState((s) => s.online, 'the agent online')
  // Delivered after the retained replay on the same subscription, so once it is answered the replay was seen.
  t.match(await hub.command({ op: 'enable' }), { ok: true })
  t.equal(hub.results.get('retained-1'), undefined, 'the retained start got no answer')
  t.not(agent.charger.status, 'charging', 'and did not close the relay')
})
