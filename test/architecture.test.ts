/**
 * The rooms' boundaries (docs/architecture.md): no import cycle between the
 * folders of hub/, and the lint rules that keep each room to its imports fire.
 */
import { fileURLToPath } from 'node:url'
import { dirname, resolve } from 'node:path'
import t from 'tap'
import { cycles, folderGraph } from './helpers/import-graph.js'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..')

t.test('no import cycle between the folders of hub/ (each pair of rooms depends one way)', async (t) => {
  const graph = folderGraph(ROOT, 'hub')
  t.ok(graph.has('hub/trips') && graph.has('hub/federation'), 'the graph was read')
  t.same(cycles(graph), [], 'cycles found')
})

t.test('the cycle check names a cycle when there is one', async (t) => {
  const g = new Map([
    ['hub/trips', new Set(['hub/federation', 'hub/store'])],
    ['hub/federation', new Set(['hub/trips'])],
    ['hub/store', new Set<string>()],
  ])
  t.same(cycles(g), ['hub/federation -> hub/trips -> hub/federation'])
})
