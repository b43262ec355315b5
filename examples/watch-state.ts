// A live, compact view of a namespace: one line per device with its state, queues, qdiscs,
// filters and RSS, redrawn as things change. With --json, prints the change records instead.
//   npx tsx examples/watch-state.ts [--netns NAME] [--json] [--once]
import { parseArgs } from 'node:util'
import { type DeviceState, deviceState$, type StateUpdate } from '../src/index.ts'

const { values } = parseArgs({
  options: { netns: { type: 'string' }, json: { type: 'boolean' }, once: { type: 'boolean' } },
})

/** An indirection table in a few characters: its length and how many buckets each queue gets. */
function tableSummary(table: readonly number[]): string {
  const per = new Map<number, number>()
  for (const q of table) per.set(q, (per.get(q) ?? 0) + 1)
  const queues = [...per.keys()].sort((a, b) => a - b)
  return `${table.length} buckets → q${queues.map((q) => `${q}:${per.get(q)}`).join(' q')}`
}

/** The RSS in force: a tap's back end and table (managed here), or the NIC's (ethtool). */
function rssColumn(s: DeviceState, index: number): string {
  const tap = s.tapRss.get(index)?.status
  if (tap) return `tap ${tap.backend} ${tableSummary(tap.config.table)}`
  const nic = s.ethtool.get(index)?.rss
  return nic ? `ethtool ${nic.hfunc} ${tableSummary(nic.table)}` : '-'
}

function view(s: DeviceState): string[] {
  const rows: string[][] = [
    ['#', 'device', 'kind', 'state', 'mtu', 'queues tx/rx', 'qdiscs', 'filters', 'rss'],
  ]
  for (const l of [...s.links.values()].sort((a, b) => a.index - b.index)) {
    const qdiscs = [...s.qdiscs.values()].filter((q) => q.index === l.index)
    const root = qdiscs.find((q) => q.parent === 'root')
    const hooks = qdiscs.filter((q) => q.parent === 'ingress').map((q) => q.kind)
    const filters = [...s.filters.values()].filter((f) => f.index === l.index && f.handle !== undefined)
    const eth = s.ethtool.get(l.index)
    const channels = eth?.channels
    const queues =
      channels && channels.combined > 0
        ? `${channels.combined} combined`
        : `${l.numTxQueues ?? '?'}/${l.numRxQueues ?? '?'}`
    rows.push([
      String(l.index),
      l.name,
      l.kind ?? '-',
      `${l.up ? 'UP' : 'DOWN'}/${l.operstate}`,
      String(l.mtu),
      queues,
      [root ? `${root.kind} ${root.handle}` : '-', ...hooks].join('+'),
      filters.length ? `${filters.length} (${[...new Set(filters.map((f) => f.kind))].join(',')})` : '-',
      rssColumn(s, l.index),
    ])
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)))
  return rows.map((r) =>
    r
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd(),
  )
}

const replacer = (_k: string, v: unknown) =>
  typeof v === 'bigint' ? v.toString() : v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v

function print(u: StateUpdate): void {
  if (values.json) {
    for (const c of u.changes) console.log(JSON.stringify({ seq: u.seq, reason: u.reason, ...c }, replacer))
    if (u.changes.length === 0) console.log(JSON.stringify({ seq: u.seq, reason: u.reason }))
    return
  }
  const extra = [
    u.state.tracks.ethtool ? 'ethtool' : '',
    u.state.tracks.devlink ? `devlink ${u.state.devlink.size}` : '',
  ]
  const head = `rxnetlink device state ${values.netns ? `of ${values.netns} ` : ''}#${u.seq} (${u.reason}, ${u.changes.length} changes) ${extra.filter(Boolean).join(', ')}`
  // A terminal gets a redrawn screen; a pipe gets one block per update.
  if (process.stdout.isTTY && !values.once) process.stdout.write('\x1b[H\x1b[2J')
  console.log([head, ...view(u.state), ''].join('\n'))
}

const sub = deviceState$(values.netns ? { netns: values.netns } : {}).subscribe({
  next(u) {
    print(u)
    if (values.once) stop()
  },
  error(err) {
    console.error(String(err))
    process.exitCode = 1
  },
})
function stop(): void {
  sub?.unsubscribe()
}
process.once('SIGINT', stop)
process.once('SIGTERM', stop)
