/**
 * The CardReader contract (hw/types.ts), as tests, run against the mock
 * reader and the RDM6300 driver (real serialport binding over a pty).
 */
import type { Test } from 'tap'
import type { CardReader } from '../../hw/types.js'
import type { ManualClock } from './hw-clock.js'
import { waitUntil } from './net.js'

export const CARD_DEBOUNCE_MS = 1000

export interface CardReaderHarness {
  /** Opened with the harness clock and a debounce of CARD_DEBOUNCE_MS. */
  reader: CardReader
  clock: ManualClock
  /** One frame of card `uid` (10 hex digits, any case) reaches the reader. */
  frame(uid: string): Promise<void>
  /** One garbled frame (a bad checksum) reaches the reader. */
  garbled(): Promise<void>
  dispose(): Promise<void>
}

export function cardReaderContract(tap: Test, name: string, open: () => Promise<CardReaderHarness>): void {
  const check = (rule: string, body: (t: Test, h: CardReaderHarness, seen: string[]) => Promise<void>): void => {
    tap.test(`${name}: ${rule}`, async (t) => {
      const h = await open()
      t.teardown(() => h.dispose())
      const seen: string[] = []
      h.reader.onCard((uid) => seen.push(uid))
      await body(t, h, seen)
    })
  }
  const taps = (seen: string[], n: number): Promise<true> => waitUntil(() => seen.length >= n || undefined, 3000, `${n} card taps`)

  check('a tap is reported as the card UID in uppercase hex, asynchronously', async (t, h, seen) => {
    let sync = true
    h.reader.onCard(() => t.notOk(sync, 'not from inside the frame'))
    await h.frame('04a1b2c3d4')
    sync = false
    await taps(seen, 1)
    t.same(seen, ['04A1B2C3D4'])
  })

  check('a card held on the reader (frames repeated within the debounce time) is one tap', async (t, h, seen) => {
    for (let i = 0; i < 5; i++) {
      await h.frame('04A1B2C3D4')
      // Each repeat is handled before the clock moves on, so it lands where the test puts it in time.
      await waitUntil(() => h.reader.received > i || undefined, 3000, `frame ${i + 1} handled`)
      h.clock.advance(CARD_DEBOUNCE_MS / 2)
    }
    await h.frame('0500000001') // a sentinel: every frame before it was handled once it is reported
    await taps(seen, 2)
    t.same(seen, ['04A1B2C3D4', '0500000001'])
  })

  check('the same card tapped again after the debounce time is a new tap', async (t, h, seen) => {
    await h.frame('04A1B2C3D4')
    await taps(seen, 1)
    h.clock.advance(CARD_DEBOUNCE_MS)
    await h.frame('04A1B2C3D4')
    await taps(seen, 2)
    t.same(seen, ['04A1B2C3D4', '04A1B2C3D4'])
  })

  check('a garbled frame is dropped and counted, never reported', async (t, h, seen) => {
    await h.garbled()
    await h.frame('0500000001')
    await taps(seen, 1)
    t.same(seen, ['0500000001'])
    t.equal(h.reader.dropped, 1)
  })

  check('after close() nothing is reported and close() never rejects', async (t, h, seen) => {
    await h.reader.close()
    await t.resolves(h.reader.close(), 'twice')
    await h.frame('04A1B2C3D4').catch(() => undefined)
    await new Promise((r) => setImmediate(r))
    t.same(seen, [])
  })
}
