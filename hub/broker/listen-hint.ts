/**
 * What an operator can do when a listener cannot open: one hint per cause,
 * for the embedded broker (mqtt.listen) and the HTTP server (http).
 * `hostField` names the hub.json field of the host; `changePort` says how to
 * give another port (`change http.port`, or a flag such as --http-port).
 */
export function listenHint(code: string | undefined, hostField: string, changePort: string): string | undefined {
  switch (code) {
    case 'EADDRINUSE':
      return `another program may use the port: stop it or ${changePort}`
    case 'EACCES':
      return `ports below 1024 need privileges (root or CAP_NET_BIND_SERVICE): ${changePort}, from 1024 up`
    case 'EADDRNOTAVAIL':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `${hostField} is not an address of this machine: use 127.0.0.1, 0.0.0.0 (every interface) or one of its own addresses`
    default:
      return undefined
  }
}
