/**
 * `charge`: start a session, show its live energy and cost, stop it on Ctrl-C
 * or when --kwh / --minutes is reached, then print the receipt. A second
 * Ctrl-C quits at once (the hub and station still end the session safely).
 * At another company's station (`--station-hub`) the vehicle still talks
 * only to its home hub, which starts and stops the session at that peer
 * (roaming, docs/protocol.md).
 */
import type { Command } from 'commander'
import { VoltwayError, type OpResult, type Receipt, type RpcClient } from '../../protocol/index.js'
import { codeOf } from '../errors.js'
import { keyValues, kwh, localTime, money, pricePerKwh, type Io } from '../output.js'
import { processCli, runCheckedWith, type CliContext, addConnectionOptions, idFlag, numberFlag, type CommonFlags } from './common.js'

interface ChargeFlags extends CommonFlags {
  station?: string
  stationHub?: string
  reservation?: string
  kwh?: number
  minutes?: number
  intervalMs: number
}

type StopReason = 'interrupted' | 'kwh' | 'minutes' | 'station'
type Status = OpResult<'charge.status'>['session']

export interface ChargeRun {
  session: OpResult<'charge.start'>['session']
  status: Status | null
  stoppedBy: StopReason
  receipt: Receipt
}

export interface ChargeOptions {
  stationId: string
  /** The station's hub when it is another company's (roaming through the home hub); default the home hub. */
  hubId?: string
  reservationId?: string
  maxWh?: number
  maxMinutes?: number
  intervalMs: number
  signal: AbortSignal
  onStatus?: (s: Status, elapsedMs: number) => void
  now?: () => number
}

const MAX_STATUS_FAILURES = 3

export async function runCharge(rpc: RpcClient, o: ChargeOptions): Promise<ChargeRun> {
  const now = o.now ?? Date.now
  const startArgs: { stationId: string; hubId?: string; reservationId?: string; maxWh?: number } = { stationId: o.stationId }
  if (o.hubId) startArgs.hubId = o.hubId
  if (o.reservationId) startArgs.reservationId = o.reservationId
  if (o.maxWh) startArgs.maxWh = o.maxWh
  const { session } = await rpc.request('charge.start', startArgs)
  const started = now()
  let status: Status | null = null
  let stoppedBy: StopReason = 'interrupted'
  let failures = 0
  while (!o.signal.aborted) {
    if (o.maxMinutes !== undefined && now() - started >= o.maxMinutes * 60_000) {
      stoppedBy = 'minutes'
      break
    }
    try {
      status = (await rpc.request('charge.status', { sessionId: session.sessionId })).session
      failures = 0
      o.onStatus?.(status, now() - started)
    } catch (err) {
      if (++failures >= MAX_STATUS_FAILURES || codeOf(err) === 'NOT_FOUND') break
    }
    if (status?.state === 'stopped') {
      stoppedBy = 'station'
      break
    }
    if (o.maxWh !== undefined && status && status.energyWh >= o.maxWh) {
      stoppedBy = 'kwh'
      break
    }
    const waitMs = o.maxMinutes !== undefined ? Math.min(o.intervalMs, Math.max(0, started + o.maxMinutes * 60_000 - now())) : o.intervalMs
    await sleep(waitMs, o.signal)
  }
  const { receipt } = await rpc.request('charge.stop', { sessionId: session.sessionId })
  // With --kwh the hub passes maxWh to the station, which usually ends the session itself at the
  // limit: the session then reads "stopped" here, but the limit is why.
  if (stoppedBy === 'station' && o.maxWh !== undefined && receipt.energyWh >= o.maxWh) stoppedBy = 'kwh'
  return { session, status, stoppedBy, receipt }
}

/**
 * Why the session ended, for people. A station checks its meter about once a
 * second, so it can pass the --kwh limit by what flows in that second
 * (about 6 Wh at 22 kW); the receipt bills what was metered.
 */
export function describeStop(stoppedBy: StopReason, receipt: Receipt, maxWh?: number): string {
  switch (stoppedBy) {
    case 'kwh': {
      const over = maxWh !== undefined ? receipt.energyWh - maxWh : 0
      const limit = maxWh !== undefined ? ` ${kwh(maxWh)}` : ''
      return over > 0 ? `the --kwh limit${limit} was reached (metered ${kwh(receipt.energyWh)}: ${over} Wh flowed before the relay opened)` : `the --kwh limit${limit} was reached`
    }
    case 'minutes':
      return 'the --minutes limit was reached'
    case 'interrupted':
      return 'you (Ctrl-C)'
    case 'station':
      return 'the station (it ended the session itself)'
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve()
    const done = (): void => {
      clearTimeout(timer)
      signal.removeEventListener('abort', done)
      resolve()
    }
    const timer = setTimeout(done, ms)
    signal.addEventListener('abort', done, { once: true })
  })
}

export function renderReceipt(r: Receipt, stoppedBy?: StopReason, maxWh?: number): string {
  const pairs: [string, string | number][] = [
    ['session', r.sessionId],
    ['station', `${r.stationId} (hub ${r.hubId})`],
    ['started', localTime(r.startedAt)],
    ['ended', localTime(r.endedAt)],
    ['energy', kwh(r.energyWh)],
    ['price', pricePerKwh(r.priceMinorPerKwh, r.currency)],
    ['cost', money(r.costMinor, r.currency)],
  ]
  if (stoppedBy) pairs.push(['stopped by', describeStop(stoppedBy, r, maxWh)])
  return keyValues(pairs)
}

function liveLine(s: Status, elapsedMs: number): string {
  const secs = Math.floor(elapsedMs / 1000)
  const cost = s.currency ? money(s.costMinor, s.currency) : `${s.costMinor} (minor units)`
  return `charging ${s.sessionId}: ${kwh(s.energyWh)}  ${(s.powerW / 1000).toFixed(1)} kW  ${cost}  ${Math.floor(secs / 60)}m${String(secs % 60).padStart(2, '0')}s`
}

export function registerCharge(parent: Command, cli: CliContext = processCli): void {
  const cmd = parent
    .command('charge')
    .description('charge.start, live charge.status, then charge.stop on Ctrl-C or at --kwh / --minutes; prints the receipt')
    .requiredOption('--station <id>', 'station to charge at')
    .option('--station-hub <id>', "the station's hub when it is another company's: your home hub starts and stops it there (roaming)")
    .option('--reservation <id>', 'the reservation for this station, if any')
    .option('--kwh <kwh>', 'stop after this much energy', numberFlag({ min: 0.001, max: 1000 }))
    .option('--minutes <m>', 'stop after this long', numberFlag({ min: 0 }))
    .option('--interval-ms <ms>', 'how often to ask for the status', numberFlag({ integer: true, min: 50 }), 2000)
  addConnectionOptions(cmd).action(async (flags: ChargeFlags) => {
    const ac = new AbortController()
    let interrupts = 0
    const onSigint = (): void => {
      if (++interrupts > 1) {
        process.stderr.write('\ninterrupted twice: quitting without waiting for the receipt\n')
        process.exit(130)
      }
      ac.abort()
    }
    process.on('SIGINT', onSigint)
    try {
      const check = (): ChargeOptions => {
        const o: ChargeOptions = { stationId: idFlag(flags.station, '--station'), intervalMs: flags.intervalMs, signal: ac.signal }
        if (flags.stationHub) o.hubId = idFlag(flags.stationHub, '--station-hub')
        if (flags.reservation) o.reservationId = idFlag(flags.reservation, '--reservation')
        if (flags.kwh !== undefined) o.maxWh = Math.round(flags.kwh * 1000)
        if (flags.minutes !== undefined) o.maxMinutes = flags.minutes
        return o
      }
      await runCheckedWith(cli, flags, check, async (conn, io: Io, o) => {
        const live = flags.json ? (t: string) => io.err(t) : (t: string) => io.out(t)
        const tty = flags.json ? io.errIsTTY : io.isTTY
        o.onStatus = (s, ms) => live(tty ? `\r${liveLine(s, ms)}\u001b[K` : `${liveLine(s, ms)}\n`)
        const run = await runCharge(conn.rpc, o).catch((err: unknown) => {
          // A station the home hub does not have may be another company's: say how to charge there.
          if (err instanceof VoltwayError && err.code === 'NOT_FOUND' && err.details?.stationId !== undefined && o.hubId === undefined) {
            throw new VoltwayError(err.code, err.message, { ...err.details, atHomeHub: true })
          }
          throw err
        })
        if (tty) live('\n')
        return { json: run, human: () => renderReceipt(run.receipt, run.stoppedBy, o.maxWh) }
      })
    } finally {
      process.removeListener('SIGINT', onSigint)
    }
  })
}
