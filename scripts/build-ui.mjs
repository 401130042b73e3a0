// Builds the dashboard's browser files into dist/ui/ (served by the hub at /ui/assets/):
// app.js and app.css bundled by esbuild from hub/ui/web/, index.html, and region.json,
// the country outlines around the hub's region cut from world-atlas (Natural Earth 1:50m).
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import process from 'node:process'
import { build } from 'esbuild'
import { feature } from 'topojson-client'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const out = join(root, 'dist', 'ui')
mkdirSync(out, { recursive: true })

await build({
  entryPoints: { app: join(root, 'hub/ui/web/main.ts') },
  bundle: true,
  format: 'esm',
  target: 'es2022',
  minify: true,
  sourcemap: true,
  outdir: out,
  logLevel: 'warning',
})
copyFileSync(join(root, 'hub/ui/web/index.html'), join(out, 'index.html'))

// South America and its waters: the companies of this project are in Brazil. A hub elsewhere still
// gets its stations drawn (the map fits the stations), on a blank sea.
const BOX = { west: -92, east: -26, south: -56, north: 15 }
const topo = JSON.parse(readFileSync(join(root, 'node_modules/world-atlas/countries-50m.json'), 'utf8'))
const countries = feature(topo, topo.objects.countries)
const inBox = ([lon, lat]) => lon >= BOX.west && lon <= BOX.east && lat >= BOX.south && lat <= BOX.north
const points = (g) => (g.type === 'Polygon' ? g.coordinates.flat() : g.coordinates.flat(2))
const round = (g) => JSON.parse(JSON.stringify(g, (_k, v) => (typeof v === 'number' ? Math.round(v * 1000) / 1000 : v)))
const kept = countries.features.filter((f) => f.geometry && points(f.geometry).some(inBox)).map((f) => ({ type: 'Feature', properties: { name: f.properties.name }, geometry: round(f.geometry) }))
writeFileSync(join(out, 'region.json'), JSON.stringify({ type: 'FeatureCollection', features: kept }))
process.stdout.write(`build-ui: dist/ui (app.js, app.css, index.html, region.json with ${kept.length} countries)\n`)
