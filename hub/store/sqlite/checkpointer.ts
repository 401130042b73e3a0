/**
 * WAL checkpoints off the hub's event loop. In WAL mode SQLite copies the
 * log back into the database file (a checkpoint, with an fsync of each under
 * `synchronous = NORMAL`) inside whichever COMMIT crosses
 * `wal_autocheckpoint` pages [sqlite.org/wal.html#ckpt]: a hub writing
 * thousands of small commits a second then stalls every few hundred of them
 * for the copy and the disk (measured in bench/hub-mqtt.ts: reservation.create
 * about 10% faster without it).
 *
 * Here a worker thread holds its own connection to the file and runs
 * `PRAGMA wal_checkpoint(PASSIVE)` every `intervalMs`: PASSIVE never waits
 * for, nor blocks, the hub's writer or readers. A checkpoint is not a commit,
 * so the hub's connection sees no `data_version` change from it (its booking
 * index stays valid). The hub's own connection keeps a far larger
 * `wal_autocheckpoint` as a safety net, should the worker stall or die.
 */
import { createRequire } from 'node:module'
import { once } from 'node:events'
import { Worker } from 'node:worker_threads'

export interface CheckpointerOptions {
  /** Between two checkpoints, ms (default 100). */
  intervalMs?: number
}

export interface Checkpointer {
  /** Stop checkpointing and close the worker's connection. */
  close(): Promise<void>
}

/** The worker (CommonJS, evaluated): its connection, a timer, and a stop message. */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads')
const Database = require(workerData.driver)
const db = new Database(workerData.file, { fileMustExist: true, timeout: 0 })
const timer = setInterval(() => {
  try {
    db.pragma('wal_checkpoint(PASSIVE)')
  } catch {
    // A busy or failing checkpoint is retried at the next tick; the writer's own safety net still runs.
  }
}, workerData.intervalMs)
parentPort.once('message', () => {
  clearInterval(timer)
  db.close()
  parentPort.close()
})
`

/** Start checkpointing the WAL of `file` (an open database in WAL mode) in a worker thread. */
export function startCheckpointer(file: string, opts: CheckpointerOptions = {}): Checkpointer {
  const driver = createRequire(import.meta.url).resolve('better-sqlite3')
  const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { file, driver, intervalMs: opts.intervalMs ?? 100 } })
  // The hub's life is not tied to it; a worker that fails leaves the safety net in charge.
  worker.unref()
  worker.on('error', () => undefined)
  const exited = once(worker, 'exit').then(() => undefined)
  let closing: Promise<void> | null = null
  return {
    close() {
      closing ??= (async () => {
        worker.postMessage('stop')
        // A worker that does not finish its checkpoint and close in time is stopped; SQLite is crash-safe.
        const timer = setTimeout(() => void worker.terminate(), 2000)
        await exited
        clearTimeout(timer)
      })()
      return closing
    },
  }
}
