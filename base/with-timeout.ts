/**
 * Reject with `timeoutError()` if `p` has not settled within `ms`; the timer
 * is cleared as soon as `p` settles. Each room passes its own coded error
 * (hw: HwError HW_TIMEOUT).
 */
import { systemClock, type Clock } from './clock.js'

export function withTimeout<T>(p: Promise<T>, ms: number, timeoutError: () => Error, clock: Clock = systemClock): Promise<T> {
  let cancel: (() => void) | undefined
  const timeout = new Promise<never>((_resolve, reject) => {
    cancel = clock.setTimer(() => reject(timeoutError()), ms)
  })
  return Promise.race([p, timeout]).finally(() => cancel?.())
}
