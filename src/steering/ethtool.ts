// The ethtool back end for NICs: RSS contexts as ethtool RSS contexts (ETHTOOL_SRSSH with
// ETH_RXFH_CONTEXT_ALLOC), flow rules as ntuple rules (ETHTOOL_SRXCLSRLINS) whose action is a
// ring or an RSS context (FLOW_RSS). Rule order is the location order (location 0 first).
//
// Mapping of the model to ntuple flow specs:
// - TCP/UDP/SCTP with a known IP version: tcp4/udp4/sctp4 (tcp6/…) specs with addresses and
//   ports (masks: set bits are significant, as the ioctl wants them);
// - another IP protocol, or none, with a known IP version: ip4/ip6 user flows (proto masked in);
// - an IP protocol without an IP version: one rule per version (two locations);
// - a non-IP EtherType, or only a VLAN id: an ether flow (h_proto);
// - a VLAN id: FLOW_EXT with vlan_tci (mask 0x0fff).
// The hash types of contexts are not per-context settings on NICs (ETHTOOL_SRXFH is per flow
// type): contexts get their table and key; the device's hash fields stay as configured.

import { ETH_RXFH_CONTEXT_ALLOC, ETHTOOL_CMD, EthtoolIoctl } from '../ethtool/ioctl.ts'
import type { NetnsRef } from '../netlink/sys/index.ts'
import type { FlowRule, SteeringConfig } from './model.ts'
import { isParsedSteeringConfig, parseSteeringConfig } from './model.ts'

export const ETHTOOL_SRXCLSRLDEL = 0x31

/** Flow types (ETHTOOL flow_type values) and flags. */
export const FlowType = {
  tcp4: 0x01,
  udp4: 0x02,
  sctp4: 0x03,
  tcp6: 0x05,
  udp6: 0x06,
  sctp6: 0x07,
  ip4: 0x0d,
  ip6: 0x0e,
  ether: 0x12,
} as const
/** `flow_type` flag: the rule uses the extended fields (VLAN). */
export const FLOW_EXT = 0x80000000
/** `flow_type` flag: the rule targets an RSS context, not a ring. */
export const FLOW_RSS = 0x20000000

/** sizeof(struct ethtool_rxnfc) with no rule locations (x86-64). */
export const RXNFC_SIZE = 192
const FS = 16 // struct ethtool_rx_flow_spec inside ethtool_rxnfc
const H_U = FS + 4
const H_EXT = FS + 56
const M_U = FS + 76
const M_EXT = FS + 128
const RING_COOKIE = FS + 152
const LOCATION = FS + 160
const RSS_CONTEXT = FS + 168

/** One ntuple rule as the device gets it. */
export interface NtupleRule {
  /** Index of the model rule (in the caller's rules array). */
  readonly rule: number
  readonly location: number
  readonly flowType: keyof typeof FlowType
  /** The ETHTOOL_SRXCLSRLINS argument (struct ethtool_rxnfc). */
  readonly bytes: Buffer
}

const PORT_FLOWS = { 6: ['tcp4', 'tcp6'], 17: ['udp4', 'udp6'], 132: ['sctp4', 'sctp6'] } as const

function flowTypesOf(rule: FlowRule): Array<keyof typeof FlowType> {
  const m = rule.match
  const fam =
    m.src?.family ?? m.dst?.family ?? (m.etherType === 0x0800 ? 4 : m.etherType === 0x86dd ? 6 : undefined)
  const fams: Array<4 | 6> = fam !== undefined ? [fam] : m.ipProto !== undefined ? [4, 6] : []
  if (fams.length === 0) return ['ether']
  const ports = m.ipProto !== undefined ? PORT_FLOWS[m.ipProto as 6 | 17 | 132] : undefined
  return fams.map((f) => (ports ? ports[f === 4 ? 0 : 1] : f === 4 ? 'ip4' : 'ip6'))
}

function put(buf: Buffer, at: number, bytes: Uint8Array): void {
  buf.set(bytes, at)
}

/**
 * The ETHTOOL_SRXCLSRLINS request for one flow spec of `rule`. `action`: a ring (queue), or a
 * device RSS context (with the queue offset inside it, default 0).
 */
export function encodeNtuple(
  rule: FlowRule,
  flowType: keyof typeof FlowType,
  location: number,
  action: { ring: number } | { context: number; ring?: number },
): Buffer {
  const b = Buffer.alloc(RXNFC_SIZE)
  const m = rule.match
  b.writeUInt32LE(ETHTOOL_CMD.SRXCLSRLINS, 0)
  let ft: number = FlowType[flowType]
  if (m.vlanId !== undefined) {
    ft |= FLOW_EXT
    b.writeUInt16BE(m.vlanId, H_EXT + 10) // ethtool_flow_ext: padding[2], h_dest[6], vlan_etype, vlan_tci
    b.writeUInt16BE(0x0fff, M_EXT + 10)
  }
  if ('context' in action) {
    ft |= FLOW_RSS
    b.writeUInt32LE(action.context, RSS_CONTEXT)
  }
  b.writeUInt32LE(ft >>> 0, FS)
  const v6 = flowType.endsWith('6')
  if (flowType === 'ether') {
    if (m.etherType !== undefined) {
      b.writeUInt16BE(m.etherType, H_U + 12)
      b.writeUInt16BE(0xffff, M_U + 12)
    }
  } else {
    const alen = v6 ? 16 : 4
    if (m.src) {
      put(b, H_U, m.src.address)
      put(b, M_U, m.src.mask)
    }
    if (m.dst) {
      put(b, H_U + alen, m.dst.address)
      put(b, M_U + alen, m.dst.mask)
    }
    const l4 = H_U + 2 * alen
    const ml4 = M_U + 2 * alen
    if (flowType === 'ip4' || flowType === 'ip6') {
      // usr_ip4_spec: l4_4_bytes, tos, ip_ver, proto / usr_ip6_spec: l4_4_bytes, tclass, l4_proto
      if (!v6) b.writeUInt8(1, l4 + 5) // ETH_RX_NFC_IP4
      if (m.ipProto !== undefined) {
        b.writeUInt8(m.ipProto, l4 + (v6 ? 5 : 6))
        b.writeUInt8(0xff, ml4 + (v6 ? 5 : 6))
      }
    } else {
      if (m.srcPort) {
        b.writeUInt16BE(m.srcPort.port, l4)
        b.writeUInt16BE(m.srcPort.mask, ml4)
      }
      if (m.dstPort) {
        b.writeUInt16BE(m.dstPort.port, l4 + 2)
        b.writeUInt16BE(m.dstPort.mask, ml4 + 2)
      }
    }
  }
  b.writeBigUInt64LE(BigInt('ring' in action ? (action.ring ?? 0) : 0), RING_COOKIE)
  b.writeUInt32LE(location, LOCATION)
  return b
}

/**
 * The ntuple rules of `config` at locations `first`, `first + 1`, … (a rule on both IP versions
 * takes two). `deviceContext` maps a model context id to the device's (default: the same).
 */
export function ntupleRules(
  config: SteeringConfig | unknown,
  options: { first?: number; deviceContext?: (id: number) => number } = {},
): NtupleRule[] {
  const c = isParsedSteeringConfig(config) ? config : parseSteeringConfig(config)
  const dev = options.deviceContext ?? ((id: number) => id)
  let loc = options.first ?? 0
  const out: NtupleRule[] = []
  for (const r of c.rules) {
    const action = 'queue' in r.action ? { ring: r.action.queue } : { context: dev(r.action.context) }
    for (const ft of flowTypesOf(r)) {
      out.push({ rule: r.index, location: loc, flowType: ft, bytes: encodeNtuple(r, ft, loc, action) })
      loc++
    }
  }
  return out
}

/** What `applyEthtoolSteering` did: device context per model context, and the rule locations. */
export interface EthtoolSteeringResult {
  readonly contexts: ReadonlyMap<number, number>
  readonly rules: readonly NtupleRule[]
}

/**
 * Configures a NIC: the default RSS table and key (context 0), one device RSS context per model
 * context, then the ntuple rules. A failure part-way removes the rules and contexts it added
 * (the default RSS is left as set) and rethrows.
 */
export function applyEthtoolSteering(
  ifname: string,
  config: unknown,
  options: { netns?: NetnsRef; first?: number } = {},
): EthtoolSteeringResult {
  const c = parseSteeringConfig(config)
  const io = new EthtoolIoctl(options.netns)
  const made: number[] = []
  const inserted: number[] = []
  try {
    io.setRss(ifname, { context: 0, table: c.rss.table, key: c.rss.key })
    const contexts = new Map<number, number>()
    for (const [id, ctx] of c.contexts) {
      const devCtx = io.setRss(ifname, { context: ETH_RXFH_CONTEXT_ALLOC, table: ctx.table, key: ctx.key })
      made.push(devCtx)
      contexts.set(id, devCtx)
    }
    const rules = ntupleRules(c, {
      ...(options.first !== undefined ? { first: options.first } : {}),
      deviceContext: (id) => contexts.get(id)!,
    })
    for (const r of rules) {
      io.call(ifname, r.bytes)
      inserted.push(r.location)
    }
    return { contexts, rules }
  } catch (e) {
    for (const loc of inserted.reverse()) {
      const del = Buffer.alloc(RXNFC_SIZE)
      del.writeUInt32LE(ETHTOOL_SRXCLSRLDEL, 0)
      del.writeUInt32LE(loc, LOCATION)
      try {
        io.call(ifname, del)
      } catch {
        // best effort
      }
    }
    for (const ctx of made.reverse()) {
      try {
        io.setRss(ifname, { context: ctx, table: [], key: new Uint8Array(0) })
      } catch {
        // best effort
      }
    }
    throw e
  } finally {
    io.close()
  }
}
