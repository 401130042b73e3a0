import type { Command } from 'commander'
import type { Trip } from '../../protocol/index.js'
import { UsageError } from '../errors.js'
import { hopTimes } from '../geo.js'
import { localTime, position, table } from '../output.js'
import { parseTimeFlag, resolvePositionRange } from '../settings.js'
import { formatTime, parseTime } from '../../protocol/index.js'
import { processCli, runCheckedWith, type CliContext, addConnectionOptions, addPositionOptions, addRequestIdOption, idFlag, numberFlag, repeatable, requestIdFlag, type PositionCommandFlags, type RequestIdFlags } from './common.js'

interface TripFlags extends PositionCommandFlags, RequestIdFlags {
  to?: string
  index?: number
  route?: string
  times?: string
  depart?: string
  speedKmh: number
}

export function renderTrip(trip: Trip): string {
  return `trip ${trip.tripId}\n${table(
    ['hop', 'hub', 'station', 'position', 'at', 'reservation'],
    trip.legs.map((l, i) => [i, l.hubId, l.stationId, position(l.position), localTime(l.at), l.reservationId]),
  )}`
}

export function registerTrip(parent: Command, cli: CliContext = processCli): void {
  const cmd = parent
    .command('trip')
    .description('route.reserve: reserve one station per hop of a route, all or nothing')
    .option('--to <hubId>', 'destination hub; the route is looked up with route.list')
    .option('--index <n>', 'which route to the destination (0 = shortest)', numberFlag({ integer: true, min: 0, max: 1000 }))
    .option('--route <routeId>', 'reserve this route id (needs --times unless --to finds it)')
    .option('--times <list>', 'comma-separated time per hop (RFC 3339 or +2h)')
    .option('--depart <time>', 'departure time, to compute hop times (default: +2h05m)')
    .option('--speed-kmh <kmh>', 'average speed, to compute hop times', numberFlag({ min: 1, max: 400 }), 80)
  addRequestIdOption(addPositionOptions(addConnectionOptions(cmd))).action(async (flags: TripFlags) => {
    const check = () => {
      const where = resolvePositionRange(flags, cli.env)
      if (!flags.to && !flags.route) throw new UsageError('missing --to <hubId> (or --route <routeId> with --times)')
      const to = flags.to ? idFlag(flags.to, '--to') : undefined
      const routeId = flags.route ? idFlag(flags.route, '--route') : undefined
      let times: string[] | undefined
      if (flags.times !== undefined) {
        times = flags.times.split(',').map((t, i) => parseTimeFlag(t, `--times[${i}]`))
        if (times.length === 0) throw new UsageError('--times: give one time per hop')
      }
      if (!to && !times) throw new UsageError('--route without --to needs --times (or give --to so the hop times can be computed)')
      // The hop times follow from the departure once route.list has answered; a bad --depart is told before connecting.
      const depart = to && !times ? parseTime(parseTimeFlag(flags.depart ?? '+2h5m', '--depart')) : undefined
      return { where, to, routeId, times, depart, opts: requestIdFlag(flags.requestId) }
    }
    await runCheckedWith(cli, flags, check, async (conn, _io, checked) => {
      const { where, to, depart, opts } = checked
      let { routeId, times } = checked
      if (to) {
        const page = await conn.rpc.request('route.list', { destination: to, index: flags.index ?? 0 })
        if (routeId && routeId !== page.route.routeId) {
          throw new UsageError(`--route ${routeId} is not route ${flags.index ?? 0} to ${flags.to} (that is ${page.route.routeId})`)
        }
        routeId = page.route.routeId
        if (times && times.length !== page.route.hops.length) {
          throw new UsageError(`--times: the route has ${page.route.hops.length} hops, got ${times.length} times`)
        }
        if (!times && depart !== undefined) {
          const hops = page.route.hops.map((h) => h.position)
          times = hopTimes(where.position, hops, depart, flags.speedKmh, page.route.distanceKm).map(formatTime)
        }
      }
      if (!routeId) throw new UsageError('missing --route')
      if (!times) throw new UsageError('--route without --to needs --times (or give --to so the hop times can be computed)')
      // Repeated, the route and hop times are given as sent: --to and --depart would work them out anew.
      const sent = { routeId, times }
      const r = await repeatable(() => conn.rpc.request('route.reserve', { ...sent, ...where }, opts), `--route ${sent.routeId} --times ${sent.times.join(',')}`)
      return { json: r, human: () => renderTrip(r.trip) }
    })
  })
}
