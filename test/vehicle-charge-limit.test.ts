/** `vehicle charge --kwh`: the limit is the reason given, even when the station ended the session at it. */
import t from 'tap'
import type { Receipt, RpcClient } from '../protocol/index.js'
import { describeStop, renderReceipt, runCharge } from '../vehicle-sim/commands/charge.js'

const receipt: Receipt = {
  sessionId: 's1',
  stationId: 'FSA-1',
  hubId: 'feira',
  vehicleId: 'V1',
  startedAt: '2026-11-24T18:00:00Z',
  endedAt: '2026-11-24T18:01:22Z',
  energyWh: 516,
  priceMinorPerKwh: 189,
  costMinor: 98,
  currency: 'BRL',
}

/** A hub whose station stops the session by itself at maxWh, as the station agent does. */
function hubStoppingAtTheLimit(): RpcClient {
  const answers: Record<string, unknown> = {
    'charge.start': { session: { sessionId: 's1', stationId: 'FSA-1', startedAt: receipt.startedAt, meterStartWh: 0 } },
    'charge.status': { session: { sessionId: 's1', stationId: 'FSA-1', vehicleId: 'V1', hubId: 'feira', startedAt: receipt.startedAt, meterStartWh: 0, currency: 'BRL', state: 'stopped', energyWh: 516, powerW: 0, costMinor: 98 } },
    'charge.stop': { receipt },
  }
  return { request: (op: string) => Promise.resolve(answers[op]) } as unknown as RpcClient
}

t.test('charge --kwh reports the limit as the reason even when the station ended the session at it', async (t) => {
  const run = await runCharge(hubStoppingAtTheLimit(), { stationId: 'FSA-1', maxWh: 500, intervalMs: 1, signal: new AbortController().signal })
  t.equal(run.stoppedBy, 'kwh')
  const text = renderReceipt(run.receipt, run.stoppedBy, 500)
  t.match(text, /stopped by +│ the --kwh limit 0\.500 kWh was reached \(metered 0\.516 kWh: 16 Wh flowed before the relay opened\)/)
  t.notMatch(text, /stopped by +station/)
})

t.test('a session the station ends below the limit is reported as ended by the station', async (t) => {
  t.equal(describeStop('station', { ...receipt, energyWh: 200 }, 500), 'the station (it ended the session itself)')
  t.equal(describeStop('interrupted', receipt), 'you (Ctrl-C)')
})
