import { map, merge, type Observable } from 'rxjs'
import { InvalidInputError, NetlinkError, openRoute, SysError } from '../index.ts'
import { parseGlobal, UsageError, Words } from './args.ts'
import { addrCommand, bigintJson, formatLink, linkCommand } from './link-commands.ts'

const USAGE = `usage: rxnl [--netns NAME] [--json] OBJECT COMMAND [ARGS]
  link show [DEV] | add NAME type KIND [...] | del DEV | set DEV [up|down] [mtu N] [name NEW] ...
  addr show [dev DEV]
  monitor [link] [all]`

/** Runs one command line; returns the exit status (0 ok, 1 failed, 2 usage). */
export async function run(
  argv: readonly string[],
  out: (s: string) => void = (s) => console.log(s),
  err: (s: string) => void = (s) => console.error(s),
  stop?: Promise<unknown>,
): Promise<number> {
  try {
    const { options, words } = parseGlobal(argv)
    const w = new Words(words)
    const object = w.optional()
    if (!object || object === 'help' || object === '--help' || object === '-h') {
      out(USAGE)
      return object ? 0 : 2
    }
    const rt = await openRoute(options.netns ? { netns: options.netns } : {})
    try {
      switch (object) {
        case 'link':
        case 'l':
          await linkCommand(rt, w, options.json, out)
          break
        case 'addr':
        case 'address':
        case 'a':
          await addrCommand(rt, w, options.json, out)
          break
        case 'monitor':
          await monitor(rt, w, options.json, out, stop)
          break
        default:
          throw new UsageError(`unknown object '${object}'`)
      }
    } finally {
      rt.close()
    }
    return 0
  } catch (e) {
    if (e instanceof UsageError) {
      err(`rxnl: ${e.message}\n${USAGE}`)
      return 2
    }
    if (e instanceof InvalidInputError) {
      err(`rxnl: invalid argument: ${e.message}`)
      return 2
    }
    if (e instanceof NetlinkError || e instanceof SysError) {
      err(`rxnl: ${e.message}`)
      return 1
    }
    err(`rxnl: ${e instanceof Error ? e.message : String(e)}`)
    return 1
  }
}

async function monitor(
  rt: Awaited<ReturnType<typeof openRoute>>,
  w: Words,
  json: boolean,
  out: (s: string) => void,
  stop?: Promise<unknown>,
): Promise<void> {
  const what = new Set<string>()
  while (!w.done) what.add(w.next('object'))
  if (what.size === 0 || what.has('all')) what.add('link')
  const streams: Array<Observable<string>> = []
  for (const o of what) {
    if (o === 'all') continue
    if (o !== 'link') throw new UsageError(`cannot monitor '${o}' (link, all)`)
  }
  streams.push(
    rt.links.events$.pipe(
      map((e) => {
        if (json) return JSON.stringify({ object: 'link', ...e }, bigintJson)
        if (e.type === 'overrun') return '[link] events lost (overrun): re-read with "link show"'
        return `[link]${e.type === 'del' ? ' Deleted' : ''} ${formatLink(e.link, [])}`
      }),
    ),
  )
  const done = stop ?? new Promise((resolve) => process.once('SIGINT', resolve).once('SIGTERM', resolve))
  const sub = merge(...streams).subscribe(out)
  await done
  sub.unsubscribe()
}

if (import.meta.url === `file://${process.argv[1]}`) {
  process.exitCode = await run(process.argv.slice(2))
}
