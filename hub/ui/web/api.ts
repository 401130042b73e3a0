/** Talking to the hub: JSON GETs, and POSTs carrying the session's CSRF token. A 401 sends the browser to the login form. */
let csrf = ''

export function setCsrf(token: string): void {
  csrf = token
}

async function check(res: Response): Promise<Response> {
  if (res.status === 401) {
    location.assign('/ui/login')
    throw new Error('logged out')
  }
  if (!res.ok) {
    const body = (await res.json().catch(() => null)) as { error?: { code: string; message: string } } | null
    throw new Error(body?.error ? `${body.error.code}: ${body.error.message}` : `HTTP ${res.status}`)
  }
  return res
}

export async function getJson<T>(url: string): Promise<T> {
  return (await (await check(await fetch(url, { credentials: 'same-origin' }))).json()) as T
}

export async function post(url: string): Promise<unknown> {
  const res = await check(await fetch(url, { method: 'POST', credentials: 'same-origin', headers: { 'x-csrf-token': csrf } }))
  return res.status === 204 ? null : res.json()
}
