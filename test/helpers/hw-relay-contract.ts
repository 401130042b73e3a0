/**
 * The Relay contract (hw/types.ts), as tests. Every Relay implementation runs
 * this suite, in the manner of aedes-persistence's abstract suite.
 */
import type { Test } from 'tap'
import { isHwError } from '../../hw/errors.js'
import type { Board, Relay } from '../../hw/types.js'

export interface RelayHarness {
  board: Board
  relay: Relay
  /** The level the device last received on the relay pin. */
  level(): number | undefined
  /** Pin level that closes the contacts (NO: 1, NC: 0). */
  closedLevel: 0 | 1
  /** Make the next pin write throw; absent where a failed write is a disconnect (serialport). */
  failNextWrite?: () => void
  stallWrites(stalled: boolean): void
  /** Pull the cable; resolves once the board noticed. */
  disconnect(): Promise<void>
  dispose(): Promise<void>
}

export function relayContract(tap: Test, name: string, open: () => Promise<RelayHarness>): void {
  const check = (rule: string, body: (t: Test, h: RelayHarness) => Promise<void>): void => {
    tap.test(`${name}: ${rule}`, async (t) => {
      const h = await open()
      t.teardown(() => h.dispose())
      await body(t, h)
    })
  }

  check('a relay starts open', async (t, h) => {
    t.equal(h.relay.state, 'open')
    t.equal(h.relay.isClosed, false)
    t.equal(h.level(), 1 - h.closedLevel, 'pin is at the open level')
  })

  check('close() drives the pin to the closed level and open() back (NC inverts the level)', async (t, h) => {
    await h.relay.close()
    t.equal(h.relay.state, 'closed')
    t.equal(h.relay.isClosed, true)
    t.equal(h.level(), h.closedLevel)
    await h.relay.open()
    t.equal(h.relay.state, 'open')
    t.equal(h.level(), 1 - h.closedLevel)
  })

  check('a failed write rejects with HW_RELAY_WRITE_FAILED and leaves the state unknown', async (t, h) => {
    if (!h.failNextWrite) {
      t.pass('skipped: on this transport a failed write is a disconnect, checked below')
      return
    }
    await h.relay.close()
    h.failNextWrite()
    const err: unknown = await h.relay.open().catch((e: unknown) => e)
    t.ok(isHwError(err, 'HW_RELAY_WRITE_FAILED'), `got ${String(err)}`)
    t.equal(h.relay.state, 'unknown')
    t.equal(h.relay.isClosed, false, 'unknown is not closed')
    await h.relay.open()
    t.equal(h.relay.state, 'open', 'a later successful write makes the state known again')
  })

  check('a write that does not leave the host in time rejects with HW_TIMEOUT and leaves the state unknown', async (t, h) => {
    h.stallWrites(true)
    const err: unknown = await h.relay.close().catch((e: unknown) => e)
    h.stallWrites(false)
    t.ok(isHwError(err, 'HW_TIMEOUT'), `got ${String(err)}`)
    t.equal(h.relay.state, 'unknown')
  })

  check('after a disconnect the state is unknown and writes reject with HW_DISCONNECTED', async (t, h) => {
    await h.relay.close()
    await h.disconnect()
    t.equal(h.relay.state, 'unknown')
    t.equal(h.relay.isClosed, false)
    const err: unknown = await h.relay.open().catch((e: unknown) => e)
    t.ok(isHwError(err, 'HW_DISCONNECTED'), `got ${String(err)}`)
    t.equal(h.relay.state, 'unknown')
  })

  check('dispose() opens the relay, never rejects, and later writes reject with HW_CLOSED', async (t, h) => {
    await h.relay.close()
    await h.relay.dispose()
    t.equal(h.level(), 1 - h.closedLevel, 'opened on dispose')
    await h.relay.dispose()
    const err: unknown = await h.relay.close().catch((e: unknown) => e)
    t.ok(isHwError(err, 'HW_CLOSED'), `got ${String(err)}`)
    t.equal(h.level(), 1 - h.closedLevel, 'still open')
  })

  check('closing the board opens every relay it made', async (t, h) => {
    await h.relay.close()
    await h.board.close()
    t.equal(h.level(), 1 - h.closedLevel)
    t.equal(h.relay.state, 'open')
  })

  check('dispose() after a disconnect does not reject', async (t, h) => {
    await h.disconnect()
    await t.resolves(h.relay.dispose())
  })
}
