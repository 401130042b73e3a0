/** An in-process aedes broker on a free port, without auth, for protocol-level tests. */
import { createServer, type Server } from 'node:net'
import { once } from 'node:events'
import { Aedes, type AedesOptions } from 'aedes'

export interface TestBroker {
  port: number
  url: string
  broker: Aedes
  close(): Promise<void>
}

export async function startAedes(opts: AedesOptions = {}): Promise<TestBroker> {
  const broker = await Aedes.createBroker(opts)
  const server: Server = createServer((socket) => {
    socket.setNoDelay(true)
    broker.handle(socket)
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const addr = server.address()
  const port = typeof addr === 'object' && addr ? addr.port : 0
  return {
    port,
    url: `mqtt://127.0.0.1:${port}`,
    broker,
    async close() {
      await new Promise<void>((r) => broker.close(() => r()))
      await new Promise<void>((r) => server.close(() => r()))
    },
  }
}
