/**
 * Card readers: the CardReader contract against the mock reader and the
 * RDM6300 driver on the real serialport native binding over a socat pty pair,
 * and the RDM6300 frame rules.
 */
import t from 'tap'
import { createHardware } from '../hw/create-hardware.js'
import { MockCardReader } from '../hw/mock-card-reader.js'
import { Rdm6300Parser, rdm6300Frame } from '../hw/rdm6300-frames.js'
import { Rdm6300Reader } from '../hw/rdm6300-reader.js'
import { CARD_DEBOUNCE_MS, cardReaderContract } from './helpers/hw-card-contract.js'
import { manualClock } from './helpers/hw-clock.js'
import { closeDeviceEnd, hasSocat, hostLineSettings, openDeviceEnd, ptyPair } from './helpers/hw-pty.js'

cardReaderContract(t, 'mock card reader', async () => {
  const clock = manualClock()
  const reader = new MockCardReader({ clock, debounceMs: CARD_DEBOUNCE_MS })
  return {
    reader,
    clock,
    frame: async (uid) => reader.tap(uid),
    garbled: async () => reader.garble(),
    dispose: () => reader.close(),
  }
})

if (!hasSocat()) {
  t.comment('socat is not installed (apt-get install socat): skipping the RDM6300 pseudo-terminal tests')
  t.pass('skipped: no socat')
} else {
  cardReaderContract(t, 'RDM6300 on a pty (real serialport binding)', async () => {
    const clock = manualClock()
    const pty = await ptyPair()
    const reader = await Rdm6300Reader.open({ path: pty.host, clock, debounceMs: CARD_DEBOUNCE_MS })
    const device = await openDeviceEnd(pty.device)
    const send = (b: Buffer): Promise<void> => new Promise((resolve, reject) => device.write(b, (err) => (err ? reject(err) : device.drain(() => resolve()))))
    return {
      reader,
      clock,
      frame: (uid) => send(rdm6300Frame(uid)),
      garbled: () => send(rdm6300Frame('04A1B2C3D4', 0xff)),
      async dispose() {
        await reader.close()
        await closeDeviceEnd(device)
        await pty.close()
      },
    }
  })

  t.test('the RDM6300 driver opens its port at 9600 8N1', async (t) => {
    const pty = await ptyPair()
    t.teardown(() => pty.close())
    const reader = await Rdm6300Reader.open({ path: pty.host })
    t.teardown(() => reader.close())
    t.match(hostLineSettings(pty.host), { baudRate: 9600, parity: 'none', dataBits: 8, stopBits: 1 })
  })

  t.test('a card reader on a missing serial port fails with HW_SERIAL_NOT_FOUND and opens nothing else', async (t) => {
    const err = await createHardware({
      board: { type: 'mock' },
      relay: { pin: 7, type: 'NO' },
      meter: { type: 'mock', powerKw: 11 },
      cardReader: { type: 'rdm6300', path: '/dev/voltway-no-such-reader' },
    }).then(
      () => undefined,
      (e: unknown) => e,
    )
    t.match(err, { code: 'HW_SERIAL_NOT_FOUND' })
  })
}

t.test('RDM6300 frames: STX + 10 hex data + 2 hex checksum (XOR of the 5 data bytes) + ETX; anything else is dropped', async (t) => {
  const p = new Rdm6300Parser()
  const good = rdm6300Frame('62E3086CED') // checksum 0x62^0xE3^0x08^0x6C^0xED = 0x08
  t.equal(good.toString('latin1'), '\x0262E3086CED08\x03', 'the documented example frame')
  t.same(p.push(good), { uids: ['62E3086CED'], dropped: 0 })
  t.same(p.push(rdm6300Frame('62E3086CED', 0x09)), { uids: [], dropped: 1 }, 'wrong checksum')
  t.same(p.push(Buffer.from('\x0262E3086CEZ08\x03', 'latin1')), { uids: [], dropped: 1 }, 'not hex')
  t.same(p.push(Buffer.from('\x0262E3086C08\x03', 'latin1')), { uids: [], dropped: 1 }, 'too short')
  t.same(p.push(Buffer.from('noise')), { uids: [], dropped: 1 }, 'bytes outside a frame')
  const split = rdm6300Frame('0400AABBCC')
  t.same(p.push(split.subarray(0, 5)), { uids: [], dropped: 0 }, 'half a frame waits')
  t.same(p.push(split.subarray(5)), { uids: ['0400AABBCC'], dropped: 0 }, 'and completes')
  t.same(p.push(Buffer.concat([Buffer.from([0x02, 0x30, 0x31]), good])), { uids: ['62E3086CED'], dropped: 1 }, 'a frame without its ETX does not swallow the next one')
})
