/**
 * "Did you mean ...?": the one home for suggesting a known name for a
 * misspelled one (config keys, hub ids). Case differences cost nothing, so
 * `telemetryIntervalMS` finds `telemetryIntervalMs`.
 */

/** Levenshtein distance between `a` and `b` (insertions, deletions, substitutions each cost 1). */
export function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const row = [i]
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      row[j] = Math.min((prev[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + cost)
    }
    prev = row
  }
  return prev[b.length] ?? 0
}

/**
 * The known name closest to `name` (case-insensitive edit distance), or
 * undefined when none is close enough to be a plausible misspelling: at most
 * half the length of the longer name (`pricePerKwh` -> `priceMinorPerKwh`),
 * and never for an empty list. Ties go to the name sharing more letters
 * (`lng` -> `lon`, not `lat`), then to the first in `known`.
 */
export function nearestName(name: string, known: Iterable<string>): string | undefined {
  const lower = name.toLowerCase()
  let best: string | undefined
  let bestScore = [Infinity, 0]
  for (const candidate of known) {
    const other = candidate.toLowerCase()
    const d = editDistance(lower, other)
    if (d > Math.ceil(Math.max(name.length, candidate.length) / 2)) continue
    const shared = sharedLetters(lower, other)
    const [bd = Infinity, bs = 0] = bestScore
    if (d < bd || (d === bd && shared > bs)) {
      best = candidate
      bestScore = [d, shared]
    }
  }
  return best
}

/** How many letters two names have in common, counted with multiplicity. */
function sharedLetters(a: string, b: string): number {
  const counts = new Map<string, number>()
  for (const c of a) counts.set(c, (counts.get(c) ?? 0) + 1)
  let shared = 0
  for (const c of b) {
    const n = counts.get(c) ?? 0
    if (n > 0) {
      shared++
      counts.set(c, n - 1)
    }
  }
  return shared
}
