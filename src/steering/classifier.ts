// The reference classifier: where a steering configuration puts a frame, and why. Pure
// TypeScript, the same semantics as every back end; tests check the back ends against it and
// users call it to explain a frame's queue. No I/O.
//
// SEMANTICS (the one place they are written down; the eBPF program follows them)
// - Frame facts. EtherType: the one after up to 4 VLAN tags (0x8100 / 0x88a8); when a tag cannot
//   be skipped (a fifth one, or cut short) the EtherType is that tag's TPID. VLAN id: the low 12
//   bits of the outermost tag's TCI (no tag: no VLAN id). IP facts come from `parseFrame`
//   (src/tuntap/frame-parser.ts): IPv4/IPv6 header complete and well-formed, IPv6 extension
//   headers walked, protocol = the upper-layer protocol (IPv4: the header's field even for
//   fragments; IPv6: unknown after a fragment header or an unfinished walk). Ports: the first
//   four transport bytes, when the protocol is TCP, UDP or SCTP, the packet is not a fragment
//   and the bytes are inside the frame.
// - A rule matches when every field it gives matches: etherType equal; vlanId equal (untagged
//   frames never match); ipProto equal; src/dst: the frame is IP of the prefix's version and
//   `address & mask == prefix`; ports: the frame has ports and `port & mask == value`.
// - Rules are tried in priority order (lower first, then their order in the input); the first
//   that matches decides. `{ queue }`: that queue. `{ context: n }`: RSS with context n's key,
//   hash types and table. No rule: RSS with the default configuration (context 0).
// - RSS is virtio-net's (src/tuntap/rss-hash.ts, 'spec' rules): the hash type is picked from the
//   context's hash types, the Toeplitz hash taken over addresses (and ports), the queue is
//   `table[hash & (length - 1)]`, or the context's default queue when no hash type applies.
// - The reported hash for a `{ queue }` rule is the default RSS configuration's (what a device
//   that reports hashes would report); it does not choose the queue.

import { emptyParsedFrame, type ParsedFrame, parseFrameInto } from '../tuntap/frame-parser.ts'
import type { RssConfig } from '../tuntap/rss-config.ts'
import { selectHashType, writeHashInput } from '../tuntap/rss-hash.ts'
import { HASH_TYPE_BIT, type HashReport } from '../tuntap/rss-hash-types.ts'
import { type ToeplitzTable, toeplitzTable, toeplitzUnchecked } from '../tuntap/toeplitz.ts'
import {
  type FlowRule,
  isParsedSteeringConfig,
  PORT_PROTOCOLS,
  parseSteeringConfig,
  type SteeringConfig,
  type SteeringLimits,
} from './model.ts'

/** Where a frame goes and why. */
export interface Explanation {
  /** Index (in the caller's `rules` array) of the rule that matched, or null. */
  readonly rule: number | null
  /** That rule's name, if it has one. */
  readonly ruleName?: string
  /** The RSS context that chose the queue (0: the default RSS), or null for a `{ queue }` rule. */
  readonly context: number | null
  /** The receive queue. */
  readonly queue: number
  /** The RSS hash (u32; 0 when `hashType` is 'none'). */
  readonly hash: number
  /** What was hashed, as virtio reports it. */
  readonly hashType: HashReport
}

/** The facts rules look at. -1: absent. */
export interface FrameFacts {
  etherType: number
  vlanId: number
  network: 'ipv4' | 'ipv6' | null
  ipProto: number
  srcPort: number
  dstPort: number
}

const MAX_TAGS = 4

/** Fills `out` with the facts of `frame` (an Ethernet frame); `p` receives the IP parse. */
export function frameFacts(frame: Uint8Array, p: ParsedFrame, out: FrameFacts): void {
  parseFrameInto(frame, p, 'ethernet')
  out.etherType = -1
  out.vlanId = -1
  out.network = p.network
  out.ipProto = p.protocol
  out.srcPort = -1
  out.dstPort = -1
  const len = frame.length
  if (len >= 14) {
    let et = (frame[12]! << 8) | frame[13]!
    let off = 14
    for (let tags = 0; (et === 0x8100 || et === 0x88a8) && tags < MAX_TAGS && off + 4 <= len; tags++) {
      if (tags === 0) out.vlanId = ((frame[off]! << 8) | frame[off + 1]!) & 0xfff
      et = (frame[off + 2]! << 8) | frame[off + 3]!
      off += 4
    }
    out.etherType = et
  }
  const t = p.transportOffset
  if (p.network !== null && !p.fragment && t >= 0 && t + 4 <= len && PORT_PROTOCOLS.includes(p.protocol)) {
    out.srcPort = (frame[t]! << 8) | frame[t + 1]!
    out.dstPort = (frame[t + 2]! << 8) | frame[t + 3]!
  }
}

function prefixMatches(
  frame: Uint8Array,
  offset: number,
  pfx: { address: Uint8Array; mask: Uint8Array },
): boolean {
  const a = pfx.address
  const m = pfx.mask
  for (let i = 0; i < a.length; i++) if ((frame[offset + i]! & m[i]!) !== a[i]) return false
  return true
}

/** Whether `rule` matches a frame with these facts (`p`: the frame's IP parse). */
export function ruleMatches(rule: FlowRule, frame: Uint8Array, f: FrameFacts, p: ParsedFrame): boolean {
  return compileRule(rule).matches(frame, f, p)
}

const NO_PREFIX = { address: new Uint8Array(0), mask: new Uint8Array(0) }

/** A rule with every field present (-1: not matched on), so matching code sees one object shape. */
class CompiledRule {
  readonly etherType: number
  readonly vlanId: number
  readonly ipProto: number
  /** 0: no prefix, else 'ipv4'/'ipv6' to compare with FrameFacts.network. */
  readonly srcNet: 'ipv4' | 'ipv6' | null
  readonly src: { address: Uint8Array; mask: Uint8Array }
  readonly dstNet: 'ipv4' | 'ipv6' | null
  readonly dst: { address: Uint8Array; mask: Uint8Array }
  readonly srcPort: number
  readonly srcPortMask: number
  readonly dstPort: number
  readonly dstPortMask: number
  constructor(readonly rule: FlowRule) {
    const m = rule.match
    this.etherType = m.etherType ?? -1
    this.vlanId = m.vlanId ?? -1
    this.ipProto = m.ipProto ?? -1
    this.srcNet = m.src ? (m.src.family === 4 ? 'ipv4' : 'ipv6') : null
    this.src = m.src ?? NO_PREFIX
    this.dstNet = m.dst ? (m.dst.family === 4 ? 'ipv4' : 'ipv6') : null
    this.dst = m.dst ?? NO_PREFIX
    this.srcPort = m.srcPort?.port ?? -1
    this.srcPortMask = m.srcPort?.mask ?? 0
    this.dstPort = m.dstPort?.port ?? -1
    this.dstPortMask = m.dstPort?.mask ?? 0
  }
  matches(frame: Uint8Array, f: FrameFacts, p: ParsedFrame): boolean {
    if (this.etherType >= 0 && f.etherType !== this.etherType) return false
    if (this.vlanId >= 0 && f.vlanId !== this.vlanId) return false
    if (this.ipProto >= 0 && (f.network === null || f.ipProto !== this.ipProto)) return false
    if (
      this.srcNet !== null &&
      (f.network !== this.srcNet || !prefixMatches(frame, p.srcAddrOffset, this.src))
    )
      return false
    if (
      this.dstNet !== null &&
      (f.network !== this.dstNet || !prefixMatches(frame, p.dstAddrOffset, this.dst))
    )
      return false
    if (this.srcPort >= 0 && (f.srcPort < 0 || (f.srcPort & this.srcPortMask) !== this.srcPort)) return false
    if (this.dstPort >= 0 && (f.dstPort < 0 || (f.dstPort & this.dstPortMask) !== this.dstPort)) return false
    return true
  }
}

function compileRule(rule: FlowRule): CompiledRule {
  return new CompiledRule(rule)
}

interface CompiledContext {
  readonly mask: number
  readonly toeplitz: ToeplitzTable
  readonly table: Uint16Array
  readonly defaultQueue: number
}

function compileContext(c: RssConfig): CompiledContext {
  let mask = 0
  for (const t of c.hashTypes) mask |= 1 << HASH_TYPE_BIT[t]
  return {
    mask,
    toeplitz: toeplitzTable(c.key),
    table: Uint16Array.from(c.table),
    defaultQueue: c.defaultQueue,
  }
}

/** A configuration compiled for classifying many frames. */
export interface Classifier {
  readonly config: SteeringConfig
  /** Where `frame` (an Ethernet frame, as read from a tap queue) goes and why. */
  explain(frame: Uint8Array): Explanation
  /** Just the queue (no allocation). */
  queue(frame: Uint8Array): number
}

/**
 * Compiles a configuration (validated input, or an already parsed SteeringConfig) into a
 * classifier. Input errors throw SteeringConfigError.
 */
export function classifier(config: SteeringConfig | unknown, limits: SteeringLimits = {}): Classifier {
  const c = isParsedSteeringConfig(config) ? config : parseSteeringConfig(config, limits)
  const contexts = new Map<number, CompiledContext>([[0, compileContext(c.rss)]])
  for (const [id, ctx] of c.contexts) contexts.set(id, compileContext(ctx))
  const rules = c.rules
  const compiled = rules.map(compileRule)
  const p = emptyParsedFrame()
  const facts: FrameFacts = {
    etherType: -1,
    vlanId: -1,
    network: null,
    ipProto: -1,
    srcPort: -1,
    dstPort: -1,
  }
  const input = new Uint8Array(36)
  let lastHash = 0
  let lastType: HashReport = 'none'

  const rss = (frame: Uint8Array, ctx: CompiledContext): number => {
    const type = selectHashType(p, ctx.mask, 'spec')
    lastType = type
    if (type === 'none') {
      lastHash = 0
      return ctx.defaultQueue
    }
    const n = writeHashInput(frame, p, type, input)
    lastHash = toeplitzUnchecked(ctx.toeplitz.table, input, n) >>> 0
    return ctx.table[lastHash & (ctx.table.length - 1)]!
  }

  /** Returns the matching rule's position in `rules`, or -1; leaves the facts in place. */
  const match = (frame: Uint8Array): number => {
    frameFacts(frame, p, facts)
    for (let i = 0; i < compiled.length; i++) if (compiled[i]!.matches(frame, facts, p)) return i
    return -1
  }

  const decide = (frame: Uint8Array, i: number): { queue: number; context: number | null } => {
    if (i < 0) return { queue: rss(frame, contexts.get(0)!), context: 0 }
    const a = rules[i]!.action
    if ('queue' in a) {
      rss(frame, contexts.get(0)!)
      return { queue: a.queue, context: null }
    }
    return { queue: rss(frame, contexts.get(a.context)!), context: a.context }
  }

  return {
    config: c,
    explain(frame) {
      const i = match(frame)
      const d = decide(frame, i)
      const r = i < 0 ? undefined : rules[i]!
      return {
        rule: r === undefined ? null : r.index,
        ...(r?.name !== undefined ? { ruleName: r.name } : {}),
        context: d.context,
        queue: d.queue,
        hash: lastHash,
        hashType: lastType,
      }
    },
    queue(frame) {
      return decide(frame, match(frame)).queue
    },
  }
}

/** Where `frame` goes under `config` (validates and compiles each call: use `classifier` for many). */
export function explain(config: SteeringConfig | unknown, frame: Uint8Array): Explanation {
  return classifier(config).explain(frame)
}
