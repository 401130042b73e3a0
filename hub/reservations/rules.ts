/** The reservation rules of docs/protocol.md, as numbers the code uses. */
export interface ReservationRules {
  /** Two bookings of one station conflict when their times are less than this apart. */
  windowMs: number
  /** `at` must be at least this far after now. */
  minLeadMs: number
}

export function rulesFromConfig(rules: { windowMinutes: number; minLeadMinutes: number }): ReservationRules {
  return { windowMs: rules.windowMinutes * 60_000, minLeadMs: rules.minLeadMinutes * 60_000 }
}
