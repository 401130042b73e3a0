import type { Command } from 'commander'
import { OPS, isOpName, issuesOf, type OpArgsInput, type OpName } from '../../protocol/index.js'
import { UsageError } from '../errors.js'
import { runLoad, type LoadResult } from '../load.js'
import { keyValues, table } from '../output.js'
import { resolvePositionRange } from '../settings.js'
import { processCli, runCheckedWith, type CliContext, addConnectionOptions, addPositionOptions, numberFlag, type PositionCommandFlags } from './common.js'

interface LoadFlags extends PositionCommandFlags {
  op: string
  args?: string
  to?: string
  rate?: number
  duration: number
  concurrency: number
  mode: string
}

function argsFor(op: OpName, flags: LoadFlags, env: NodeJS.ProcessEnv): OpArgsInput<OpName> {
  let raw: unknown
  if (flags.args !== undefined) {
    try {
      raw = JSON.parse(flags.args)
    } catch {
      throw new UsageError('--args: not valid JSON')
    }
  } else if (op === 'station.nearest') raw = resolvePositionRange(flags, env)
  else if (op === 'route.list') {
    if (!flags.to) throw new UsageError('route.list needs --to <hubId> (or --args)')
    raw = { destination: flags.to }
  } else raw = {}
  const parsed = OPS[op].args.safeParse(raw)
  if (!parsed.success) throw new UsageError(`--args for ${op}: ${issuesOf(parsed.error).map((i) => `${i.path || '(root)'}: ${i.message}`).join('; ')}`)
  return raw as OpArgsInput<OpName>
}

/** The op, its args and the mode, from the flags: a bad one is a usage error before connecting. */
function checkLoad(flags: LoadFlags, env: NodeJS.ProcessEnv): { op: OpName; args: OpArgsInput<OpName>; mode: 'open' | 'closed' } {
  if (!isOpName(flags.op)) throw new UsageError(`--op: unknown op ${JSON.stringify(flags.op)}; one of ${Object.keys(OPS).join(', ')}`)
  const mode = flags.mode ?? (flags.rate ? 'open' : 'closed')
  if (mode !== 'open' && mode !== 'closed') throw new UsageError('--mode: expected open or closed')
  if (mode === 'open' && !flags.rate) throw new UsageError('--mode open needs --rate')
  return { op: flags.op, args: argsFor(flags.op, flags, env), mode }
}

export function renderLoad(r: LoadResult): string {
  const errors = Object.entries(r.errors)
  return [
    keyValues([
      ['op', r.op],
      ['mode', `${r.mode} loop${r.targetRate ? `, target ${r.targetRate}/s` : ''}, concurrency ${r.concurrency}`],
      ['duration', `${r.durationS} s`],
      ['requests', `${r.completed} completed, ${r.ok} ok${r.missed ? `, ${r.missed} missed (concurrency cap)` : ''}`],
      ['achieved', `${r.requestsPerSec} requests/s`],
      ['latency', `p50 ${r.latency.p50Ms} ms, p99 ${r.latency.p99Ms} ms, max ${r.latency.maxMs} ms`],
    ]),
    errors.length ? table(['error', 'count'], errors) : 'no errors',
  ].join('\n')
}

export function registerLoad(parent: Command, cli: CliContext = processCli): void {
  const cmd = parent
    .command('load')
    .description('benchmark one op: open loop at --rate, or closed loop with --concurrency workers')
    .requiredOption('--op <op>', `op to send (${Object.keys(OPS).join(', ')})`)
    .option('--args <json>', 'op args as JSON (default: built from --lat/--lon/--range-km or --to)')
    .option('--to <hubId>', 'destination for route.list')
    .option('--rate <n>', 'requests per second (open loop: required)', numberFlag({ min: 0.001 }))
    .option('--duration <s>', 'seconds to run', numberFlag({ min: 0.01 }), 10)
    .option('--concurrency <n>', 'max requests in flight (open) or workers (closed)', numberFlag({ integer: true, min: 1, max: 100_000 }), 50)
    .option('--mode <m>', 'open or closed (default: open with --rate, else closed)')
  addPositionOptions(addConnectionOptions(cmd)).action(async (flags: LoadFlags) => {
    const ac = new AbortController()
    const onSigint = (): void => ac.abort()
    process.on('SIGINT', onSigint)
    try {
      await runCheckedWith(cli, flags, () => checkLoad(flags, cli.env), async (conn, io, { op, args, mode }) => {
        const load = { op, args, mode, durationMs: flags.duration * 1000, concurrency: flags.concurrency, signal: ac.signal } as const
        const r = await runLoad(conn.rpc, {
          ...load,
          ...(flags.rate ? { rate: flags.rate } : {}),
          onProgress: (p) => io.err(`${(p.elapsedMs / 1000).toFixed(0)} s: ${p.completed} done, ${p.inFlight} in flight\n`),
        })
        return { json: r, human: () => renderLoad(r) }
      })
    } finally {
      process.removeListener('SIGINT', onSigint)
    }
  })
}
