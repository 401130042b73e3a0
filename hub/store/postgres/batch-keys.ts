/**
 * Keys of the questions a per-turn batch (base/turn-batch.ts) sends in one
 * statement: how PostgreSQL stores them, the one order every replica's
 * batches use, and which question of a key the statement may answer.
 */
import type { Asked } from '../../../base/turn-batch.js'

/**
 * `text` as PostgreSQL stores it: the driver sends text as UTF-8, where a UTF-16 surrogate without
 * its pair becomes U+FFFD. A batch matches the keys its statement returns against the keys asked
 * through this, or a key with a lone surrogate would never find its own row.
 */
export function asStored(text: string): string {
  return text.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd')
}

/** Compares items by `keyOf` (code-unit order): the order a batch's rows go in, the same in every replica. */
export function byKey<T>(keyOf: (item: T) => string): (a: T, b: T) => number {
  return (a, b) => {
    const x = keyOf(a)
    const y = keyOf(b)
    return x < y ? -1 : x > y ? 1 : 0
  }
}

/**
 * A batch split by key (as stored): `first`, the first question asked of each key, in key order,
 * which one statement can answer together; `later`, the others, in the order asked, which each
 * depend on what the one before them did (run alone after the statement, or told they lost).
 */
export function firstPerKey<A extends Asked<unknown, unknown>>(batch: readonly A[], keyOf: (a: A) => string): { first: A[]; later: A[] } {
  const first = new Map<string, A>()
  const later: A[] = []
  for (const a of batch) {
    const key = asStored(keyOf(a))
    if (first.has(key)) later.push(a)
    else first.set(key, a)
  }
  return { first: [...first.values()].sort(byKey(keyOf)), later }
}
