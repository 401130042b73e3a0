/**
 * Read a file a user named (a config, a certificate, a password or pid file)
 * without letting the path stall or swamp the process: a FIFO is opened
 * without waiting for a writer (O_NONBLOCK) and, like a device (/dev/zero
 * never ends), a socket or a directory, refused; a file larger than
 * `maxBytes` is refused before it is read. Throws a NodeJS.ErrnoException:
 * the system's (ENOENT, EACCES...), or EISDIR, ENOTREGULAR (not a regular
 * file) or EFBIG (too large); `readProblem` words any of them for a message.
 */
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs'

export function readRegularFile(file: string | URL, maxBytes: number): Buffer {
  const fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK)
  try {
    const st = fstatSync(fd)
    if (st.isDirectory()) throw fileError('EISDIR', `${String(file)} is a directory`)
    if (!st.isFile()) throw fileError('ENOTREGULAR', `${String(file)} is not a regular file`)
    if (st.size > maxBytes) throw fileError('EFBIG', `${String(file)} is larger than ${maxBytes} bytes`)
    // A file still growing is read up to its size at open, plus one byte to tell.
    const buf = Buffer.alloc(st.size + 1)
    let n = 0
    while (n < buf.length) {
      const got = readSync(fd, buf, n, buf.length - n, null)
      if (got === 0) break
      n += got
    }
    if (n > maxBytes) throw fileError('EFBIG', `${String(file)} is larger than ${maxBytes} bytes`)
    return buf.subarray(0, n)
  } finally {
    closeSync(fd)
  }
}

/** The reason `readRegularFile` (or any fs call) failed, as the parenthesis of a message: `(ENOENT)`, `(not a regular file: a device, FIFO or socket)`. */
export function readProblem(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code
  switch (code) {
    case 'EISDIR':
      return '(a directory)'
    case 'ENOTREGULAR':
      return '(not a regular file: a device, FIFO or socket)'
    case 'EFBIG':
      return `(too large: ${(err as Error).message.replace(/^.* is /, '')})`
    case undefined:
      return ''
    default:
      return `(${code})`
  }
}

function fileError(code: string, message: string): NodeJS.ErrnoException {
  return Object.assign(new Error(message), { code })
}
