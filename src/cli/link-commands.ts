import type { Address, Link, LinkChange, LinkCreate, RouteClient } from '../index.ts'
import { toJson, UsageError, type Words } from './args.ts'

export function formatLink(l: Link, all: readonly Link[]): string {
  const nameOf = (i: number | undefined) =>
    all.find((x) => x.index === i)?.name ?? (i === undefined ? '' : `if${i}`)
  const parts = [
    `${l.index}: ${l.name}${l.parent ? `@${nameOf(l.parent)}` : ''}: <${l.flags.filter((f) => f !== 'RUNNING').join(',')}>`,
  ]
  parts.push(`mtu ${l.mtu}`)
  if (l.qdisc) parts.push(`qdisc ${l.qdisc}`)
  if (l.master) parts.push(`master ${nameOf(l.master)}`)
  parts.push(`state ${String(l.operstate).toUpperCase()}`)
  if (l.txqlen !== undefined) parts.push(`qlen ${l.txqlen}`)
  let out = parts.join(' ')
  out += `\n    link/${l.type}${l.address ? ` ${l.address}` : ''}${l.broadcast ? ` brd ${l.broadcast}` : ''}`
  if (l.kind)
    out += `\n    ${l.kind}${l.numTxQueues ? ` numtxqueues ${l.numTxQueues} numrxqueues ${l.numRxQueues}` : ''}`
  return out
}

export function formatAddress(a: Address, links: readonly Link[]): string {
  const dev = links.find((l) => l.index === a.index)?.name ?? `if${a.index}`
  const extra = [
    a.broadcast ? `brd ${a.broadcast}` : '',
    `scope ${a.scope}`,
    ...a.flags.map(String),
    a.label && a.label !== dev ? a.label : '',
  ]
  return `${a.index}: ${dev}    ${a.family} ${a.address}/${a.prefixLength} ${extra.filter(Boolean).join(' ')}`
}

export async function linkCommand(
  rt: RouteClient,
  w: Words,
  json: boolean,
  out: (s: string) => void,
): Promise<void> {
  const cmd = w.optional() ?? 'show'
  switch (cmd) {
    case 'show':
    case 'list':
    case 'ls': {
      const dev = w.optional()
      const all = await rt.links.list()
      const links = dev === undefined ? all : [await rt.links.get(/^\d+$/.test(dev) ? Number(dev) : dev)]
      out(json ? toJson(links) : links.map((l) => formatLink(l, all)).join('\n'))
      return
    }
    case 'add': {
      const spec = parseLinkAdd(w)
      const link = await rt.links.create(spec)
      if (json) out(toJson(link ?? null))
      return
    }
    case 'del':
    case 'delete': {
      await rt.links.delete(device(w.next('device')))
      return
    }
    case 'set': {
      const dev = device(w.next('device'))
      const link = await rt.links.set(dev, parseLinkSet(w))
      if (json) out(toJson(link ?? null))
      return
    }
    default:
      throw new UsageError(`unknown link command '${cmd}' (show, add, del, set)`)
  }
}

function device(s: string): string | number {
  return /^\d+$/.test(s) ? Number(s) : s
}

/** Reads one option's value from the words after it: the key it sets and the value. */
type OptionReader = (w: Words, option: string) => [key: string, value: unknown]
const num =
  (key?: string): OptionReader =>
  (w, k) => [key ?? k, w.number(k)]
const text =
  (key?: string): OptionReader =>
  (w, k) => [key ?? k, w.next(k)]
const dev =
  (key?: string): OptionReader =>
  (w, k) => [key ?? k, device(w.next(k))]
const fixed =
  (key: string, value: unknown): OptionReader =>
  () => [key, value]

/** Options `link add` and `link set` both take, as iproute2 spells them. */
const LINK_OPTIONS: Record<string, OptionReader> = {
  mtu: num(),
  txqlen: num(),
  address: text(),
  master: dev(),
  up: fixed('up', true),
}

const ADD_OPTIONS: Record<string, OptionReader> = {
  ...LINK_OPTIONS,
  type: text('kind'),
  numtxqueues: num('numTxQueues'),
  numrxqueues: num('numRxQueues'),
  peer: (w) => {
    if (w.peek() === 'name') w.next('name')
    return ['peer', { name: w.next('peer name') }]
  },
  link: dev(),
  mode: text(),
  id: num(),
  vni: num('id'),
  dstport: num('port'),
  remote: text(),
  group: text(),
  local: text(),
  protocol: text(),
}

const SET_OPTIONS: Record<string, OptionReader> = {
  ...LINK_OPTIONS,
  down: fixed('up', false),
  name: text(),
  alias: text(),
  nomaster: fixed('master', null),
  netns: text(),
}

function parseOptions(
  w: Words,
  table: Record<string, OptionReader>,
  command: string,
): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  while (!w.done) {
    const k = w.next('option')
    const read = Object.hasOwn(table, k) ? table[k] : undefined
    if (!read) throw new UsageError(`unknown option '${k}' for ${command}`)
    const [key, value] = read(w, k)
    out[key] = value
  }
  return out
}

/** `NAME [mtu N] [address MAC] [up] type KIND [kind options]` */
function parseLinkAdd(w: Words): LinkCreate {
  const name = w.next('name')
  const spec: Record<string, unknown> = { name, ...parseOptions(w, ADD_OPTIONS, 'link add') }
  if (!spec.kind) throw new UsageError('link add needs "type KIND"')
  return spec as LinkCreate
}

function parseLinkSet(w: Words): LinkChange {
  return parseOptions(w, SET_OPTIONS, 'link set') as LinkChange
}

export async function addrCommand(
  rt: RouteClient,
  w: Words,
  json: boolean,
  out: (s: string) => void,
): Promise<void> {
  const cmd = w.optional() ?? 'show'
  if (cmd !== 'show' && cmd !== 'list' && cmd !== 'ls')
    throw new UsageError(`unknown addr command '${cmd}' (show)`)
  let dev: string | undefined
  if (w.peek() === 'dev') w.next('dev')
  if (!w.done) dev = w.next('device')
  const addrs = await rt.addresses.list(dev === undefined ? undefined : device(dev))
  if (json) out(toJson(addrs))
  else {
    const links = await rt.links.list({ stats: false })
    out(addrs.map((a) => formatAddress(a, links)).join('\n'))
  }
}
