import { HwError } from './errors.js'

/** Reject with HW_TIMEOUT if `p` has not settled within `ms`; the timer is cleared as soon as `p` settles. */
export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new HwError('HW_TIMEOUT', `${what}: no answer within ${ms} ms`)), ms)
  })
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer))
}
