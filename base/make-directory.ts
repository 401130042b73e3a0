/**
 * Create a directory and any missing parents, like `mkdir -p`, or do nothing
 * when it is there already. Throws the `mkdir` error (a NodeJS.ErrnoException
 * with its `code`: EACCES, EPERM, ENOTDIR, EROFS, ENOSPC, ENOENT...) for the
 * first directory that cannot be made, or EEXIST when `path` (or a parent)
 * is a file.
 *
 * Why not `mkdirSync(path, { recursive: true })`: on a file system that
 * refuses new directories with ENOENT although the parent exists (procfs:
 * `/proc/x`), Node's recursive mkdir retries forever, so a typo in a
 * configured directory hung the process; the `mkdirp` package's manual mode
 * recurses without end there instead. Here each level is made once.
 */
import { mkdirSync, statSync } from 'node:fs'
import { dirname, resolve } from 'node:path'

/** `mode` applies to every directory created (as with mkdir -p -m, before the umask). */
export function makeDirectory(path: string, mode?: number): void {
  const dir = resolve(path)
  const opts = mode === undefined ? {} : { mode }
  try {
    mkdirSync(dir, opts)
    return
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'EEXIST') {
      if (isDirectory(dir)) return
      throw err
    }
    const parent = dirname(dir)
    if (code !== 'ENOENT' || parent === dir) throw err
    makeDirectory(parent, mode)
  }
  // The parent is there now: a second ENOENT (procfs) is the answer, not a reason to go up again.
  mkdirSync(dir, opts)
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory()
  } catch {
    return false
  }
}
