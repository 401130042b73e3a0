/**
 * `voltway station check`: the technician's self-test. Each step passes or
 * fails with a hint; the relay is only switched with --toggle-relay. Stop the
 * agent first: the board, the serial ports and the hub login are the agent's.
 */
import { readdirSync } from 'node:fs'
import mqtt from 'mqtt'
import { isHwError } from '../../hw/errors.js'
import { listSerialPorts } from '../../hw/serial-port.js'
import type { MeterReading } from '../../hw/types.js'
import { makeDataDir, mqttTls, type StationConfig } from '../config.js'
import { openStationHardware, type StationHardware } from '../hardware.js'

export interface CheckStep {
  step: string
  ok: boolean
  detail: string
  hint?: string
}

export interface CheckOptions {
  toggleRelay?: boolean
  hubTimeoutMs?: number
}

const HUB_HINT = 'Check mqtt.url (host, port, mqtt:// or mqtts://), that the hub is running and reachable from this board (firewall), and that the hub lists this station.'
const AUTH_HINT = "Check mqtt.password (and mqtt.username) against this station's entry in the hub's stations list."

export async function runChecks(cfg: StationConfig, opts: CheckOptions = {}): Promise<CheckStep[]> {
  const steps: CheckStep[] = [{ step: 'config', ok: true, detail: `station ${cfg.stationId} of hub ${cfg.hubId}` }]
  const fail = (step: string, err: unknown, fallbackHint: string): CheckStep =>
    isHwError(err)
      ? { step, ok: false, detail: `${err.code}: ${err.message}`, hint: err.hint }
      : { step, ok: false, detail: err instanceof Error ? err.message : String(err), hint: fallbackHint }

  // The agent refuses to start without it (exit 2): the same check, as a step.
  try {
    makeDataDir(cfg)
    steps.push({ step: 'dataDir', ok: true, detail: `${cfg.dataDir} is writable` })
  } catch (err) {
    steps.push(fail('dataDir', err, 'Set dataDir in station.json to a directory the agent may create and write; `voltway station` does not start without it.'))
  }
  let hw: StationHardware | undefined
  try {
    hw = await openStationHardware(cfg, { persistMockBoard: false })
    steps.push({ step: 'board', ok: true, detail: `${hw.board.name} ready` })
    steps.push({ step: 'relay', ok: hw.relay.state === 'open', detail: `relay on pin ${String(hw.relay.pin)} (${hw.relay.type}) is ${hw.relay.state}` })
  } catch (err) {
    steps.push(fail('board', err, 'Check hardware.board and hardware.meter in station.json.'))
  }
  if (hw) {
    if (opts.toggleRelay) steps.push(await toggle(hw, fail))
    if (cfg.hardware.watchdog) steps.push(await heartbeatPin(hw, cfg.hardware.watchdog, fail))
    let first: MeterReading | undefined
    for (const n of [1, 2]) {
      try {
        const r = await hw.meter.read()
        const backwards = first !== undefined && r.energyWh < first.energyWh
        steps.push({
          step: `meter read ${n}`,
          ok: !backwards,
          detail: `${r.energyWh} Wh, ${r.powerW} W${backwards ? ' (register went backwards)' : ''}`,
          ...(backwards ? { hint: 'A meter register never decreases: check the meter model and register map.' } : {}),
        })
        first ??= r
      } catch (err) {
        steps.push(fail(`meter read ${n}`, err, 'Check hardware.meter in station.json and the meter wiring.'))
      }
    }
    await hw.close()
  }
  steps.push(await serialPorts())
  steps.push(await checkHub(cfg, opts.hubTimeoutMs ?? 3000))
  return steps
}

/** serialport's list (udev); where udev is missing (containers), the tty devices in /dev. */
async function serialPorts(): Promise<CheckStep> {
  let listed: string[]
  let via = ''
  try {
    listed = (await listSerialPorts()).map((p) => p.path + (p.manufacturer ? ` (${p.manufacturer})` : ''))
  } catch (err) {
    via = ` (from /dev; serialport could not list: ${err instanceof Error ? err.message : String(err)})`
    try {
      listed = readdirSync('/dev')
        .filter((n) => /^tty(USB|ACM|AMA|S)\d+$/.test(n))
        .map((n) => `/dev/${n}`)
    } catch {
      return { step: 'serial ports', ok: false, detail: 'cannot list serial ports', hint: 'Check that this user may read /dev (group dialout).' }
    }
  }
  return { step: 'serial ports', ok: true, detail: (listed.length ? listed.join(', ') : 'none found') + via }
}

async function toggle(hw: StationHardware, fail: (step: string, err: unknown, hint: string) => CheckStep): Promise<CheckStep> {
  try {
    await hw.relay.close()
    const closed = hw.relay.state
    await hw.relay.open()
    const ok = closed === 'closed' && hw.relay.state === 'open'
    return { step: 'relay toggle', ok, detail: `closed -> ${closed}, open -> ${hw.relay.state}`, ...(ok ? {} : { hint: 'Check the relay wiring and hardware.relay.type (NO/NC).' }) }
  } catch (err) {
    await hw.relay.open().catch(() => {})
    return fail('relay toggle', err, 'Check the relay wiring and the board.')
  }
}

/**
 * Toggle the watchdog's trigger pin for one watchdog period, at the agent's
 * rate (a quarter period). The relay stays open; a technician with a meter
 * or a scope on the pin sees the square wave, and the watchdog's LED (if any)
 * shows it armed.
 */
async function heartbeatPin(
  hw: StationHardware,
  wd: NonNullable<StationConfig['hardware']['watchdog']>,
  fail: (step: string, err: unknown, hint: string) => CheckStep,
): Promise<CheckStep> {
  const pin = hw.watchdogPin
  if (!pin) return { step: 'heartbeat pin', ok: false, detail: 'the board opened no heartbeat pin', hint: 'Check hardware.watchdog.pin in station.json.' }
  try {
    const every = Math.max(20, Math.floor(wd.periodMs / 4))
    let edges = 0
    for (const end = Date.now() + wd.periodMs; Date.now() < end; edges++) {
      await pin.toggle()
      await new Promise((r) => setTimeout(r, every))
    }
    await pin.write(0)
    return { step: 'heartbeat pin', ok: true, detail: `pin ${String(pin.pin)} toggled ${edges} times in ${wd.periodMs} ms (every ${every} ms), left LOW` }
  } catch (err) {
    return fail('heartbeat pin', err, 'Check hardware.watchdog.pin (an output pin of this board) and the wiring to the watchdog trigger input.')
  }
}

/**
 * Log in as the station, with a persistent session like the agent's
 * (clean: false), so a check never wipes the agent's queued commands.
 */
async function checkHub(cfg: StationConfig, timeoutMs: number): Promise<CheckStep> {
  const client = mqtt.connect(cfg.mqtt.url, {
    protocolVersion: 5,
    clientId: cfg.stationId,
    username: cfg.mqtt.username ?? cfg.stationId,
    password: cfg.mqtt.password,
    clean: false,
    properties: { sessionExpiryInterval: 600 },
    reconnectPeriod: 0,
    connectTimeout: timeoutMs,
    ...mqttTls(cfg),
  })
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no answer from ${cfg.mqtt.url} within ${timeoutMs} ms`)), timeoutMs)
      client.once('connect', () => {
        clearTimeout(timer)
        resolve()
      })
      client.once('error', (err) => {
        clearTimeout(timer)
        reject(err)
      })
      client.once('close', () => {
        clearTimeout(timer)
        reject(new Error(`connection to ${cfg.mqtt.url} closed`))
      })
    })
    return { step: 'hub', ok: true, detail: `logged in to ${cfg.mqtt.url} as ${cfg.mqtt.username ?? cfg.stationId}` }
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err)
    const code = (err as { code?: unknown }).code
    const auth = code === 134 || code === 135 || code === 4 || code === 5 || /not authori[sz]ed|bad user/i.test(msg)
    return { step: 'hub', ok: false, detail: `${cfg.mqtt.url}: ${msg}`, hint: auth ? AUTH_HINT : HUB_HINT }
  } finally {
    client.end(true)
  }
}

export function formatChecks(steps: CheckStep[]): string {
  const width = Math.max(...steps.map((s) => s.step.length))
  return steps
    .map((s) => `${s.ok ? 'PASS' : 'FAIL'}  ${s.step.padEnd(width)}  ${s.detail}${s.hint && !s.ok ? `\n      hint: ${s.hint}` : ''}`)
    .join('\n')
}
