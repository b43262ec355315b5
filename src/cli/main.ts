import { catchError, EMPTY, map, merge, type Observable, type Subscription, throwError } from 'rxjs'
import {
  type DevlinkClient,
  type DevlinkOptions,
  devlinkEvents$,
  type EthtoolClient,
  type EthtoolOptions,
  ethtoolEvents$,
  FamilyNotFoundError,
  InvalidInputError,
  NetlinkError,
  NoSuchDeviceError,
  NotSupportedError,
  openDevlink,
  openEthtool,
  openRoute,
  type RouteClient,
  type RouteOptions,
  RssConfigError,
  SysError,
  TapError,
} from '../index.ts'
import { type GlobalOptions, parseGlobal, toJson, UsageError, Words } from './args.ts'
import { devlinkCommand, formatDevlinkEvent } from './devlink-commands.ts'
import { ethtoolCommand, formatEthtoolEvent } from './ethtool-commands.ts'
import { addrCommand, formatLink, linkCommand } from './link-commands.ts'
import { tapCommand } from './tap-commands.ts'
import { formatTcEvent, tcCommand } from './tc-commands.ts'

const USAGE = `usage: rxnl [--netns NAME] [--json] OBJECT COMMAND [ARGS]
  link show [DEV] | add NAME type KIND [...] | del DEV | set DEV [up|down] [mtu N] [name NEW] ...
  addr show [dev DEV]
  tc qdisc show [dev DEV]
  tc filter show dev DEV [ingress|egress|root|parent P] [chain N]
  ethtool channels DEV [set [rx N] [tx N] [other N] [combined N]]
  ethtool rss DEV [context N]
  devlink dev show [DEV]
  devlink dev param show [DEV [name NAME]]
  tap create NAME [queues N] [owner UID] [group GID] [vnet_hdr]
  tap rss show DEV
  tap rss set DEV [queues N] [hash all|T,T,…] [key HEX] [table Q,Q,…|spread N] [default Q]
  monitor [link] [tc] [ethtool] [devlink] [all]`

/** How the CLI opens its clients; tests replace one (a devlink client over recorded replies). */
export interface CliClients {
  route(options: RouteOptions): Promise<RouteClient>
  ethtool(options: EthtoolOptions): Promise<EthtoolClient>
  devlink(options: DevlinkOptions): Promise<DevlinkClient>
}

const defaultClients: CliClients = { route: openRoute, ethtool: openEthtool, devlink: openDevlink }

/** Runs one command line; returns the exit status (0 ok, 1 failed, 2 usage). */
export async function run(
  argv: readonly string[],
  out: (s: string) => void = (s) => console.log(s),
  err: (s: string) => void = (s) => console.error(s),
  stop?: Promise<unknown>,
  clients: Partial<CliClients> = {},
): Promise<number> {
  const open: CliClients = { ...defaultClients, ...clients }
  const print = out
  // An empty listing prints nothing, as iproute2 does.
  out = (s) => {
    if (s !== '') print(s)
  }
  try {
    const { options, words } = parseGlobal(argv)
    const w = new Words(words)
    const object = w.optional()
    if (!object || object === 'help' || object === '--help' || object === '-h') {
      out(USAGE)
      return object ? 0 : 2
    }
    const ns = options.netns ? { netns: options.netns } : {}
    switch (object) {
      case 'link':
      case 'l':
        await withClient(open.route(ns), (rt) => linkCommand(rt, w, options.json, out))
        break
      case 'addr':
      case 'address':
      case 'a':
        await withClient(open.route(ns), (rt) => addrCommand(rt, w, options.json, out))
        break
      case 'tc':
        await withClient(open.route(ns), (rt) => tcCommand(rt, w, options.json, out))
        break
      case 'ethtool':
        await withClient(open.ethtool(ns), (et) => ethtoolCommand(et, w, options.json, out))
        break
      case 'devlink':
        await withClient(open.devlink(ns).catch(noDevlink), (dl) => devlinkCommand(dl, w, options.json, out))
        break
      case 'tap':
        await tapCommand(w, options.netns, options.json, out)
        break
      case 'monitor':
        await monitor(options, w, out, err, stop)
        break
      default:
        throw new UsageError(`unknown object '${object}'`)
    }
    return 0
  } catch (e) {
    if (e instanceof UsageError) {
      err(`rxnl: ${e.message}\n${USAGE}`)
      return 2
    }
    if (
      e instanceof InvalidInputError ||
      e instanceof RssConfigError ||
      (e instanceof TapError && e.kind === 'invalid-input')
    ) {
      err(`rxnl: invalid argument: ${e.message}`)
      return 2
    }
    if (
      e instanceof NetlinkError ||
      e instanceof SysError ||
      e instanceof NoSuchDeviceError ||
      e instanceof NotSupportedError
    ) {
      err(`rxnl: ${e.message}`)
      return 1
    }
    err(`rxnl: ${e instanceof Error ? e.message : String(e)}`)
    return 1
  }
}

async function withClient<C extends { close(): void }>(
  opening: Promise<C>,
  fn: (c: C) => Promise<void>,
): Promise<void> {
  const c = await opening
  try {
    await fn(c)
  } finally {
    c.close()
  }
}

/** devlink missing from the kernel, said the way `devlink` says it, naming the family. */
class DevlinkMissingError extends Error {
  override readonly name = 'DevlinkMissingError'
}
function noDevlink(e: unknown): never {
  if (e instanceof FamilyNotFoundError)
    throw new DevlinkMissingError(
      `Failed to connect to devlink Netlink: generic netlink family '${e.family}' is not available in this kernel (CONFIG_NET_DEVLINK)`,
    )
  throw e
}

const MONITORED = ['link', 'tc', 'ethtool', 'devlink'] as const
type Monitored = (typeof MONITORED)[number]

/**
 * `monitor [link] [tc] [ethtool] [devlink] [all]` (default: all): one line per event until
 * `stop` settles (or SIGINT/SIGTERM). With `all`, a kernel without devlink or ethtool netlink
 * is noted on stderr and the other streams go on; asked for by name, it is an error.
 */
async function monitor(
  options: GlobalOptions,
  w: Words,
  out: (s: string) => void,
  err: (s: string) => void,
  stop?: Promise<unknown>,
): Promise<void> {
  const asked = new Set<string>()
  while (!w.done) asked.add(w.next('object'))
  for (const o of asked)
    if (o !== 'all' && !(MONITORED as readonly string[]).includes(o))
      throw new UsageError(`cannot monitor '${o}' (${MONITORED.join(', ')}, all)`)
  const all = asked.size === 0 || asked.has('all')
  const what = new Set<Monitored>(all ? MONITORED : (asked as Set<Monitored>))
  const ns = options.netns ? { netns: options.netns } : {}
  const json = options.json
  const rt = what.has('link') || what.has('tc') ? await openRoute(ns) : undefined
  const optional =
    <T>(family: string) =>
    (s: Observable<T>): Observable<T> =>
      s.pipe(
        catchError((e: unknown) => {
          if (!(e instanceof FamilyNotFoundError)) return throwError(() => e)
          if (all) {
            err(`rxnl: not monitoring ${family}: ${e.message}`)
            return EMPTY
          }
          return throwError(() =>
            family === 'devlink' ? new Error(`Failed to connect to devlink Netlink: ${e.message}`) : e,
          )
        }),
      )
  const line = (object: string, e: object, text: () => string) => (json ? toJson({ object, ...e }) : text())
  const streams: Array<Observable<string>> = []
  if (rt && what.has('link'))
    streams.push(
      rt.links.events$.pipe(
        map((e) =>
          line('link', e, () =>
            e.type === 'overrun'
              ? '[link] events lost (overrun): re-read with "link show"'
              : `[link]${e.type === 'del' ? ' Deleted' : ''} ${formatLink(e.link, [])}`,
          ),
        ),
      ),
    )
  if (rt && what.has('tc'))
    streams.push(
      rt.tc.events$.pipe(
        map((e) =>
          // A tc event names its own object (qdisc, class, filter, action); an overrun says 'tc'.
          e.type === 'overrun' ? line('tc', e, () => formatTcEvent(e)) : json ? toJson(e) : formatTcEvent(e),
        ),
      ),
    )
  if (what.has('ethtool'))
    streams.push(
      ethtoolEvents$(ns).pipe(
        optional('ethtool'),
        map((e) => line('ethtool', e, () => formatEthtoolEvent(e))),
      ),
    )
  if (what.has('devlink'))
    streams.push(
      devlinkEvents$(ns).pipe(
        optional('devlink'),
        map((e) => line('devlink', e, () => formatDevlinkEvent(e))),
      ),
    )
  let onSignal: (() => void) | undefined
  const stopped =
    stop ??
    new Promise<void>((resolve) => {
      onSignal = resolve
      process.once('SIGINT', resolve).once('SIGTERM', resolve)
    })
  let sub: Subscription | undefined
  try {
    await new Promise<void>((resolve, reject) => {
      sub = merge(...streams).subscribe({ next: out, error: reject })
      stopped.then(
        () => resolve(),
        () => resolve(),
      )
    })
  } finally {
    sub?.unsubscribe()
    if (onSignal) process.off('SIGINT', onSignal).off('SIGTERM', onSignal)
    rt?.close()
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  process.exitCode = await run(process.argv.slice(2))
}
