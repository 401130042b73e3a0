/** demo/ports.ts: a port picked ahead of time is never handed out twice in one process, even to concurrent callers. */
import t from 'tap'
import { rmSync } from 'node:fs'
import { buildDemoConfigs } from '../demo/configs.js'
import { pickPort, pickPorts } from '../demo/ports.js'
import { tempDir } from './helpers/hub.js'

// 600 picks over the 12,000 ports of the range: picked at random and forgotten, two would repeat
// with a probability of 1 - e^(-600²/24000), i.e. all but certainly (the fault the demo trial found).
t.test('pickPort never hands out a port twice, to callers in parallel or one after another', async (t) => {
  const parallel = await Promise.all(Array.from({ length: 300 }, () => pickPort()))
  const sequential: number[] = []
  for (let i = 0; i < 300; i++) sequential.push(await pickPort())
  const all = [...parallel, ...sequential]
  const repeated = all.filter((p, i) => all.indexOf(p) !== i)
  t.same(repeated, [], `${all.length} picks, all distinct`)
  t.ok(all.every((p) => p >= 20_000 && p < 32_000), 'all below the ephemeral range')
})

t.test('pickPorts(n) gives n distinct ports, none handed out before, and the demo uses it for its eight listeners', async (t) => {
  const before = await pickPorts(50)
  const after = await pickPorts(50)
  t.equal(new Set([...before, ...after]).size, 100, 'two batches of 50: 100 distinct ports')
  const dir = tempDir('voltway-demo-ports-')
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const cfgs = await buildDemoConfigs(dir, 0)
  const listeners = cfgs.hubs.flatMap((h) => ['listen' in h.mqtt ? h.mqtt.listen.port : 0, h.http.port])
  t.equal(listeners.length, 8, 'four hubs, MQTT and HTTP each')
  t.equal(new Set([...listeners, ...before, ...after]).size, 108, "the demo's eight ports are distinct from each other and from every earlier pick")
})
