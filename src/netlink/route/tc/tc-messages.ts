import {
  attr,
  attrSet,
  decodeMessage,
  decodeParts,
  type EncodedRequest,
  encodeRequest,
  messageSpec,
  type NetlinkMessage,
  NLM_F_CREATE,
  NLM_F_EXCL,
  NLM_F_REPLACE,
  type SetValue,
  type Writer,
} from '../../codec/index.ts'
import { RTM } from '../constants.ts'
import { type Action, actionAttrs, actionList, toAction } from './action-kinds.ts'
import { type FilterOptions, filterAttrs, toFilterOptions } from './filter-kinds.ts'
import {
  formatClassid,
  formatFilterParent,
  formatProtocol,
  formatQdiscParent,
  formatU32Handle,
  major,
  swap16,
} from './handles.ts'
import {
  type ClassOptions,
  classAttrs,
  type HtbClassXstats,
  type QdiscOptions,
  qdiscAttrs,
  toClassOptions,
  toQdiscOptions,
} from './qdisc-kinds.ts'
import { type TcStats, toStats } from './stats.ts'
import { bitfield32, tcamsg, tcmsg } from './tcmsg.ts'
import type { PschedClock } from './units.ts'

/** tcmsg + TCA_* for each kind of tc object: one declaration drives requests and replies. */
export const qdiscMessage = messageSpec(tcmsg, qdiscAttrs)
export const classMessage = messageSpec(tcmsg, classAttrs)
export const filterMessage = messageSpec(tcmsg, filterAttrs)

/** TCA_ROOT_*: the attributes of action messages. */
export const actionRootAttrs = attrSet('actions', {
  tab: actionList(1),
  flags: attr.struct(2, bitfield32),
  count: attr.u32(3),
  timeDelta: attr.u32(4),
  extWarnMsg: attr.string(5),
})
export const actionMessage = messageSpec(tcamsg, actionRootAttrs)

export type TcOperation = 'add' | 'replace' | 'change' | 'delete'

/** netlink flags of each operation, as tc sets them. */
export const OP_FLAGS: Readonly<Record<TcOperation, number>> = {
  add: NLM_F_CREATE | NLM_F_EXCL,
  replace: NLM_F_CREATE | NLM_F_REPLACE,
  change: 0,
  delete: 0,
}

export type TcmsgHeader = Partial<ReturnType<typeof tcmsg.decode>>
type QdiscValue = SetValue<typeof qdiscAttrs>
type ClassValue = SetValue<typeof classAttrs>
type FilterValue = SetValue<typeof filterAttrs>

/** `get` is a lookup or (sent with NetlinkSocket.dump) a listing. */
export type TcRequestOp = TcOperation | 'get'

const TYPES = {
  qdisc: { get: RTM.GETQDISC, delete: RTM.DELQDISC, new: RTM.NEWQDISC },
  class: { get: RTM.GETTCLASS, delete: RTM.DELTCLASS, new: RTM.NEWTCLASS },
  filter: { get: RTM.GETTFILTER, delete: RTM.DELTFILTER, new: RTM.NEWTFILTER },
} as const

function typeAndFlags(object: keyof typeof TYPES, op: TcRequestOp): [number, number] {
  const t = TYPES[object]
  if (op === 'get') return [t.get, 0]
  return [op === 'delete' ? t.delete : t.new, OP_FLAGS[op]]
}

export function qdiscRequest(op: TcRequestOp, header: TcmsgHeader, attrs: QdiscValue): EncodedRequest {
  const [type, flags] = typeAndFlags('qdisc', op)
  return encodeRequest(qdiscMessage, type, flags, header, attrs)
}

export function classRequest(op: TcRequestOp, header: TcmsgHeader, attrs: ClassValue): EncodedRequest {
  const [type, flags] = typeAndFlags('class', op)
  return encodeRequest(classMessage, type, flags, header, attrs)
}

/** `into`: a bulk writer (encodeRequest). */
export function filterRequest(
  op: TcRequestOp,
  header: TcmsgHeader,
  attrs: FilterValue,
  into?: Writer,
): EncodedRequest {
  const [type, flags] = typeAndFlags('filter', op)
  return encodeRequest(filterMessage, type, flags, header, attrs, into)
}

/** tcm_info of a filter: its pref in the upper half, the EtherType (network order) in the lower. */
export const filterInfo = (pref: number, protocol: number): number => ((pref << 16) | swap16(protocol)) >>> 0

// ---- typed replies ----------------------------------------------------------------------------

/** A queueing discipline. */
export interface Qdisc {
  /** The device's name ('' when it could not be resolved, e.g. a device already gone). */
  dev: string
  index: number
  /** `1:` (tc prints qdisc handles with their major only). */
  handle: string
  /** `root`, `ingress` (ffff:fff1, for ingress/clsact) or the parent class (`1:10`). */
  parent: string
  kind: string
  options: QdiscOptions
  refcnt?: number
  stats?: TcStats
  offloaded?: boolean
  ingressBlock?: number
  egressBlock?: number
}

/** A class of a classful qdisc (htb). */
export interface TcClass {
  dev: string
  index: number
  /** The classid, e.g. `1:10`. */
  handle: string
  /** `root` for a top-level class, else the parent class. */
  parent: string
  kind: string
  /** The handle of the qdisc attached to this class, if it is a leaf with its own qdisc. */
  leaf?: string
  options: ClassOptions
  stats?: TcStats
  xstats?: HtbClassXstats
}

/**
 * A filter (classifier instance). Entries without a handle stand for the classifier itself (one
 * per chain, pref and protocol), as the kernel and `tc filter show` list them.
 */
export interface Filter {
  dev: string
  index: number
  /** `ingress` / `egress` (clsact hooks) or the qdisc/class it is attached to. */
  parent: string
  kind: string
  /** EtherType matched, as tc names it: `ip`, `ipv6`, `all`, `802.1Q`, or `0x…`. */
  protocol: string
  pref: number
  chain: number
  /** u32: `800::800`; other kinds: `0x1`. */
  handle?: string
  options?: FilterOptions
  actions?: Action[]
}

export type DeviceNames = (index: number) => string

export function decodeQdisc(m: NetlinkMessage, names: DeviceNames, clock?: PschedClock): Qdisc {
  const { header: h, attrs: a } = decodeMessage(qdiscMessage, m)
  const kind = a.kind ?? ''
  const q: Qdisc = {
    dev: names(h.ifindex),
    index: h.ifindex,
    handle: `${major(h.handle).toString(16)}:`,
    parent: formatQdiscParent(h.parent),
    kind,
    options: toQdiscOptions(kind, a.options, clock),
  }
  if (h.info) q.refcnt = h.info
  const stats = toStats(a.stats2, a.stats)
  if (stats) q.stats = stats
  if (a.hwOffload) q.offloaded = true
  if (a.ingressBlock !== undefined) q.ingressBlock = a.ingressBlock
  if (a.egressBlock !== undefined) q.egressBlock = a.egressBlock
  return q
}

export function decodeClass(m: NetlinkMessage, names: DeviceNames, clock?: PschedClock): TcClass {
  const { header: h, attrs: a } = decodeMessage(classMessage, m)
  const kind = a.kind ?? ''
  const c: TcClass = {
    dev: names(h.ifindex),
    index: h.ifindex,
    handle: formatClassid(h.handle),
    parent: formatClassid(h.parent),
    kind,
    options: toClassOptions(kind, a.options, clock),
  }
  if (h.info) c.leaf = `${major(h.info).toString(16)}:`
  const stats = toStats(a.stats2, a.stats)
  if (stats) c.stats = stats
  if (kind === 'htb' && a.xstats && !(a.xstats instanceof Uint8Array)) c.xstats = a.xstats as HtbClassXstats
  return c
}

/** The attributes a Filter is made of; a dump skips the rest undecoded. */
const readFilterAttrs = filterAttrs.picker(['kind', 'options', 'chain'])

export function decodeFilter(m: NetlinkMessage, names: DeviceNames): Filter {
  const { header: h, attrs: a } = decodeParts(tcmsg, readFilterAttrs, m)
  const kind = a.kind ?? ''
  const protocol = swap16(h.info & 0xffff)
  const f: Filter = {
    dev: names(h.ifindex),
    index: h.ifindex,
    parent: formatFilterParent(h.parent),
    kind,
    protocol: formatProtocol(protocol),
    pref: h.info >>> 16,
    chain: a.chain ?? 0,
  }
  if (a.options !== undefined) {
    const typed = toFilterOptions(kind, a.options)
    f.options = typed.options
    if (typed.actions) f.actions = typed.actions
  }
  if (h.handle) f.handle = kind === 'u32' ? formatU32Handle(h.handle) : `0x${h.handle.toString(16)}`
  if (f.actions) for (const act of f.actions) nameMirredTarget(act, names)
  return f
}

/** Fills in the target device's name of mirred actions. */
export function nameMirredTarget(a: Action, names: DeviceNames): void {
  if (a.options.kind === 'mirred') {
    const n = names(a.options.ifindex)
    if (n) a.options.dev = n
  }
}

export function decodeActions(m: NetlinkMessage, names: DeviceNames): Action[] {
  const { attrs } = decodeMessage(actionMessage, m)
  return (attrs.tab ?? []).map((a) => {
    const act = toAction(a)
    nameMirredTarget(act, names)
    return act
  })
}

export { actionAttrs }
