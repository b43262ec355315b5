// The steering program, generated: parse the frame once, try the rules in order, then RSS with
// the context chosen (see classifier.ts for the semantics, ebpf-layout.ts for the data).
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
// Both see the frame from its Ethernet header (bpf_skb_load_bytes from offset 0).
//
// The destination-options scan for the Home Address option stops after MAX_IPV6_OPTIONS options
// per header, as frame-parser.ts (and so explain()) and the RSS program do.

import {
  type AsmItem,
  add64Imm,
  add64Reg,
  and64Imm,
  and64Reg,
  BpfHelper,
  be,
  call,
  exit,
  type HasFd,
  ja,
  jeqImm,
  jgeImm,
  jgeReg,
  jgtImm,
  jgtReg,
  jltImm,
  jneImm,
  jneReg,
  jsetImm,
  label,
  ldMapFd,
  ldxB,
  ldxDW,
  ldxH,
  ldxW,
  lsh64Imm,
  mov64Imm,
  mov64Reg,
  mul64Imm,
  R0,
  R1,
  R2,
  R3,
  R4,
  R5,
  R6,
  R7,
  R8,
  R9,
  R10,
  rsh64Imm,
  SkBuff,
  stDW,
  stxDW,
  stxW,
} from '../bpf/index.ts'
import { copyStack16, skbLoadAt, skbLoadR2, toeplitzAsm } from '../bpf/skb-asm.ts'
import { MAX_IPV6_EXT_HEADERS, MAX_IPV6_OPTIONS, MAX_VLAN_TAGS } from '../tuntap/frame-parser.ts'
import { HASH_REPORT_VALUE, HASH_TYPE_BIT, type HashType } from '../tuntap/rss-hash-types.ts'
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
import { MAX_CONTEXT_ID } from './model.ts'

const NONE = 0x10000
const NO_RULE = 0xffff

const REPORT = HASH_REPORT_VALUE

/** Stack slots (offsets from R10), 8-byte aligned. */
const S = {
  et: -8,
  vid: -16,
  net: -24,
  proto: -32,
  sport: -40,
  dport: -48,
  src: -64, // 16 bytes
  dst: -80, // 16 bytes
  off: -88,
  next: -96,
  ext: -104,
  hnext: -112,
  hlen: -120,
  pos: -128,
  ports: -136, // raw port bytes (network order)
  tags: -144,
  hdr: -184, // 40 bytes
  tmp: -200, // 16 bytes
  srcEx: -208,
  dstEx: -216,
  srcExAddr: -232, // 16
  dstExAddr: -248, // 16
  input: -288, // 40
  ctx: -296,
  fixed: -304,
  rule: -312,
  key0: -320,
  report: -328,
  len: -336,
  gen: -344,
  queue: -352,
  tlvn: -360,
  hash: -368,
  facts: -376,
} as const

export type SteeringProgramKind = 'tap' | 'tc-action'

export interface SteeringProgramOptions {
  kind: SteeringProgramKind
  /** Rules the layout holds (the loop bound). */
  ruleCapacity: number
  /** Per-frame records: index = the frame's last 4 bytes (big endian) & (entries - 1). */
  trace?: { map: HasFd; entries: number }
}

const bit = (t: HashType) => 1 << HASH_TYPE_BIT[t]

/** Ethernet and VLAN tags: leaves the EtherType and the outer VLAN id on the stack. */
function parseL2(): AsmItem[] {
  const tag = (n: number): AsmItem[] => [
    ldxDW(R2, R10, S.tags),
    jgeImm(R2, MAX_VLAN_TAGS, 'l2_done'),
    jeqImm(R9, 0x8100, `tag${n}`),
    jeqImm(R9, 0x88a8, `tag${n}`),
    ja('l2_done'),
    label(`tag${n}`),
    skbLoadAt(S.off, 0, S.tmp, 4, 'l2_done'),
    ldxDW(R2, R10, S.vid),
    jneImm(R2, NONE, `tag${n}_vid`),
    ldxH(R2, R10, S.tmp),
    be(R2, 16),
    and64Imm(R2, 0xfff),
    stxDW(R10, S.vid, R2),
    label(`tag${n}_vid`),
    ldxH(R9, R10, S.tmp + 2),
    be(R9, 16),
    ldxDW(R2, R10, S.off),
    add64Imm(R2, 4),
    stxDW(R10, S.off, R2),
    ldxDW(R2, R10, S.tags),
    add64Imm(R2, 1),
    stxDW(R10, S.tags, R2),
  ]
  return [
    mov64Imm(R2, 0),
    skbLoadR2(S.hdr, 14, 'parsed'),
    ldxH(R9, R10, S.hdr + 12),
    be(R9, 16),
    stDW(R10, S.off, 14),
    // A tag carried beside the frame (skb->vlan_tci) is the outermost one: tun writes it into the
    // frame the queue reader gets.
    ldxW(R2, R6, SkBuff.vlanPresent),
    jeqImm(R2, 0, 'no_oob_tag'),
    ldxW(R2, R6, SkBuff.vlanTci),
    and64Imm(R2, 0xfff),
    stxDW(R10, S.vid, R2),
    stDW(R10, S.tags, 1),
    label('no_oob_tag'),
    [0, 1, 2, 3].map(tag),
    label('l2_done'),
    stxDW(R10, S.et, R9),
  ]
}

/** Reads the ports at the transport offset in R2 when the protocol (R9) has them. */
function ports(tag: string): AsmItem[] {
  return [
    jeqImm(R9, 6, `${tag}_p`),
    jeqImm(R9, 17, `${tag}_p`),
    jeqImm(R9, 132, `${tag}_p`),
    ja('parsed'),
    label(`${tag}_p`),
    skbLoadR2(S.tmp, 4, 'parsed'),
    ldxW(R2, R10, S.tmp),
    stxDW(R10, S.ports, R2),
    ldxH(R2, R10, S.tmp),
    be(R2, 16),
    stxDW(R10, S.sport, R2),
    ldxH(R2, R10, S.tmp + 2),
    be(R2, 16),
    stxDW(R10, S.dport, R2),
    ja('parsed'),
  ]
}

function parseIpv4(): AsmItem[] {
  return [
    label('ipv4'),
    skbLoadAt(S.off, 0, S.hdr, 20, 'parsed'),
    ldxB(R2, R10, S.hdr),
    mov64Reg(R3, R2),
    rsh64Imm(R3, 4),
    jneImm(R3, 4, 'parsed'),
    and64Imm(R2, 0x0f),
    lsh64Imm(R2, 2),
    jltImm(R2, 20, 'parsed'),
    ldxDW(R3, R10, S.off),
    add64Reg(R3, R2),
    stxDW(R10, S.pos, R3), // transport offset
    // the whole header (options included) must be in the frame
    mov64Reg(R2, R3),
    add64Imm(R2, -1),
    skbLoadR2(S.tmp, 1, 'parsed'),
    stDW(R10, S.net, 4),
    ldxW(R2, R10, S.hdr + 12),
    stxW(R10, S.src, R2),
    ldxW(R2, R10, S.hdr + 16),
    stxW(R10, S.dst, R2),
    ldxB(R9, R10, S.hdr + 9),
    stxDW(R10, S.proto, R9),
    ldxH(R2, R10, S.hdr + 6),
    be(R2, 16),
    and64Imm(R2, 0x3fff),
    jneImm(R2, 0, 'parsed'),
    ldxDW(R2, R10, S.pos),
    ports('v4'),
  ]
}

function parseIpv6(): AsmItem[] {
  return [
    label('ipv6'),
    skbLoadAt(S.off, 0, S.hdr, 40, 'parsed'),
    ldxB(R2, R10, S.hdr),
    rsh64Imm(R2, 4),
    jneImm(R2, 6, 'parsed'),
    stDW(R10, S.net, 6),
    copyStack16(S.hdr + 8, S.src),
    copyStack16(S.hdr + 24, S.dst),
    ldxB(R2, R10, S.hdr + 6),
    stxDW(R10, S.next, R2),
    ldxDW(R2, R10, S.off),
    add64Imm(R2, 40),
    stxDW(R10, S.off, R2),
    mov64Imm(R8, 0),
    label('ext_loop'),
    ldxDW(R2, R10, S.next),
    jeqImm(R2, 0, 'ext_opts'),
    jeqImm(R2, 60, 'ext_opts'),
    jeqImm(R2, 43, 'ext_opts'),
    jeqImm(R2, 51, 'ext_ah'),
    jeqImm(R2, 44, 'ext_frag'),
    // the upper-layer protocol
    mov64Reg(R9, R2),
    stxDW(R10, S.proto, R9),
    ldxDW(R2, R10, S.off),
    ports('v6'),

    label('ext_opts'),
    stDW(R10, S.ext, 1),
    jgeImm(R8, MAX_IPV6_EXT_HEADERS, 'parsed'),
    skbLoadAt(S.off, 0, S.tmp, 2, 'parsed'),
    ldxB(R3, R10, S.tmp + 1),
    add64Imm(R3, 1),
    lsh64Imm(R3, 3),
    stxDW(R10, S.hlen, R3),
    ja('ext_check'),

    label('ext_ah'),
    stDW(R10, S.ext, 1),
    jgeImm(R8, MAX_IPV6_EXT_HEADERS, 'parsed'),
    skbLoadAt(S.off, 0, S.tmp, 2, 'parsed'),
    ldxB(R3, R10, S.tmp + 1),
    add64Imm(R3, 2),
    lsh64Imm(R3, 2),
    stxDW(R10, S.hlen, R3),

    label('ext_check'),
    ldxB(R2, R10, S.tmp),
    stxDW(R10, S.hnext, R2),
    // the whole extension header must be in the frame
    ldxDW(R2, R10, S.off),
    ldxDW(R3, R10, S.hlen),
    add64Reg(R2, R3),
    add64Imm(R2, -1),
    skbLoadR2(S.tmp + 8, 1, 'parsed'),
    ldxDW(R2, R10, S.next),
    jeqImm(R2, 60, 'ext_dst'),
    jeqImm(R2, 43, 'ext_rt'),
    ja('ext_advance'),

    // routing header type 2 (24 bytes): its address is the _EX destination (first one only)
    label('ext_rt'),
    ldxDW(R2, R10, S.dstEx),
    jneImm(R2, 0, 'ext_advance'),
    ldxDW(R2, R10, S.hlen),
    jneImm(R2, 24, 'ext_advance'),
    skbLoadAt(S.off, 2, S.tmp, 1, 'ext_advance'),
    ldxB(R2, R10, S.tmp),
    jneImm(R2, 2, 'ext_advance'),
    skbLoadAt(S.off, 8, S.dstExAddr, 16, 'ext_advance'),
    stDW(R10, S.dstEx, 1),
    ja('ext_advance'),

    // destination options: look for the Home Address option (type 0xc9, length 16)
    label('ext_dst'),
    ldxDW(R2, R10, S.srcEx),
    jneImm(R2, 0, 'ext_advance'),
    ldxDW(R2, R10, S.off),
    add64Imm(R2, 2),
    stxDW(R10, S.pos, R2),
    stDW(R10, S.tlvn, 0),
    label('tlv_loop'),
    ldxDW(R2, R10, S.tlvn),
    jgeImm(R2, MAX_IPV6_OPTIONS, 'ext_advance'),
    add64Imm(R2, 1),
    stxDW(R10, S.tlvn, R2),
    ldxDW(R2, R10, S.pos),
    ldxDW(R3, R10, S.off),
    ldxDW(R4, R10, S.hlen),
    add64Reg(R3, R4),
    jgeReg(R2, R3, 'ext_advance'),
    skbLoadAt(S.pos, 0, S.tmp, 1, 'ext_advance'),
    ldxB(R2, R10, S.tmp),
    jneImm(R2, 0, 'tlv_opt'),
    ldxDW(R2, R10, S.pos),
    add64Imm(R2, 1),
    stxDW(R10, S.pos, R2),
    ja('tlv_loop'),
    label('tlv_opt'),
    // pos + 2 <= end and pos + 2 + length <= end
    ldxDW(R2, R10, S.pos),
    add64Imm(R2, 2),
    ldxDW(R3, R10, S.off),
    ldxDW(R4, R10, S.hlen),
    add64Reg(R3, R4),
    jgtReg(R2, R3, 'ext_advance'),
    skbLoadAt(S.pos, 0, S.tmp, 2, 'ext_advance'),
    ldxB(R4, R10, S.tmp + 1),
    ldxDW(R2, R10, S.pos),
    add64Imm(R2, 2),
    add64Reg(R2, R4),
    ldxDW(R3, R10, S.off),
    ldxDW(R5, R10, S.hlen),
    add64Reg(R3, R5),
    jgtReg(R2, R3, 'ext_advance'),
    ldxB(R5, R10, S.tmp),
    jneImm(R5, 0xc9, 'tlv_next'),
    jneImm(R4, 16, 'tlv_next'),
    skbLoadAt(S.pos, 2, S.srcExAddr, 16, 'ext_advance'),
    stDW(R10, S.srcEx, 1),
    ja('ext_advance'),
    label('tlv_next'),
    stxDW(R10, S.pos, R2),
    ja('tlv_loop'),

    label('ext_advance'),
    ldxDW(R2, R10, S.hnext),
    stxDW(R10, S.next, R2),
    ldxDW(R2, R10, S.off),
    ldxDW(R3, R10, S.hlen),
    add64Reg(R2, R3),
    stxDW(R10, S.off, R2),
    add64Imm(R8, 1),
    ja('ext_loop'),

    label('ext_frag'),
    stDW(R10, S.ext, 1),
    ja('parsed'),
  ]
}

/**
 * The frame facts the rules and the hash look at, copied after parsing into a per-CPU scratch
 * map value and read back from there: to the verifier they are then unknown values, so every
 * parse path reaches the rule loop in one equivalent state and the loop is verified once, not
 * once per kind of frame (a bounded loop over 512 rules is walked rule by rule).
 */
export const FACTS = {
  et: 0,
  vid: 8,
  net: 16,
  proto: 24,
  sport: 32,
  dport: 40,
  src: 48,
  dst: 64,
  ports: 80,
  ext: 88,
  srcEx: 96,
  dstEx: 104,
  srcExAddr: 112,
  dstExAddr: 128,
} as const
export const FACTS_SIZE = 144

/** Stack slot → facts offset, 8 bytes each. */
const FACT_COPIES: Array<[number, number]> = [
  [S.et, FACTS.et],
  [S.vid, FACTS.vid],
  [S.net, FACTS.net],
  [S.proto, FACTS.proto],
  [S.sport, FACTS.sport],
  [S.dport, FACTS.dport],
  [S.src, FACTS.src],
  [S.src + 8, FACTS.src + 8],
  [S.dst, FACTS.dst],
  [S.dst + 8, FACTS.dst + 8],
  [S.ports, FACTS.ports],
  [S.ext, FACTS.ext],
  [S.srcEx, FACTS.srcEx],
  [S.dstEx, FACTS.dstEx],
  [S.srcExAddr, FACTS.srcExAddr],
  [S.srcExAddr + 8, FACTS.srcExAddr + 8],
  [S.dstExAddr, FACTS.dstExAddr],
  [S.dstExAddr + 8, FACTS.dstExAddr + 8],
]

/** Copies the facts to the scratch value; leaves its pointer in S.facts. */
function saveFacts(scratch: HasFd): AsmItem[] {
  return [
    ldMapFd(R1, scratch),
    mov64Reg(R2, R10),
    add64Imm(R2, S.key0),
    call(BpfHelper.mapLookupElem),
    jeqImm(R0, 0, 'ret0'),
    stxDW(R10, S.facts, R0),
    FACT_COPIES.map(([from, to]) => [ldxDW(R2, R10, from), stxDW(R0, to, R2)]),
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
    ldxDW(R3, R4, FACTS.net),
    jneImm(R3, 4, 'next_rule'),
    ldxW(R2, R4, fact),
    ldxW(R3, R9, RO + mask),
    and64Reg(R2, R3),
    ldxW(R3, R9, RO + val),
    jneReg(R2, R3, 'next_rule'),
  ]
  const prefix6 = (fact: number, val: number, mask: number): AsmItem[] => [
    ldxDW(R3, R4, FACTS.net),
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
    jeqImm(R2, NONE, 'next_rule'),
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
      ldxDW(R3, R4, FACTS.et),
      jneReg(R2, R3, 'next_rule'),
    ]),
    check(RuleFlag.vlan, 'vlan', [
      ldxH(R2, R9, RO + R_VLAN),
      ldxDW(R3, R4, FACTS.vid),
      jneReg(R2, R3, 'next_rule'),
    ]),
    check(RuleFlag.proto, 'proto', [
      ldxB(R2, R9, RO + R_PROTO),
      ldxDW(R3, R4, FACTS.proto),
      jneReg(R2, R3, 'next_rule'),
    ]),
    check(RuleFlag.src4, 'src4', prefix4(FACTS.src, R_SRC, R_SRC_MASK)),
    check(RuleFlag.src6, 'src6', prefix6(FACTS.src, R_SRC, R_SRC_MASK)),
    check(RuleFlag.dst4, 'dst4', prefix4(FACTS.dst, R_DST, R_DST_MASK)),
    check(RuleFlag.dst6, 'dst6', prefix6(FACTS.dst, R_DST, R_DST_MASK)),
    check(RuleFlag.srcPort, 'sport', port(FACTS.sport, R_SPORT, R_SPORT_MASK)),
    check(RuleFlag.dstPort, 'dport', port(FACTS.dport, R_DPORT, R_DPORT_MASK)),
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

/** 16 bytes from the facts (R4) to the stack. */
function copy16f(from: number, to: number): AsmItem[] {
  return [ldxDW(R2, R4, from), stxDW(R10, to, R2), ldxDW(R2, R4, from + 8), stxDW(R10, to + 8, R2)]
}

/** input[0..32) = the IPv6 addresses; with `ex`, the Home Address / type-2 addresses when present. */
function v6Input(ex: boolean, tag: string): AsmItem[] {
  if (!ex) return [copy16f(FACTS.src, S.input), copy16f(FACTS.dst, S.input + 16)]
  return [
    ldxDW(R2, R4, FACTS.srcEx),
    jeqImm(R2, 0, `${tag}_s`),
    copy16f(FACTS.srcExAddr, S.input),
    ja(`${tag}_d`),
    label(`${tag}_s`),
    copy16f(FACTS.src, S.input),
    label(`${tag}_d`),
    ldxDW(R2, R4, FACTS.dstEx),
    jeqImm(R2, 0, `${tag}_dp`),
    copy16f(FACTS.dstExAddr, S.input + 16),
    ja(`${tag}_done`),
    label(`${tag}_dp`),
    copy16f(FACTS.dst, S.input + 16),
    label(`${tag}_done`),
  ]
}

/** Picks the hash type from the context's types (R5) and fills the hash input; then 'hash'. */
function selectHash(): AsmItem[] {
  // l4: R8 = 6 (tcp) / 17 (udp) when the frame has TCP/UDP ports, else 0
  const pick = (report: number, len: number, input: AsmItem[]): AsmItem[] => [
    stDW(R10, S.report, report),
    stDW(R10, S.len, len),
    input,
    ja('hash'),
  ]
  const v4in = (withPorts: boolean): AsmItem[] => [
    ldxW(R2, R4, FACTS.src),
    stxW(R10, S.input, R2),
    ldxW(R2, R4, FACTS.dst),
    stxW(R10, S.input + 4, R2),
    ...(withPorts ? [ldxW(R2, R4, FACTS.ports), stxW(R10, S.input + 8, R2)] : []),
  ]
  const v6ports: AsmItem[] = [ldxW(R2, R4, FACTS.ports), stxW(R10, S.input + 32, R2)]
  return [
    ldxDW(R4, R10, S.facts),
    mov64Imm(R8, 0),
    ldxDW(R2, R4, FACTS.sport),
    jeqImm(R2, NONE, 'l4_known'),
    ldxDW(R2, R4, FACTS.proto),
    jeqImm(R2, 6, 'l4_set'),
    jeqImm(R2, 17, 'l4_set'),
    ja('l4_known'),
    label('l4_set'),
    mov64Reg(R8, R2),
    label('l4_known'),
    ldxDW(R2, R4, FACTS.net),
    jeqImm(R2, 4, 'sel_v4'),
    jeqImm(R2, 6, 'sel_v6'),
    ja('no_hash'),

    label('sel_v4'),
    jneImm(R8, 6, 'sel_v4_udp'),
    jsetImm(R5, bit('tcpv4'), 'h_tcpv4'),
    label('sel_v4_udp'),
    jneImm(R8, 17, 'sel_v4_ip'),
    jsetImm(R5, bit('udpv4'), 'h_udpv4'),
    label('sel_v4_ip'),
    jsetImm(R5, bit('ipv4'), 'h_ipv4'),
    ja('no_hash'),
    label('h_tcpv4'),
    pick(REPORT.tcpv4, 12, v4in(true)),
    label('h_udpv4'),
    pick(REPORT.udpv4, 12, v4in(true)),
    label('h_ipv4'),
    pick(REPORT.ipv4, 8, v4in(false)),

    label('sel_v6'),
    ldxDW(R2, R4, FACTS.ext),
    jeqImm(R2, 0, 'sel_v6_plain'),
    jneImm(R8, 6, 'sel_v6ex_udp'),
    jsetImm(R5, bit('tcpv6_ex'), 'h_tcpv6_ex'),
    label('sel_v6ex_udp'),
    jneImm(R8, 17, 'sel_v6ex_ip'),
    jsetImm(R5, bit('udpv6_ex'), 'h_udpv6_ex'),
    label('sel_v6ex_ip'),
    jsetImm(R5, bit('ipv6_ex'), 'h_ipv6_ex'),
    label('sel_v6_plain'),
    jneImm(R8, 6, 'sel_v6_udp'),
    jsetImm(R5, bit('tcpv6'), 'h_tcpv6'),
    label('sel_v6_udp'),
    jneImm(R8, 17, 'sel_v6_ip'),
    jsetImm(R5, bit('udpv6'), 'h_udpv6'),
    label('sel_v6_ip'),
    jsetImm(R5, bit('ipv6'), 'h_ipv6'),
    ja('no_hash'),
    label('h_tcpv6_ex'),
    pick(REPORT.tcpv6_ex, 36, [v6Input(true, 'tex'), v6ports]),
    label('h_udpv6_ex'),
    pick(REPORT.udpv6_ex, 36, [v6Input(true, 'uex'), v6ports]),
    label('h_ipv6_ex'),
    pick(REPORT.ipv6_ex, 32, v6Input(true, 'iex')),
    label('h_tcpv6'),
    pick(REPORT.tcpv6, 36, [v6Input(false, 't6'), v6ports]),
    label('h_udpv6'),
    pick(REPORT.udpv6, 36, [v6Input(false, 'u6'), v6ports]),
    label('h_ipv6'),
    pick(REPORT.ipv6, 32, v6Input(false, 'i6')),
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
    ldMapFd(R1, t.map),
    mov64Reg(R2, R10),
    add64Imm(R2, S.tmp),
    call(BpfHelper.mapLookupElem),
    jeqImm(R0, 0, 'traced'),
    ldxDW(R2, R10, S.gen),
    stxW(R0, 0, R2),
    ldxDW(R2, R10, S.rule),
    stxW(R0, 4, R2),
    ldxDW(R2, R10, S.ctx),
    ldxDW(R3, R10, S.fixed),
    jeqImm(R3, NONE, 'trace_ctx'),
    mov64Imm(R2, NO_RULE),
    label('trace_ctx'),
    stxW(R0, 8, R2),
    ldxDW(R2, R10, S.queue),
    stxW(R0, 12, R2),
    ldxDW(R2, R10, S.hash),
    stxW(R0, 16, R2),
    ldxDW(R2, R10, S.report),
    stxW(R0, 20, R2),
    label('traced'),
  ]
}

/** The program's instructions around the outer (array-of-maps) configuration map. */
export function steeringProgramInsns(outer: HasFd, scratch: HasFd, o: SteeringProgramOptions): AsmItem[] {
  const zero = [
    S.net,
    S.off,
    S.next,
    S.ext,
    S.hnext,
    S.hlen,
    S.pos,
    S.ports,
    S.tags,
    S.srcEx,
    S.dstEx,
    S.ctx,
    S.report,
    S.len,
    S.gen,
    S.queue,
    S.tlvn,
    S.hash,
    S.facts,
  ]
  const none = [S.et, S.vid, S.proto, S.sport, S.dport, S.fixed]
  return [
    mov64Reg(R6, R1),
    mov64Imm(R0, 0),
    zero.map((s) => stxDW(R10, s, R0)),
    [0, 8].map((k) => [stxDW(R10, S.src + k, R0), stxDW(R10, S.dst + k, R0)]),
    [0, 8, 16, 24, 32].map((k) => stxDW(R10, S.input + k, R0)),
    mov64Imm(R0, NONE),
    none.map((s) => stxDW(R10, s, R0)),
    mov64Imm(R0, NO_RULE),
    stxDW(R10, S.rule, R0),
    stDW(R10, S.key0, 0),
    // the configuration in use: outer[0] -> inner map -> inner[0]
    ldMapFd(R1, outer),
    mov64Reg(R2, R10),
    add64Imm(R2, S.key0),
    call(BpfHelper.mapLookupElem),
    jeqImm(R0, 0, 'ret0'),
    mov64Reg(R1, R0),
    mov64Reg(R2, R10),
    add64Imm(R2, S.key0),
    call(BpfHelper.mapLookupElem),
    jeqImm(R0, 0, 'ret0'),
    mov64Reg(R7, R0),
    ldxW(R2, R7, HDR_GENERATION),
    stxDW(R10, S.gen, R2),

    parseL2(),
    jeqImm(R9, 0x0800, 'ipv4'),
    jeqImm(R9, 0x86dd, 'ipv6'),
    ja('parsed'),
    parseIpv4(),
    parseIpv6(),
    label('parsed'),

    saveFacts(scratch),
    rules(o.ruleCapacity),

    // the context: R7 = its record
    ldxDW(R2, R10, S.fixed),
    jeqImm(R2, NONE, 'ctx_pick'),
    stDW(R10, S.ctx, 0),
    label('ctx_pick'),
    ldxDW(R2, R10, S.ctx),
    jgtImm(R2, MAX_CONTEXT_ID, 'ret0'),
    mul64Imm(R2, CTX_SIZE),
    add64Reg(R7, R2),
    add64Imm(R7, CTX_OFF),
    ldxW(R5, R7, CTX_HASH_TYPES),
    selectHash(),

    label('hash'),
    ldxDW(R8, R10, S.len),
    toeplitzAsm(S.input, CTX_KEY),
    stxDW(R10, S.hash, R9),
    ldxH(R2, R7, CTX_TABLE_MASK),
    mov64Reg(R3, R9),
    and64Reg(R3, R2),
    and64Imm(R3, CTX_TABLE_CAPACITY - 1),
    lsh64Imm(R3, 1),
    mov64Reg(R4, R7),
    add64Reg(R4, R3),
    ldxH(R0, R4, CTX_TABLE),
    stxDW(R10, S.queue, R0),
    ja('queue_known'),

    label('no_hash'),
    stDW(R10, S.report, REPORT.none),
    ldxH(R0, R7, CTX_DEFAULT_QUEUE),
    stxDW(R10, S.queue, R0),

    label('queue_known'),
    ldxDW(R2, R10, S.fixed),
    jeqImm(R2, NONE, 'queue_final'),
    stxDW(R10, S.queue, R2),
    label('queue_final'),
    o.trace ? trace(o.trace) : [],
    ldxDW(R0, R10, S.queue),
    o.kind === 'tc-action' ? [stxW(R6, SkBuff.queueMapping, R0), mov64Imm(R0, 0)] : [],
    exit(),

    label('ret0'),
    mov64Imm(R0, 0),
    exit(),
  ]
}

/** Size of one trace record: generation, rule, context, queue, hash, hash report (u32 each). */
export const TRACE_RECORD_SIZE = 24
export { NO_RULE, REPORT as TRACE_REPORT }
