/** hub.json (docs/configuration.md): schema, defaults and loading. */
import { dirname, resolve } from 'node:path'
import { z } from 'zod'
import { ConfigError, ConfigPosition, Currency, Id, IdTag, TlsServerConfig, loadJsonFile, resolveTlsPaths } from '../protocol/index.js'
import { SCHEMA_NAME } from './store/index.js'
import { DEFAULT_REQUEST_CLAIM_MS } from './requests/idempotent.js'
import { DEFAULT_STATION_EVENTS_DAYS } from './charging/event-retention.js'

const Port = z.number().int().min(0).max(65535)
const Host = z.string().min(1).max(255)
const Secret = z.string().min(1).max(256)
/** Bearer tokens travel in an HTTP header: visible ASCII, no spaces (RFC 6750 b64token is narrower still). */
const Token = z.string().regex(/^[\x21-\x7e]{1,512}$/, 'expected 1 to 512 visible ASCII characters without spaces')

export const StationEntry = z.strictObject({
  stationId: Id,
  position: ConfigPosition,
  powerKw: z.number().positive().max(2000),
  priceMinorPerKwh: z.number().int().nonnegative().max(1_000_000),
  password: Secret,
})

/** Where the hub keeps its data: SQLite in `dataDir` (one process), or PostgreSQL (replicas share it). */
export const StoreEntry = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('sqlite') }),
  z.strictObject({
    type: z.literal('postgres'),
    url: z
      .string()
      .regex(/^postgres(ql)?:\/\/[^\s]+$/, 'expected a postgres://user@host:5432/database URL')
      // A URL the driver cannot parse (a port that is not a number) would fail as "the server does not answer", exit 1,
      // forever. pg reads it as a WHATWG URL, with a stand-in host when it has none (`postgres://user@/db?host=/run/...`).
      .refine((u) => URL.canParse(u) || URL.canParse(u.replace('@/', '@localhost/')), 'not a URL the PostgreSQL driver can read (check the port, and percent-encode special characters such as # in the password)'),
    schema: z.string().regex(SCHEMA_NAME, 'expected a lower-case SQL identifier: a-z, 0-9 and _, not starting with a digit, at most 63 characters').optional(),
    /** Most connections this hub process (each replica) opens; all replicas together must stay under the server's max_connections. Default 10. */
    poolSize: z.number().int().min(1).max(200).optional(),
  }),
])

const PeerUrl = z.url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL of the peer hub, e.g. https://hub.example.com:8026' })

/**
 * A peer gives exactly one of `url` and `urls`. The urls of a peer with
 * replicas differ only in host and port: the client sends one request path to
 * whichever replica it picks, with one TLS trust (`ca`) for all of them.
 */
function peerUrlIssues(p: { url?: string | undefined; urls?: string[] | undefined }): Array<{ path: Array<string | number>; message: string }> {
  if (p.url !== undefined && p.urls !== undefined) return [{ path: ['urls'], message: 'give either "url" (one address) or "urls" (the addresses of the peer\'s replicas), not both' }]
  if (p.url === undefined && p.urls === undefined) return [{ path: ['url'], message: 'missing: give the peer\'s federation base URL as "url", or its replicas\' as "urls"' }]
  // An unparsable url has its own issue from PeerUrl already.
  if (!(p.urls ?? []).every((u) => URL.canParse(u))) return []
  const urls = (p.urls ?? []).map((u) => new URL(u))
  const first = urls[0]
  const origins = new Set<string>()
  const issues: Array<{ path: Array<string | number>; message: string }> = []
  urls.forEach((u, i) => {
    if (origins.has(u.origin)) issues.push({ path: ['urls', i], message: `duplicate address ${u.origin}` })
    origins.add(u.origin)
    if (first && (u.protocol !== first.protocol || u.pathname !== first.pathname)) {
      issues.push({ path: ['urls', i], message: `every url of a peer needs the scheme and path of urls[0] (${first.protocol}//…${first.pathname}); only host and port may differ` })
    }
  })
  return issues
}

/** The federation base URLs of a peer: its `urls`, or its one `url`. */
export function peerUrls(p: { url?: string | undefined; urls?: readonly string[] | undefined }): string[] {
  return p.urls !== undefined ? [...p.urls] : p.url !== undefined ? [p.url] : []
}

export const HubConfigSchema = z.strictObject({
  hubId: Id,
  name: z.string().min(1).max(200),
  city: z.string().min(1).max(200),
  position: ConfigPosition,
  currency: Currency,
  dataDir: z.string().min(1),
  store: StoreEntry.default({ type: 'sqlite' }),
  mqtt: z
    .union([
      z.strictObject({
        listen: z.strictObject({ host: Host.default('127.0.0.1'), port: Port, tls: TlsServerConfig.optional() }),
        allowAnonymous: z.boolean().default(false),
      }),
      z.strictObject({
        url: z.string().regex(/^(mqtts?|wss?|tcp):\/\//, 'expected an mqtt:// or mqtts:// URL'),
        username: z.string().min(1).optional(),
        password: z.string().optional(),
        /**
         * An external Mosquitto the hub keeps in step with its accounts (docs/operator-guide.md, "Accounts and an
         * external Mosquitto"): on every change it rewrites these two files from the store and sends SIGHUP to the
         * process in `pidFile`. The files hold `$7$` hashes, never a password.
         */
        mosquitto: z.strictObject({ passwordFile: z.string().min(1), aclFile: z.string().min(1), pidFile: z.string().min(1) }).optional(),
      }),
    ])
    .default({ listen: { host: '127.0.0.1', port: 1883 }, allowAnonymous: false }),
  http: z.strictObject({ host: Host.default('127.0.0.1'), port: Port, tls: TlsServerConfig.optional() }),
  stations: z.array(StationEntry).default([]),
  /** `cards`: RFID card UIDs that charge on the vehicle's account at this hub's stations (docs/protocol.md, "Cards at the charger"). */
  vehicles: z.array(z.strictObject({ vehicleId: Id, password: Secret, cards: z.array(IdTag).max(1000).optional() })).default([]),
  /** How long a station may accept a card offline after the hub authorized it, hours. */
  cardAuthHours: z.number().min(0.01).max(720).default(24),
  federation: z
    .strictObject({
      peers: z
        .array(
          z.strictObject({
            hubId: Id,
            /** The peer's federation base URL; a peer running several replicas may list them all in `urls` instead. */
            url: PeerUrl.optional(),
            urls: z.array(PeerUrl).min(1).max(32).optional(),
            token: Token,
            acceptToken: Token,
            /** PEM files (docs/configuration.md "TLS"): the CA to trust for an https url; a client certificate and key for mutual TLS. */
            ca: z.string().min(1).optional(),
            cert: z.string().min(1).optional(),
            key: z.string().min(1).optional(),
          })
            .refine((p) => (p.cert === undefined) === (p.key === undefined), { message: 'give both "cert" and "key" (the client certificate for mutual TLS) or neither', path: ['cert'] })
            .superRefine((p, ctx) => peerUrlIssues(p).forEach((i) => ctx.addIssue({ code: 'custom', ...i }))),
        )
        .default([]),
      links: z.array(z.strictObject({ from: Id, to: Id, distanceKm: z.number().positive() })).default([]),
    })
    .default({ peers: [], links: [] }),
  /** Who may log in to the dashboard at `/ui/` (docs/configuration.md, `operators`). */
  operators: z.array(z.strictObject({ name: z.string().min(1).max(100), token: Token.refine((t) => t.length >= 16, 'an operator token needs at least 16 characters') })).default([]),
  /**
   * Hub replicas (docs/operator-guide.md "Scale out"): how soon the work of a
   * replica that died passes to a live one. `leaseTtlSeconds`: its trips,
   * queued releases and the sweeper (renewed every third of it while it lives).
   * `requestClaimSeconds`: a vehicle request it was running may run again
   * (same request id) on another replica this long after it died (a running
   * replica renews its claim every third of it, so it need not outlast the
   * longest request).
   */
  replicas: z
    .strictObject({
      leaseTtlSeconds: z.number().int().min(1).max(600).default(15),
      requestClaimSeconds: z.number().int().min(1).max(3600).default(DEFAULT_REQUEST_CLAIM_MS / 1000),
    })
    .default({ leaseTtlSeconds: 15, requestClaimSeconds: DEFAULT_REQUEST_CLAIM_MS / 1000 }),
  /** How long the hub keeps what stations send it (docs/configuration.md `retention`; hub/charging/event-retention.ts). */
  retention: z
    .strictObject({
      /** Station events, in days after the hub stored them; the sweeper deletes older ones. */
      stationEventsDays: z.number().int().min(1).max(3650).default(DEFAULT_STATION_EVENTS_DAYS),
    })
    .default({ stationEventsDays: DEFAULT_STATION_EVENTS_DAYS }),
  rules: z
    .strictObject({
      windowMinutes: z.number().int().min(0).max(24 * 60).default(120),
      minLeadMinutes: z.number().int().min(0).max(7 * 24 * 60).default(120),
      holdTtlSeconds: z.number().int().min(1).max(3600).default(30),
      /** How far ahead `at` may be, in days (TOO_FAR_AHEAD beyond). */
      maxAdvanceDays: z.number().int().min(1).max(3660).default(30),
      /** Live reservations + live holds one vehicle may have here (a peer's vehicle: per peer and vehicle); RESERVATION_LIMIT beyond. */
      maxReservationsPerVehicle: z.number().int().min(1).max(1_000_000).default(20),
    })
    .default({ windowMinutes: 120, minLeadMinutes: 120, holdTtlSeconds: 30, maxAdvanceDays: 30, maxReservationsPerVehicle: 20 }),
}).superRefine((cfg, ctx) => {
  // The earliest bookable time must come before the latest, or every booking is refused.
  if (cfg.rules.minLeadMinutes >= cfg.rules.maxAdvanceDays * 24 * 60) {
    ctx.addIssue({
      code: 'custom',
      path: ['rules', 'minLeadMinutes'],
      message: `${cfg.rules.minLeadMinutes} minutes is not less than rules.maxAdvanceDays (${cfg.rules.maxAdvanceDays} days = ${cfg.rules.maxAdvanceDays * 24 * 60} minutes): no time could be booked; lower minLeadMinutes or raise maxAdvanceDays`,
    })
  }
  const seen = new Set<string>()
  cfg.stations.forEach((s, i) => {
    if (seen.has(s.stationId)) ctx.addIssue({ code: 'custom', path: ['stations', i, 'stationId'], message: `duplicate station id ${s.stationId}` })
    seen.add(s.stationId)
  })
  const vseen = new Set<string>()
  cfg.vehicles.forEach((v, i) => {
    if (vseen.has(v.vehicleId)) ctx.addIssue({ code: 'custom', path: ['vehicles', i, 'vehicleId'], message: `duplicate vehicle id ${v.vehicleId}` })
    vseen.add(v.vehicleId)
  })
  const cards = new Map<string, string>()
  cfg.vehicles.forEach((v, i) =>
    (v.cards ?? []).forEach((c, j) => {
      const owner = cards.get(c)
      // One card, one account: a card on two vehicles could not tell whom to bill.
      if (owner !== undefined) ctx.addIssue({ code: 'custom', path: ['vehicles', i, 'cards', j], message: `card ${c} already belongs to vehicle ${owner}` })
      else cards.set(c, v.vehicleId)
    }),
  )
  const names = new Set<string>()
  const tokens = new Set<string>(cfg.federation.peers.map((p) => p.acceptToken))
  cfg.operators.forEach((o, i) => {
    if (names.has(o.name)) ctx.addIssue({ code: 'custom', path: ['operators', i, 'name'], message: `duplicate operator ${o.name}` })
    names.add(o.name)
    // A token that also opens another door (a peer's, another operator's) could not tell who is calling.
    if (tokens.has(o.token)) ctx.addIssue({ code: 'custom', path: ['operators', i, 'token'], message: 'this token is already used by a peer or another operator' })
    tokens.add(o.token)
  })
  const peerIds = new Set<string>()
  const accepted = new Set<string>()
  cfg.federation.peers.forEach((p, i) => {
    if (p.hubId === cfg.hubId) ctx.addIssue({ code: 'custom', path: ['federation', 'peers', i, 'hubId'], message: 'a hub cannot be its own peer' })
    if (peerIds.has(p.hubId)) ctx.addIssue({ code: 'custom', path: ['federation', 'peers', i, 'hubId'], message: `duplicate peer ${p.hubId}` })
    peerIds.add(p.hubId)
    // The token a peer sends is how we tell who calls: two peers with one token could act as each other.
    if (accepted.has(p.acceptToken)) ctx.addIssue({ code: 'custom', path: ['federation', 'peers', i, 'acceptToken'], message: 'another peer already uses this acceptToken' })
    accepted.add(p.acceptToken)
  })
})

export type HubConfig = z.output<typeof HubConfigSchema>

/**
 * Load and validate hub.json; relative paths become relative to the file.
 * Throws ConfigError whose lines start with `file` as given, e.g.
 * `/etc/voltway/hub.json: rules.windowMinute: unknown field, did you mean "windowMinutes"?`.
 */
export function loadHubConfig(file: string): HubConfig {
  const cfg = loadJsonFile(file, HubConfigSchema)
  return resolveHubPaths(cfg, dirname(file))
}

/** dataDir, the TLS files and Mosquitto's files, relative to the directory of hub.json. */
function resolveHubPaths(cfg: HubConfig, dir: string): HubConfig {
  const m = cfg.mqtt
  const mqtt =
    'listen' in m
      ? m.listen.tls
        ? { ...m, listen: { ...m.listen, tls: resolveTlsPaths(dir, m.listen.tls) } }
        : m
      : m.mosquitto
        ? { ...m, mosquitto: { passwordFile: resolve(dir, m.mosquitto.passwordFile), aclFile: resolve(dir, m.mosquitto.aclFile), pidFile: resolve(dir, m.mosquitto.pidFile) } }
        : m
  const http = cfg.http.tls ? { ...cfg.http, tls: resolveTlsPaths(dir, cfg.http.tls) } : cfg.http
  const peers = cfg.federation.peers.map((p) => resolveTlsPaths(dir, p))
  return { ...cfg, dataDir: resolve(dir, cfg.dataDir), mqtt, http, federation: { ...cfg.federation, peers } }
}

/**
 * Checks made after loading (identity collisions, broker ports, Mosquitto
 * usernames) label their ConfigErrors with the generic `hub.json: `; a command
 * that knows which file it read puts that path in its place. Another error
 * whose message starts with that label (a store or broker that does not
 * answer) keeps its class and code, with the path in the label's place. A line about the
 * command line (it names the command, `voltway ...`, or a flag, `--...`) is
 * not about the file and keeps no file label.
 */
export function inConfigFile(err: unknown, file: string): unknown {
  const generic = 'hub.json: '
  if (!(err instanceof ConfigError)) {
    // Other failures about the file's settings (the PostgreSQL server or the broker not answering) keep
    // their class and code, exit 1: only their generic label becomes the real file.
    if (err instanceof Error && err.message.startsWith(generic)) err.message = `${file}: ${err.message.slice(generic.length)}`
    return err
  }
  // Every line starts with the file: a generic label is replaced, a line without one gets it.
  const label = (l: string): string => (l.startsWith(`${file}: `) || /^(voltway |--)/.test(l) ? l : l.startsWith(generic) ? `${file}: ${l.slice(generic.length)}` : `${file}: ${l}`)
  return new ConfigError(err.message.split('\n').map(label).join('\n'))
}
