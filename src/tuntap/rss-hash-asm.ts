// virtio-net RSS in the generated eBPF programs, over a parsed FRAME (frame-parser-asm.ts): the
// hash type selection of rss-hash.ts (`selectHashType`, either rule set), the hash input
// (`writeHashInput`), the Toeplitz hash and the indirection table's queue. The tap RSS program
// runs it with QEMU's rules on its one configuration, the flow-steering program with the spec's
// rules on the RSS context a frame's rule picked.
import {
  type AsmItem,
  add64Reg,
  and64Imm,
  and64Reg,
  ja,
  jeqImm,
  jneImm,
  jsetImm,
  label,
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
  R5,
  R7,
  R8,
  R9,
  R10,
  type Reg,
  stDW,
  stxDW,
  stxW,
} from '../bpf/asm.ts'
import { copy16, stackSlots, toeplitzAsm } from '../bpf/skb-asm.ts'
import { IPPROTO } from './frame-parser.ts'
import { ABSENT, FRAME, FRAME_PARSER_BOTTOM } from './frame-parser-asm.ts'
import type { RssRules } from './rss-hash.ts'
import { HASH_REPORT_VALUE, HASH_TYPE_BIT, HASH_TYPES, type HashType } from './rss-hash-types.ts'

/** Offsets of the RSS settings in the configuration record R7 points at. */
export interface RssSettingsLayout {
  /** u32: bit n = hash type n (HASH_TYPE_BIT). */
  readonly hashTypes: number
  /** u16: the table's length - 1. */
  readonly tableMask: number
  /** u16: the queue of frames without a hash. */
  readonly defaultQueue: number
  /** The 40-byte Toeplitz key, followed by 8 zero bytes (read 8 at a time from any position). */
  readonly key: number
  /** u16 queue numbers. */
  readonly table: number
  /** Entries the table has room for (a power of two): bounds the index for the verifier. */
  readonly tableCapacity: number
}

/** Where a FRAME record is: `reg + at` (the stack, or a copy in a map value). */
export interface FrameRef {
  readonly reg: Reg
  readonly at: number
}

/** Stack slots, below the parser's. */
const S = stackSlots(FRAME_PARSER_BOTTOM, {
  input: 40, // the hash input: 8, 12, 32 or 36 bytes
  len: 8,
  report: 8, // VIRTIO_NET_HASH_REPORT_*
  hash: 8,
  queue: 8,
})

/** The outcome's stack slots (u64 each): hash report value, hash (0 without one) and queue. */
export const RSS_RESULT = { report: S.report, hash: S.hash, queue: S.queue } as const
/** The first stack offset below the RSS slots: where a program's own slots start. */
export const RSS_BOTTOM = S.bottom

const bit = (t: HashType): number => 1 << HASH_TYPE_BIT[t]

/** The addresses a hash type covers: IPv4, IPv6, or IPv6 with the _EX substitutions. */
type AddressKind = 'v4' | 'v6' | 'v6ex'
const ADDRESS_KINDS: readonly AddressKind[] = ['v4', 'v6ex', 'v6']
const addressKind = (t: HashType): AddressKind =>
  t.endsWith('_ex') ? 'v6ex' : t.endsWith('v4') ? 'v4' : 'v6'
/** Bytes of addresses in the hash input; the ports, when hashed, follow them. */
const ADDRESS_BYTES: Readonly<Record<AddressKind, number>> = { v4: 8, v6: 32, v6ex: 32 }

/** The chosen type's report and input length; then its addresses. */
function chosen(type: HashType): AsmItem[] {
  const ports = type !== 'ipv4' && type !== 'ipv6' && type !== 'ipv6_ex'
  const kind = addressKind(type)
  return [
    label(`rss_${type}`),
    stDW(R10, S.report, HASH_REPORT_VALUE[type]),
    stDW(R10, S.len, ADDRESS_BYTES[kind] + (ports ? 4 : 0)),
    ja(`rss_in_${kind}`),
  ]
}

/** Fills the hash input: the addresses of `kind`, then the ports when the length has room. */
function hashInput(kind: AddressKind, f: FrameRef): AsmItem[] {
  const at = (field: keyof typeof FRAME) => f.at + FRAME[field]
  // the _EX types hash the Home Address / type 2 routing address instead, when the frame has it
  const v6Address = (flag: 'srcEx' | 'dstEx', exAddr: number, plain: number, to: number): AsmItem[] =>
    kind === 'v6ex'
      ? [
          ldxDW(R2, f.reg, at(flag)),
          jeqImm(R2, 0, `rss_${flag}_plain`),
          copy16(f.reg, exAddr, to),
          ja(`rss_${flag}_done`),
          label(`rss_${flag}_plain`),
          copy16(f.reg, plain, to),
          label(`rss_${flag}_done`),
        ]
      : copy16(f.reg, plain, to)
  const alen = ADDRESS_BYTES[kind]
  return [
    label(`rss_in_${kind}`),
    kind === 'v4'
      ? [
          ldxW(R2, f.reg, at('src')),
          stxW(R10, S.input, R2),
          ldxW(R2, f.reg, at('dst')),
          stxW(R10, S.input + 4, R2),
        ]
      : [
          v6Address('srcEx', at('srcExAddr'), at('src'), S.input),
          v6Address('dstEx', at('dstExAddr'), at('dst'), S.input + 16),
        ],
    ldxDW(R2, R10, S.len),
    jeqImm(R2, alen, 'rss_hash'),
    ldxW(R2, f.reg, at('ports')),
    stxW(R10, S.input + alen, R2),
  ]
}

/**
 * The first enabled type (R5) of each list that applies: `tcp` for TCP ports (R8 = 6), `udp`
 * for UDP ports (R8 = 17), then `ip`; falls through when none does.
 */
function firstEnabled(tag: string, tcp: HashType[], udp: HashType[], ip: HashType[]): AsmItem[] {
  const any = (types: HashType[]) => types.map((t) => jsetImm(R5, bit(t), `rss_${t}`))
  return [
    jneImm(R8, IPPROTO.TCP, `${tag}_udp`),
    any(tcp),
    label(`${tag}_udp`),
    jneImm(R8, IPPROTO.UDP, `${tag}_ip`),
    any(udp),
    label(`${tag}_ip`),
    any(ip),
  ]
}

/** selectHashType: jumps to the chosen type's input, or to 'rss_no_hash'. */
function selectHashType(rules: RssRules, f: FrameRef): AsmItem[] {
  const ipv6 =
    rules === 'qemu'
      ? firstEnabled('rss_v6', ['tcpv6_ex', 'tcpv6'], ['udpv6_ex', 'udpv6'], ['ipv6_ex', 'ipv6'])
      : [
          // the _EX types first, and only for packets with extension headers
          ldxDW(R2, f.reg, f.at + FRAME.ext),
          jeqImm(R2, 0, 'rss_v6_plain'),
          firstEnabled('rss_v6ex', ['tcpv6_ex'], ['udpv6_ex'], ['ipv6_ex']),
          label('rss_v6_plain'),
          firstEnabled('rss_v6', ['tcpv6'], ['udpv6'], ['ipv6']),
        ]
  return [
    // R8: the protocol when the frame has TCP or UDP ports, else 0
    mov64Imm(R8, 0),
    ldxDW(R2, f.reg, f.at + FRAME.sport),
    jeqImm(R2, ABSENT, 'rss_l4_known'),
    ldxDW(R2, f.reg, f.at + FRAME.proto),
    jeqImm(R2, IPPROTO.TCP, 'rss_l4'),
    jeqImm(R2, IPPROTO.UDP, 'rss_l4'),
    ja('rss_l4_known'),
    label('rss_l4'),
    mov64Reg(R8, R2),
    label('rss_l4_known'),
    ldxDW(R2, f.reg, f.at + FRAME.net),
    jeqImm(R2, 4, 'rss_v4'),
    jeqImm(R2, 6, 'rss_v6'),
    ja('rss_no_hash'),
    label('rss_v4'),
    firstEnabled('rss_v4', ['tcpv4'], ['udpv4'], ['ipv4']),
    ja('rss_no_hash'),
    label('rss_v6'),
    ipv6,
    ja('rss_no_hash'),
  ]
}

/**
 * RSS for the frame at `frame` under the settings R7 points at (`settings`): leaves the report,
 * hash and queue in RSS_RESULT and falls through. Clobbers R0-R5, R8, R9.
 */
export function rssQueueAsm(rules: RssRules, frame: FrameRef, settings: RssSettingsLayout): AsmItem[] {
  return [
    ldxW(R5, R7, settings.hashTypes),
    selectHashType(rules, frame),
    HASH_TYPES.map(chosen),
    ADDRESS_KINDS.map((k, i) => [hashInput(k, frame), i < ADDRESS_KINDS.length - 1 ? ja('rss_hash') : []]),

    label('rss_hash'),
    ldxDW(R8, R10, S.len),
    toeplitzAsm(S.input, settings.key),
    stxDW(R10, S.hash, R9),
    ldxH(R2, R7, settings.tableMask),
    mov64Reg(R3, R9),
    and64Reg(R3, R2),
    and64Imm(R3, settings.tableCapacity - 1),
    lsh64Imm(R3, 1),
    mov64Reg(R4, R7),
    add64Reg(R4, R3),
    ldxH(R0, R4, settings.table),
    stxDW(R10, S.queue, R0),
    ja('rss_done'),

    label('rss_no_hash'),
    stDW(R10, S.report, HASH_REPORT_VALUE.none),
    stDW(R10, S.hash, 0),
    ldxH(R0, R7, settings.defaultQueue),
    stxDW(R10, S.queue, R0),
    label('rss_done'),
  ]
}
