import type { RawAttr } from '../netlink/codec/index.ts'
import type { ChannelsAttrs, Header, RingsAttrs, RssAttrs } from './attrs.ts'
import { RXH, type TCP_DATA_SPLIT } from './attrs.ts'

/** The device a result is about, as the kernel named it in the reply. */
export interface DeviceId {
  ifindex: number
  ifname: string
}

/** Channel (queue) counts and their maxima (`ethtool -l`). */
export interface Channels extends DeviceId {
  rx: number
  tx: number
  other: number
  combined: number
  maxRx: number
  maxTx: number
  maxOther: number
  maxCombined: number
  /** Attributes this library does not know yet, kept raw. */
  unknownAttrs?: RawAttr[]
}

/** Ring sizes and their maxima (`ethtool -g`); optional fields only where the driver reports them. */
export interface Rings extends DeviceId {
  rx: number
  rxMini: number
  rxJumbo: number
  tx: number
  maxRx: number
  maxRxMini: number
  maxRxJumbo: number
  maxTx: number
  rxBufLen?: number
  tcpDataSplit?: keyof typeof TCP_DATA_SPLIT | number
  cqeSize?: number
  txPush?: boolean
  rxPush?: boolean
  txPushBufLen?: number
  maxTxPushBufLen?: number
  hdsThresh?: number
  maxHdsThresh?: number
  unknownAttrs?: RawAttr[]
}

export const HASH_FUNCTIONS = { toeplitz: 1, xor: 2, crc32: 4 } as const
export type HashFunctionName = keyof typeof HASH_FUNCTIONS
/** A named hash function, or the raw ETH_RSS_HASH_* bit value of one this library cannot name. */
export type HashFunction = HashFunctionName | number

export const INPUT_XFRM = { 'symmetric-xor': 1, 'symmetric-or-xor': 2 } as const
/** An RSS input transformation (`symmetric-xor`, `symmetric-or-xor`), or its raw bit. */
export type InputXfrm = keyof typeof INPUT_XFRM | number

export type RxhField = keyof typeof RXH | number
export type FlowType =
  | 'ether'
  | 'ip4'
  | 'ip6'
  | 'tcp4'
  | 'tcp6'
  | 'udp4'
  | 'udp6'
  | 'sctp4'
  | 'sctp6'
  | 'ah4'
  | 'ah6'
  | 'esp4'
  | 'esp6'
  | 'ahEsp4'
  | 'ahEsp6'
  | 'gtpu4'
  | 'gtpu6'
  | 'gtpc4'
  | 'gtpc6'
  | 'gtpcTeid4'
  | 'gtpcTeid6'
  | 'gtpuEh4'
  | 'gtpuEh6'
  | 'gtpuUl4'
  | 'gtpuUl6'
  | 'gtpuDl4'
  | 'gtpuDl6'

/** One RSS context's configuration (`ethtool -x [context N]`). */
export interface Rss extends DeviceId {
  /** 0 is the default context. */
  context: number
  hfunc: HashFunction
  key: Uint8Array
  /** Indirection table: the receive queue of each hash bucket. */
  table: number[]
  /** Input transformations applied before hashing (empty: none). */
  inputXfrm: InputXfrm[]
  /** Header fields hashed per flow type, where the kernel reports them (6.17+ netlink). */
  flowHash?: Partial<Record<FlowType, RxhField[]>>
  unknownAttrs?: RawAttr[]
}

export function deviceId(h: Header | undefined): DeviceId {
  return { ifindex: h?.devIndex ?? 0, ifname: h?.devName ?? '' }
}

export function toChannels(a: ChannelsAttrs): Channels {
  const out: Channels = {
    ...deviceId(a.header),
    rx: a.rxCount ?? 0,
    tx: a.txCount ?? 0,
    other: a.otherCount ?? 0,
    combined: a.combinedCount ?? 0,
    maxRx: a.rxMax ?? 0,
    maxTx: a.txMax ?? 0,
    maxOther: a.otherMax ?? 0,
    maxCombined: a.combinedMax ?? 0,
  }
  if (a.unknownAttrs) out.unknownAttrs = a.unknownAttrs
  return out
}

export function toRings(a: RingsAttrs): Rings {
  const out: Rings = {
    ...deviceId(a.header),
    rx: a.rx ?? 0,
    rxMini: a.rxMini ?? 0,
    rxJumbo: a.rxJumbo ?? 0,
    tx: a.tx ?? 0,
    maxRx: a.rxMax ?? 0,
    maxRxMini: a.rxMiniMax ?? 0,
    maxRxJumbo: a.rxJumboMax ?? 0,
    maxTx: a.txMax ?? 0,
  }
  if (a.rxBufLen !== undefined) out.rxBufLen = a.rxBufLen
  if (a.tcpDataSplit !== undefined) out.tcpDataSplit = a.tcpDataSplit
  if (a.cqeSize !== undefined) out.cqeSize = a.cqeSize
  if (a.txPush !== undefined) out.txPush = a.txPush !== 0
  if (a.rxPush !== undefined) out.rxPush = a.rxPush !== 0
  if (a.txPushBufLen !== undefined) out.txPushBufLen = a.txPushBufLen
  if (a.txPushBufLenMax !== undefined) out.maxTxPushBufLen = a.txPushBufLenMax
  if (a.hdsThresh !== undefined) out.hdsThresh = a.hdsThresh
  if (a.hdsThreshMax !== undefined) out.maxHdsThresh = a.hdsThreshMax
  if (a.unknownAttrs) out.unknownAttrs = a.unknownAttrs
  return out
}

export function hashFunctionName(bits: number): HashFunction {
  for (const [name, bit] of Object.entries(HASH_FUNCTIONS)) if (bits === bit) return name as HashFunctionName
  return bits
}

export function hashFunctionBits(h: HashFunction): number {
  return typeof h === 'number' ? h : HASH_FUNCTIONS[h]
}

export function inputXfrmNames(bits: number): InputXfrm[] {
  const out: InputXfrm[] = []
  let rest = bits
  for (const [name, bit] of Object.entries(INPUT_XFRM)) {
    if (rest & bit) {
      out.push(name as keyof typeof INPUT_XFRM)
      rest &= ~bit
    }
  }
  if (rest) out.push(rest)
  return out
}

export function inputXfrmBits(x: readonly InputXfrm[]): number {
  let n = 0
  for (const v of x) n |= typeof v === 'number' ? v : INPUT_XFRM[v]
  return n >>> 0
}

export function rxhFields(bits: number): RxhField[] {
  const out: RxhField[] = []
  let rest = bits >>> 0
  for (const [name, bit] of Object.entries(RXH)) {
    if ((rest & bit) >>> 0 === bit) {
      out.push(name as keyof typeof RXH)
      rest = (rest & ~bit) >>> 0
    }
  }
  if (rest) out.push(rest)
  return out
}

export function toRss(a: RssAttrs, context = 0): Rss {
  const out: Rss = {
    ...deviceId(a.header),
    context: a.context ?? context,
    hfunc: hashFunctionName(a.hfunc ?? 0),
    key: a.hkey ?? new Uint8Array(),
    table: a.indir ?? [],
    inputXfrm: inputXfrmNames(a.inputXfrm ?? 0),
  }
  if (a.flowHash) {
    const fh: Partial<Record<FlowType, RxhField[]>> = {}
    for (const [k, v] of Object.entries(a.flowHash)) {
      if (k !== 'unknownAttrs' && typeof v === 'number') fh[k as FlowType] = rxhFields(v)
    }
    out.flowHash = fh
  }
  if (a.unknownAttrs) out.unknownAttrs = a.unknownAttrs
  return out
}
