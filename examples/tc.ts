// Prints a device's qdiscs, classes and filters with their actions, like `tc -s qdisc/class/filter
// show`, or as JSON. Run as root: npx tsx examples/tc.ts --netns NAME --dev DEV [--json]
import { parseArgs } from 'node:util'
import {
  type Action,
  type Filter,
  NETLINK_ROUTE,
  NetlinkSocket,
  type Qdisc,
  TcApi,
  type TcClass,
  type TcStats,
} from '../src/index.ts'

const { values } = parseArgs({
  options: {
    netns: { type: 'string' },
    dev: { type: 'string' },
    json: { type: 'boolean', default: false },
  },
})
if (!values.dev) {
  console.error('usage: examples/tc.ts [--netns NAME] --dev DEV [--json]')
  process.exit(2)
}
const dev = values.dev

const rate = (bits: number) =>
  bits >= 1e9
    ? `${bits / 1e9}Gbit`
    : bits >= 1e6
      ? `${bits / 1e6}Mbit`
      : bits >= 1e3
        ? `${bits / 1e3}Kbit`
        : `${bits}bit`
const stats = (s: TcStats | undefined) =>
  s ? ` sent ${s.bytes} bytes ${s.packets} pkt (dropped ${s.drops}, overlimits ${s.overlimits})` : ''

function qdiscLine(q: Qdisc): string {
  const o = q.options
  let opts = ''
  if (o.kind === 'htb') opts = `r2q ${o.r2q} default 0x${o.defaultClass.toString(16)}`
  else if (o.kind === 'tbf') opts = `rate ${rate(o.rate)} burst ${o.burst}b limit ${o.limit}b`
  else if (o.kind === 'pfifo' || o.kind === 'bfifo') opts = `limit ${o.limit}`
  else if (o.kind === 'prio' || o.kind === 'pfifo_fast')
    opts = `bands ${o.bands} priomap ${o.priomap.join(' ')}`
  else if (o.kind === 'mqprio')
    opts = `tc ${o.numTc} map ${o.map.join(' ')} queues ${o.queues.map((x) => `${x.count}@${x.offset}`).join(' ')}`
  else if (o.kind === 'unknown') opts = `(options not modelled${o.data ? `, ${o.data.length} bytes` : ''})`
  return `qdisc ${q.kind} ${q.handle} ${q.parent === 'root' ? 'root' : `parent ${q.parent}`} ${opts}`.trimEnd()
}

function classLine(c: TcClass): string {
  const o = c.options
  const opts =
    o.kind === 'htb'
      ? `prio ${o.prio} rate ${rate(o.rate)} ceil ${rate(o.ceil)} burst ${o.burst}b cburst ${o.cburst}b`
      : ''
  return `class ${c.kind} ${c.handle} ${c.parent === 'root' ? 'root' : `parent ${c.parent}`}${c.leaf ? ` leaf ${c.leaf}` : ''} ${opts}`
}

function actionLine(a: Action): string {
  const o = a.options
  const control = typeof a.control === 'string' ? a.control : JSON.stringify(a.control)
  let what = ''
  if (o.kind === 'mirred') what = `${o.direction} ${o.action} to ${o.dev ?? `ifindex ${o.ifindex}`}`
  else if (o.kind === 'skbedit')
    what = [
      o.queueMapping !== undefined ? `queue_mapping ${o.queueMapping}` : '',
      o.mark !== undefined ? `mark ${o.mark}` : '',
      o.priority !== undefined ? `priority ${o.priority}` : '',
    ]
      .filter(Boolean)
      .join(' ')
  else if (o.kind === 'bpf') what = `${o.name ?? ''} id ${o.id ?? '?'} tag ${o.tag ?? '?'}`
  return `action order ${a.order ?? '-'}: ${a.kind} ${what} ${control} index ${a.index}${stats(a.stats)}`
}

function filterLines(f: Filter): string[] {
  const o = f.options
  let head = `filter ${f.parent} protocol ${f.protocol} pref ${f.pref} ${f.kind} chain ${f.chain}`
  if (f.handle) head += ` handle ${f.handle}`
  const lines = [head]
  if (o?.kind === 'u32') {
    if (o.divisor) lines[0] += ` ht divisor ${o.divisor}`
    if (o.classid) lines[0] += ` flowid ${o.classid}`
    for (const k of o.keys ?? [])
      lines.push(
        `  match ${k.value.toString(16).padStart(8, '0')}/${k.mask.toString(16).padStart(8, '0')} at ${k.offset}`,
      )
  } else if (o?.kind === 'bpf') {
    lines[0] += ` ${o.name ?? ''} id ${o.id} tag ${o.tag}${o.directAction ? ' direct-action' : ''}`
  } else if (o?.kind === 'flower') {
    const { kind: _k, flags: _f, ...keys } = o
    lines.push(
      `  ${Object.entries(keys)
        .map(([k, v]) => `${k} ${v}`)
        .join(' ')}`,
    )
  }
  for (const a of f.actions ?? []) lines.push(`  ${actionLine(a)}`)
  return lines
}

const sock = new NetlinkSocket(NETLINK_ROUTE, values.netns ? { netns: values.netns } : {})
try {
  const tc = new TcApi(sock, values.netns)
  const qdiscs = await tc.qdiscs.list(dev)
  const classes = await tc.classes.list(dev)
  // Filters hang off clsact's hooks and off the qdiscs (and classes) of the device.
  const parents = new Set<string>()
  for (const q of qdiscs) {
    if (q.kind === 'clsact') {
      parents.add('ingress')
      parents.add('egress')
    } else if (q.kind === 'ingress') parents.add('ingress')
    else if (q.handle !== '0:') parents.add(q.handle)
  }
  for (const c of classes) parents.add(c.handle)
  const filters: Filter[] = []
  for (const parent of parents) filters.push(...(await tc.filters.list({ dev, parent })))

  if (values.json) {
    const replacer = (_k: string, v: unknown) =>
      typeof v === 'bigint' ? v.toString() : v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v
    console.log(JSON.stringify({ dev, qdiscs, classes, filters }, replacer, 2))
  } else {
    for (const q of qdiscs) console.log(`${qdiscLine(q)}\n ${stats(q.stats).trim()}`)
    for (const c of classes) console.log(`${classLine(c)}\n ${stats(c.stats).trim()}`)
    for (const f of filters) console.log(filterLines(f).join('\n'))
  }
} finally {
  sock.close()
}
