/** Hardware errors: stable codes, each with a hint for the technician (table-driven, like undici's errors). */
import t from 'tap'
import { HW_ERROR_CODES, HW_ERROR_HINTS, HwError, isHwError, toHwError } from '../hw/errors.js'

t.test('every hardware error code carries its technician hint', async (t) => {
  t.ok(HW_ERROR_CODES.length >= 10)
  for (const code of HW_ERROR_CODES) {
    const err = new HwError(code, `something about ${code}`)
    t.equal(err.code, code)
    t.equal(err.name, 'HwError')
    t.ok(err instanceof Error)
    t.equal(err.hint, HW_ERROR_HINTS[code])
    t.ok(err.hint.length > 20, `${code} has a useful hint`)
    t.ok(isHwError(err, code))
  }
})

t.test('the documented codes exist', async (t) => {
  for (const code of ['HW_SERIAL_NOT_FOUND', 'HW_TIMEOUT', 'HW_METER_UNKNOWN_MODEL', 'HW_METER_READ_FAILED', 'HW_RELAY_WRITE_FAILED', 'HW_DISCONNECTED']) {
    t.ok((HW_ERROR_CODES as string[]).includes(code), code)
  }
})

t.test('a library error becomes a coded HwError keeping the cause; an HwError passes through', async (t) => {
  const cause = new Error('EIO')
  const err = toHwError(cause, 'HW_RELAY_WRITE_FAILED', 'writing pin 7 failed')
  t.equal(err.code, 'HW_RELAY_WRITE_FAILED')
  t.equal(err.cause, cause)
  t.match(err.message, /writing pin 7 failed: EIO/)
  t.equal(toHwError(err, 'HW_TIMEOUT', 'x'), err)
  t.notOk(isHwError(new Error('plain')))
})
