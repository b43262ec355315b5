/**
 * The RSS steering program: a BPF_PROG_TYPE_SOCKET_FILTER that tun runs (TUNSETSTEERINGEBPF) for
 * every frame the host sends out of a tap. It computes the virtio-net RSS hash (Toeplitz) and
 * returns `table[hash & mask]`, or the default queue when the frame gets no hash.
 *
 * It implements exactly what `rssHash` (rss-hash.ts, default rules) and `parseFrame`
 * (frame-parser.ts) compute: the parsing decisions are written down once, in frame-parser.ts, and
 * the hash-type selection in rss-hash.ts (QEMU's order, the library default). The tests check
 * the program against `rssHash` frame by frame.
 *
 * Everything that can change lives in one array map (`rss_config`, one entry), so a new key,
 * table, hash-type set or default queue takes effect with one map update, without reattaching:
 *
 *   offset  size  field (host byte order)
 *        0     4  hash_types       bit n = VIRTIO_NET_RSS_HASH_TYPE n (HASH_TYPE_BIT)
 *        4     2  table_mask       table length - 1 (the length is a power of two)
 *        6     2  default_queue    the queue of frames without a hash
 *        8     2  queues           the device's queue count when last applied (0: unknown); read
 *                                  by holders of the map fd to validate table entries
 *       10     6  reserved (0)
 *       16    40  key              the Toeplitz key
 *       56     8  zero             (lets the program read 8 key bytes from any of 36 positions)
 *       64  2*cap table            u16 queue numbers; cap = the map's table capacity
 *
 * Program specifics (beyond the shared parsing rules):
 * - Packet access: bpf_skb_load_bytes (helper 26), so non-linear skbs work. In 'l2' mode (taps)
 *   the frame starts with the Ethernet header at skb->data; in 'l3' mode (tun devices, and
 *   BPF_PROG_TEST_RUN of socket filters) skb->data is the network header and the EtherType is
 *   taken from skb->protocol, or, when that is 0 (a raw packet socket on a tun device), from the
 *   IP version nibble. Tags carried out of band (skb->vlan_tci) are not in the data.
 * - Result: no hash → default_queue; else table[hash & table_mask]. tun then takes it modulo the
 *   number of attached queues. A missing config entry → queue 0.
 */
import { existsSync } from 'node:fs'
import { z } from 'zod'
import {
  type AsmItem,
  add64Imm,
  add64Reg,
  and64Imm,
  and64Reg,
  BpfError,
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
  jmpReg,
  jneImm,
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
  rsh64Imm,
  SkBuff,
  stDW,
  stW,
  stxDW,
  stxW,
} from '../bpf/index.ts'
import { copyStack16, skbLoadAt, skbLoadR2, toeplitzAsm } from '../bpf/skb-asm.ts'
import { IPPROTO, MAX_IPV6_EXT_HEADERS, MAX_IPV6_OPTIONS, MAX_VLAN_TAGS } from './frame-parser.ts'
import {
  DEFAULT_MAX_TABLE_LENGTH,
  parseRssConfig,
  type RssConfig,
  type RssConfigInput,
  type RssLimits,
} from './rss-config.ts'
import {
  HASH_REPORT_VALUE,
  HASH_TYPE_BIT,
  HASH_TYPES,
  type HashReport,
  type HashType,
  hashReportName,
  hashTypesToMask,
  maskToHashTypes,
} from './rss-hash-types.ts'
import { parseTapInput, TapError } from './tap-errors.ts'
import { RSS_KEY_LENGTH } from './toeplitz.ts'

const KEY_OFF = 16
const QUEUES_OFF = 8
/** Bytes before the indirection table in the config map's value. */
export const RSS_CONFIG_HEADER_SIZE = 64
const TABLE_OFF = RSS_CONFIG_HEADER_SIZE
/** Largest indirection table the program can hold (a power of two). */
export const MAX_PROGRAM_TABLE_CAPACITY = 1 << 15

const {
  HOPOPTS: IPPROTO_HOPOPTS,
  TCP: IPPROTO_TCP,
  UDP: IPPROTO_UDP,
  ROUTING: IPPROTO_ROUTING,
  FRAGMENT: IPPROTO_FRAGMENT,
  AH: IPPROTO_AH,
  DSTOPTS: IPPROTO_DSTOPTS,
} = IPPROTO

/** Stack slots (offsets from the frame pointer R10); 8-byte aligned, as the verifier wants. */
const S = {
  off: -8, // current parse offset
  next: -16, // EtherType, then IPv6 next header
  frag: -24, // 1: no L4 hash (fragment, or an extension header cut short)
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
  end: -240, // end of the extension header being walked
} as const

export interface RssProgramOptions {
  /** 'l2' (tap: frames start with Ethernet) or 'l3' (tun, and BPF_PROG_TEST_RUN). */
  layer: 'l2' | 'l3'
  /** Indirection table capacity of the config map (a power of two). */
  tableCapacity: number
  /** When set, each run stores hash, report type and queue in this map (diagnostics, tests). */
  record?: { fd: number }
}

/** input[0..32) = (home address or src), (type-2 address or dst). */
function copyExAddresses(tag: string): AsmItem[] {
  return [
    ldxDW(R2, R10, S.srcEx),
    jeqImm(R2, 0, `${tag}_src_plain`),
    copyStack16(S.srcExAddr, S.input),
    ja(`${tag}_dst`),
    label(`${tag}_src_plain`),
    copyStack16(S.hdr + 8, S.input),
    label(`${tag}_dst`),
    ldxDW(R2, R10, S.dstEx),
    jeqImm(R2, 0, `${tag}_dst_plain`),
    copyStack16(S.dstExAddr, S.input + 16),
    ja(`${tag}_done`),
    label(`${tag}_dst_plain`),
    copyStack16(S.hdr + 24, S.input + 16),
    label(`${tag}_done`),
  ]
}

function copyPlainV6(): AsmItem[] {
  return [copyStack16(S.hdr + 8, S.input), copyStack16(S.hdr + 24, S.input + 16)]
}

const bit = (t: HashType) => 1 << HASH_TYPE_BIT[t]
const reportValue = (r: HashReport) => HASH_REPORT_VALUE[r]

/**
 * End of the extension header at S.off whose length is in S.hlen: stores it in S.end and checks
 * that its last byte is in the packet (a header cut short ends the walk, as in the parser).
 */
function extHeaderWhole(): AsmItem[] {
  return [
    ldxDW(R2, R10, S.off),
    ldxDW(R3, R10, S.hlen),
    add64Reg(R2, R3),
    stxDW(R10, S.end, R2),
    add64Imm(R2, -1),
    skbLoadR2(S.tmp + 15, 1, 'ext_trunc'),
  ]
}

/** Builds the program's instructions around the given config map. */
export function rssProgramInsns(config: { fd: number }, options: RssProgramOptions): AsmItem[] {
  const cap = options.tableCapacity
  const vlan = (n: number): AsmItem[] => [
    jeqImm(R9, 0x8100, `vlan${n}`),
    jeqImm(R9, 0x88a8, `vlan${n}`),
    ja('l3'),
    label(`vlan${n}`),
    skbLoadAt(S.off, 0, S.tmp, 4, 'no_hash'),
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
  const zeroSlots = [
    S.frag,
    S.srcEx,
    S.dstEx,
    S.report,
    S.len,
    S.hnext,
    S.hlen,
    S.pos,
    S.l4off,
    S.queue,
    S.end,
  ]

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
          skbLoadR2(S.hdr, 14, 'no_hash'),
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
          jneImm(R9, 0, 'ethertype'),
          mov64Imm(R2, 0),
          skbLoadR2(S.tmp, 1, 'no_hash'),
          ldxB(R2, R10, S.tmp),
          rsh64Imm(R2, 4),
          mov64Imm(R9, 0x0800),
          jeqImm(R2, 4, 'l3'),
          mov64Imm(R9, 0x86dd),
          jeqImm(R2, 6, 'l3'),
          ja('no_hash'),
        ],
    // VLAN tags in the data (a tap's frames; skb->protocol 0x8100/0x88a8 on a tun or test run)
    label('ethertype'),
    Array.from({ length: MAX_VLAN_TAGS }, (_, i) => vlan(i + 1)),
    label('l3'),
    jeqImm(R9, 0x0800, 'ipv4'),
    jeqImm(R9, 0x86dd, 'ipv6'),
    ja('no_hash'),

    // --- IPv4 ----------------------------------------------------------------------------
    label('ipv4'),
    skbLoadAt(S.off, 0, S.hdr, 20, 'no_hash'),
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
    // the whole header, options included, must be in the packet
    skbLoadAt(S.l4off, -1, S.tmp, 1, 'no_hash'),
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
    jneImm(R9, IPPROTO_TCP, 'v4_not_tcp'),
    jsetImm(R8, bit('tcpv4'), 'v4_tcp'),
    ja('v4_ip'),
    label('v4_not_tcp'),
    jneImm(R9, IPPROTO_UDP, 'v4_ip'),
    jsetImm(R8, bit('udpv4'), 'v4_udp'),
    ja('v4_ip'),
    label('v4_tcp'),
    stDW(R10, S.report, reportValue('tcpv4')),
    ja('v4_ports'),
    label('v4_udp'),
    stDW(R10, S.report, reportValue('udpv4')),
    label('v4_ports'),
    skbLoadAt(S.l4off, 0, S.input + 8, 4, 'v4_ip'),
    stDW(R10, S.len, 12),
    ja('hash'),
    label('v4_ip'),
    ldxW(R8, R7, 0),
    jsetImm(R8, bit('ipv4'), 'v4_ip_ok'),
    ja('no_hash'),
    label('v4_ip_ok'),
    stDW(R10, S.report, reportValue('ipv4')),
    stDW(R10, S.len, 8),
    ja('hash'),

    // --- IPv6 ----------------------------------------------------------------------------
    label('ipv6'),
    skbLoadAt(S.off, 0, S.hdr, 40, 'no_hash'),
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
    jgeImm(R8, MAX_IPV6_EXT_HEADERS, 'ext_done'),
    add64Imm(R8, 1),
    ldxDW(R2, R10, S.next),
    jeqImm(R2, IPPROTO_HOPOPTS, 'ext_8'),
    jeqImm(R2, IPPROTO_DSTOPTS, 'ext_8'),
    jeqImm(R2, IPPROTO_ROUTING, 'ext_8'),
    jeqImm(R2, IPPROTO_AH, 'ext_ah'),
    jeqImm(R2, IPPROTO_FRAGMENT, 'ext_frag'),
    ja('ext_done'),

    // hop-by-hop, routing, destination options: next header, length in 8-byte units after the first 8
    label('ext_8'),
    skbLoadAt(S.off, 0, S.tmp, 2, 'ext_trunc'),
    ldxB(R2, R10, S.tmp),
    stxDW(R10, S.hnext, R2),
    ldxB(R3, R10, S.tmp + 1),
    add64Imm(R3, 1),
    lsh64Imm(R3, 3),
    stxDW(R10, S.hlen, R3),
    extHeaderWhole(),
    ldxDW(R2, R10, S.next),
    jeqImm(R2, IPPROTO_ROUTING, 'ext_rt'),
    jneImm(R2, IPPROTO_DSTOPTS, 'ext_advance'),

    // destination options: the first Home Address option (type 0xC9, length 16) of any header
    ldxDW(R2, R10, S.srcEx),
    jneImm(R2, 0, 'ext_advance'),
    ldxDW(R2, R10, S.off),
    add64Imm(R2, 2),
    stxDW(R10, S.pos, R2),
    mov64Imm(R9, 0),
    label('tlv_loop'),
    jgeImm(R9, MAX_IPV6_OPTIONS, 'ext_advance'),
    add64Imm(R9, 1),
    ldxDW(R2, R10, S.pos),
    ldxDW(R3, R10, S.end),
    jgeReg(R2, R3, 'ext_advance'),
    skbLoadAt(S.pos, 0, S.tmp, 1, 'ext_advance'),
    ldxB(R2, R10, S.tmp),
    jneImm(R2, 0, 'tlv_not_pad1'),
    ldxDW(R2, R10, S.pos),
    add64Imm(R2, 1),
    stxDW(R10, S.pos, R2),
    ja('tlv_loop'),
    label('tlv_not_pad1'),
    // type and length must be inside the header, and so must the option's data
    ldxDW(R2, R10, S.pos),
    add64Imm(R2, 2),
    ldxDW(R3, R10, S.end),
    jmpReg('jgt', R2, R3, 'ext_advance'),
    skbLoadAt(S.pos, 0, S.tmp, 2, 'ext_advance'),
    ldxB(R3, R10, S.tmp + 1),
    ldxDW(R2, R10, S.pos),
    add64Imm(R2, 2),
    add64Reg(R2, R3),
    ldxDW(R4, R10, S.end),
    jmpReg('jgt', R2, R4, 'ext_advance'),
    ldxB(R2, R10, S.tmp),
    jneImm(R2, 0xc9, 'tlv_next'),
    jneImm(R3, 16, 'tlv_next'),
    skbLoadAt(S.pos, 2, S.srcExAddr, 16, 'ext_advance'),
    stDW(R10, S.srcEx, 1),
    ja('ext_advance'),
    label('tlv_next'),
    ldxDW(R2, R10, S.pos),
    add64Imm(R2, 2),
    add64Reg(R2, R3),
    stxDW(R10, S.pos, R2),
    ja('tlv_loop'),

    // routing: the first type-2 header (length field 2: one address after 8 fixed bytes)
    label('ext_rt'),
    ldxDW(R2, R10, S.dstEx),
    jneImm(R2, 0, 'ext_advance'),
    skbLoadAt(S.off, 0, S.tmp, 8, 'ext_advance'),
    ldxB(R2, R10, S.tmp + 2),
    jneImm(R2, 2, 'ext_advance'),
    ldxB(R2, R10, S.tmp + 1),
    jneImm(R2, 2, 'ext_advance'),
    skbLoadAt(S.off, 8, S.dstExAddr, 16, 'ext_advance'),
    stDW(R10, S.dstEx, 1),
    ja('ext_advance'),

    // AH: length in 4-byte units, plus 2
    label('ext_ah'),
    skbLoadAt(S.off, 0, S.tmp, 2, 'ext_trunc'),
    ldxB(R2, R10, S.tmp),
    stxDW(R10, S.hnext, R2),
    ldxB(R3, R10, S.tmp + 1),
    add64Imm(R3, 2),
    lsh64Imm(R3, 2),
    stxDW(R10, S.hlen, R3),
    extHeaderWhole(),

    label('ext_advance'),
    ldxDW(R2, R10, S.hnext),
    stxDW(R10, S.next, R2),
    ldxDW(R2, R10, S.off),
    ldxDW(R3, R10, S.hlen),
    add64Reg(R2, R3),
    stxDW(R10, S.off, R2),
    ja('ext_loop'),

    // a fragment header ends the walk: no L4 hash, first fragment or not
    label('ext_frag'),
    label('ext_trunc'),
    stDW(R10, S.frag, 1),

    label('ext_done'),
    ldxW(R8, R7, 0),
    ldxDW(R9, R10, S.next),
    ldxDW(R2, R10, S.frag),
    jneImm(R2, 0, 'v6_ip'),
    jneImm(R9, IPPROTO_TCP, 'v6_not_tcp'),
    jsetImm(R8, bit('tcpv6_ex'), 'v6_tcp_ex'),
    jsetImm(R8, bit('tcpv6'), 'v6_tcp'),
    ja('v6_ip'),
    label('v6_not_tcp'),
    jneImm(R9, IPPROTO_UDP, 'v6_ip'),
    jsetImm(R8, bit('udpv6_ex'), 'v6_udp_ex'),
    jsetImm(R8, bit('udpv6'), 'v6_udp'),
    ja('v6_ip'),
    label('v6_tcp_ex'),
    stDW(R10, S.report, reportValue('tcpv6_ex')),
    ja('v6_ports_ex'),
    label('v6_udp_ex'),
    stDW(R10, S.report, reportValue('udpv6_ex')),
    label('v6_ports_ex'),
    skbLoadAt(S.off, 0, S.input + 32, 4, 'v6_ip'),
    copyExAddresses('l4ex'),
    stDW(R10, S.len, 36),
    ja('hash'),
    label('v6_tcp'),
    stDW(R10, S.report, reportValue('tcpv6')),
    ja('v6_ports'),
    label('v6_udp'),
    stDW(R10, S.report, reportValue('udpv6')),
    label('v6_ports'),
    skbLoadAt(S.off, 0, S.input + 32, 4, 'v6_ip'),
    copyPlainV6(),
    stDW(R10, S.len, 36),
    ja('hash'),
    label('v6_ip'),
    ldxW(R8, R7, 0),
    jsetImm(R8, bit('ipv6_ex'), 'v6_ip_ex'),
    jsetImm(R8, bit('ipv6'), 'v6_ip_plain'),
    ja('no_hash'),
    label('v6_ip_ex'),
    stDW(R10, S.report, reportValue('ipv6_ex')),
    copyExAddresses('ipex'),
    stDW(R10, S.len, 32),
    ja('hash'),
    label('v6_ip_plain'),
    stDW(R10, S.report, reportValue('ipv6')),
    copyPlainV6(),
    stDW(R10, S.len, 32),

    // --- hash and queue ------------------------------------------------------------------
    label('hash'),
    ldxDW(R8, R10, S.len),
    toeplitzAsm(S.input, KEY_OFF),
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

function isPowerOfTwo(n: number): boolean {
  return n > 0 && (n & (n - 1)) === 0
}

/**
 * The config map value for a validated configuration (see the layout at the top of this file).
 * `queues` is stored for holders of the map fd (0: unknown).
 */
export function encodeRssConfig(config: RssConfig, capacity: number, queues = 0): Buffer {
  const n = config.table.length
  if (!isPowerOfTwo(n) || n > capacity)
    throw new RangeError(`indirection table length ${n} is not a power of two up to ${capacity}`)
  if (config.key.length !== RSS_KEY_LENGTH)
    throw new RangeError(`RSS key must be ${RSS_KEY_LENGTH} bytes, got ${config.key.length}`)
  const b = Buffer.alloc(TABLE_OFF + capacity * 2)
  b.writeUInt32LE(hashTypesToMask(config.hashTypes), 0)
  b.writeUInt16LE(n - 1, 4)
  b.writeUInt16LE(config.defaultQueue, 6)
  b.writeUInt16LE(queues, QUEUES_OFF)
  b.set(config.key, KEY_OFF)
  config.table.forEach((q, i) => {
    b.writeUInt16LE(q, TABLE_OFF + i * 2)
  })
  return b
}

/** The configuration held in a config map value, and the queue count stored with it. */
export function decodeRssConfig(b: Uint8Array): RssConfig & { queues: number } {
  const buf = Buffer.from(b.buffer, b.byteOffset, b.length)
  const n = buf.readUInt16LE(4) + 1
  return {
    hashTypes: maskToHashTypes(buf.readUInt32LE(0)),
    key: Uint8Array.from(buf.subarray(KEY_OFF, KEY_OFF + RSS_KEY_LENGTH)),
    table: Array.from({ length: n }, (_, i) => buf.readUInt16LE(TABLE_OFF + i * 2)),
    defaultQueue: buf.readUInt16LE(6),
    queues: buf.readUInt16LE(QUEUES_OFF),
  }
}

/** A change to part of a configuration: the fields given replace the current ones. */
export type RssConfigChange = Partial<RssConfigInput>

/**
 * The RSS configuration map of a steering program. A process that was handed only this map's fd
 * (no capabilities needed) reconfigures RSS live with it. Every change is validated (zod, against
 * the map's table capacity and the device's queue count stored in the map) before the map is
 * written, and is one map update: a failed change leaves the previous configuration in force.
 * Owns the map fd.
 */
export class RssConfigMap implements Disposable {
  /** Largest indirection table the map holds. */
  readonly tableCapacity: number

  /** @internal Use `RssConfigMap.fromFd` or `RssSteering.create`. */
  constructor(readonly map: BpfMap) {
    this.tableCapacity = (map.valueSize - TABLE_OFF) / 2
  }

  /**
   * Takes ownership of a config map fd, e.g. one received with `receiveFds`. Throws BpfError
   * `closed` for an fd that is not open, `wrong-object` for a non-map, and TapError
   * `invalid-input` for a map that is not an RSS config map.
   */
  static fromFd(fd: number): RssConfigMap {
    if (!Number.isInteger(fd) || fd < 0 || !existsSync(`/proc/self/fdinfo/${fd}`))
      throw new BpfError({ kind: 'closed', operation: `adopt rss config map fd ${fd}` })
    return RssConfigMap.#adopt(BpfMap.fromFd(fd), 'adopt rss config map')
  }

  /**
   * Opens a config map pinned in bpffs (`pin`), e.g. by another process that set RSS on a
   * persistent tap and exited: the steering program stays attached to the device.
   */
  static fromPinned(path: string): RssConfigMap {
    return RssConfigMap.#adopt(BpfMap.fromPinned(path), `open rss config map ${path}`)
  }

  static #adopt(map: BpfMap, operation: string): RssConfigMap {
    const cap = (map.valueSize - TABLE_OFF) / 2
    if (
      map.keySize !== 4 ||
      map.maxEntries !== 1 ||
      !Number.isInteger(cap) ||
      !isPowerOfTwo(cap) ||
      cap > MAX_PROGRAM_TABLE_CAPACITY
    ) {
      map.close()
      throw new TapError({
        kind: 'invalid-input',
        operation,
        issues: [
          { path: 'fd', message: `not an RSS config map (key ${map.keySize}, value ${map.valueSize})` },
        ],
      })
    }
    return new RssConfigMap(map)
  }

  /** Pins the map in bpffs so that later processes can open it by path (`fromPinned`). */
  pin(path: string): void {
    this.map.pin(path)
  }

  get fd(): number {
    return this.map.fd
  }

  /** The device's queue count stored with the configuration (undefined when unknown). */
  get queues(): number | undefined {
    const q = this.#value().readUInt16LE(QUEUES_OFF)
    return q === 0 ? undefined : q
  }

  /** The limits a configuration must meet to be applied through this map. */
  limits(queues = this.queues): RssLimits {
    return { maxTableLength: this.tableCapacity, ...(queues === undefined ? {} : { queues }) }
  }

  /** Validates `input` (throws RssConfigError) without changing anything. */
  validate(input: unknown, queues = this.queues): RssConfig {
    return parseRssConfig(input, this.limits(queues))
  }

  /** Replaces the whole configuration (validated first); returns it normalized. */
  apply(input: RssConfigInput, queues = this.queues): RssConfig {
    const config = this.validate(input, queues)
    this.#write(config, queues)
    return config
  }

  /** Changes part of the configuration (e.g. only the table, or only the key). */
  update(change: RssConfigChange): RssConfig {
    const current = this.read()
    return this.apply({ ...current, ...change } as RssConfigInput)
  }

  /** The configuration now in force. */
  read(): RssConfig {
    const { queues: _, ...config } = decodeRssConfig(this.#value())
    return config
  }

  /** Closes the fds this object owns. */
  close(): void {
    this.map.close()
  }

  /** Closes the fds this object owns (`using`). */
  [Symbol.dispose](): void {
    this.close()
  }

  /** @internal Writes an already validated configuration. */
  write(config: RssConfig, queues: number | undefined): void {
    this.#write(config, queues)
  }

  #write(config: RssConfig, queues: number | undefined): void {
    this.map.update(BpfMap.u32(0), encodeRssConfig(config, this.tableCapacity, queues ?? 0))
  }

  #value(): Buffer {
    const v = this.map.lookup(BpfMap.u32(0))
    if (!v) throw new BpfError({ kind: 'not-found', operation: 'read rss config', what: 'entry 0' })
    return v
  }
}

/** What the program computed for the last frame (only with `record`). */
export interface RssLastResult {
  readonly hash: number
  readonly report: HashReport
  readonly queue: number
  /** Frames seen since the program was loaded. */
  readonly packets: number
}

const optionsSchema = z.strictObject({
  layer: z.enum(['l2', 'l3']).default('l2'),
  tableCapacity: z
    .number()
    .int()
    .min(1)
    .max(MAX_PROGRAM_TABLE_CAPACITY)
    .refine(isPowerOfTwo, 'must be a power of two')
    .default(DEFAULT_MAX_TABLE_LENGTH),
  record: z.boolean().default(false),
  queues: z.number().int().min(1).max(0xffff).optional(),
})

/** Options of `RssSteering.create`. */
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
  /** The device's queue count: table entries and the default queue must be below it. */
  queues?: number
}

/**
 * The RSS steering program with its maps. Attach it with `tap.setSteeringProgram(rss)` (or let
 * `tap.rss.apply` do it); change the configuration live with `apply()`/`update()`. Owns the
 * program and the maps (the device keeps its own reference to the program once attached).
 */
export class RssSteering implements Disposable {
  private constructor(
    readonly program: BpfProgram,
    /** The configuration map: a holder of its fd (even unprivileged) can reconfigure RSS. */
    readonly config: RssConfigMap,
    readonly lastMap: BpfMap | undefined,
    readonly tableCapacity: number,
  ) {}

  /**
   * Creates the maps and loads the program. `initial` is validated (RssConfigError) before
   * anything is created; without it every frame goes to queue 0 until `apply`.
   * A verifier rejection throws BpfVerifierError with the verifier's log.
   */
  static create(options: RssSteeringOptions = {}, initial?: RssConfigInput): RssSteering {
    const o = parseTapInput(optionsSchema, options, 'rss steering')
    const limits: RssLimits = { maxTableLength: o.tableCapacity, ...(o.queues ? { queues: o.queues } : {}) }
    const first = initial === undefined ? undefined : parseRssConfig(initial, limits)
    const map = BpfMap.create({
      type: 'array',
      keySize: 4,
      valueSize: TABLE_OFF + o.tableCapacity * 2,
      maxEntries: 1,
      name: 'rss_config',
      flags: ['rdonlyProg'],
    })
    const config = new RssConfigMap(map)
    let last: BpfMap | undefined
    try {
      // without a configuration: no hash types, everything to queue 0 (and the queue count kept)
      config.write(
        first ?? { hashTypes: [], key: new Uint8Array(RSS_KEY_LENGTH), table: [0], defaultQueue: 0 },
        o.queues,
      )
      if (o.record)
        last = BpfMap.create({ type: 'array', keySize: 4, valueSize: 16, maxEntries: 1, name: 'rss_last' })
      const program = BpfProgram.load({
        type: 'socket-filter',
        name: 'rxnl_rss',
        insns: rssProgramInsns(map, { layer: o.layer, tableCapacity: o.tableCapacity, record: last }),
      })
      return new RssSteering(program, config, last, o.tableCapacity)
    } catch (e) {
      map.close()
      last?.close()
      throw e
    }
  }

  /**
   * Replaces the whole configuration with one map update; frames in flight see old or new.
   * Validated first against the table capacity and the queue count stored in the map.
   */
  apply(input: RssConfigInput): RssConfig {
    return this.config.apply(input)
  }

  /** Changes part of the configuration (the table, the key, ...), with one map update. */
  update(change: RssConfigChange): RssConfig {
    return this.apply({ ...this.read(), ...change } as RssConfigInput)
  }

  /** The configuration now in the map. */
  read(): RssConfig {
    return this.config.read()
  }

  /** The last frame's result (only with `record`). */
  last(): RssLastResult | undefined {
    const v = this.lastMap?.lookup(BpfMap.u32(0))
    if (!v) return undefined
    return {
      hash: v.readUInt32LE(0),
      report: hashReportName(v.readUInt32LE(4)) ?? 'none',
      queue: v.readUInt32LE(8),
      packets: v.readUInt32LE(12),
    }
  }

  /** The program's fd (what TUNSETSTEERINGEBPF takes). */
  get fd(): number {
    return this.program.fd
  }

  /** Closes the fds this object owns. */
  close(): void {
    this.program.close()
    this.config.close()
    this.lastMap?.close()
  }

  /** Closes the fds this object owns (`using`). */
  [Symbol.dispose](): void {
    this.close()
  }
}

/** Every hash type the program computes (all nine). */
export const PROGRAM_HASH_TYPES: readonly HashType[] = HASH_TYPES
