/**
 * Replace a file atomically with `content` and exactly `mode`: written to a
 * temporary file beside it, then renamed over it, so a reader (Mosquitto
 * reloading its password file, say) sees the old file or the new one, never
 * half of one. The mode is set again after writing, in case a stale
 * temporary file was left with another mode.
 */
import { chmodSync, renameSync, writeFileSync } from 'node:fs'

export function writeFileAtomic(file: string, content: string, mode: number): void {
  const tmp = `${file}.tmp-${process.pid}`
  writeFileSync(tmp, content, { mode })
  chmodSync(tmp, mode)
  renameSync(tmp, file)
}
