import type { Command } from 'commander'
import type { OpResult } from '../../protocol/index.js'
import { keyValues, position } from '../output.js'
import { processCli, runOneShotWith, type CliContext, addConnectionOptions, type CommandOutput, type CommonFlags } from './common.js'

export function renderInfo(r: OpResult<'hub.info'>): string {
  return keyValues([
    ['hub', r.hubId],
    ['name', r.name],
    ['city', r.city],
    ['position', position(r.position)],
    ['stations', r.stations],
    ['peers', r.peers.join(', ') || '(none)'],
  ])
}

export function registerInfo(parent: Command, cli: CliContext = processCli): void {
  addConnectionOptions(parent.command('info').description('hub.info: who the hub is, how many stations, its peers')).action(
    async (flags: CommonFlags) => {
      await runOneShotWith(cli, flags, async (conn): Promise<CommandOutput> => {
        const r = await conn.rpc.request('hub.info', {})
        return { json: r, human: () => renderInfo(r) }
      })
    },
  )
}
