/**
 * How a station event reads in the dashboard's journal, one rule for the
 * events seen live (./station-observer.ts) and those read back from the store
 * (./station-history.ts), so a page looks the same before and after a restart.
 */
import type { StationEvent } from '../../../protocol/index.js'
import type { JournalKind } from './journal.js'

export function describeEvent(ev: StationEvent): { kind: JournalKind; text: string } {
  switch (ev.type) {
    case 'fault':
      return { kind: 'fault', text: `fault ${ev.code}${ev.sessionId ? ` in session ${ev.sessionId}` : ''}` }
    case 'session.started':
      return { kind: 'session.started', text: `session ${ev.sessionId} started at ${ev.meterWh} Wh` }
    case 'session.stopped':
      return { kind: 'session.stopped', text: `session ${ev.sessionId} stopped (${ev.reason}), ${ev.energyWh} Wh` }
  }
}
