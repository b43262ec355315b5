// The steering program, generated: parse the frame once, try the rules in order, then RSS with
// the context chosen (see classifier.ts for the semantics, ebpf-layout.ts for the data). Parsing
// and RSS are the blocks the tap RSS program uses too (frame-parser-asm.ts, rss-hash-asm.ts, the
// latter with the spec's hash type rules, as classifier.ts).
//
// The configuration is reached through an array-of-maps with one slot: the program looks up the
// inner map once per frame and reads everything (generation, rules, contexts) from that one
// value, so a frame sees one whole configuration. Reconfiguring writes the inner map that is not
// in use and then points the slot at it; the kernel's map-in-map update returns only after an RCU
// grace period (no program still runs on the old inner map), so the old one can be rewritten
// next time without a frame ever reading half of it.
//
// Two flavours: 'tap' (BPF_PROG_TYPE_SOCKET_FILTER for TUNSETSTEERINGEBPF; returns the queue) and
// 'tc-action' (BPF_PROG_TYPE_SCHED_ACT for act_bpf; writes skb->queue_mapping, returns TC_ACT_OK).
// Both see the frame from its Ethernet header (bpf_skb_load_bytes from offset 0), with a tag
// carried beside it (skb->vlan_tci) as its outermost tag: the frame as the queue reader gets it.

import {
  type AsmItem,
  add64Imm,
  add64Reg,
  and64Imm,
  and64Reg,
  be,
  exit,
  type HasFd,
  ja,
  jeqImm,
  jgeImm,
  jgeReg,
  jgtImm,
  jltImm,
  jneImm,
  jneReg,
  jsetImm,
  label,
  ldxB,
  ldxDW,
  ldxH,
  ldxW,
  mov64Imm,
  mov64Reg,
  mul64Imm,
  R0,
  R1,
  R2,
  R3,
  R4,
  R6,
  R7,
  R8,
  R9,
  R10,
  SkBuff,
  stDW,
  stxDW,
  stxW,
} from '../bpf/index.ts'
import { mapLookup, skbLoadR2, stackSlots } from '../bpf/skb-asm.ts'
import { ABSENT, FRAME, FRAME_AT, FRAME_SIZE, parseFrameAsm } from '../tuntap/frame-parser-asm.ts'
import { RSS_BOTTOM, RSS_RESULT, rssQueueAsm } from '../tuntap/rss-hash-asm.ts'
import {
  CTX_DEFAULT_QUEUE,
  CTX_HASH_TYPES,
  CTX_KEY,
  CTX_OFF,
  CTX_SIZE,
  CTX_TABLE,
  CTX_TABLE_CAPACITY,
  CTX_TABLE_MASK,
  HDR_GENERATION,
  HDR_RULE_COUNT,
  R_ACTION,
  R_ACTION_VALUE,
  R_DPORT,
  R_DPORT_MASK,
  R_DST,
  R_DST_MASK,
  R_ETHER_TYPE,
  R_FLAGS,
  R_INDEX,
  R_PROTO,
  R_SPORT,
  R_SPORT_MASK,
  R_SRC,
  R_SRC_MASK,
  R_VLAN,
  RULE_SIZE,
  RULES_OFF,
  RuleFlag,
} from './ebpf-layout.ts'
import { MAX_CONTEXT_ID, PORT_PROTOCOLS } from './model.ts'

const NO_RULE = 0xffff

/** Where a context's RSS settings are in its record. */
const CONTEXT_SETTINGS = {
  hashTypes: CTX_HASH_TYPES,
  tableMask: CTX_TABLE_MASK,
  defaultQueue: CTX_DEFAULT_QUEUE,
  key: CTX_KEY,
  table: CTX_TABLE,
  tableCapacity: CTX_TABLE_CAPACITY,
} as const

/** The program's own stack slots, below the parser's and the RSS block's. */
const S = stackSlots(RSS_BOTTOM, {
  ctx: 8, // the RSS context a rule picked (0: the default RSS)
  fixed: 8, // the queue a rule fixed, or ABSENT
  rule: 8, // the matching rule's index, or NO_RULE
  key0: 8, // u32 0, the key for map lookups
  gen: 8, // the configuration's generation
  facts: 8, // the scratch value holding FRAME
  tmp: 8, // the trace index
})

export type SteeringProgramKind = 'tap' | 'tc-action'

export interface SteeringProgramOptions {
  kind: SteeringProgramKind
  /** Rules the layout holds (the loop bound). */
  ruleCapacity: number
  /** Per-frame records: index = the frame's last 4 bytes (big endian) & (entries - 1). */
  trace?: { map: HasFd; entries: number }
}

/**
 * The parsed frame (FRAME) is copied into a per-CPU scratch map value (FRAME_SIZE bytes) and read
 * back from there: to the verifier its fields are then unknown values, so every parse path
 * reaches the rule loop in one equivalent state and the loop is verified once, not once per kind
 * of frame (a bounded loop over 512 rules is walked rule by rule).
 */
export const FACTS_SIZE = FRAME_SIZE

/** Copies FRAME to the scratch value; leaves its pointer in S.facts. */
function saveFacts(scratch: HasFd): AsmItem[] {
  return [
    mapLookup(scratch, S.key0, 'ret0'),
    stxDW(R10, S.facts, R0),
    Array.from({ length: FRAME_SIZE / 8 }, (_, i) => [
      ldxDW(R2, R10, FRAME_AT + 8 * i),
      stxDW(R0, 8 * i, R2),
    ]),
    mov64Imm(R8, 0),
    mov64Imm(R9, 0),
  ]
}

/** The rule loop: R8 = index, R9 = the rule, R4 = the facts, R7 = the configuration. */
function rules(capacity: number): AsmItem[] {
  const RO = RULES_OFF
  const check = (flag: number, name: string, body: AsmItem[]): AsmItem[] => [
    jsetImm(R1, flag, `chk_${name}`),
    ja(`end_${name}`),
    label(`chk_${name}`),
    body,
    label(`end_${name}`),
  ]
  const prefix4 = (fact: number, val: number, mask: number): AsmItem[] => [
    ldxDW(R3, R4, FRAME.net),
    jneImm(R3, 4, 'next_rule'),
    ldxW(R2, R4, fact),
    ldxW(R3, R9, RO + mask),
    and64Reg(R2, R3),
    ldxW(R3, R9, RO + val),
    jneReg(R2, R3, 'next_rule'),
  ]
  const prefix6 = (fact: number, val: number, mask: number): AsmItem[] => [
    ldxDW(R3, R4, FRAME.net),
    jneImm(R3, 6, 'next_rule'),
    [0, 8].map((o) => [
      ldxDW(R2, R4, fact + o),
      ldxDW(R3, R9, RO + mask + o),
      and64Reg(R2, R3),
      ldxDW(R3, R9, RO + val + o),
      jneReg(R2, R3, 'next_rule'),
    ]),
  ]
  const port = (fact: number, val: number, mask: number): AsmItem[] => [
    ldxDW(R2, R4, fact),
    jeqImm(R2, ABSENT, 'next_rule'),
    ldxH(R3, R9, RO + mask),
    and64Reg(R2, R3),
    ldxH(R3, R9, RO + val),
    jneReg(R2, R3, 'next_rule'),
  ]
  return [
    label('rule_loop'),
    jgeImm(R8, capacity, 'no_rule'),
    ldxW(R2, R7, HDR_RULE_COUNT),
    jgeReg(R8, R2, 'no_rule'),
    ldxDW(R4, R10, S.facts),
    mov64Reg(R9, R8),
    mul64Imm(R9, RULE_SIZE),
    add64Reg(R9, R7),
    ldxW(R1, R9, RO + R_FLAGS),
    check(RuleFlag.etherType, 'et', [
      ldxH(R2, R9, RO + R_ETHER_TYPE),
      ldxDW(R3, R4, FRAME.et),
      jneReg(R2, R3, 'next_rule'),
    ]),
    check(RuleFlag.vlan, 'vlan', [
      ldxH(R2, R9, RO + R_VLAN),
      ldxDW(R3, R4, FRAME.vid),
      jneReg(R2, R3, 'next_rule'),
    ]),
    check(RuleFlag.proto, 'proto', [
      ldxB(R2, R9, RO + R_PROTO),
      ldxDW(R3, R4, FRAME.proto),
      jneReg(R2, R3, 'next_rule'),
    ]),
    check(RuleFlag.src4, 'src4', prefix4(FRAME.src, R_SRC, R_SRC_MASK)),
    check(RuleFlag.src6, 'src6', prefix6(FRAME.src, R_SRC, R_SRC_MASK)),
    check(RuleFlag.dst4, 'dst4', prefix4(FRAME.dst, R_DST, R_DST_MASK)),
    check(RuleFlag.dst6, 'dst6', prefix6(FRAME.dst, R_DST, R_DST_MASK)),
    check(RuleFlag.srcPort, 'sport', port(FRAME.sport, R_SPORT, R_SPORT_MASK)),
    check(RuleFlag.dstPort, 'dport', port(FRAME.dport, R_DPORT, R_DPORT_MASK)),
    // matched
    ldxH(R2, R9, RO + R_INDEX),
    stxDW(R10, S.rule, R2),
    ldxB(R2, R9, RO + R_ACTION),
    ldxH(R3, R9, RO + R_ACTION_VALUE),
    jneImm(R2, 0, 'act_ctx'),
    stxDW(R10, S.fixed, R3),
    ja('classified'),
    label('act_ctx'),
    stxDW(R10, S.ctx, R3),
    ja('classified'),
    label('next_rule'),
    add64Imm(R8, 1),
    ja('rule_loop'),
    label('no_rule'),
    label('classified'),
  ]
}

function trace(t: NonNullable<SteeringProgramOptions['trace']>): AsmItem[] {
  return [
    ldxW(R2, R6, SkBuff.len),
    jltImm(R2, 4, 'traced'),
    add64Imm(R2, -4),
    skbLoadR2(S.tmp, 4, 'traced'),
    ldxW(R2, R10, S.tmp),
    be(R2, 32),
    and64Imm(R2, t.entries - 1),
    stxW(R10, S.tmp, R2),
    mapLookup(t.map, S.tmp, 'traced'),
    ldxDW(R2, R10, S.gen),
    stxW(R0, 0, R2),
    ldxDW(R2, R10, S.rule),
    stxW(R0, 4, R2),
    ldxDW(R2, R10, S.ctx),
    ldxDW(R3, R10, S.fixed),
    jeqImm(R3, ABSENT, 'trace_ctx'),
    mov64Imm(R2, NO_RULE),
    label('trace_ctx'),
    stxW(R0, 8, R2),
    ldxDW(R2, R10, RSS_RESULT.queue),
    stxW(R0, 12, R2),
    ldxDW(R2, R10, RSS_RESULT.hash),
    stxW(R0, 16, R2),
    ldxDW(R2, R10, RSS_RESULT.report),
    stxW(R0, 20, R2),
    label('traced'),
  ]
}

/** The program's instructions around the outer (array-of-maps) configuration map. */
export function steeringProgramInsns(outer: HasFd, scratch: HasFd, o: SteeringProgramOptions): AsmItem[] {
  return [
    mov64Reg(R6, R1),
    stDW(R10, S.ctx, 0),
    mov64Imm(R0, ABSENT),
    stxDW(R10, S.fixed, R0),
    mov64Imm(R0, NO_RULE),
    stxDW(R10, S.rule, R0),
    stDW(R10, S.key0, 0),
    // the configuration in use: outer[0] -> inner map -> inner[0]
    mapLookup(outer, S.key0, 'ret0'),
    mapLookup(R0, S.key0, 'ret0'),
    mov64Reg(R7, R0),
    ldxW(R2, R7, HDR_GENERATION),
    stxDW(R10, S.gen, R2),

    parseFrameAsm({ link: 'ethernet', offloadedTag: true }, PORT_PROTOCOLS),
    saveFacts(scratch),
    rules(o.ruleCapacity),

    // the context: R7 = its record
    ldxDW(R2, R10, S.fixed),
    jeqImm(R2, ABSENT, 'ctx_pick'),
    stDW(R10, S.ctx, 0),
    label('ctx_pick'),
    ldxDW(R2, R10, S.ctx),
    jgtImm(R2, MAX_CONTEXT_ID, 'ret0'),
    mul64Imm(R2, CTX_SIZE),
    add64Reg(R7, R2),
    add64Imm(R7, CTX_OFF),
    ldxDW(R4, R10, S.facts),
    rssQueueAsm('spec', { reg: R4, at: 0 }, CONTEXT_SETTINGS),

    ldxDW(R2, R10, S.fixed),
    jeqImm(R2, ABSENT, 'queue_final'),
    stxDW(R10, RSS_RESULT.queue, R2),
    label('queue_final'),
    o.trace ? trace(o.trace) : [],
    ldxDW(R0, R10, RSS_RESULT.queue),
    o.kind === 'tc-action' ? [stxW(R6, SkBuff.queueMapping, R0), mov64Imm(R0, 0)] : [],
    exit(),

    label('ret0'),
    mov64Imm(R0, 0),
    exit(),
  ]
}

/** Size of one trace record: generation, rule, context, queue, hash, hash report (u32 each). */
export const TRACE_RECORD_SIZE = 24
export { HASH_REPORT_VALUE as TRACE_REPORT } from '../tuntap/rss-hash-types.ts'
export { NO_RULE }
