import type { Command } from 'commander'
import type { OpResult } from '../../protocol/index.js'
import { kwh, localTime, money, table } from '../output.js'
import { processCli, runOneShotWith, type CliContext, addConnectionOptions, numberFlag, type CommonFlags } from './common.js'

export function renderHistory(r: OpResult<'history.list'>): string {
  const lines: string[] = []
  if (r.receipts.length === 0) lines.push('no receipts')
  else {
    lines.push(
      table(
        ['session', 'hub', 'station', 'started', 'ended', 'energy', 'cost'],
        r.receipts.map((x) => [x.sessionId, x.hubId, x.stationId, localTime(x.startedAt), localTime(x.endedAt), kwh(x.energyWh), money(x.costMinor, x.currency)]),
      ),
    )
  }
  if (r.partial) lines.push(`partial: no answer from ${r.unreachableHubs.join(', ') || 'some hubs'}`)
  return lines.join('\n')
}

export function registerHistory(parent: Command, cli: CliContext = processCli): void {
  const cmd = parent
    .command('history')
    .description("history.list: this vehicle's receipts from every hub of the federation")
    .option('--limit <n>', 'at most this many receipts (1..500)', numberFlag({ integer: true, min: 1, max: 500 }))
  addConnectionOptions(cmd).action(async (flags: CommonFlags & { limit?: number }) => {
    await runOneShotWith(cli, flags, async (conn) => {
      const r = await conn.rpc.request('history.list', flags.limit ? { limit: flags.limit } : {})
      return { json: r, human: () => renderHistory(r) }
    })
  })
}
