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

/** `NAME [mtu N] [address MAC] [up] type KIND [kind options]` */
function parseLinkAdd(w: Words): LinkCreate {
  const spec: Record<string, unknown> = { name: w.next('name') }
  let kind: string | undefined
  while (!w.done) {
    const k = w.next('option')
    switch (k) {
      case 'type':
        kind = w.next('kind')
        spec.kind = kind
        break
      case 'mtu':
      case 'txqlen':
        spec[k] = w.number(k)
        break
      case 'numtxqueues':
        spec.numTxQueues = w.number(k)
        break
      case 'numrxqueues':
        spec.numRxQueues = w.number(k)
        break
      case 'address':
        spec.address = w.next(k)
        break
      case 'master':
        spec.master = device(w.next(k))
        break
      case 'up':
        spec.up = true
        break
      case 'peer':
        if (w.peek() === 'name') w.next('name')
        spec.peer = { name: w.next('peer name') }
        break
      case 'link':
        spec.link = device(w.next(k))
        break
      case 'mode':
        spec.mode = w.next(k)
        break
      case 'id':
      case 'vni':
        spec.id = w.number(k)
        break
      case 'dstport':
        spec.port = w.number(k)
        break
      case 'remote':
      case 'group':
      case 'local':
        spec[k] = w.next(k)
        break
      case 'protocol':
        spec.protocol = w.next(k)
        break
      default:
        throw new UsageError(`unknown option '${k}' for link add`)
    }
  }
  if (!kind) throw new UsageError('link add needs "type KIND"')
  return spec as LinkCreate
}

function parseLinkSet(w: Words): LinkChange {
  const c: Record<string, unknown> = {}
  while (!w.done) {
    const k = w.next('option')
    switch (k) {
      case 'up':
      case 'down':
        c.up = k === 'up'
        break
      case 'mtu':
      case 'txqlen':
        c[k] = w.number(k)
        break
      case 'name':
      case 'address':
      case 'alias':
        c[k] = w.next(k)
        break
      case 'master':
        c.master = device(w.next(k))
        break
      case 'nomaster':
        c.master = null
        break
      case 'netns':
        c.netns = w.next(k)
        break
      default:
        throw new UsageError(`unknown option '${k}' for link set`)
    }
  }
  return c as LinkChange
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
