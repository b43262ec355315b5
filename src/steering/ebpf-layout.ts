// The byte layout of a steering configuration as the eBPF program reads it: one array-map value
// holding a header, the RSS contexts and the rules. No I/O.
//
//   offset              size                 what (host byte order unless noted)
//   0                   4                    generation
//   4                   4                    rule count
//   8                   56                   reserved (0)
//   CTX_OFF + id*320    320 per context      contexts 0 (default RSS) .. MAX_CONTEXT_ID:
//                                              0 u32 hash types (virtio bits)   4 u16 table mask
//                                              6 u16 default queue              8 key (40) + 8 zero
//                                             56 u16 table[128]                (rest 0)
//   RULES_OFF + i*96    96 per rule          rules in evaluation order:
//                                              0 u32 match flags (RuleFlag)     4 u16 EtherType
//                                              6 u16 VLAN id                    8 u8 IP protocol
//                                              9 u8 action (0 queue, 1 context) 10 u16 queue / context
//                                             12 u16 src port, 14 mask          16 u16 dst port, 18 mask
//                                             20 u16 the rule's input index     24 src addr (16, network order)
//                                             40 src mask (16)                  56 dst addr (16)
//                                             72 dst mask (16)                  88 reserved

import type { RssConfig } from '../tuntap/rss-config.ts'
import { HASH_TYPE_BIT } from '../tuntap/rss-hash-types.ts'
import { MAX_CONTEXT_ID, MAX_RULES, type SteeringConfig } from './model.ts'

export const HDR_GENERATION = 0
export const HDR_RULE_COUNT = 4
export const CTX_OFF = 64
export const CTX_SIZE = 320
export const CTX_HASH_TYPES = 0
export const CTX_TABLE_MASK = 4
export const CTX_DEFAULT_QUEUE = 6
export const CTX_KEY = 8
export const CTX_TABLE = 56
export const CTX_TABLE_CAPACITY = 128
export const RULES_OFF = CTX_OFF + (MAX_CONTEXT_ID + 1) * CTX_SIZE
export const RULE_SIZE = 96

export const R_FLAGS = 0
export const R_ETHER_TYPE = 4
export const R_VLAN = 6
export const R_PROTO = 8
export const R_ACTION = 9
export const R_ACTION_VALUE = 10
export const R_SPORT = 12
export const R_SPORT_MASK = 14
export const R_DPORT = 16
export const R_DPORT_MASK = 18
export const R_INDEX = 20
export const R_SRC = 24
export const R_SRC_MASK = 40
export const R_DST = 56
export const R_DST_MASK = 72

/** Which match fields a rule uses. */
export const RuleFlag = {
  etherType: 1 << 0,
  vlan: 1 << 1,
  proto: 1 << 2,
  src4: 1 << 3,
  src6: 1 << 4,
  dst4: 1 << 5,
  dst6: 1 << 6,
  srcPort: 1 << 7,
  dstPort: 1 << 8,
} as const

/** Size of the configuration value for `ruleCapacity` rules. */
export function layoutSize(ruleCapacity: number = MAX_RULES): number {
  return RULES_OFF + ruleCapacity * RULE_SIZE
}

function writeContext(b: Buffer, id: number, c: RssConfig): void {
  const o = CTX_OFF + id * CTX_SIZE
  let mask = 0
  for (const t of c.hashTypes) mask |= 1 << HASH_TYPE_BIT[t]
  b.writeUInt32LE(mask >>> 0, o + CTX_HASH_TYPES)
  b.writeUInt16LE(c.table.length - 1, o + CTX_TABLE_MASK)
  b.writeUInt16LE(c.defaultQueue, o + CTX_DEFAULT_QUEUE)
  Buffer.from(c.key).copy(b, o + CTX_KEY)
  c.table.forEach((q, i) => {
    b.writeUInt16LE(q, o + CTX_TABLE + 2 * i)
  })
}

/** Encodes a validated configuration (rules already in evaluation order) for the program. */
export function encodeLayout(
  config: SteeringConfig,
  generation: number,
  ruleCapacity: number = MAX_RULES,
): Buffer {
  if (config.rules.length > ruleCapacity)
    throw new RangeError(`${config.rules.length} rules exceed the program's capacity of ${ruleCapacity}`)
  const b = Buffer.alloc(layoutSize(ruleCapacity))
  b.writeUInt32LE(generation >>> 0, HDR_GENERATION)
  b.writeUInt32LE(config.rules.length, HDR_RULE_COUNT)
  writeContext(b, 0, config.rss)
  for (const [id, c] of config.contexts) writeContext(b, id, c)
  config.rules.forEach((r, i) => {
    const o = RULES_OFF + i * RULE_SIZE
    const m = r.match
    let flags = 0
    if (m.etherType !== undefined) {
      flags |= RuleFlag.etherType
      b.writeUInt16LE(m.etherType, o + R_ETHER_TYPE)
    }
    if (m.vlanId !== undefined) {
      flags |= RuleFlag.vlan
      b.writeUInt16LE(m.vlanId, o + R_VLAN)
    }
    if (m.ipProto !== undefined) {
      flags |= RuleFlag.proto
      b.writeUInt8(m.ipProto, o + R_PROTO)
    }
    if (m.src) {
      flags |= m.src.family === 4 ? RuleFlag.src4 : RuleFlag.src6
      Buffer.from(m.src.address).copy(b, o + R_SRC)
      Buffer.from(m.src.mask).copy(b, o + R_SRC_MASK)
    }
    if (m.dst) {
      flags |= m.dst.family === 4 ? RuleFlag.dst4 : RuleFlag.dst6
      Buffer.from(m.dst.address).copy(b, o + R_DST)
      Buffer.from(m.dst.mask).copy(b, o + R_DST_MASK)
    }
    if (m.srcPort) {
      flags |= RuleFlag.srcPort
      b.writeUInt16LE(m.srcPort.port, o + R_SPORT)
      b.writeUInt16LE(m.srcPort.mask, o + R_SPORT_MASK)
    }
    if (m.dstPort) {
      flags |= RuleFlag.dstPort
      b.writeUInt16LE(m.dstPort.port, o + R_DPORT)
      b.writeUInt16LE(m.dstPort.mask, o + R_DPORT_MASK)
    }
    b.writeUInt32LE(flags, o + R_FLAGS)
    const a = r.action
    b.writeUInt8('queue' in a ? 0 : 1, o + R_ACTION)
    b.writeUInt16LE('queue' in a ? a.queue : a.context, o + R_ACTION_VALUE)
    b.writeUInt16LE(r.index, o + R_INDEX)
  })
  return b
}
