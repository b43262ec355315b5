/**
 * The RSS steering program: a BPF_PROG_TYPE_SOCKET_FILTER that tun runs (TUNSETSTEERINGEBPF) for
 * every frame the host sends out of a tap. It computes the virtio-net RSS hash (Toeplitz) and
 * returns `table[hash & mask]`, or the default queue when the frame gets no hash.
 *
 * Everything that can change lives in one array map (`rss_config`, one entry), so a new key,
 * table, hash-type set or default queue takes effect with one map update, without reattaching:
 *
 *   offset  size  field (host byte order)
 *        0     4  hash_types       bit n = VIRTIO_NET_RSS_HASH_TYPE n (see RssHashType)
 *        4     2  table_mask       table length - 1 (the length is a power of two)
 *        6     2  default_queue    the queue of frames without a hash
 *        8     8  reserved (0)
 *       16    40  key              the Toeplitz key
 *       56     8  zero             (lets the program read 8 key bytes from any of 36 positions)
 *       64  2*cap table            u16 queue numbers; cap = the map's table capacity
 *
 * PARSING RULES (the one place they are written down)
 * - Packet access: bpf_skb_load_bytes (helper 26), so non-linear skbs work. In 'l2' mode (taps)
 *   the frame starts with the Ethernet header at skb->data; in 'l3' mode (tun devices, and
 *   BPF_PROG_TEST_RUN of socket filters) skb->data is the network header and the EtherType is
 *   taken from skb->protocol, or, when that is 0 (a raw packet socket on a tun device), from the
 *   IP version nibble.
 * - VLAN: up to two tags (802.1Q 0x8100, 802.1ad 0x88a8, and the old QinQ 0x9100) are skipped;
 *   the EtherType after them decides. Tags carried out of band (skb->vlan_tci) are not in the
 *   data and so need no skipping.
 * - IPv4 (0x0800): version must be 4 and IHL ≥ 5. Options are skipped (L4 at IHL*4). A fragment
 *   (MF set or a non-zero offset) gets no L4 hash. Protocol 6 with TCPv4 enabled → TCPv4 hash over
 *   src addr, dst addr, src port, dst port; else protocol 17 with UDPv4 enabled → UDPv4 hash; else
 *   IPv4 enabled → IPv4 hash over src addr, dst addr; else no hash. If the L4 header cannot be
 *   read (truncated) the packet is treated as having none.
 * - IPv6 (0x86dd): version must be 6. Up to 8 extension headers are walked: hop-by-hop (0),
 *   routing (43), destination options (60) and fragment (44); any other next header ends the walk
 *   and is the L4 protocol. A fragment header (any offset) means no L4 hash. In destination
 *   options, up to 8 options are scanned for the Home Address option (type 0xC9, length 16): its
 *   address replaces the source address for `_EX` types. A type-2 routing header (length 2) gives
 *   the address that replaces the destination for `_EX` types. An unreadable extension header
 *   means no L4 hash.
 *   TCP: TCP_EX enabled → TCPv6_EX hash over (home address or src), (type-2 address or dst),
 *   ports; else TCPv6 enabled → TCPv6 hash over src, dst, ports; UDP likewise with UDP_EX/UDPv6;
 *   otherwise IP_EX enabled → IPv6_EX hash over the `_EX` addresses; else IPv6 enabled → IPv6
 *   hash over src, dst; else no hash. `_EX` types are reported as such even when no extension
 *   address was present (the addresses are then the plain ones, as virtio specifies).
 * - Anything else (ARP, other EtherTypes, unreadable headers): no hash.
 * - Hash input is in network byte order: src addr, dst addr, then src port, dst port. Toeplitz
 *   over it with the 40-byte key gives the 32-bit hash (the standard verification vectors hold).
 * - Result: no hash → default_queue; else table[hash & table_mask]. tun then takes it modulo the
 *   number of attached queues. A missing config entry → queue 0.
 */
import { z } from 'zod'
import {
  type AsmItem,
  add64Imm,
  add64Reg,
  and64Imm,
  and64Reg,
  BpfHelper,
  BpfMap,
  BpfProgram,
  be,
  call,
  exit,
  ja,
  jeqImm,
  jgeImm,
  jgeReg,
  jltImm,
  jneImm,
  jsetImm,
  label,
  ldMapFd,
  ldxB,
  ldxDW,
  ldxH,
  ldxW,
  lsh64Imm,
  mov32Reg,
  mov64Imm,
  mov64Reg,
  neg64,
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
  stW,
  stxDW,
  stxW,
  xor64Reg,
} from '../bpf/index.ts'
import { parseTapInput, TapError } from './tap-errors.ts'

/** VIRTIO_NET_RSS_HASH_TYPE_* bit numbers. */
export const RssHashType = {
  ipv4: 0,
  tcpv4: 1,
  udpv4: 2,
  ipv6: 3,
  tcpv6: 4,
  udpv6: 5,
  ip_ex: 6,
  tcp_ex: 7,
  udp_ex: 8,
} as const
export type RssHashTypeName = keyof typeof RssHashType

/** VIRTIO_NET_HASH_REPORT_* values (what the program records as the hash's type). */
export const RssHashReport = {
  none: 0,
  ipv4: 1,
  tcpv4: 2,
  udpv4: 3,
  ipv6: 4,
  tcpv6: 5,
  udpv6: 6,
  ipv6_ex: 7,
  tcpv6_ex: 8,
  udpv6_ex: 9,
} as const
export type RssHashReportName = keyof typeof RssHashReport

export const RSS_KEY_SIZE = 40
const KEY_OFF = 16
const TABLE_OFF = 64
const MAX_EXT_HEADERS = 8
const MAX_DEST_OPTIONS = 8

/** Stack slots (offsets from the frame pointer R10); 8-byte aligned, as the verifier wants. */
const S = {
  off: -8, // current parse offset
  next: -16, // EtherType, then IPv6 next header
  frag: -24, // 1: no L4 hash (fragment or unreadable extension header)
  srcEx: -32, // 1: a Home Address option was found
  dstEx: -40, // 1: a type-2 routing header was found
  report: -48, // VIRTIO_NET_HASH_REPORT_*
  len: -56, // hash input length: 8, 12, 32 or 36
  key0: -64, // u32 0, the key for map lookups
  hdr: -104, // 40 bytes: the IPv4 or IPv6 header
  input: -144, // 40 bytes: the hash input
  dstExAddr: -160, // 16 bytes
  srcExAddr: -176, // 16 bytes
  tmp: -192, // 16 bytes: extension header and option scratch
  hnext: -200, // next header of the extension header being walked
  hlen: -208, // its length in bytes
  pos: -216, // destination-option scan position
  l4off: -224, // IPv4 L4 offset
  queue: -232, // the result, kept across the record call
} as const

export interface RssProgramOptions {
  /** 'l2' (tap: frames start with Ethernet) or 'l3' (tun, and BPF_PROG_TEST_RUN). */
  layer: 'l2' | 'l3'
  /** Indirection table capacity of the config map (a power of two). */
  tableCapacity: number
  /** When set, each run stores hash, report type and queue in this map (diagnostics, tests). */
  record?: { fd: number }
}

/** bpf_skb_load_bytes(skb, *(u64 *)(fp + offSlot) + add, fp + dst, len); on error goto fail. */
function loadAt(offSlot: number, add: number, dst: number, len: number, fail: string): AsmItem[] {
  return [ldxDW(R2, R10, offSlot), ...(add ? [add64Imm(R2, add)] : []), ...loadReg(dst, len, fail)]
}

/** As loadAt, with the offset already in R2. */
function loadReg(dst: number, len: number, fail: string): AsmItem[] {
  return [
    mov64Reg(R1, R6),
    mov64Reg(R3, R10),
    add64Imm(R3, dst),
    mov64Imm(R4, len),
    call(BpfHelper.skbLoadBytes),
    jneImm(R0, 0, fail),
  ]
}

function copy16(from: number, to: number): AsmItem[] {
  return [ldxDW(R2, R10, from), stxDW(R10, to, R2), ldxDW(R2, R10, from + 8), stxDW(R10, to + 8, R2)]
}

/** input[0..32) = (home address or src), (type-2 address or dst). */
function copyExAddresses(tag: string): AsmItem[] {
  return [
    ldxDW(R2, R10, S.srcEx),
    jeqImm(R2, 0, `${tag}_src_plain`),
    copy16(S.srcExAddr, S.input),
    ja(`${tag}_dst`),
    label(`${tag}_src_plain`),
    copy16(S.hdr + 8, S.input),
    label(`${tag}_dst`),
    ldxDW(R2, R10, S.dstEx),
    jeqImm(R2, 0, `${tag}_dst_plain`),
    copy16(S.dstExAddr, S.input + 16),
    ja(`${tag}_done`),
    label(`${tag}_dst_plain`),
    copy16(S.hdr + 24, S.input + 16),
    label(`${tag}_done`),
  ]
}

function copyPlainV6(): AsmItem[] {
  return [copy16(S.hdr + 8, S.input), copy16(S.hdr + 24, S.input + 16)]
}

/**
 * Toeplitz, unrolled: for input byte i, the 64 key bits from bit 8i are loaded big-endian; for
 * bit b of the byte (MSB first) the 32-bit window starting at key bit 8i+b is (k >> (32 - b)),
 * XORed into R9 when the bit is set (branch-free: the bit becomes an all-ones or zero mask).
 * R8 holds the input length; R7 the config value.
 */
function toeplitz(): AsmItem[] {
  const out: AsmItem[] = [mov64Imm(R9, 0)]
  for (let i = 0; i < 36; i++) {
    if (i === 8 || i === 12 || i === 32) out.push(jeqImm(R8, i, 'hash_done'))
    out.push(ldxB(R2, R10, S.input + i), ldxDW(R3, R7, KEY_OFF + i), be(R3, 64))
    for (let b = 0; b < 8; b++) {
      out.push(
        mov64Reg(R4, R2),
        rsh64Imm(R4, 7 - b),
        and64Imm(R4, 1),
        neg64(R4),
        mov64Reg(R5, R3),
        rsh64Imm(R5, 32 - b),
        and64Reg(R5, R4),
        xor64Reg(R9, R5),
      )
    }
  }
  out.push(label('hash_done'), mov32Reg(R9, R9))
  return out
}

const bit = (t: RssHashTypeName) => 1 << RssHashType[t]

/** Builds the program's instructions around the given config map. */
export function rssProgramInsns(config: { fd: number }, options: RssProgramOptions): AsmItem[] {
  const cap = options.tableCapacity
  const vlan = (n: number): AsmItem[] => [
    jeqImm(R9, 0x8100, `vlan${n}`),
    jeqImm(R9, 0x88a8, `vlan${n}`),
    jeqImm(R9, 0x9100, `vlan${n}`),
    ja('l3'),
    label(`vlan${n}`),
    loadAt(S.off, 0, S.tmp, 4, 'no_hash'),
    ldxH(R9, R10, S.tmp + 2),
    be(R9, 16),
    ldxDW(R2, R10, S.off),
    add64Imm(R2, 4),
    stxDW(R10, S.off, R2),
  ]
  const record: AsmItem[] = options.record
    ? [
        ldMapFd(R1, options.record),
        mov64Reg(R2, R10),
        add64Imm(R2, S.key0),
        call(BpfHelper.mapLookupElem),
        jeqImm(R0, 0, 'recorded'),
        stxW(R0, 0, R9),
        ldxDW(R2, R10, S.report),
        stxW(R0, 4, R2),
        ldxDW(R2, R10, S.queue),
        stxW(R0, 8, R2),
        ldxW(R2, R0, 12),
        add64Imm(R2, 1),
        stxW(R0, 12, R2),
        label('recorded'),
      ]
    : []
  const zeroSlots = [S.frag, S.srcEx, S.dstEx, S.report, S.len, S.hnext, S.hlen, S.pos, S.l4off, S.queue]

  return [
    mov64Reg(R6, R1),
    mov64Imm(R0, 0),
    zeroSlots.map((s) => stxDW(R10, s, R0)),
    [0, 8, 16, 24, 32].map((o) => stxDW(R10, S.input + o, R0)),
    stW(R10, S.key0, 0),
    stW(R10, S.key0 + 4, 0),
    // config
    ldMapFd(R1, config),
    mov64Reg(R2, R10),
    add64Imm(R2, S.key0),
    call(BpfHelper.mapLookupElem),
    jeqImm(R0, 0, 'ret0'),
    mov64Reg(R7, R0),

    // --- L2 ------------------------------------------------------------------------------
    options.layer === 'l2'
      ? [
          mov64Imm(R2, 0),
          loadReg(S.hdr, 14, 'no_hash'),
          ldxH(R9, R10, S.hdr + 12),
          be(R9, 16),
          mov64Imm(R2, 14),
          stxDW(R10, S.off, R2),
        ]
      : [
          ldxW(R9, R6, SkBuff.protocol),
          be(R9, 16),
          mov64Imm(R2, 0),
          stxDW(R10, S.off, R2),
          // skb->protocol 0 (a raw packet socket on a tun): the IP version nibble decides
          jneImm(R9, 0, 'l3_known'),
          mov64Imm(R2, 0),
          loadReg(S.tmp, 1, 'no_hash'),
          ldxB(R2, R10, S.tmp),
          rsh64Imm(R2, 4),
          mov64Imm(R9, 0x0800),
          jeqImm(R2, 4, 'l3_known'),
          mov64Imm(R9, 0x86dd),
          jeqImm(R2, 6, 'l3_known'),
          ja('no_hash'),
          label('l3_known'),
        ],
    vlan(1),
    vlan(2),
    label('l3'),
    jeqImm(R9, 0x0800, 'ipv4'),
    jeqImm(R9, 0x86dd, 'ipv6'),
    ja('no_hash'),

    // --- IPv4 ----------------------------------------------------------------------------
    label('ipv4'),
    loadAt(S.off, 0, S.hdr, 20, 'no_hash'),
    ldxB(R2, R10, S.hdr),
    mov64Reg(R3, R2),
    rsh64Imm(R3, 4),
    jneImm(R3, 4, 'no_hash'),
    and64Imm(R2, 0x0f),
    lsh64Imm(R2, 2),
    jltImm(R2, 20, 'no_hash'),
    ldxDW(R3, R10, S.off),
    add64Reg(R3, R2),
    stxDW(R10, S.l4off, R3),
    ldxW(R2, R10, S.hdr + 12),
    stxW(R10, S.input, R2),
    ldxW(R2, R10, S.hdr + 16),
    stxW(R10, S.input + 4, R2),
    ldxH(R2, R10, S.hdr + 6),
    be(R2, 16),
    and64Imm(R2, 0x3fff),
    jneImm(R2, 0, 'v4_ip'),
    ldxB(R9, R10, S.hdr + 9),
    ldxW(R8, R7, 0),
    jneImm(R9, 6, 'v4_not_tcp'),
    jsetImm(R8, bit('tcpv4'), 'v4_tcp'),
    ja('v4_ip'),
    label('v4_not_tcp'),
    jneImm(R9, 17, 'v4_ip'),
    jsetImm(R8, bit('udpv4'), 'v4_udp'),
    ja('v4_ip'),
    label('v4_tcp'),
    stDW(R10, S.report, RssHashReport.tcpv4),
    ja('v4_ports'),
    label('v4_udp'),
    stDW(R10, S.report, RssHashReport.udpv4),
    label('v4_ports'),
    loadAt(S.l4off, 0, S.input + 8, 4, 'v4_ip'),
    stDW(R10, S.len, 12),
    ja('hash'),
    label('v4_ip'),
    ldxW(R8, R7, 0),
    jsetImm(R8, bit('ipv4'), 'v4_ip_ok'),
    ja('no_hash'),
    label('v4_ip_ok'),
    stDW(R10, S.report, RssHashReport.ipv4),
    stDW(R10, S.len, 8),
    ja('hash'),

    // --- IPv6 ----------------------------------------------------------------------------
    label('ipv6'),
    loadAt(S.off, 0, S.hdr, 40, 'no_hash'),
    ldxB(R2, R10, S.hdr),
    rsh64Imm(R2, 4),
    jneImm(R2, 6, 'no_hash'),
    ldxB(R2, R10, S.hdr + 6),
    stxDW(R10, S.next, R2),
    ldxDW(R2, R10, S.off),
    add64Imm(R2, 40),
    stxDW(R10, S.off, R2),
    mov64Imm(R8, 0),
    label('ext_loop'),
    jgeImm(R8, MAX_EXT_HEADERS, 'ext_done'),
    add64Imm(R8, 1),
    ldxDW(R2, R10, S.next),
    jeqImm(R2, 0, 'ext_opts'),
    jeqImm(R2, 60, 'ext_opts'),
    jeqImm(R2, 43, 'ext_rt'),
    jeqImm(R2, 44, 'ext_frag'),
    ja('ext_done'),

    // hop-by-hop and destination options: 2-byte header, length in 8-byte units after the first 8
    label('ext_opts'),
    loadAt(S.off, 0, S.tmp, 2, 'ext_trunc'),
    ldxB(R2, R10, S.tmp),
    stxDW(R10, S.hnext, R2),
    ldxB(R3, R10, S.tmp + 1),
    add64Imm(R3, 1),
    lsh64Imm(R3, 3),
    stxDW(R10, S.hlen, R3),
    ldxDW(R2, R10, S.next),
    jneImm(R2, 60, 'ext_advance'),
    ldxDW(R2, R10, S.off),
    add64Imm(R2, 2),
    stxDW(R10, S.pos, R2),
    mov64Imm(R9, 0),
    label('tlv_loop'),
    jgeImm(R9, MAX_DEST_OPTIONS, 'ext_advance'),
    add64Imm(R9, 1),
    ldxDW(R2, R10, S.pos),
    ldxDW(R3, R10, S.off),
    ldxDW(R4, R10, S.hlen),
    add64Reg(R3, R4),
    jgeReg(R2, R3, 'ext_advance'),
    loadAt(S.pos, 0, S.tmp, 2, 'ext_advance'),
    ldxB(R2, R10, S.tmp),
    jneImm(R2, 0, 'tlv_not_pad1'),
    ldxDW(R2, R10, S.pos),
    add64Imm(R2, 1),
    stxDW(R10, S.pos, R2),
    ja('tlv_loop'),
    label('tlv_not_pad1'),
    ldxB(R3, R10, S.tmp + 1),
    jneImm(R2, 0xc9, 'tlv_next'),
    jneImm(R3, 16, 'tlv_next'),
    loadAt(S.pos, 2, S.srcExAddr, 16, 'ext_advance'),
    stDW(R10, S.srcEx, 1),
    ldxB(R3, R10, S.tmp + 1),
    label('tlv_next'),
    ldxDW(R2, R10, S.pos),
    add64Imm(R2, 2),
    add64Reg(R2, R3),
    stxDW(R10, S.pos, R2),
    ja('tlv_loop'),

    // routing: next, length, type, segments left, 4 reserved, then (type 2) one address
    label('ext_rt'),
    loadAt(S.off, 0, S.tmp, 8, 'ext_trunc'),
    ldxB(R2, R10, S.tmp),
    stxDW(R10, S.hnext, R2),
    ldxB(R3, R10, S.tmp + 1),
    add64Imm(R3, 1),
    lsh64Imm(R3, 3),
    stxDW(R10, S.hlen, R3),
    ldxB(R2, R10, S.tmp + 2),
    jneImm(R2, 2, 'ext_advance'),
    ldxB(R2, R10, S.tmp + 1),
    jneImm(R2, 2, 'ext_advance'),
    loadAt(S.off, 8, S.dstExAddr, 16, 'ext_advance'),
    stDW(R10, S.dstEx, 1),
    ja('ext_advance'),

    // fragment: 8 bytes; no L4 hash for any fragment
    label('ext_frag'),
    loadAt(S.off, 0, S.tmp, 2, 'ext_trunc'),
    ldxB(R2, R10, S.tmp),
    stxDW(R10, S.hnext, R2),
    stDW(R10, S.hlen, 8),
    stDW(R10, S.frag, 1),

    label('ext_advance'),
    ldxDW(R2, R10, S.hnext),
    stxDW(R10, S.next, R2),
    ldxDW(R2, R10, S.off),
    ldxDW(R3, R10, S.hlen),
    add64Reg(R2, R3),
    stxDW(R10, S.off, R2),
    ja('ext_loop'),

    label('ext_trunc'),
    stDW(R10, S.frag, 1),

    label('ext_done'),
    ldxW(R8, R7, 0),
    ldxDW(R9, R10, S.next),
    ldxDW(R2, R10, S.frag),
    jneImm(R2, 0, 'v6_ip'),
    jneImm(R9, 6, 'v6_not_tcp'),
    jsetImm(R8, bit('tcp_ex'), 'v6_tcp_ex'),
    jsetImm(R8, bit('tcpv6'), 'v6_tcp'),
    ja('v6_ip'),
    label('v6_not_tcp'),
    jneImm(R9, 17, 'v6_ip'),
    jsetImm(R8, bit('udp_ex'), 'v6_udp_ex'),
    jsetImm(R8, bit('udpv6'), 'v6_udp'),
    ja('v6_ip'),
    label('v6_tcp_ex'),
    stDW(R10, S.report, RssHashReport.tcpv6_ex),
    ja('v6_ports_ex'),
    label('v6_udp_ex'),
    stDW(R10, S.report, RssHashReport.udpv6_ex),
    label('v6_ports_ex'),
    loadAt(S.off, 0, S.input + 32, 4, 'v6_ip'),
    copyExAddresses('l4ex'),
    stDW(R10, S.len, 36),
    ja('hash'),
    label('v6_tcp'),
    stDW(R10, S.report, RssHashReport.tcpv6),
    ja('v6_ports'),
    label('v6_udp'),
    stDW(R10, S.report, RssHashReport.udpv6),
    label('v6_ports'),
    loadAt(S.off, 0, S.input + 32, 4, 'v6_ip'),
    copyPlainV6(),
    stDW(R10, S.len, 36),
    ja('hash'),
    label('v6_ip'),
    ldxW(R8, R7, 0),
    jsetImm(R8, bit('ip_ex'), 'v6_ip_ex'),
    jsetImm(R8, bit('ipv6'), 'v6_ip_plain'),
    ja('no_hash'),
    label('v6_ip_ex'),
    stDW(R10, S.report, RssHashReport.ipv6_ex),
    copyExAddresses('ipex'),
    stDW(R10, S.len, 32),
    ja('hash'),
    label('v6_ip_plain'),
    stDW(R10, S.report, RssHashReport.ipv6),
    copyPlainV6(),
    stDW(R10, S.len, 32),

    // --- hash and queue ------------------------------------------------------------------
    label('hash'),
    ldxDW(R8, R10, S.len),
    toeplitz(),
    ldxH(R2, R7, 4),
    mov64Reg(R3, R9),
    and64Reg(R3, R2),
    and64Imm(R3, cap - 1),
    lsh64Imm(R3, 1),
    mov64Reg(R4, R7),
    add64Reg(R4, R3),
    ldxH(R0, R4, TABLE_OFF),
    stxDW(R10, S.queue, R0),
    ja('finish'),

    label('no_hash'),
    mov64Imm(R9, 0),
    stDW(R10, S.report, 0),
    ldxH(R0, R7, 6),
    stxDW(R10, S.queue, R0),

    label('finish'),
    record,
    ldxDW(R0, R10, S.queue),
    exit(),

    label('ret0'),
    mov64Imm(R0, 0),
    exit(),
  ]
}

// --- configuration ---------------------------------------------------------------------------

const hashTypeNames = Object.keys(RssHashType) as [RssHashTypeName, ...RssHashTypeName[]]
const u16 = z
  .number()
  .int()
  .min(0)
  .max(2 ** 16 - 1)

export interface RssConfig {
  hashTypes: readonly RssHashTypeName[]
  /** The Toeplitz key: 40 bytes. */
  key: Buffer
  /** Queue per hash bucket; length a power of two, at most the table capacity. */
  table: readonly number[]
  /** Queue for frames without a hash. */
  defaultQueue: number
}

function configSchema(capacity: number) {
  return z.object({
    hashTypes: z.array(z.enum(hashTypeNames)),
    key: z.instanceof(Buffer).refine((k) => k.length === RSS_KEY_SIZE, `must be ${RSS_KEY_SIZE} bytes`),
    table: z
      .array(u16)
      .min(1)
      .max(capacity, `at most ${capacity} entries (the table capacity)`)
      .refine((t) => (t.length & (t.length - 1)) === 0, 'length must be a power of two'),
    defaultQueue: u16,
  })
}

/** The config map value for `config` (see the layout at the top of this file). */
export function encodeRssConfig(config: RssConfig, capacity: number): Buffer {
  const c = parseTapInput(configSchema(capacity), config, 'rss config')
  const b = Buffer.alloc(TABLE_OFF + capacity * 2)
  b.writeUInt32LE(
    c.hashTypes.reduce((acc, t) => acc | bit(t), 0),
    0,
  )
  b.writeUInt16LE(c.table.length - 1, 4)
  b.writeUInt16LE(c.defaultQueue, 6)
  c.key.copy(b, KEY_OFF)
  c.table.forEach((q, i) => {
    b.writeUInt16LE(q, TABLE_OFF + i * 2)
  })
  return b
}

export function decodeRssConfig(b: Buffer): RssConfig {
  const types = b.readUInt32LE(0)
  const n = b.readUInt16LE(4) + 1
  return {
    hashTypes: hashTypeNames.filter((t) => types & bit(t)),
    key: Buffer.from(b.subarray(KEY_OFF, KEY_OFF + RSS_KEY_SIZE)),
    table: Array.from({ length: n }, (_, i) => b.readUInt16LE(TABLE_OFF + i * 2)),
    defaultQueue: b.readUInt16LE(6),
  }
}

/**
 * The RSS configuration map on its own: what a process that was handed only the map's fd (no
 * privileges needed) uses to reconfigure RSS live. Owns the map fd.
 */
export class RssConfigMap implements Disposable {
  readonly tableCapacity: number
  constructor(readonly map: BpfMap) {
    this.tableCapacity = (map.valueSize - TABLE_OFF) / 2
  }

  /** Takes ownership of a config map fd (checks that it looks like one). */
  static fromFd(fd: number): RssConfigMap {
    const map = BpfMap.fromFd(fd)
    const cap = (map.valueSize - TABLE_OFF) / 2
    if (map.keySize !== 4 || !Number.isInteger(cap) || cap < 1 || (cap & (cap - 1)) !== 0) {
      throw new TapError({
        kind: 'invalid-input',
        operation: 'rss config map',
        issues: [
          { path: 'fd', message: `not an RSS config map (key ${map.keySize}, value ${map.valueSize})` },
        ],
      })
    }
    return new RssConfigMap(map)
  }

  apply(config: RssConfig): void {
    this.map.update(BpfMap.u32(0), encodeRssConfig(config, this.tableCapacity))
  }

  read(): RssConfig {
    return decodeRssConfig(this.map.lookup(BpfMap.u32(0)) as Buffer)
  }

  close(): void {
    this.map.close()
  }

  [Symbol.dispose](): void {
    this.close()
  }
}

export interface RssLastResult {
  readonly hash: number
  readonly report: RssHashReportName
  readonly queue: number
  /** Frames seen since the program was loaded. */
  readonly packets: number
}

const optionsSchema = z.object({
  layer: z.enum(['l2', 'l3']).default('l2'),
  tableCapacity: z
    .number()
    .int()
    .min(1)
    .max(1 << 15)
    .refine((n) => (n & (n - 1)) === 0, 'must be a power of two')
    .default(128),
  record: z.boolean().default(false),
})

export interface RssSteeringOptions {
  /** 'l2' for taps (default), 'l3' for tun devices. */
  layer?: 'l2' | 'l3'
  /** Largest indirection table the config map holds (power of two, default 128). */
  tableCapacity?: number
  /**
   * Keep the last frame's hash, hash type and queue in a map (`last()`): for tests and debugging.
   * Racy when frames are sent from several CPUs at once.
   */
  record?: boolean
}

/**
 * The RSS steering program with its maps. Attach it with `tap.setSteeringProgram(rss)`; change
 * the configuration live with `apply()`. Owns the program and the maps (the device keeps its own
 * reference to the program once attached).
 */
export class RssSteering implements Disposable {
  private constructor(
    readonly program: BpfProgram,
    /** The configuration map: a holder of its fd (even unprivileged) can reconfigure RSS. */
    readonly config: BpfMap,
    readonly lastMap: BpfMap | undefined,
    readonly tableCapacity: number,
  ) {}

  static create(options: RssSteeringOptions = {}, initial?: RssConfig): RssSteering {
    const o = parseTapInput(optionsSchema, options, 'rss steering')
    const initialValue = initial ? encodeRssConfig(initial, o.tableCapacity) : undefined
    const config = BpfMap.create({
      type: 'array',
      keySize: 4,
      valueSize: TABLE_OFF + o.tableCapacity * 2,
      maxEntries: 1,
      name: 'rss_config',
      flags: ['rdonlyProg'],
    })
    let last: BpfMap | undefined
    try {
      if (initialValue) config.update(BpfMap.u32(0), initialValue)
      if (o.record)
        last = BpfMap.create({ type: 'array', keySize: 4, valueSize: 16, maxEntries: 1, name: 'rss_last' })
      const program = BpfProgram.load({
        type: 'socket-filter',
        name: 'rxnl_rss',
        insns: rssProgramInsns(config, { layer: o.layer, tableCapacity: o.tableCapacity, record: last }),
      })
      return new RssSteering(program, config, last, o.tableCapacity)
    } catch (e) {
      config.close()
      last?.close()
      throw e
    }
  }

  /** Replaces the whole configuration with one map update; frames in flight see old or new. */
  apply(config: RssConfig): void {
    this.config.update(BpfMap.u32(0), encodeRssConfig(config, this.tableCapacity))
  }

  /** The configuration now in the map. */
  read(): RssConfig {
    return decodeRssConfig(this.config.lookup(BpfMap.u32(0)) as Buffer)
  }

  /** The last frame's result (only with `record`). */
  last(): RssLastResult | undefined {
    const v = this.lastMap?.lookup(BpfMap.u32(0))
    if (!v) return undefined
    const report = v.readUInt32LE(4)
    return {
      hash: v.readUInt32LE(0),
      report:
        (Object.keys(RssHashReport) as RssHashReportName[]).find((k) => RssHashReport[k] === report) ??
        'none',
      queue: v.readUInt32LE(8),
      packets: v.readUInt32LE(12),
    }
  }

  get fd(): number {
    return this.program.fd
  }

  close(): void {
    this.program.close()
    this.config.close()
    this.lastMap?.close()
  }

  [Symbol.dispose](): void {
    this.close()
  }
}
