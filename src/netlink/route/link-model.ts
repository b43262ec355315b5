import type { SetValue, StructValue } from '../codec/index.ts'
import { IFF, type ifinfomsg, linkAttrs, type linkStats64 } from './link-attrs.ts'

type LinkAttrs = SetValue<typeof linkAttrs>
type Header = StructValue<typeof ifinfomsg.fields>

/** The attributes a Link is made of; a dump skips the rest undecoded. */
const LINK_KEYS = [
  'ifname',
  'operstate',
  'mtu',
  'linkinfo',
  'carrier',
  'minMtu',
  'maxMtu',
  'address',
  'broadcast',
  'permAddress',
  'txqlen',
  'numTxQueues',
  'numRxQueues',
  'master',
  'link',
  'linkNetnsid',
  'qdisc',
  'group',
  'promiscuity',
  'ifalias',
  'propList',
] as const
export const readLinkAttrs = linkAttrs.picker([...LINK_KEYS, 'stats64'])
/** Without counters: the kernel sends IFLA_STATS64 whatever the filter mask, it is just not read. */
export const readLinkAttrsWithoutStats = linkAttrs.picker(LINK_KEYS)
type PickedLinkAttrs = ReturnType<typeof readLinkAttrsWithoutStats> & { stats64?: LinkStats }

/** An interface flag as `ip link` prints it (`UP`, `BROADCAST`, `LOWER_UP`, …). */
export type LinkFlag = keyof typeof IFF
/** A link's 64-bit counters (IFLA_STATS64: packets, bytes, errors, drops, …). */
export type LinkStats = StructValue<typeof linkStats64.fields>

/** ARPHRD_* names for the link types users meet; others stay numbers. */
const LINK_TYPES: Record<number, string> = {
  1: 'ether',
  768: 'ipip',
  772: 'loopback',
  776: 'sit',
  778: 'gre',
  823: 'ip6gre',
  65534: 'none',
  65535: 'void',
}

/** Link info of a veth (its peer is a link of its own). */
export interface VethInfo {
  kind: 'veth'
}
/** Link info of a bridge: STP, timers (in hundredths of a second) and VLAN filtering. */
export interface BridgeInfo {
  kind: 'bridge'
  stpState?: number
  forwardDelay?: number
  helloTime?: number
  maxAge?: number
  ageingTime?: number
  priority?: number
  vlanFiltering?: boolean
  vlanProtocol?: number
  vlanDefaultPvid?: number
}
/** Link info of a macvlan or macvtap: its mode. */
export interface MacvlanInfo {
  kind: 'macvlan' | 'macvtap'
  mode?: 'private' | 'vepa' | 'bridge' | 'passthru' | 'source' | number
}
/** Link info of a VXLAN: VNI, UDP port, remote or group, local address, TTL, learning, underlay link. */
export interface VxlanInfo {
  kind: 'vxlan'
  id?: number
  port?: number
  /** Unicast remote or multicast group, whichever was configured. */
  remote?: string
  group?: string
  local?: string
  ttl?: number
  learning?: boolean
  link?: number
}
/** Link info of an 802.1Q/802.1ad VLAN: its id and protocol. */
export interface VlanInfo {
  kind: 'vlan'
  id?: number
  protocol?: '802.1Q' | '802.1ad' | number
}
/** Link info of a tun/tap device: type, flags, owner and queue counts. */
export interface TunInfo {
  kind: 'tun'
  type?: 'tun' | 'tap' | number
  multiQueue?: boolean
  vnetHdr?: boolean
  persist?: boolean
  pi?: boolean
  owner?: number
  group?: number
  numQueues?: number
  numDisabledQueues?: number
}
/** Link info of kinds with no options of their own (dummy, ifb). */
export interface PlainInfo {
  kind: 'dummy' | 'ifb'
}
/** A kind rxnetlink has no typed model for; its data stays as the kernel sent it. */
export interface OtherInfo {
  kind: `other:${string}`
  name: string
  data?: unknown
}
/** A link's kind and its kind-specific settings (IFLA_LINKINFO), typed per kind. */
export type LinkInfo =
  | VethInfo
  | BridgeInfo
  | MacvlanInfo
  | VxlanInfo
  | VlanInfo
  | TunInfo
  | PlainInfo
  | OtherInfo

/** A network interface, as the kernel reports it. */
export interface Link {
  index: number
  name: string
  /** Link-layer type: 'ether', 'loopback', 'none' (tun), … or the ARPHRD number. */
  type: string | number
  kind?: string
  info?: LinkInfo
  flags: LinkFlag[]
  up: boolean
  operstate: string | number
  carrier?: boolean
  mtu: number
  minMtu?: number
  maxMtu?: number
  address?: string
  broadcast?: string
  permAddress?: string
  txqlen?: number
  numTxQueues?: number
  numRxQueues?: number
  /** Index of the master (bridge…), if enslaved. */
  master?: number
  /** Index of the parent (IFLA_LINK: a macvlan's lower device, a veth's peer), if any. */
  parent?: number
  /** The parent lives in another namespace, known to this one by this id. */
  linkNetnsid?: number
  qdisc?: string
  group?: number
  promiscuity?: number
  alias?: string
  altNames?: string[]
  stats?: LinkStats
  /** Attributes rxnetlink does not model, kept as received. */
  unknownAttrs?: LinkAttrs['unknownAttrs']
}

export function formatIp(b: Uint8Array | undefined): string | undefined {
  if (!b) return undefined
  if (b.length === 4) return b.join('.')
  if (b.length === 16) {
    const groups = Array.from({ length: 8 }, (_, i) =>
      (((b[2 * i] as number) << 8) | (b[2 * i + 1] as number)).toString(16),
    )
    // Longest run of zero groups becomes '::', as inet_ntop does.
    let best = -1
    let bestLen = 1
    for (let i = 0; i < 8; ) {
      if (groups[i] !== '0') {
        i++
        continue
      }
      let j = i
      while (j < 8 && groups[j] === '0') j++
      if (j - i > bestLen) {
        best = i
        bestLen = j - i
      }
      i = j
    }
    if (best < 0) return groups.join(':')
    return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`
  }
  return Buffer.from(b).toString('hex')
}

const FLAG_NAMES = Object.keys(IFF) as LinkFlag[]
const FLAG_BITS = Object.values(IFF) as number[]
/** Flag lists by flags value: links share few combinations; each Link gets its own exact copy. */
const flagLists = new Map<number, LinkFlag[]>()

function flagList(flags: number): LinkFlag[] {
  let list = flagLists.get(flags)
  if (list === undefined) {
    list = []
    for (let i = 0; i < FLAG_BITS.length; i++)
      if (flags & (FLAG_BITS[i] as number)) list.push(FLAG_NAMES[i] as LinkFlag)
    // Bounded: flags the kernel sets outside IFF_* bits could otherwise grow it without end.
    if (flagLists.size < 1024) flagLists.set(flags, list)
  }
  return list.slice()
}

function compact<T extends object>(o: T): T {
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(o)) if (v !== undefined) out[k] = v
  return out as T
}

const bool = (v: unknown) => (v === undefined ? undefined : v !== 0)

function kindInfo(kind: string | undefined, data: unknown): LinkInfo | undefined {
  if (!kind) return undefined
  const d = (data ?? {}) as Record<string, unknown>
  switch (kind) {
    case 'veth':
      return { kind }
    case 'dummy':
    case 'ifb':
      return { kind }
    case 'bridge':
      return compact({
        kind,
        stpState: d.stpState as number,
        forwardDelay: d.forwardDelay as number,
        helloTime: d.helloTime as number,
        maxAge: d.maxAge as number,
        ageingTime: d.ageingTime as number,
        priority: d.priority as number,
        vlanFiltering: bool(d.vlanFiltering),
        vlanProtocol: d.vlanProtocol as number,
        vlanDefaultPvid: d.vlanDefaultPvid as number,
      })
    case 'macvlan':
    case 'macvtap':
      return compact({ kind, mode: d.mode as MacvlanInfo['mode'] })
    case 'vxlan': {
      const group = formatIp((d.group ?? d.group6) as Uint8Array | undefined)
      const isMulticast = !!group && (/^2(2[4-9]|3\d)\./.test(group) || group.startsWith('ff'))
      return compact({
        kind,
        id: d.id as number,
        port: d.port as number,
        remote: isMulticast ? undefined : group,
        group: isMulticast ? group : undefined,
        local: formatIp((d.local ?? d.local6) as Uint8Array | undefined),
        ttl: d.ttl as number,
        learning: bool(d.learning),
        link: d.link as number,
      })
    }
    case 'vlan': {
      const p = d.protocol as number | undefined
      const protocol: VlanInfo['protocol'] = p === 0x8100 ? '802.1Q' : p === 0x88a8 ? '802.1ad' : p
      return compact({ kind, id: d.id as number, protocol })
    }
    case 'tun':
      return compact({
        kind,
        type: d.type as TunInfo['type'],
        multiQueue: bool(d.multiQueue),
        vnetHdr: bool(d.vnetHdr),
        persist: bool(d.persist),
        pi: bool(d.pi),
        owner: d.owner as number,
        group: d.group as number,
        numQueues: d.numQueues as number,
        numDisabledQueues: d.numDisabledQueues as number,
      })
    default:
      return { kind: `other:${kind}`, name: kind, data }
  }
}

/** The typed view of an RTM_NEWLINK message. Fields the kernel did not send are absent. */
export function toLink(header: Header, a: PickedLinkAttrs): Link {
  const flags = flagList(header.flags)
  const link: Link = {
    index: header.index,
    name: a.ifname ?? '',
    type: LINK_TYPES[header.type] ?? header.type,
    flags,
    up: (header.flags & IFF.UP) !== 0,
    operstate: a.operstate ?? 'unknown',
    mtu: a.mtu ?? 0,
  }
  const linkinfo = a.linkinfo
  const kind = linkinfo?.kind
  if (kind !== undefined) {
    link.kind = kind
    const info = kindInfo(kind, linkinfo?.data)
    if (info) link.info = info
  }
  if (a.carrier !== undefined) link.carrier = a.carrier !== 0
  if (a.minMtu !== undefined) link.minMtu = a.minMtu
  if (a.maxMtu !== undefined) link.maxMtu = a.maxMtu
  if (a.address) link.address = a.address
  if (a.broadcast) link.broadcast = a.broadcast
  if (a.permAddress) link.permAddress = a.permAddress
  if (a.txqlen !== undefined) link.txqlen = a.txqlen
  if (a.numTxQueues !== undefined) link.numTxQueues = a.numTxQueues
  if (a.numRxQueues !== undefined) link.numRxQueues = a.numRxQueues
  if (a.master) link.master = a.master
  if (a.link !== undefined && a.link !== header.index) link.parent = a.link
  if (a.linkNetnsid !== undefined) link.linkNetnsid = a.linkNetnsid
  if (a.qdisc !== undefined) link.qdisc = a.qdisc
  if (a.group !== undefined) link.group = a.group
  if (a.promiscuity !== undefined) link.promiscuity = a.promiscuity
  if (a.ifalias !== undefined) link.alias = a.ifalias
  if (a.propList?.altIfname) link.altNames = a.propList.altIfname
  if (a.stats64) link.stats = a.stats64
  if (a.unknownAttrs) link.unknownAttrs = a.unknownAttrs
  return link
}
