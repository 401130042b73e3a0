/**
 * Where the dashboard's built browser files are (`npm run build` writes them
 * with scripts/build-ui.mjs): `dist/ui/` at the package root. From source
 * (tsx) this file is `hub/ui/assets.ts`; built, it is `dist/hub/ui/assets.js`:
 * both resolve to the same folder. Null when it was not built.
 */
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const CANDIDATES = ['../../dist/ui/', '../../ui/']

export function uiAssetsDir(): string | null {
  for (const rel of CANDIDATES) {
    const dir = fileURLToPath(new URL(rel, import.meta.url))
    if (existsSync(`${dir}app.js`) && existsSync(`${dir}index.html`)) return dir
  }
  return null
}
