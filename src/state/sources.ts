import { encodeRequest, type NetlinkMessage } from '../netlink/codec/index.ts'
import {
  type Address,
  addrMessage,
  decodeAddress,
  decodeLink,
  type Link,
  linkMessage,
  RTM,
  RTNLGRP,
} from '../netlink/route/index.ts'
import {
  classRequest,
  decodeClass,
  decodeFilter,
  decodeQdisc,
  type Filter,
  filterRequest,
  parseClassid,
  parseFilterParent,
  type Qdisc,
  qdiscRequest,
  type TcClass,
} from '../netlink/route/tc/index.ts'
import type { NetlinkSocket } from '../netlink/socket/index.ts'
import type { ManagedTapRss } from '../tuntap/rss-registry.ts'
import type { DevlinkInstance } from './devlink-tracker.ts'
import type { DeviceEthtool } from './ethtool-tracker.ts'

/** The collections of the device state, by name. */
export interface Collections {
  links: Map<string, Link>
  addresses: Map<string, Address>
  qdiscs: Map<string, Qdisc>
  classes: Map<string, TcClass>
  filters: Map<string, Filter>
  ethtool: Map<string, DeviceEthtool>
  devlink: Map<string, DevlinkInstance>
  tapRss: Map<string, ManagedTapRss>
}
export type CollectionName = keyof Collections
export type ItemOf<K extends CollectionName> = Collections[K] extends Map<string, infer V> ? V : never

export const emptyCollections = (): Collections => ({
  links: new Map(),
  addresses: new Map(),
  qdiscs: new Map(),
  classes: new Map(),
  filters: new Map(),
  ethtool: new Map(),
  devlink: new Map(),
  tapRss: new Map(),
})

/** Device names for decoders that print them (tc): from the state being built. */
export type Names = (index: number) => string

/**
 * One keyed collection: how to dump it (given what was dumped before it), which rtnetlink
 * groups announce its changes, and how to read a notification. Notifications carry whole
 * objects, so applying one twice changes nothing: that is what lets a dump and the events
 * around it be merged without gaps.
 */
export interface StateSource<V> {
  readonly name: CollectionName
  readonly groups: readonly number[]
  dump(sock: NetlinkSocket, fresh: Collections): Promise<NetlinkMessage[]>
  key(v: V): string
  fromMessage(m: NetlinkMessage, names: Names): { op: 'set' | 'del'; value: V } | undefined
  /**
   * Whether an object belongs in the state. Structure the kernel lists in dumps but never
   * announces (a classifier instance, a u32 hash table) is left out, or a dump and the events
   * would disagree about it.
   */
  keep?(v: V): boolean
  /** Keys of other collections that go away with this object (a link's qdiscs, …). */
  cascade?(v: V, state: Collections): Array<[CollectionName, string]>
}

const DUMP = { acceptInterrupted: true }

const linkSource: StateSource<Link> = {
  name: 'links',
  groups: [RTNLGRP.LINK],
  dump: (sock) =>
    sock.dump(encodeRequest(linkMessage, RTM.GETLINK, 0, {}, { extMask: 1 }), 'state.links', DUMP),
  key: (l) => String(l.index),
  fromMessage(m) {
    if (m.type === RTM.NEWLINK) return { op: 'set', value: decodeLink(m) }
    if (m.type === RTM.DELLINK) return { op: 'del', value: decodeLink(m) }
    return undefined
  },
  cascade(l, state) {
    const out: Array<[CollectionName, string]> = []
    for (const name of ['addresses', 'qdiscs', 'classes', 'filters', 'ethtool', 'tapRss'] as const)
      for (const [k, v] of state[name]) if (v.index === l.index) out.push([name, k])
    return out
  },
}

const addressSource: StateSource<Address> = {
  name: 'addresses',
  groups: [RTNLGRP.IPV4_IFADDR, RTNLGRP.IPV6_IFADDR],
  dump: (sock) => sock.dump(encodeRequest(addrMessage, RTM.GETADDR, 0, {}, {}), 'state.addresses', DUMP),
  key: (a) => `${a.index}/${a.address}/${a.prefixLength}`,
  fromMessage(m) {
    if (m.type === RTM.NEWADDR) return { op: 'set', value: decodeAddress(m) }
    if (m.type === RTM.DELADDR) return { op: 'del', value: decodeAddress(m) }
    return undefined
  },
}

const qdiscSource: StateSource<Qdisc> = {
  name: 'qdiscs',
  groups: [RTNLGRP.TC],
  dump: (sock) => sock.dump(qdiscRequest('get', { ifindex: 0 }, {}), 'state.qdiscs', DUMP),
  key: (q) => `${q.index}/${q.handle}/${q.parent}`,
  fromMessage(m, names) {
    if (m.type === RTM.NEWQDISC) return { op: 'set', value: decodeQdisc(m, names) }
    if (m.type === RTM.DELQDISC) return { op: 'del', value: decodeQdisc(m, names) }
    return undefined
  },
  cascade(q, state) {
    const out: Array<[CollectionName, string]> = []
    const parents = filterParentsOf(q)
    for (const [k, c] of state.classes) {
      if (c.index === q.index && c.handle.split(':')[0] === q.handle.split(':')[0]) {
        out.push(['classes', k])
        parents.add(c.handle)
      }
    }
    for (const [k, f] of state.filters)
      if (f.index === q.index && parents.has(f.parent)) out.push(['filters', k])
    return out
  },
}

/** The filter parents a qdisc carries: its handle, or the clsact/ingress hooks. */
function filterParentsOf(q: Qdisc): Set<string> {
  if (q.kind === 'clsact') return new Set(['ingress', 'egress'])
  if (q.kind === 'ingress') return new Set(['ingress'])
  return new Set([q.handle])
}

const classSource: StateSource<TcClass> = {
  name: 'classes',
  groups: [RTNLGRP.TC],
  async dump(sock, fresh) {
    // The kernel dumps classes one device at a time.
    const devices = new Set(
      [...fresh.qdiscs.values()]
        .filter((q) => q.kind !== 'clsact' && q.kind !== 'ingress')
        .map((q) => q.index),
    )
    const out: NetlinkMessage[] = []
    for (const index of devices)
      out.push(...(await sock.dump(classRequest('get', { ifindex: index }, {}), 'state.classes', DUMP)))
    return out
  },
  key: (c) => `${c.index}/${c.handle}`,
  fromMessage(m, names) {
    if (m.type === RTM.NEWTCLASS) return { op: 'set', value: decodeClass(m, names) }
    if (m.type === RTM.DELTCLASS) return { op: 'del', value: decodeClass(m, names) }
    return undefined
  },
  cascade(c, state) {
    const out: Array<[CollectionName, string]> = []
    for (const [k, f] of state.filters)
      if (f.index === c.index && f.parent === c.handle) out.push(['filters', k])
    return out
  },
}

const filterKey = (f: Filter) =>
  `${f.index}/${f.parent}/${f.chain}/${f.pref}/${f.protocol}/${f.handle ?? '-'}`

const filterSource: StateSource<Filter> = {
  name: 'filters',
  groups: [RTNLGRP.TC],
  async dump(sock, fresh) {
    // Filters are dumped per device and per parent: each qdisc (or clsact hook) and each class.
    const parents: Array<[number, string]> = []
    for (const q of fresh.qdiscs.values()) for (const p of filterParentsOf(q)) parents.push([q.index, p])
    for (const c of fresh.classes.values()) parents.push([c.index, c.handle])
    const out: NetlinkMessage[] = []
    for (const [index, p] of parents) {
      const parent = parseFilterParent(p) ?? parseClassid(p)
      if (parent === undefined) continue
      out.push(
        ...(await sock.dump(filterRequest('get', { ifindex: index, parent }, {}), 'state.filters', DUMP)),
      )
    }
    return out
  },
  key: filterKey,
  keep: (f) => f.handle !== undefined && !(f.kind === 'u32' && f.handle.endsWith(':')),
  fromMessage(m, names) {
    if (m.type === RTM.NEWTFILTER) return { op: 'set', value: decodeFilter(m, names) }
    if (m.type === RTM.DELTFILTER) return { op: 'del', value: decodeFilter(m, names) }
    return undefined
  },
  cascade(f, state) {
    // Deleting a classifier (no handle) removes every filter of its chain, pref and protocol.
    if (f.handle !== undefined) return []
    const prefix = filterKey(f).slice(0, -1)
    const out: Array<[CollectionName, string]> = []
    for (const k of state.filters.keys()) if (k.startsWith(prefix)) out.push(['filters', k])
    return out
  },
}

/** In dump order: later sources use what earlier ones found. */
export const SOURCES = [linkSource, addressSource, qdiscSource, classSource, filterSource] as ReadonlyArray<
  StateSource<unknown>
>
