/** The login form: self-contained HTML (no script, no external file), so it works before any asset may be served. */
export function loginPage(hubName: string, error: string | null): string {
  const esc = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${esc(hubName)} · Voltway operator login</title>
<style>body{font:15px system-ui,sans-serif;background:#0f172a;color:#e2e8f0;display:grid;place-items:center;height:100vh;margin:0}
form{background:#1e293b;padding:2rem;border-radius:8px;min-width:20rem}input{width:100%;box-sizing:border-box;padding:.5rem;margin:.5rem 0 1rem;font:inherit}
button{padding:.5rem 1rem;font:inherit}.err{color:#fca5a5}</style></head>
<body><form method="post" action="/ui/login"><h1>${esc(hubName)}</h1>
${error ? `<p class="err" role="alert">${esc(error)}</p>` : ''}
<label for="token">Operator token</label><input id="token" name="token" type="password" autocomplete="current-password" required autofocus>
<button type="submit">Log in</button></form></body></html>`
}
