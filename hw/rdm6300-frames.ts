/**
 * The RDM6300's serial frames (125 kHz EM4100 reader, 9600 8N1, sends
 * unasked while a card is in the field):
 *
 *   STX 0x02 | 10 ASCII hex digits: version byte + 4-byte card id | 2 ASCII hex digits: checksum | ETX 0x03
 *
 * The checksum is the XOR of the 5 data bytes. Anything else on the line is
 * dropped: a frame with a bad length, a non-hex digit or a wrong checksum
 * never yields a card.
 */

const STX = 0x02
const ETX = 0x03
export const RDM6300_FRAME_BYTES = 14
const HEX = /^[0-9A-Fa-f]{12}$/

/** Build a frame for `uid` (10 hex digits); `checksum` overrides the computed one (tests: a garbled frame). */
export function rdm6300Frame(uid: string, checksum?: number): Buffer {
  const data = Buffer.from(uid, 'hex')
  if (data.length !== 5 || !/^[0-9A-Fa-f]{10}$/.test(uid)) throw new RangeError(`an RDM6300 card id is 10 hex digits, not "${uid}"`)
  const sum = checksum ?? data.reduce((x, b) => x ^ b, 0)
  return Buffer.concat([Buffer.from([STX]), Buffer.from(uid.toUpperCase() + sum.toString(16).padStart(2, '0').toUpperCase(), 'ascii'), Buffer.from([ETX])])
}

/** Splits the byte stream into frames; feed it chunks as they come. */
export class Rdm6300Parser {
  #buf: Buffer = Buffer.alloc(0)

  /** The card ids (uppercase hex) of the good frames completed by `chunk`, and how many bad ones were dropped. */
  push(chunk: Buffer): { uids: string[]; dropped: number } {
    this.#buf = this.#buf.length ? Buffer.concat([this.#buf, chunk]) : chunk
    const uids: string[] = []
    let dropped = 0
    for (;;) {
      const start = this.#buf.indexOf(STX)
      if (start < 0) {
        if (this.#buf.length) dropped++
        this.#buf = Buffer.alloc(0)
        break
      }
      if (start > 0) dropped++ // noise before a frame
      const end = this.#buf.indexOf(ETX, start + 1)
      const next = this.#buf.indexOf(STX, start + 1)
      if (next > 0 && (end < 0 || next < end)) {
        // A frame cut short (its ETX lost): drop it, never let it swallow the next one.
        dropped++
        this.#buf = this.#buf.subarray(next)
        continue
      }
      if (end < 0) {
        // Wait for the rest, but never hold more than one frame's worth.
        const rest = this.#buf.subarray(start)
        if (rest.length >= RDM6300_FRAME_BYTES) {
          dropped++
          this.#buf = Buffer.alloc(0)
          continue
        }
        this.#buf = rest
        break
      }
      const frame = this.#buf.subarray(start, end + 1)
      this.#buf = this.#buf.subarray(end + 1)
      const uid = decode(frame)
      if (uid === undefined) dropped++
      else uids.push(uid)
    }
    return { uids, dropped }
  }
}

function decode(frame: Buffer): string | undefined {
  if (frame.length !== RDM6300_FRAME_BYTES) return undefined
  const text = frame.subarray(1, 13).toString('ascii')
  if (!HEX.test(text)) return undefined
  const bytes = Buffer.from(text, 'hex')
  const sum = bytes.subarray(0, 5).reduce((x, b) => x ^ b, 0)
  return sum === bytes[5] ? text.slice(0, 10).toUpperCase() : undefined
}
