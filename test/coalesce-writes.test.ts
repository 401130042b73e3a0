/**
 * protocol/coalesce-writes.ts on real loopback sockets: what one event-loop
 * turn writes leaves in one system call, every byte arrives in order, and an
 * MQTT client's write callbacks are not held back until then.
 */
import { EventEmitter, once } from 'node:events'
import { createServer, connect, type Server, type Socket } from 'node:net'
import t, { type Test } from 'tap'
import { batchClientWrites, coalesceWrites } from '../protocol/index.js'

/** A loopback server that keeps everything each connection sends. */
async function sink(t: Test): Promise<{ port: number; received: () => Promise<Buffer> }> {
  const chunks: Buffer[] = []
  let ended: Promise<unknown> = Promise.resolve()
  const server: Server = createServer((s) => {
    s.on('data', (d: Buffer) => chunks.push(d))
    ended = once(s, 'end')
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(() => server.close())
  const addr = server.address()
  return {
    port: typeof addr === 'object' && addr ? addr.port : 0,
    async received() {
      await ended
      return Buffer.concat(chunks)
    },
  }
}

/** Count the socket's calls into the system (one `_write` or `_writev` each). */
function countSyscalls(socket: Socket): { calls: number } {
  const count = { calls: 0 }
  const s = socket as unknown as { _write: (...a: unknown[]) => void; _writev: (...a: unknown[]) => void }
  const w = s._write.bind(socket)
  const wv = s._writev.bind(socket)
  s._write = (...a) => (count.calls++, w(...a))
  s._writev = (...a) => (count.calls++, wv(...a))
  return count
}

async function connected(port: number): Promise<Socket> {
  const socket = connect(port, '127.0.0.1')
  await once(socket, 'connect')
  return socket
}

const turn = (): Promise<void> => new Promise((r) => setImmediate(r))

t.test('batchClientWrites: one turn of writes leaves in one call, callbacks run before it, end() sends the rest', async (t) => {
  const server = await sink(t)
  const socket = await connected(server.port)
  const client = Object.assign(new EventEmitter(), { stream: socket })
  batchClientWrites(client)
  batchClientWrites(client)
  const count = countSyscalls(socket)
  const called: number[] = []
  for (let i = 0; i < 10; i++) t.equal(socket.write(`packet ${i};`, () => called.push(i)), true, 'write reports no backpressure')
  await new Promise((r) => process.nextTick(r))
  t.same(called, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 'every callback ran on the next tick, before the batch left')
  t.equal(count.calls, 0, 'nothing written yet within the turn')
  await turn()
  t.equal(count.calls, 1, 'ten writes of one turn: one call')
  socket.write('tail;')
  socket.end()
  t.equal((await server.received()).toString(), `${Array.from({ length: 10 }, (_, i) => `packet ${i};`).join('')}tail;`, 'every byte in order, the batched tail before the end')
})

t.test('batchClientWrites: a reconnect (a new stream, then connect) is batched too', async (t) => {
  const server = await sink(t)
  const first = await connected(server.port)
  const client = Object.assign(new EventEmitter(), { stream: first })
  batchClientWrites(client)
  first.destroy()
  client.stream = await connected(server.port)
  client.emit('connect')
  const count = countSyscalls(client.stream)
  client.stream.write('a')
  client.stream.write('b')
  await turn()
  t.equal(count.calls, 1, 'two writes, one call')
  client.stream.end()
  t.equal((await server.received()).toString(), 'ab')
})

t.test('batchClientWrites: a write after the socket is destroyed fails through its callback as before', async (t) => {
  const server = await sink(t)
  const socket = await connected(server.port)
  batchClientWrites(Object.assign(new EventEmitter(), { stream: socket }))
  socket.on('error', () => undefined)
  socket.destroy()
  const err = await new Promise<Error | null | undefined>((resolve) => socket.write('late', resolve))
  t.ok(err, `the callback gets an error (${err?.message ?? ''})`)
})

t.test('coalesceWrites: one turn of writes leaves in one call', async (t) => {
  const server = await sink(t)
  const socket = await connected(server.port)
  coalesceWrites(socket)
  const count = countSyscalls(socket)
  for (let i = 0; i < 5; i++) socket.write(`m${i}`)
  await turn()
  t.equal(count.calls, 1)
  socket.end()
  t.equal((await server.received()).toString(), 'm0m1m2m3m4')
})
