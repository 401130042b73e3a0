/** Dashboard logins: who may log in, the session cookie, CSRF, and that nothing is served without a login. */
import t, { type Test } from 'tap'
import { TestClock } from '../hub/clock.js'
import { HubConfigSchema } from '../hub/config.js'
import { OperatorAuthenticator } from '../hub/ui/operators.js'
import { SessionStore } from '../hub/ui/sessions.js'
import { hubConfig, startTestHub } from './helpers/hub.js'
import { OPERATOR, ensureUiBuilt } from './helpers/ui-browser.js'

const PEER = { hubId: 'salvador', url: 'http://127.0.0.1:9/', token: 'token-we-send-0001', acceptToken: 'token-salvador-sends-us-0001' }

async function hub(t: Test) {
  ensureUiBuilt()
  const cfg = hubConfig({ operators: [OPERATOR], federation: { peers: [PEER] } })
  const h = await startTestHub(cfg)
  t.teardown(() => h.close())
  return h
}

const form = (token: string): RequestInit => ({ method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ token }).toString() })

async function login(url: string): Promise<{ cookie: string; csrf: string; setCookie: string }> {
  const res = await fetch(`${url}/ui/login`, form(OPERATOR.token))
  const setCookie = res.headers.get('set-cookie') ?? ''
  const cookie = setCookie.split(';')[0] ?? ''
  const s = (await (await fetch(`${url}/ui/api/session`, { headers: { cookie } })).json()) as { csrf: string }
  return { cookie, csrf: s.csrf, setCookie }
}

/** A concrete URL for a route pattern. */
const concrete = (url: string): string => url.replace(':id', 'FSA-1').replace('*', 'app.js')

t.test('logged out, every page and data URL the dashboard registers is refused', async (t) => {
  const h = await hub(t)
  const routes = h.ui.routes()
  t.ok(routes.length >= 15, `the dashboard registered ${routes.length} routes`)
  for (const r of routes) {
    const [method, url] = r.split(' ') as [string, string]
    if (url === '/ui/login') continue
    const res = await fetch(`${h.httpUrl}${concrete(url)}`, { method, redirect: 'manual' })
    const isPage = method === 'GET' && !url.startsWith('/ui/api/') && !url.startsWith('/ui/assets/')
    if (isPage) {
      t.equal(res.status, 302, `${r}: a page redirects`)
      t.equal(res.headers.get('location'), '/ui/login', `${r}: to the login form`)
    } else {
      t.equal(res.status, 401, `${r}: data is refused`)
      t.equal(((await res.json()) as { error: { code: string } }).error.code, 'UNAUTHORIZED')
    }
  }
  const fake = await fetch(`${h.httpUrl}/ui/api/overview`, { headers: { cookie: 'voltway_ui=made-up' } })
  t.equal(fake.status, 401, 'a made-up session id is refused')
})

t.test('only an operator token logs in: peer tokens and vehicle or station passwords do not', async (t) => {
  const h = await hub(t)
  for (const token of [PEER.acceptToken, PEER.token, 'v1-pass', 's3cret-1', '', OPERATOR.token + 'x']) {
    const res = await fetch(`${h.httpUrl}/ui/login`, form(token))
    t.equal(res.status, 401, `token ${JSON.stringify(token)} is refused`)
    t.notOk(res.headers.get('set-cookie'), 'and gets no cookie')
  }
  const ok = await fetch(`${h.httpUrl}/ui/login`, form(OPERATOR.token))
  t.equal(ok.status, 303)
  t.equal(ok.headers.get('location'), '/ui/')
})

t.test('a login form over 4 KiB is 413 PAYLOAD_TOO_LARGE naming its own limit, and logs nobody in', async (t) => {
  const h = await hub(t)
  const res = await fetch(`${h.httpUrl}/ui/login`, form(OPERATOR.token + 'x'.repeat(5000)))
  t.equal(res.status, 413)
  t.notOk(res.headers.get('set-cookie'), 'no cookie')
  t.match(await res.json(), { error: { code: 'PAYLOAD_TOO_LARGE', message: /^body is larger than 4 KiB,/, details: { limitBytes: 4096 } } })
})

t.test('the session cookie is httpOnly, SameSite=Strict and scoped to /ui', async (t) => {
  const h = await hub(t)
  const { setCookie } = await login(h.httpUrl)
  t.match(setCookie, /^voltway_ui=[A-Za-z0-9_-]{43};/)
  t.match(setCookie, /HttpOnly/)
  t.match(setCookie, /SameSite=Strict/)
  t.match(setCookie, /Path=\/ui/)
  t.notMatch(setCookie, /Secure/, 'not Secure over plain HTTP')
})

t.test('a POST without the session CSRF token is refused and changes nothing; logout ends the session', async (t) => {
  const h = await hub(t)
  const { cookie, csrf } = await login(h.httpUrl)
  const ok = await fetch(`${h.httpUrl}/ui/api/overview`, { headers: { cookie } })
  t.equal(ok.status, 200, 'logged in, data is served')
  const bad = await fetch(`${h.httpUrl}/ui/logout`, { method: 'POST', headers: { cookie, 'x-csrf-token': 'wrong' } })
  t.equal(bad.status, 403)
  t.equal(((await bad.json()) as { error: { code: string } }).error.code, 'FORBIDDEN')
  const none = await fetch(`${h.httpUrl}/ui/api/stations/FSA-1/disable`, { method: 'POST', headers: { cookie } })
  t.equal(none.status, 403, 'an action without the header is refused')
  t.equal((await fetch(`${h.httpUrl}/ui/api/overview`, { headers: { cookie } })).status, 200, 'the session still works')
  const out = await fetch(`${h.httpUrl}/ui/logout`, { method: 'POST', headers: { cookie, 'x-csrf-token': csrf } })
  t.equal(out.status, 204)
  t.match(out.headers.get('set-cookie') ?? '', /voltway_ui=;/, 'the cookie is cleared')
  t.equal((await fetch(`${h.httpUrl}/ui/api/overview`, { headers: { cookie } })).status, 401, 'the old cookie no longer works')
})

t.test('the federation scope is untouched: a peer token still reaches it, an operator session does not', async (t) => {
  const h = await hub(t)
  const { cookie } = await login(h.httpUrl)
  const asOperator = await fetch(`${h.httpUrl}/federation/v1/hub`, { headers: { cookie } })
  t.equal(asOperator.status, 401)
  const asPeer = await fetch(`${h.httpUrl}/federation/v1/hub`, { headers: { authorization: `Bearer ${PEER.acceptToken}` } })
  t.not(asPeer.status, 401)
})

t.test('sessions expire on the clock and are bounded in number', async (t) => {
  const clock = new TestClock()
  const store = new SessionStore({ clock, ttlMs: 60_000, max: 3 })
  const a = store.create('ana')
  t.ok(store.get(a.id))
  clock.advance(60_000)
  t.equal(store.get(a.id), null, 'expired at its ttl')
  const ids = [1, 2, 3, 4].map(() => store.create('ana').id)
  t.equal(store.size, 3, 'never more than max')
  t.equal(store.get(ids[0]), null, 'the oldest was dropped')
  t.ok(store.get(ids[3]))
})

t.test('operator tokens are checked against every operator; a config with a token shared with a peer is refused', async (t) => {
  const auth = new OperatorAuthenticator([OPERATOR, { name: 'bo', token: 'operator-token-bo-0123456789' }])
  t.equal(auth.login('operator-token-bo-0123456789'), 'bo')
  t.equal(auth.login(42), null)
  t.equal(auth.login('x'.repeat(600)), null)
  const raw = { ...hubConfig(), operators: [{ name: 'ana', token: PEER.acceptToken }], federation: { peers: [PEER], links: [] } }
  const r = HubConfigSchema.safeParse(raw)
  t.notOk(r.success)
  t.match(JSON.stringify(r.error?.issues), /already used by a peer/)
  t.notOk(HubConfigSchema.safeParse({ ...hubConfig(), operators: [{ name: 'ana', token: 'short' }] }).success, 'a short token is refused')
})
