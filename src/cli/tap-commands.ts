import { existsSync, rmSync } from 'node:fs'
import {
  BPFFS,
  ensureBpffs,
  HASH_TYPES,
  type HashType,
  RssConfigMap,
  Tap,
  type TapRssConfig,
  type TapRssConfigInput,
} from '../index.ts'
import { toJson, UsageError, type Words } from './args.ts'

/**
 * Taps outlive a CLI invocation only when persistent, and their RSS only through a pinned config
 * map: `tap rss set` attaches the steering program (the device keeps it) and pins its map under
 * bpffs, so that later invocations (`rss show`, `rss set`) find it by namespace and device.
 */
function pinPath(netns: string | undefined, dev: string): string {
  const root = process.env.RXNL_BPFFS ?? BPFFS
  return `${ensureBpffs(`rxnl/${netns ?? '_'}`, root)}/tap-rss-${dev}`
}

const csv = (w: string) => w.split(',').filter(Boolean)

function numbers(what: string, w: string): number[] {
  const out = csv(w).map(Number)
  if (out.length === 0 || out.some((n) => !Number.isInteger(n) || n < 0))
    throw new UsageError(`${what}: '${w}' is not a list of queue numbers`)
  return out
}

function hashTypes(w: string): HashType[] {
  const names = w === 'all' ? [...HASH_TYPES] : csv(w)
  const bad = names.filter((n) => !(HASH_TYPES as readonly string[]).includes(n))
  if (bad.length)
    throw new UsageError(`hash: unknown hash type ${bad.join(', ')} (known: ${HASH_TYPES.join(', ')})`)
  return names as HashType[]
}

function formatRss(dev: string, path: string, c: TapRssConfig, queues: number | undefined): string {
  const lines = [
    `${dev}: RSS through the ebpf back end${queues ? ` over ${queues} queues` : ''} (config map ${path})`,
    `hash types: ${c.hashTypes.join(' ') || '(none)'}`,
    `key: ${[...c.key].map((b) => b.toString(16).padStart(2, '0')).join(':')}`,
    `default queue: ${c.defaultQueue}`,
    `indirection table (${c.table.length} entries):`,
  ]
  for (let i = 0; i < c.table.length; i += 8)
    lines.push(
      `${String(i).padStart(5)}: ${c.table
        .slice(i, i + 8)
        .map((q) => String(q).padStart(3))
        .join(' ')}`,
    )
  return lines.join('\n')
}

/** `tap create NAME [queues N] [owner UID] [group GID] [vnet_hdr]`, `tap rss show|set DEV …`. */
export async function tapCommand(
  w: Words,
  netns: string | undefined,
  json: boolean,
  out: (s: string) => void,
): Promise<void> {
  const verb = w.next('tap command (create, rss)')
  if (verb === 'create' || verb === 'add') {
    const name = w.next('tap name')
    let queues = 1
    let owner: number | undefined
    let group: number | undefined
    let vnetHdr = false
    while (!w.done) {
      const k = w.next('option')
      if (k === 'queues') queues = w.number('queues')
      else if (k === 'owner' || k === 'user') owner = w.number(k)
      else if (k === 'group') group = w.number('group')
      else if (k === 'vnet_hdr') vnetHdr = true
      else throw new UsageError(`tap create: unknown option '${k}'`)
    }
    const tap = Tap.create({ name, queues, persist: true, vnetHdr, netns, owner, group })
    try {
      const info = { name: tap.name, ifindex: tap.ifindex, queues, persist: true, multiQueue: queues > 1 }
      // A device made anew has no RSS yet, whatever an older device of this name had.
      rmSync(pinPath(netns, tap.name), { force: true })
      out(json ? toJson(info) : `tap ${info.name}: ${queues} queue${queues > 1 ? 's' : ''}, persistent`)
    } finally {
      tap.close()
    }
    return
  }
  if (verb !== 'rss') throw new UsageError(`tap: unknown command '${verb}' (create, rss)`)
  const action = w.next('rss command (show, set)')
  const dev = w.next('device')
  const path = pinPath(netns, dev)
  if (action === 'show') {
    if (!existsSync(path))
      throw new Error(`tap rss show ${dev}: no RSS set with rxnl (nothing pinned at ${path})`)
    using m = RssConfigMap.fromPinned(path)
    const c = m.read()
    out(
      json
        ? toJson({ dev, backend: 'ebpf', pinned: path, queues: m.queues, ...c })
        : formatRss(dev, path, c, m.queues),
    )
    return
  }
  if (action !== 'set') throw new UsageError(`tap rss: unknown command '${action}' (show, set)`)
  const change: Partial<TapRssConfigInput> = {}
  let queues: number | undefined
  while (!w.done) {
    const k = w.next('option')
    if (k === 'queues') queues = w.number('queues')
    else if (k === 'hash') change.hashTypes = hashTypes(w.next('hash types'))
    else if (k === 'key') change.key = w.next('key').replaceAll(':', '')
    else if (k === 'table') change.table = numbers('table', w.next('table'))
    else if (k === 'spread') {
      const n = w.number('spread')
      change.table = Array.from({ length: 64 }, (_, i) => i % n)
    } else if (k === 'default') change.defaultQueue = w.number('default')
    else throw new UsageError(`tap rss set: unknown option '${k}'`)
  }
  let config: TapRssConfig
  let count: number | undefined
  if (existsSync(path) && queues === undefined) {
    // Live: one map update, validated against the queue count stored with the configuration.
    using m = RssConfigMap.fromPinned(path)
    config = m.update(change)
    count = m.queues
  } else {
    if (queues === undefined)
      throw new UsageError('tap rss set: the first time, say how many queues (queues N)')
    if (!change.table)
      throw new UsageError('tap rss set: the first time, give a table (table Q,Q,… or spread N)')
    using tap = Tap.open({ name: dev, queues, netns })
    const status = await tap.rss.apply(
      { hashTypes: [...HASH_TYPES], defaultQueue: 0, ...change } as TapRssConfigInput,
      { backend: 'ebpf' },
    )
    rmSync(path, { force: true })
    tap.rss.steering?.config.pin(path)
    config = status.config
    count = queues
  }
  out(
    json
      ? toJson({ dev, backend: 'ebpf', pinned: path, queues: count, ...config })
      : formatRss(dev, path, config, count),
  )
}
