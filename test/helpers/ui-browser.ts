/**
 * For dashboard tests: the browser bundle built once (if dist/ui is missing),
 * Debian's chromium driven by playwright-core (no browser download), and a
 * logged-in page. `browserOrSkip` says clearly when chromium is missing.
 */
import { execFileSync } from 'node:child_process'
import { existsSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { chromium, type Browser, type Page } from 'playwright-core'
import { uiAssetsDir } from '../../hub/ui/assets.js'

export const CHROMIUM = process.env.VOLTWAY_CHROMIUM ?? '/usr/bin/chromium'
export const OPERATOR = { name: 'ana', token: 'operator-token-ana-0123456789' }

const WEB = fileURLToPath(new URL('../../hub/ui/web/', import.meta.url))

/** The newest change among the browser sources (ms). */
const newestSource = (): number => Math.max(...readdirSync(WEB, { recursive: true, encoding: 'utf8' }).map((f) => statSync(join(WEB, f)).mtimeMs))

/** Build dist/ui with scripts/build-ui.mjs unless it is there and newer than every browser source. */
export function ensureUiBuilt(): void {
  const dir = uiAssetsDir()
  if (dir !== null && statSync(join(dir, 'app.js')).mtimeMs >= newestSource()) return
  execFileSync(process.execPath, [fileURLToPath(new URL('../../scripts/build-ui.mjs', import.meta.url))], { stdio: 'inherit' })
}

/** A headless chromium, or null with the reason (the caller skips). */
export async function browserOrSkip(): Promise<Browser | string> {
  if (!existsSync(CHROMIUM)) return `no chromium at ${CHROMIUM} (apt-get install chromium; .ci/run does)`
  ensureUiBuilt()
  return chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu'], headless: true })
}

/** Open the login form at `httpUrl`, log in with `token`, and wait for the first page to be drawn. */
export async function logIn(browser: Browser, httpUrl: string, token = OPERATOR.token): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } })
  await page.goto(`${httpUrl}/ui/`)
  await page.fill('#token', token)
  await Promise.all([page.waitForURL(`${httpUrl}/ui/`), page.click('button[type=submit]')])
  await page.waitForSelector('body[data-ready=true]', { timeout: 10_000 })
  return page
}
