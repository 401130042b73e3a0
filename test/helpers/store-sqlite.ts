/** Temporary SQLite stores for tests: a fresh directory each, removed on dispose. */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SqliteStore, type SqliteStoreOptions } from '../../hub/store/index.js'

export interface TempSqlite {
  dir: string
  open(opts?: Partial<SqliteStoreOptions>): SqliteStore
  /** Close every store opened here and delete the directory. */
  dispose(): Promise<void>
}

export function tempSqlite(): TempSqlite {
  const dir = mkdtempSync(join(tmpdir(), 'voltway-store-'))
  const opened: SqliteStore[] = []
  return {
    dir,
    open(opts = {}) {
      const store = new SqliteStore({ dataDir: dir, ...opts })
      opened.push(store)
      return store
    },
    async dispose() {
      for (const s of opened) await s.close()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
