/** `voltway station service`: a hardened systemd unit that runs the agent. */
import { existsSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { ConfigError } from '../../protocol/index.js'
import type { StationConfig } from '../config.js'
import { AGENT_NODE_FLAGS } from '../node-flags.js'

export interface ServiceOptions {
  configFile: string
  user?: string
  /** Default: this node binary. */
  nodePath?: string
  /** Default: dist/cli.js of this installation (or cli.ts through tsx in a source checkout). */
  cliArgs?: string[]
  /** systemd's watchdog: restart the agent when it has not said WATCHDOG=1 for this long, s (default 20). */
  watchdogSec?: number
}

const USER_PATTERN = /^[a-z_][a-z0-9_-]{0,31}$/

/** How to start this installation's `voltway`: node arguments before `station --config ...`. */
export function voltwayCommand(): string[] {
  const here = fileURLToPath(import.meta.url)
  const root = resolve(dirname(here), '../..')
  if (here.endsWith('.js')) return [resolve(root, 'cli.js')]
  const built = resolve(root, 'dist/cli.js')
  if (existsSync(built)) return [built]
  return ['--import', 'tsx', resolve(root, 'cli.ts')]
}

function quote(arg: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(arg) ? arg : `"${arg.replace(/(["\\])/g, '\\$1')}"`
}

export function systemdUnit(cfg: StationConfig, opts: ServiceOptions): string {
  const user = opts.user ?? 'voltway'
  if (user === 'root' || user === '0') throw new ConfigError('station service: --user: the agent must not run as root; use a dedicated user such as voltway')
  if (!USER_PATTERN.test(user)) throw new ConfigError(`station service: --user: "${user}" is not a valid user name`)
  const configFile = resolve(opts.configFile)
  const under = (prefix: string): boolean => [configFile, cfg.dataDir].some((p) => p === prefix || p.startsWith(`${prefix}/`))
  // ProtectHome=true would hide a config or dataDir kept in a home directory; PrivateTmp one kept in /tmp.
  const protectHome = under('/home') || under('/root') || under('/run/user') ? 'read-only' : 'true'
  const privateTmp = under('/tmp') || under('/var/tmp') ? '' : 'PrivateTmp=true\n'
  const watchdogSec = opts.watchdogSec ?? 20
  if (!Number.isInteger(watchdogSec) || watchdogSec < 2 || watchdogSec > 3600) throw new ConfigError(`station service: --watchdog-sec: expected an integer 2-3600, got ${watchdogSec}`)
  const exec = [opts.nodePath ?? process.execPath, ...AGENT_NODE_FLAGS, ...(opts.cliArgs ?? voltwayCommand()), 'station', '--config', configFile].map(quote).join(' ')
  return `# Voltway station agent ${cfg.stationId} (hub ${cfg.hubId}).
# Install: save as /etc/systemd/system/voltway-station.service, create the user
# (useradd --system --groups dialout ${user}), give it ${cfg.dataDir}, then
# systemctl daemon-reload && systemctl enable --now voltway-station
[Unit]
Description=Voltway station agent ${cfg.stationId}
Wants=network-online.target
After=network-online.target

[Service]
# The agent says READY=1 once it runs and WATCHDOG=1 from its health loop
# (sd_notify, through the systemd-notify program: hence NotifyAccess=all).
# A hung agent is killed after WatchdogSec and restarted; the hardware
# watchdog on hardware.watchdog.pin has opened the relay long before.
Type=notify
NotifyAccess=all
WatchdogSec=${watchdogSec}
TimeoutStartSec=60
User=${user}
Group=${user}
# Serial ports (Firmata board, RS-485 meter) belong to the dialout group.
SupplementaryGroups=dialout
WorkingDirectory=${quote(dirname(configFile))}
ExecStart=${exec}
Environment=NODE_ENV=production
# SIGTERM makes the agent open the relay and publish online:false before it exits.
KillSignal=SIGTERM
TimeoutStopSec=15
Restart=always
RestartSec=2
# Hardening: the agent only writes its dataDir.
NoNewPrivileges=true
ProtectSystem=strict
ReadWritePaths=${quote(cfg.dataDir)}
ProtectHome=${protectHome}
${privateTmp}ProtectKernelTunables=true
ProtectKernelModules=true
ProtectControlGroups=true
RestrictSUIDSGID=true
LockPersonality=true
RestrictRealtime=true
RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX AF_NETLINK
CapabilityBoundingSet=
AmbientCapabilities=

[Install]
WantedBy=multi-user.target
`
}
