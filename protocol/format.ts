/**
 * How every part shows wire values to people, one style each, so the demo,
 * the CLI and the logs read alike:
 *
 * - money: `1.89 BRL`, a price `1.89 BRL/kWh` (the currency's own minor
 *   unit digits, ISO 4217 code after the amount, `.` as the decimal mark);
 * - energy: `0.516 kWh` (three decimals: the wire's integer Wh);
 * - time: the local time zone with its offset and always to the second,
 *   `2026-11-24 15:00:00 (UTC-03:00)`; machine output stays RFC 3339 UTC;
 * - a path of hops: `feira -> salvador` (ASCII, any terminal shows it).
 */

export const ARROW = ' -> '

const pad = (n: number): string => String(n).padStart(2, '0')

/** An RFC 3339 time in the local zone: `2026-11-24 15:00:00 (UTC-03:00)`; an unreadable one is returned as is. */
export function formatLocalTime(iso: string): string {
  const d = new Date(iso)
  if (Number.isNaN(d.getTime())) return iso
  const off = -d.getTimezoneOffset()
  const sign = off >= 0 ? '+' : '-'
  const zone = off === 0 ? 'UTC' : `UTC${sign}${pad(Math.floor(Math.abs(off) / 60))}:${pad(Math.abs(off) % 60)}`
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())} (${zone})`
}

/** Integer Wh -> `0.516 kWh`. */
export function formatEnergy(wh: number): string {
  return `${(wh / 1000).toFixed(3)} kWh`
}

function fractionDigits(currency: string): number {
  try {
    return new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits ?? 2
  } catch {
    return 2
  }
}

/** Minor units -> `12.34 BRL` (JPY has no minor unit: `1234 JPY`). */
export function formatMoney(minor: number, currency: string): string {
  const digits = fractionDigits(currency)
  return `${(minor / 10 ** digits).toFixed(digits)} ${currency}`
}

/** Minor units per kWh -> `1.89 BRL/kWh`. */
export function formatPricePerKwh(minorPerKwh: number, currency: string): string {
  return `${formatMoney(minorPerKwh, currency)}/kWh`
}
