// The frame parser of the generated eBPF programs (RSS steering and flow steering): the same
// decisions as frame-parser.ts (see its notes), emitted once. What it finds is left in one record,
// FRAME, at the top of the stack; the programs read it there (or copy it whole elsewhere).
//
// Conventions: R6 holds the skb and is kept, as is R7 (the caller's configuration pointer);
// R0-R5, R8 and R9 are clobbered. Packet bytes are read with bpf_skb_load_bytes, so non-linear
// skbs work. Every failed read or check ends the parse with what was found so far.
import {
  type AsmItem,
  add64Imm,
  add64Reg,
  and64Imm,
  be,
  ja,
  jeqImm,
  jgeImm,
  jgeReg,
  jgtReg,
  jltImm,
  jneImm,
  label,
  ldxB,
  ldxDW,
  ldxH,
  ldxW,
  lsh64Imm,
  mov64Imm,
  mov64Reg,
  R0,
  R2,
  R3,
  R4,
  R6,
  R8,
  R9,
  R10,
  rsh64Imm,
  SkBuff,
  stDW,
  stxDW,
  stxW,
} from '../bpf/asm.ts'
import { copy16, recordLayout, skbLoadAt, skbLoadR2, stackSlots } from '../bpf/skb-asm.ts'
import {
  ETH_P_8021AD,
  ETH_P_8021Q,
  ETH_P_IP,
  ETH_P_IPV6,
  IPPROTO,
  MAX_IPV6_EXT_HEADERS,
  MAX_IPV6_OPTIONS,
  MAX_VLAN_TAGS,
} from './frame-parser.ts'

/** A FRAME field's value when the frame has no such thing (above every u16). */
export const ABSENT = 0x10000

const U64 = 8
const ADDRESS = 16

/**
 * The parse result, one record: numbers are u64 in host order; `src`, `dst`, `ports` and the
 * `_EX` addresses are bytes as on the wire.
 */
const frameLayout = recordLayout({
  /** The EtherType after the VLAN tags, or the TPID of a tag that could not be skipped. */
  et: U64,
  /** The outermost tag's VLAN id. */
  vid: U64,
  /** 4 or 6 for a complete, well-formed IP header; else 0. */
  net: U64,
  /** The upper-layer protocol (IPv4: also of fragments; IPv6: unknown after a fragment header). */
  proto: U64,
  sport: U64,
  dport: U64,
  /** IPv4 addresses take the first 4 bytes. */
  src: ADDRESS,
  dst: ADDRESS,
  /** Source and destination port bytes (valid when `sport` is not ABSENT). */
  ports: U64,
  /** 1: IPv6 extension headers follow the fixed header. */
  ext: U64,
  /** 1: `srcExAddr` holds a Home Address option's address. */
  srcEx: U64,
  /** 1: `dstExAddr` holds a type 2 routing header's address. */
  dstEx: U64,
  srcExAddr: ADDRESS,
  dstExAddr: ADDRESS,
})
/** Offsets of the FRAME fields in the record. */
export const FRAME = frameLayout.offsets
export const FRAME_SIZE = frameLayout.size

/** Where FRAME lies on the stack (an offset from R10). */
export const FRAME_AT = -FRAME_SIZE

/** Stack addresses of the FRAME fields. */
const F = Object.fromEntries(Object.entries(FRAME).map(([k, v]) => [k, FRAME_AT + v])) as {
  readonly [K in keyof typeof FRAME]: number
}

/** The parser's own scratch slots, below FRAME. */
const S = stackSlots(FRAME_AT, {
  off: 8, // the parse position
  next: 8, // IPv6: the next header value being looked at
  hnext: 8, // next header field of the extension header being walked
  hlen: 8, // its length in bytes
  end: 8, // the offset just past it
  pos: 8, // IPv4: the transport offset; destination options: the option scan position
  tags: 8, // VLAN tags counted
  tlvn: 8, // options examined in this destination options header
  hdr: 40, // the Ethernet, IPv4 or IPv6 header
  tmp: 16,
})

/** The first stack offset below the parser's slots: where a program's own slots start. */
export const FRAME_PARSER_BOTTOM = S.bottom

/**
 * Where the frame starts. 'ethernet': at the Ethernet header (skb->data of a tap's frame), and
 * with `offloadedTag` a tag carried beside the frame (skb->vlan_tci) counts as the outermost one,
 * as in the frame a tap's queue reader gets. 'ip': skb->data is the network header (tun devices,
 * BPF_PROG_TEST_RUN of socket filters); the EtherType comes from skb->protocol or, when that is 0
 * (a raw packet socket on a tun device), from the IP version nibble.
 */
export type FrameStart = { link: 'ethernet'; offloadedTag: boolean } | { link: 'ip' }

const DONE = 'frame_parsed'

function init(): AsmItem[] {
  // the other scratch slots are written before they are read, on every path
  const zero = [F.net, F.ext, F.srcEx, F.dstEx, F.ports, S.off, S.tags]
  const absent = [F.et, F.vid, F.proto, F.sport, F.dport]
  return [
    mov64Imm(R0, 0),
    zero.map((s) => stxDW(R10, s, R0)),
    [0, 8].map((k) => [stxDW(R10, F.src + k, R0), stxDW(R10, F.dst + k, R0)]),
    mov64Imm(R0, ABSENT),
    absent.map((s) => stxDW(R10, s, R0)),
  ]
}

/** Leaves the EtherType in R9. */
function ethernet(offloadedTag: boolean): AsmItem[] {
  return [
    mov64Imm(R2, 0),
    skbLoadR2(S.hdr, 14, DONE),
    ldxH(R9, R10, S.hdr + 12),
    be(R9, 16),
    stDW(R10, S.off, 14),
    offloadedTag
      ? [
          ldxW(R2, R6, SkBuff.vlanPresent),
          jeqImm(R2, 0, 'fp_no_offloaded_tag'),
          stDW(R10, S.tags, 1),
          ldxW(R2, R6, SkBuff.vlanTci),
          and64Imm(R2, 0xfff),
          stxDW(R10, F.vid, R2),
          label('fp_no_offloaded_tag'),
        ]
      : [],
  ]
}

/** Leaves the EtherType in R9. */
function ipStart(): AsmItem[] {
  return [
    ldxW(R9, R6, SkBuff.protocol),
    be(R9, 16),
    jneImm(R9, 0, 'fp_ethertype_known'),
    mov64Imm(R2, 0),
    skbLoadR2(S.tmp, 1, DONE),
    ldxB(R2, R10, S.tmp),
    rsh64Imm(R2, 4),
    mov64Imm(R9, ETH_P_IP),
    jeqImm(R2, 4, 'fp_ethertype_known'),
    mov64Imm(R9, ETH_P_IPV6),
    jeqImm(R2, 6, 'fp_ethertype_known'),
    ja(DONE),
    label('fp_ethertype_known'),
  ]
}

/** Skips up to MAX_VLAN_TAGS tags (counting an offloaded one); the EtherType after them in R9. */
function vlanTags(): AsmItem[] {
  const tag = (n: number): AsmItem[] => [
    ldxDW(R2, R10, S.tags),
    jgeImm(R2, MAX_VLAN_TAGS, 'fp_tags_done'),
    jeqImm(R9, ETH_P_8021Q, `fp_tag${n}`),
    jeqImm(R9, ETH_P_8021AD, `fp_tag${n}`),
    ja('fp_tags_done'),
    label(`fp_tag${n}`),
    skbLoadAt(S.off, 0, S.tmp, 4, 'fp_tags_done'),
    ldxDW(R2, R10, F.vid),
    jneImm(R2, ABSENT, `fp_tag${n}_vid`),
    ldxH(R2, R10, S.tmp),
    be(R2, 16),
    and64Imm(R2, 0xfff),
    stxDW(R10, F.vid, R2),
    label(`fp_tag${n}_vid`),
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
    Array.from({ length: MAX_VLAN_TAGS }, (_, n) => tag(n)),
    label('fp_tags_done'),
    stxDW(R10, F.et, R9),
  ]
}

/** Reads the ports at the transport offset in R2 when the protocol (R9) is one that has them. */
function ports(tag: string, protocols: readonly number[]): AsmItem[] {
  return [
    protocols.map((p) => jeqImm(R9, p, `${tag}_ports`)),
    ja(DONE),
    label(`${tag}_ports`),
    skbLoadR2(S.tmp, 4, DONE),
    ldxW(R2, R10, S.tmp),
    stxDW(R10, F.ports, R2),
    ldxH(R2, R10, S.tmp),
    be(R2, 16),
    stxDW(R10, F.sport, R2),
    ldxH(R2, R10, S.tmp + 2),
    be(R2, 16),
    stxDW(R10, F.dport, R2),
    ja(DONE),
  ]
}

function ipv4(portProtocols: readonly number[]): AsmItem[] {
  return [
    label('fp_ipv4'),
    skbLoadAt(S.off, 0, S.hdr, 20, DONE),
    ldxB(R2, R10, S.hdr),
    mov64Reg(R3, R2),
    rsh64Imm(R3, 4),
    jneImm(R3, 4, DONE),
    and64Imm(R2, 0x0f),
    lsh64Imm(R2, 2),
    jltImm(R2, 20, DONE),
    ldxDW(R3, R10, S.off),
    add64Reg(R3, R2),
    stxDW(R10, S.pos, R3),
    // the whole header, options included, must be in the frame
    mov64Reg(R2, R3),
    add64Imm(R2, -1),
    skbLoadR2(S.tmp, 1, DONE),
    stDW(R10, F.net, 4),
    ldxW(R2, R10, S.hdr + 12),
    stxW(R10, F.src, R2),
    ldxW(R2, R10, S.hdr + 16),
    stxW(R10, F.dst, R2),
    ldxB(R9, R10, S.hdr + 9),
    stxDW(R10, F.proto, R9),
    // MF or a fragment offset: a fragment, no ports
    ldxH(R2, R10, S.hdr + 6),
    be(R2, 16),
    and64Imm(R2, 0x3fff),
    jneImm(R2, 0, DONE),
    ldxDW(R2, R10, S.pos),
    ports('fp_v4', portProtocols),
  ]
}

/** Destination options: the first Home Address option (type 0xc9, length 16) of any header. */
function homeAddress(): AsmItem[] {
  return [
    label('fp_ext_dst'),
    ldxDW(R2, R10, F.srcEx),
    jneImm(R2, 0, 'fp_ext_advance'),
    ldxDW(R2, R10, S.off),
    add64Imm(R2, 2),
    stxDW(R10, S.pos, R2),
    stDW(R10, S.tlvn, 0),
    label('fp_tlv_loop'),
    ldxDW(R2, R10, S.tlvn),
    jgeImm(R2, MAX_IPV6_OPTIONS, 'fp_ext_advance'),
    add64Imm(R2, 1),
    stxDW(R10, S.tlvn, R2),
    ldxDW(R2, R10, S.pos),
    ldxDW(R3, R10, S.end),
    jgeReg(R2, R3, 'fp_ext_advance'),
    skbLoadAt(S.pos, 0, S.tmp, 1, 'fp_ext_advance'),
    ldxB(R2, R10, S.tmp),
    jneImm(R2, 0, 'fp_tlv_opt'),
    // Pad1: one byte
    ldxDW(R2, R10, S.pos),
    add64Imm(R2, 1),
    stxDW(R10, S.pos, R2),
    ja('fp_tlv_loop'),
    label('fp_tlv_opt'),
    // type and length, then the option's data, must be inside the header
    ldxDW(R2, R10, S.pos),
    add64Imm(R2, 2),
    ldxDW(R3, R10, S.end),
    jgtReg(R2, R3, 'fp_ext_advance'),
    skbLoadAt(S.pos, 0, S.tmp, 2, 'fp_ext_advance'),
    ldxB(R4, R10, S.tmp + 1),
    ldxDW(R2, R10, S.pos),
    add64Imm(R2, 2),
    add64Reg(R2, R4),
    ldxDW(R3, R10, S.end),
    jgtReg(R2, R3, 'fp_ext_advance'),
    ldxB(R3, R10, S.tmp),
    jneImm(R3, 0xc9, 'fp_tlv_next'),
    jneImm(R4, 16, 'fp_tlv_next'),
    skbLoadAt(S.pos, 2, F.srcExAddr, 16, 'fp_ext_advance'),
    stDW(R10, F.srcEx, 1),
    ja('fp_ext_advance'),
    label('fp_tlv_next'),
    stxDW(R10, S.pos, R2),
    ja('fp_tlv_loop'),
  ]
}

/**
 * How extension headers give their length (byte 1): hop-by-hop, routing and destination options
 * in 8-byte units after the first 8, AH in 4-byte units plus 2. Bytes = (field + plus) << shift.
 */
const EXT_LENGTHS = [
  { label: 'fp_ext_opts', plus: 1, shift: 3 },
  { label: 'fp_ext_ah', plus: 2, shift: 2 },
] as const

function ipv6(portProtocols: readonly number[]): AsmItem[] {
  return [
    label('fp_ipv6'),
    skbLoadAt(S.off, 0, S.hdr, 40, DONE),
    ldxB(R2, R10, S.hdr),
    rsh64Imm(R2, 4),
    jneImm(R2, 6, DONE),
    stDW(R10, F.net, 6),
    copy16(R10, S.hdr + 8, F.src),
    copy16(R10, S.hdr + 24, F.dst),
    ldxB(R2, R10, S.hdr + 6),
    stxDW(R10, S.next, R2),
    ldxDW(R2, R10, S.off),
    add64Imm(R2, 40),
    stxDW(R10, S.off, R2),
    mov64Imm(R8, 0),
    label('fp_ext_loop'),
    ldxDW(R2, R10, S.next),
    jeqImm(R2, IPPROTO.HOPOPTS, 'fp_ext_opts'),
    jeqImm(R2, IPPROTO.DSTOPTS, 'fp_ext_opts'),
    jeqImm(R2, IPPROTO.ROUTING, 'fp_ext_opts'),
    jeqImm(R2, IPPROTO.AH, 'fp_ext_ah'),
    jeqImm(R2, IPPROTO.FRAGMENT, 'fp_ext_frag'),
    // the upper-layer protocol
    mov64Reg(R9, R2),
    stxDW(R10, F.proto, R9),
    ldxDW(R2, R10, S.off),
    ports('fp_v6', portProtocols),

    EXT_LENGTHS.map((e, i) => [
      label(e.label),
      stDW(R10, F.ext, 1),
      jgeImm(R8, MAX_IPV6_EXT_HEADERS, DONE),
      skbLoadAt(S.off, 0, S.tmp, 2, DONE),
      ldxB(R3, R10, S.tmp + 1),
      add64Imm(R3, e.plus),
      lsh64Imm(R3, e.shift),
      stxDW(R10, S.hlen, R3),
      i < EXT_LENGTHS.length - 1 ? ja('fp_ext_check') : [],
    ]),

    label('fp_ext_check'),
    ldxB(R2, R10, S.tmp),
    stxDW(R10, S.hnext, R2),
    // the whole extension header must be in the frame (one cut short ends the walk)
    ldxDW(R2, R10, S.off),
    ldxDW(R3, R10, S.hlen),
    add64Reg(R2, R3),
    stxDW(R10, S.end, R2),
    add64Imm(R2, -1),
    skbLoadR2(S.tmp + 8, 1, DONE),
    ldxDW(R2, R10, S.next),
    jeqImm(R2, IPPROTO.DSTOPTS, 'fp_ext_dst'),
    jeqImm(R2, IPPROTO.ROUTING, 'fp_ext_rt'),
    ja('fp_ext_advance'),

    // routing: the first type 2 header (24 bytes: one address after 8 fixed bytes)
    label('fp_ext_rt'),
    ldxDW(R2, R10, F.dstEx),
    jneImm(R2, 0, 'fp_ext_advance'),
    ldxDW(R2, R10, S.hlen),
    jneImm(R2, 24, 'fp_ext_advance'),
    skbLoadAt(S.off, 2, S.tmp, 1, 'fp_ext_advance'),
    ldxB(R2, R10, S.tmp),
    jneImm(R2, 2, 'fp_ext_advance'),
    skbLoadAt(S.off, 8, F.dstExAddr, 16, 'fp_ext_advance'),
    stDW(R10, F.dstEx, 1),
    ja('fp_ext_advance'),

    homeAddress(),

    label('fp_ext_advance'),
    ldxDW(R2, R10, S.hnext),
    stxDW(R10, S.next, R2),
    ldxDW(R2, R10, S.end),
    stxDW(R10, S.off, R2),
    add64Imm(R8, 1),
    ja('fp_ext_loop'),

    // a fragment header ends the walk: no ports, the upper-layer protocol unknown
    label('fp_ext_frag'),
    stDW(R10, F.ext, 1),
    ja(DONE),
  ]
}

/**
 * Parses the frame into FRAME (every field set, ABSENT or 0 when not found). Ports are read for
 * `portProtocols` only. Falls through when done.
 */
export function parseFrameAsm(start: FrameStart, portProtocols: readonly number[]): AsmItem[] {
  return [
    init(),
    start.link === 'ethernet' ? ethernet(start.offloadedTag) : ipStart(),
    vlanTags(),
    jeqImm(R9, ETH_P_IP, 'fp_ipv4'),
    jeqImm(R9, ETH_P_IPV6, 'fp_ipv6'),
    ja(DONE),
    ipv4(portProtocols),
    ipv6(portProtocols),
    label(DONE),
  ]
}
