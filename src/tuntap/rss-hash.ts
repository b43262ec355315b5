// virtio-net RSS in software: which hash type applies to a frame, its Toeplitz hash, and the
// queue the indirection table picks. No I/O. This is the reference the eBPF steering program and
// the kernel back end are tested against.
//
// Hash type selection, with `mask` the enabled hash types. The default ('qemu' rules, the order
// MISSION.md states and QEMU's device model and eBPF program follow; the library's eBPF steering
// program implements exactly this, so `rssHash` predicts its queue for every frame):
//
// IPv4:     TCPv4 if enabled and TCP ports present (never for fragments), else UDPv4 likewise,
//           else IPv4 if enabled, else no hash.
// IPv6:     TCP ports present: TCP_EX if enabled, else TCPv6 if enabled; UDP likewise with
//           UDP_EX/UDPv6; then addresses: IP_EX if enabled, else IPv6 if enabled; else no hash.
//           Whether or not the packet has extension headers. The _EX types hash the Home Address
//           option's address instead of the source and the type 2 routing header's address
//           instead of the destination, each only when present (else the plain address).
// Not IP:   no hash.
//
// The virtio specification's text ('spec' rules, on request) orders IPv6 differently: with
// extension headers, TCP_EX, UDP_EX and IP_EX come first (IP_EX before TCPv6/UDPv6); without
// them the _EX types do not apply. With all nine types enabled both give the same hash and queue;
// only the report differs (tcpv6_ex instead of tcpv6 for a packet without extension headers).
//
// Hash input: source address, destination address, then (TCP/UDP types) source port, destination
// port, all as they appear on the wire (network byte order). 8/12 bytes for IPv4, 32/36 for IPv6.

import { emptyParsedFrame, type LinkType, type ParsedFrame, parseFrameInto } from './frame-parser.ts'
import type { RssConfig } from './rss-config.ts'
import { HASH_REPORT_VALUE, HASH_TYPE_BIT, type HashReport, type HashType } from './rss-hash-types.ts'
import { cachedToeplitzTable, type ToeplitzTable, toeplitzTable, toeplitzUnchecked } from './toeplitz.ts'

/** The RSS hash of a frame and what it covered. */
export interface RssHashResult {
  /** The Toeplitz hash (u32); 0 when `reportType` is 'none'. */
  hash: number
  /** What was hashed, as virtio reports it; 'none' means no hash (use the default queue). */
  reportType: HashReport
}

const B_IPV4 = 1 << HASH_TYPE_BIT.ipv4
const B_TCPV4 = 1 << HASH_TYPE_BIT.tcpv4
const B_UDPV4 = 1 << HASH_TYPE_BIT.udpv4
const B_IPV6 = 1 << HASH_TYPE_BIT.ipv6
const B_TCPV6 = 1 << HASH_TYPE_BIT.tcpv6
const B_UDPV6 = 1 << HASH_TYPE_BIT.udpv6
const B_IP_EX = 1 << HASH_TYPE_BIT.ipv6_ex
const B_TCP_EX = 1 << HASH_TYPE_BIT.tcpv6_ex
const B_UDP_EX = 1 << HASH_TYPE_BIT.udpv6_ex

function maskOf(types: readonly HashType[]): number {
  let m = 0
  for (let i = 0; i < types.length; i++) m |= 1 << HASH_TYPE_BIT[types[i]!]
  return m
}

/** Which hash type selection to follow: QEMU's (the default) or the virtio specification's text. */
export type RssRules = 'spec' | 'qemu'

function selectIpv6Qemu(p: ParsedFrame, mask: number): HashReport {
  if (p.l4 === 'tcp' && mask & (B_TCP_EX | B_TCPV6)) return mask & B_TCP_EX ? 'tcpv6_ex' : 'tcpv6'
  if (p.l4 === 'udp' && mask & (B_UDP_EX | B_UDPV6)) return mask & B_UDP_EX ? 'udpv6_ex' : 'udpv6'
  if (mask & (B_IP_EX | B_IPV6)) return mask & B_IP_EX ? 'ipv6_ex' : 'ipv6'
  return 'none'
}

/** The hash type the rules pick for a parsed frame under `mask` (enabled types), or 'none'. */
export function selectHashType(p: ParsedFrame, mask: number, rules: RssRules = 'qemu'): HashReport {
  if (p.network === 'ipv4') {
    if (p.l4 === 'tcp' && mask & B_TCPV4) return 'tcpv4'
    if (p.l4 === 'udp' && mask & B_UDPV4) return 'udpv4'
    if (mask & B_IPV4) return 'ipv4'
    return 'none'
  }
  if (p.network === 'ipv6') {
    if (rules === 'qemu') return selectIpv6Qemu(p, mask)
    if (p.ipv6Extensions) {
      if (p.l4 === 'tcp' && mask & B_TCP_EX) return 'tcpv6_ex'
      if (p.l4 === 'udp' && mask & B_UDP_EX) return 'udpv6_ex'
      if (mask & B_IP_EX) return 'ipv6_ex'
    }
    if (p.l4 === 'tcp' && mask & B_TCPV6) return 'tcpv6'
    if (p.l4 === 'udp' && mask & B_UDPV6) return 'udpv6'
    if (mask & B_IPV6) return 'ipv6'
  }
  return 'none'
}

function copy(from: Uint8Array, at: number, n: number, to: Uint8Array, pos: number): void {
  for (let i = 0; i < n; i++) to[pos + i] = from[at + i]!
}

/**
 * Writes the hash input for `type` into `out` (at least 36 bytes) and returns its length
 * (0 for 'none').
 */
export function writeHashInput(frame: Uint8Array, p: ParsedFrame, type: HashReport, out: Uint8Array): number {
  if (type === 'none') return 0
  const v4 = p.network === 'ipv4'
  const alen = v4 ? 4 : 16
  const ex = type === 'ipv6_ex' || type === 'tcpv6_ex' || type === 'udpv6_ex'
  const src = ex && p.homeAddressOffset >= 0 ? p.homeAddressOffset : p.srcAddrOffset
  const dst = ex && p.routingAddressOffset >= 0 ? p.routingAddressOffset : p.dstAddrOffset
  copy(frame, src, alen, out, 0)
  copy(frame, dst, alen, out, alen)
  if (type === 'ipv4' || type === 'ipv6' || type === 'ipv6_ex') return 2 * alen
  copy(frame, p.portsOffset, 4, out, 2 * alen)
  return 2 * alen + 4
}

// Reused per call of the one-shot functions (single-threaded, never re-entered).
const scratchFrame = emptyParsedFrame()
const scratchInput = new Uint8Array(36)

function hashWith(
  frame: Uint8Array,
  mask: number,
  table: ToeplitzTable,
  linkType: LinkType,
  rules: RssRules,
  p: ParsedFrame,
  input: Uint8Array,
): RssHashResult {
  parseFrameInto(frame, p, linkType)
  const reportType = selectHashType(p, mask, rules)
  if (reportType === 'none') return { hash: 0, reportType }
  const n = writeHashInput(frame, p, reportType, input)
  if (n > table.maxInputLength) throw new RangeError(`RSS key too short for a ${n}-byte hash input`)
  return { hash: toeplitzUnchecked(table.table, input, n) >>> 0, reportType }
}

/** Options of `rssHash`, `rssQueue` and `rssSteering`. */
export interface RssHashOptions {
  /** 'ethernet' (tap, the default) or 'ip' (tun: frames start at the IP header). */
  linkType?: LinkType
  /**
   * Hash type selection: 'qemu' (the default: QEMU's order, what the eBPF steering program does)
   * or 'spec' (the virtio specification's order for IPv6 with extension headers).
   */
  rules?: RssRules
}

/**
 * The RSS hash virtio-net would compute for `frame` under `config`, and its report type.
 * `{ hash: 0, reportType: 'none' }` when no enabled hash type applies.
 */
export function rssHash(frame: Uint8Array, config: RssConfig, options: RssHashOptions = {}): RssHashResult {
  return hashWith(
    frame,
    maskOf(config.hashTypes),
    cachedToeplitzTable(config.key),
    options.linkType ?? 'ethernet',
    options.rules ?? 'qemu',
    scratchFrame,
    scratchInput,
  )
}

/** The queue for a hash result: `table[hash & (length - 1)]`, or the default queue when unhashed. */
export function queueForHash(
  result: RssHashResult,
  config: Pick<RssConfig, 'table' | 'defaultQueue'>,
): number {
  if (result.reportType === 'none') return config.defaultQueue
  const t = config.table
  return t[result.hash & (t.length - 1)]!
}

/** The receive queue virtio-net RSS would put `frame` on. */
export function rssQueue(frame: Uint8Array, config: RssConfig, options: RssHashOptions = {}): number {
  return queueForHash(rssHash(frame, config, options), config)
}

/** RSS bound to a snapshot of one configuration: the fast path for many frames. */
export interface RssSteering {
  hash(frame: Uint8Array): RssHashResult
  queue(frame: Uint8Array): number
}

/** Compiles `config` once (mask, key tables, table copy) for steering many frames. */
export function rssSteering(config: RssConfig, options: RssHashOptions = {}): RssSteering {
  const mask = maskOf(config.hashTypes)
  const table = toeplitzTable(config.key)
  const linkType = options.linkType ?? 'ethernet'
  const rules = options.rules ?? 'qemu'
  const indirection = Uint16Array.from(config.table)
  const last = indirection.length - 1
  const defaultQueue = config.defaultQueue
  const p = emptyParsedFrame()
  const input = new Uint8Array(36)
  const hash = (frame: Uint8Array): RssHashResult => hashWith(frame, mask, table, linkType, rules, p, input)
  return {
    hash,
    queue(frame: Uint8Array): number {
      const r = hash(frame)
      return r.reportType === 'none' ? defaultQueue : indirection[r.hash & last]!
    },
  }
}

/**
 * What a virtio-net device doing RSS with hash reporting would put in `virtio_net_hdr_v1_hash`
 * for `frame`, and the queue it would pick. Spread it into a header:
 * `encodeVnetHeader({ layout: 'v1_hash', ...hashReportFor(frame, config) })`.
 */
export interface RssHashReport {
  /** `hash_value` (u32; 0 when nothing was hashed). */
  hashValue: number
  /** `hash_report`: the VIRTIO_NET_HASH_REPORT_* value. */
  hashReport: number
  /** The report's name (`none` when nothing was hashed). */
  reportType: HashReport
  /** The receive queue: `table[hash & (length - 1)]`, or the default queue. */
  queue: number
}

/** The hash report and queue for `frame` under `config` (see RssHashReport). */
export function hashReportFor(
  frame: Uint8Array,
  config: RssConfig,
  options: RssHashOptions = {},
): RssHashReport {
  const r = rssHash(frame, config, options)
  return {
    hashValue: r.hash,
    hashReport: HASH_REPORT_VALUE[r.reportType],
    reportType: r.reportType,
    queue: queueForHash(r, config),
  }
}
