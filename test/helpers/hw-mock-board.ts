/** The mock board wired as create-hardware.ts wires it, with short timeouts for tests. */
import { JohnnyFiveBoard } from '../../hw/five-board.js'
import { MockIo } from '../../hw/mock-io.js'

export async function mockBoard(opts: { writeTimeoutMs?: number; readyTimeoutMs?: number } = {}): Promise<{ io: MockIo; board: JohnnyFiveBoard }> {
  const io = new MockIo()
  const board = new JohnnyFiveBoard({
    io,
    name: 'mock board',
    flush: () => io.flush(),
    release: () => io.close(),
    writeTimeoutMs: opts.writeTimeoutMs ?? 100,
    readyTimeoutMs: opts.readyTimeoutMs ?? 2000,
  })
  await board.ready()
  return { io, board }
}

/** Resolves when the board reports its disconnect, or rejects after `ms`. */
export function disconnected(board: JohnnyFiveBoard, ms = 2000): Promise<Error> {
  return new Promise<Error>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`board did not report a disconnect within ${ms} ms`)), ms)
    const stop = board.onDisconnect((err) => {
      clearTimeout(timer)
      stop()
      resolve(err)
    })
  })
}
