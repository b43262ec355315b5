import { z } from 'zod'
import { parsePrefix } from '../../../util/ip.ts'
import { attr, attrSet, pad, type SetValue, struct, structArray } from '../../codec/index.ts'
import { formatIp } from '../link-model.ts'
import {
  type Action,
  type ActionAttrs,
  type ActionSpec,
  actionList,
  actionRefs,
  actionSpecSchema,
  encodeAction,
  programName,
  toActions,
} from './action-kinds.ts'
import { bpfProgramSchema, type EncodeContext, type Refs } from './context.ts'
import { formatClassid, formatU32Handle, parseClassid, parseU32Handle } from './handles.ts'
import { tcaAttrs } from './tcmsg.ts'

// ---- declarations -----------------------------------------------------------------------------

/** struct tc_u32_key: value and mask in network order, at `off` (+ the next header when offmask). */
export const tcU32Key = struct('tc_u32_key', { mask: 'be32', val: 'be32', off: 's32', offmask: 's32' })
/** struct tc_u32_sel, before its keys. */
export const tcU32SelHeader = struct('tc_u32_sel', {
  flags: 'u8',
  offshift: 'u8',
  nkeys: 'u8',
  _pad: pad(1),
  offmask: 'be16',
  off: 'u16',
  offoff: 's16',
  hoff: 's16',
  hmask: 'be32',
})
/** tc_u32_sel followed by nkeys tc_u32_key. */
export const u32Selector = structArray(tcU32SelHeader, 'nkeys', 'keys', tcU32Key)
export const tcU32Mark = struct('tc_u32_mark', { val: 'u32', mask: 'u32', success: 'u32' })

export const TC_U32_TERMINAL = 1

/** TCA_U32_*, in the order tc sends them. */
export const u32Attrs = attrSet('u32', {
  classid: attr.u32(1),
  divisor: attr.u32(4),
  link: attr.u32(3),
  act: actionList(7),
  hash: attr.u32(2),
  sel: attr.nest(5, () => u32Selector),
  flags: attr.u32(11),
  police: attr.binary(6),
  indev: attr.string(8),
  pcnt: attr.binary(9),
  mark: attr.struct(10, tcU32Mark),
  pad: attr.binary(12),
})

/** TCA_BPF_* */
export const bpfFilterAttrs = attrSet('bpf', {
  classid: attr.u32(3),
  act: actionList(1),
  fd: attr.u32(6),
  name: attr.string(7),
  flagsGen: attr.u32(9),
  flags: attr.u32(8),
  police: attr.binary(2),
  opsLen: attr.u16(4),
  ops: attr.binary(5),
  tag: attr.binary(10),
  id: attr.u32(11),
})
export const TCA_BPF_FLAG_ACT_DIRECT = 1

/** TCA_MATCHALL_* */
export const matchallAttrs = attrSet('matchall', {
  classid: attr.u32(1),
  act: actionList(2),
  flags: attr.u32(3),
  pcnt: attr.struct(4, struct('tc_matchall_pcnt', { rhit: 'u64' })),
  pad: attr.binary(5),
})

/** TCA_FLOWER_* (the keys rxnetlink models; others are kept raw), in the order tc sends them. */
export const flowerAttrs = attrSet('flower', {
  classid: attr.u32(1),
  indev: attr.string(2),
  ethDst: attr.mac(4),
  ethDstMask: attr.mac(5),
  ethSrc: attr.mac(6),
  ethSrcMask: attr.mac(7),
  vlanId: attr.u16(23),
  vlanPrio: attr.u8(24),
  vlanEthType: attr.be16(25),
  ipProto: attr.u8(9),
  ipv4Dst: attr.binary(12),
  ipv4DstMask: attr.binary(13),
  ipv4Src: attr.binary(10),
  ipv4SrcMask: attr.binary(11),
  ipv6Dst: attr.binary(16),
  ipv6DstMask: attr.binary(17),
  ipv6Src: attr.binary(14),
  ipv6SrcMask: attr.binary(15),
  tcpDst: attr.be16(19),
  tcpSrc: attr.be16(18),
  udpDst: attr.be16(21),
  udpSrc: attr.be16(20),
  sctpDst: attr.be16(42),
  sctpSrc: attr.be16(41),
  tcpSrcMask: attr.be16(35),
  tcpDstMask: attr.be16(36),
  udpSrcMask: attr.be16(37),
  udpDstMask: attr.be16(38),
  sctpSrcMask: attr.be16(39),
  sctpDstMask: attr.be16(40),
  act: actionList(3),
  flags: attr.u32(22),
  keyFlags: attr.be32(47),
  keyFlagsMask: attr.be32(48),
  ethType: attr.be16(8),
  ipTos: attr.u8(73),
  ipTosMask: attr.u8(74),
  ipTtl: attr.u8(75),
  ipTtlMask: attr.u8(76),
  inHwCount: attr.u32(86),
})

/** TCA_* of filter messages, with TCA_OPTIONS read per classifier kind. */
export const filterAttrs = tcaAttrs(
  'filter',
  {
    u32: () => u32Attrs,
    bpf: () => bpfFilterAttrs,
    matchall: () => matchallAttrs,
    flower: () => flowerAttrs,
  },
  {},
)
export type FilterAttrs = SetValue<typeof filterAttrs>

/** TCA_CLS_FLAGS_* */
export const CLS_FLAGS = { skip_hw: 1, skip_sw: 2, in_hw: 4, not_in_hw: 8, verbose: 16 } as const
export type ClsFlag = keyof typeof CLS_FLAGS

// ---- input ------------------------------------------------------------------------------------

const port = z.number().int().min(0).max(0xffff)
const u32n = z.number().int().min(0).max(0xffffffff)
const classid = z
  .string()
  .refine((s) => parseClassid(s) !== undefined && s !== 'root', 'a classid such as "1:10"')
  .optional()
/**
 * Dotted-quad IPv4 with an optional /len as one number, address × 64 + length, or -1: bulk adds
 * parse thousands, so this scans characters and allocates nothing.
 */
function parseV4Packed(text: string): number {
  let address = 0
  let i = 0
  for (let part = 0; part < 4; part++) {
    if (part > 0) {
      if (text.charCodeAt(i) !== 0x2e) return -1
      i++
    }
    const first = i
    let n = 0
    for (let c = text.charCodeAt(i) - 48; c >= 0 && c <= 9 && i - first < 3; c = text.charCodeAt(++i) - 48)
      n = n * 10 + c
    const digits = i - first
    if (digits === 0 || n > 255 || (digits > 1 && text.charCodeAt(first) === 48)) return -1
    address = address * 256 + n
  }
  if (i === text.length) return address * 64 + 32
  if (text.charCodeAt(i) !== 0x2f) return -1
  const rest = text.length - i - 1
  if (rest < 1 || rest > 2) return -1
  let len = 0
  for (let j = i + 1; j < text.length; j++) {
    const c = text.charCodeAt(j) - 48
    if (c < 0 || c > 9) return -1
    len = len * 10 + c
  }
  return len > 32 ? -1 : address * 64 + len
}

const v4prefix = z
  .string()
  .refine((s) => parseV4Packed(s) >= 0, 'an IPv4 address or prefix, e.g. "10.0.0.0/8"')
const v6prefix = z
  .string()
  .refine((s) => parsePrefix(s)?.address.length === 16, 'an IPv6 address or prefix, e.g. "2001:db8::/32"')
const anyPrefix = z.string().refine((s) => parsePrefix(s) !== undefined, 'an IP address or prefix')
const IP_PROTOS = { icmp: 1, tcp: 6, udp: 17, icmpv6: 58, sctp: 132 } as const
const ipProto = z.union([z.enum(['tcp', 'udp', 'sctp', 'icmp', 'icmpv6']), z.number().int().min(0).max(255)])
const mac = z
  .string()
  .regex(/^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$/, 'a MAC address such as 02:00:00:00:00:01')

const u32KeySchema = z
  .object({
    /** The 32-bit word to compare, in host numbers (0x0a000001 for 10.0.0.1 at offset 12). */
    value: u32n,
    mask: u32n,
    /** Byte offset of the word; a multiple of 4. */
    offset: z
      .number()
      .int()
      .min(-0x80000000)
      .max(0x7fffffff)
      .refine((o) => o % 4 === 0, 'a u32 key offset must be a multiple of 4 (4-byte aligned)'),
    /** Relative to the next header (tc's `at nexthdr+N`). */
    nexthdr: z.boolean().optional(),
    offmask: z.number().int().min(-0x80000000).max(0x7fffffff).optional(),
  })
  .strict()

const u32Match = z
  .object({
    ip: z
      .object({
        src: v4prefix.optional(),
        dst: v4prefix.optional(),
        protocol: ipProto.optional(),
        tos: z.number().int().min(0).max(255).optional(),
        sport: port.optional(),
        dport: port.optional(),
      })
      .strict()
      .optional(),
    ip6: z
      .object({
        src: v6prefix.optional(),
        dst: v6prefix.optional(),
        protocol: ipProto.optional(),
        sport: port.optional(),
        dport: port.optional(),
      })
      .strict()
      .optional(),
    keys: z.array(u32KeySchema).max(128).optional(),
  })
  .strict()

const u32HandleSchema = z
  .string()
  .refine((s) => parseU32Handle(s) !== undefined, 'a u32 handle is HTID:HASH:NODE in hex, e.g. "800::800"')
const u32HtSchema = z
  .string()
  .refine((s) => parseU32Handle(s) !== undefined, 'a u32 hash table such as "800:" or "1:"')

const filterCommon = {
  dev: z.union([z.string().min(1).max(15), z.number().int().positive()]),
  /** `ingress`, `egress` (clsact), or a qdisc/class handle such as `1:`. */
  parent: z.string().min(1),
  /** The priority (tc's pref). Lower runs first; the kernel picks one when absent. */
  pref: z.number().int().min(1).max(0xffff).optional(),
  /** EtherType to match: 'ip', 'ipv6', 'all' (default), '802.1q', or a number. */
  protocol: z.union([z.string(), z.number().int().min(0).max(0xffff)]).optional(),
  chain: z.number().int().min(0).max(0xffffffff).optional(),
  actions: z.array(actionSpecSchema).max(32).optional(),
}
const genericHandle = z.union([
  u32n,
  z.string().regex(/^(0x[0-9a-fA-F]{1,8}|\d+)$/, 'a filter handle number'),
])
const skip = { skipSw: z.boolean().optional(), skipHw: z.boolean().optional() }

export const filterSpecSchema = z.discriminatedUnion('kind', [
  z
    .object({
      ...filterCommon,
      kind: z.literal('u32'),
      handle: u32HandleSchema.optional(),
      classid,
      /** Insert into this hash table (tc's `ht`). */
      ht: u32HtSchema.optional(),
      /** Create a hash table with this many buckets (tc's `divisor`). */
      divisor: z.number().int().min(1).max(256).optional(),
      /** Continue matching in this hash table (tc's `link`). */
      link: u32HtSchema.optional(),
      /** Which bits pick the bucket in the linked table (tc's `hashkey mask M at OFF`). */
      hashkey: z
        .object({ mask: u32n, at: z.number().int().min(-0x8000).max(0x7fff) })
        .strict()
        .optional(),
      match: u32Match.optional(),
      ...skip,
    })
    .strict(),
  z
    .object({
      ...filterCommon,
      kind: z.literal('bpf'),
      handle: genericHandle.optional(),
      program: bpfProgramSchema,
      name: z.string().min(1).max(255).optional(),
      /** The program's return value is the tc verdict (tc's `da`). */
      directAction: z.boolean().optional(),
      classid,
      ...skip,
    })
    .strict(),
  z
    .object({
      ...filterCommon,
      kind: z.literal('matchall'),
      handle: genericHandle.optional(),
      classid,
      ...skip,
    })
    .strict(),
  z
    .object({
      ...filterCommon,
      kind: z.literal('flower'),
      handle: genericHandle.optional(),
      classid,
      indev: z.string().min(1).max(15).optional(),
      dstMac: mac.optional(),
      srcMac: mac.optional(),
      vlanId: z.number().int().min(0).max(4095).optional(),
      vlanPrio: z.number().int().min(0).max(7).optional(),
      /** The EtherType inside the VLAN tag (protocol must be 802.1q/802.1ad). */
      vlanEthType: z.union([z.string(), z.number().int().min(0).max(0xffff)]).optional(),
      ipProto: ipProto.optional(),
      dstIp: anyPrefix.optional(),
      srcIp: anyPrefix.optional(),
      dstPort: port.optional(),
      srcPort: port.optional(),
      /** `false`: only non-fragments (tc's `ip_flags nofrag`); `true`: only fragments. */
      fragment: z.boolean().optional(),
      /** Port masks (tc's `dst_port 4096/0xf000`); default: exact match. */
      dstPortMask: port.optional(),
      srcPortMask: port.optional(),
      ...skip,
    })
    .strict()
    .refine((s) => s.dstPortMask === undefined || s.dstPort !== undefined, {
      message: 'dstPortMask needs dstPort',
      path: ['dstPortMask'],
    })
    .refine((s) => s.srcPortMask === undefined || s.srcPort !== undefined, {
      message: 'srcPortMask needs srcPort',
      path: ['srcPortMask'],
    }),
])
/** A filter to add, replace or change (`tc filter add`): device, parent, pref, protocol, kind, match and actions. */
export type FilterSpec = z.input<typeof filterSpecSchema>
export type FilterSpecParsed = z.output<typeof filterSpecSchema>
export type { ActionSpec }

export class MatchError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message)
  }
}

// ---- u32 keys, packed as tc packs them -------------------------------------------------------

/** One tc_u32_key as the kernel takes it: a 32-bit value and mask at an offset. */
export type U32WireKey = { val: number; mask: number; off: number; offmask: number }
type Key = U32WireKey

function packKey(keys: Key[], val: number, mask: number, off: number, offmask: number, field: string): void {
  const v = (val & mask) >>> 0
  for (const k of keys) {
    if (k.off === off && k.offmask === offmask) {
      const both = (mask & k.mask) >>> 0
      if (((v ^ k.val) & both) >>> 0)
        throw new MatchError(field, `conflicts with another match on the same bits at offset ${off}`)
      k.val = (k.val | v) >>> 0
      k.mask = (k.mask | mask) >>> 0
      return
    }
  }
  if (keys.length >= 128) throw new MatchError(field, 'a u32 selector holds at most 128 keys')
  if (off % 4) throw new MatchError(field, `offset ${off} is not 4-byte aligned`)
  keys.push({ val: v, mask: mask >>> 0, off, offmask })
}

function packKey16(keys: Key[], val: number, mask: number, off: number, field: string): void {
  const shift = (off & 3) === 0 ? 16 : 0
  packKey(keys, (val << shift) >>> 0, (mask << shift) >>> 0, off & ~3, 0, field)
}

function packKey8(keys: Key[], val: number, mask: number, off: number, field: string): void {
  const shift = [24, 16, 8, 0][off & 3] as number
  packKey(keys, (val << shift) >>> 0, (mask << shift) >>> 0, off & ~3, 0, field)
}

/** The mask of a prefix's first `bits` bits within one 32-bit word. */
const wordMask = (bits: number) =>
  bits >= 32 ? 0xffffffff : bits > 0 ? (0xffffffff << (32 - bits)) >>> 0 : 0

/** IPv4 takes the allocation-free path bulk adds need; IPv6 packs a key per 32 prefix bits. */
function packAddress(keys: Key[], prefix: string, off: number, field: string): void {
  const v4 = parseV4Packed(prefix)
  if (v4 >= 0) {
    packKey(keys, Math.floor(v4 / 64), wordMask(v4 % 64), off, 0, field)
    return
  }
  const p = parsePrefix(prefix)
  if (!p) throw new MatchError(field, 'not an address')
  const b = Buffer.from(p.address)
  for (let i = 0; i < p.prefixLength; i += 32)
    packKey(keys, b.readUInt32BE(i / 8), wordMask(p.prefixLength - i), off + i / 8, 0, field)
}

const protoNumber = (p: z.output<typeof ipProto>): number => (typeof p === 'number' ? p : IP_PROTOS[p])

/** The keys of a u32 selector, in the order tc would pack them for the same matches. */
export function u32Keys(m: z.output<typeof u32Match> | undefined): Key[] {
  const keys: Key[] = []
  if (!m) return keys
  if (m.ip) {
    const ip = m.ip
    if (ip.src) packAddress(keys, ip.src, 12, 'match.ip.src')
    if (ip.dst) packAddress(keys, ip.dst, 16, 'match.ip.dst')
    if (ip.protocol !== undefined) packKey8(keys, protoNumber(ip.protocol), 0xff, 9, 'match.ip.protocol')
    if (ip.tos !== undefined) packKey8(keys, ip.tos, 0xff, 1, 'match.ip.tos')
    if (ip.sport !== undefined) packKey16(keys, ip.sport, 0xffff, 20, 'match.ip.sport')
    if (ip.dport !== undefined) packKey16(keys, ip.dport, 0xffff, 22, 'match.ip.dport')
  }
  if (m.ip6) {
    const ip = m.ip6
    if (ip.src) packAddress(keys, ip.src, 8, 'match.ip6.src')
    if (ip.dst) packAddress(keys, ip.dst, 24, 'match.ip6.dst')
    if (ip.protocol !== undefined) packKey8(keys, protoNumber(ip.protocol), 0xff, 6, 'match.ip6.protocol')
    if (ip.sport !== undefined) packKey16(keys, ip.sport, 0xffff, 40, 'match.ip6.sport')
    if (ip.dport !== undefined) packKey16(keys, ip.dport, 0xffff, 42, 'match.ip6.dport')
  }
  m.keys?.forEach((k, i) => {
    packKey(keys, k.value, k.mask, k.offset, k.offmask ?? (k.nexthdr ? -1 : 0), `match.keys[${i}]`)
  })
  return keys
}

// ---- encoding ---------------------------------------------------------------------------------

/**
 * Checks what zod cannot see (conflicting u32 keys, ports without a protocol): throws MatchError.
 * Returns a u32 filter's keys, for encodeFilterOptions not to work them out again.
 */
export function checkFilterSpec(s: FilterSpecParsed): U32WireKey[] | undefined {
  if (s.kind === 'u32') return u32Keys(s.match)
  if (s.kind === 'flower' && (s.dstPort !== undefined || s.srcPort !== undefined)) {
    const p = s.ipProto === undefined ? undefined : protoNumber(s.ipProto)
    if (p !== 6 && p !== 17 && p !== 132)
      throw new MatchError('ipProto', 'ports need ipProto tcp, udp or sctp')
  }
  return undefined
}

export function filterRefs(s: FilterSpecParsed, refs: Refs): void {
  actionRefs(s.actions, refs)
  if (s.kind === 'bpf') refs.programs.push(s.program)
}

function clsFlags(s: { skipSw?: boolean | undefined; skipHw?: boolean | undefined }): number {
  return (s.skipHw ? CLS_FLAGS.skip_hw : 0) | (s.skipSw ? CLS_FLAGS.skip_sw : 0)
}

function acts(s: FilterSpecParsed, ctx: EncodeContext): ActionAttrs[] | undefined {
  return s.actions?.length ? s.actions.map((a) => encodeAction(a, ctx)) : undefined
}

/** The filter handle in the tcmsg header. */
export function filterHandle(s: FilterSpecParsed): number {
  if (s.handle === undefined) return 0
  if (s.kind === 'u32') return parseU32Handle(s.handle as string) as number
  return typeof s.handle === 'number' ? s.handle : Number(s.handle)
}

function prefixMask(len: number, bytes: number): Uint8Array {
  const out = new Uint8Array(bytes)
  for (let i = 0; i < bytes; i++) {
    const bits = Math.max(0, Math.min(8, len - i * 8))
    out[i] = (0xff << (8 - bits)) & 0xff
  }
  return out
}

/**
 * The TCA_OPTIONS value tc would send for a classifier. `ethType` is the filter's protocol; `keys`
 * a u32 filter's keys as checkFilterSpec returned them (worked out here otherwise).
 */
export function encodeFilterOptions(
  s: FilterSpecParsed,
  ethType: number,
  ctx: EncodeContext,
  keys?: U32WireKey[],
): unknown {
  const classidValue = s.classid !== undefined ? (parseClassid(s.classid) as number) : undefined
  switch (s.kind) {
    case 'u32': {
      const o: SetValue<typeof u32Attrs> = {}
      if (classidValue !== undefined) o.classid = classidValue
      if (s.divisor !== undefined) o.divisor = s.divisor
      if (s.link !== undefined) o.link = parseU32Handle(s.link) as number
      const a = acts(s, ctx)
      if (a) o.act = a
      if (s.ht !== undefined) o.hash = parseU32Handle(s.ht) as number
      const u32 = keys ?? u32Keys(s.match)
      if (u32.length || s.hashkey || s.match || classidValue !== undefined || a) {
        if (s.divisor === undefined)
          o.sel = {
            flags: classidValue !== undefined || a ? TC_U32_TERMINAL : 0,
            offshift: 0,
            nkeys: u32.length,
            offmask: 0,
            off: 0,
            offoff: 0,
            hoff: s.hashkey?.at ?? 0,
            hmask: s.hashkey?.mask ?? 0,
            keys: u32,
          }
      }
      const f = clsFlags(s)
      if (f) o.flags = f
      return o
    }
    case 'bpf': {
      const o: SetValue<typeof bpfFilterAttrs> = {}
      if (classidValue !== undefined) o.classid = classidValue
      const a = acts(s, ctx)
      if (a) o.act = a
      o.fd = ctx.programFd(s.program)
      const name = s.name ?? programName(s.program)
      if (name) o.name = name
      const f = clsFlags(s)
      if (f) o.flagsGen = f
      if (s.directAction) o.flags = TCA_BPF_FLAG_ACT_DIRECT
      return o
    }
    case 'matchall': {
      const o: SetValue<typeof matchallAttrs> = {}
      if (classidValue !== undefined) o.classid = classidValue
      const a = acts(s, ctx)
      if (a) o.act = a
      const f = clsFlags(s)
      if (f) o.flags = f
      return o
    }
    case 'flower': {
      const o: SetValue<typeof flowerAttrs> = {}
      if (classidValue !== undefined) o.classid = classidValue
      if (s.indev) o.indev = s.indev
      if (s.dstMac) {
        o.ethDst = s.dstMac.toLowerCase()
        o.ethDstMask = 'ff:ff:ff:ff:ff:ff'
      }
      if (s.srcMac) {
        o.ethSrc = s.srcMac.toLowerCase()
        o.ethSrcMask = 'ff:ff:ff:ff:ff:ff'
      }
      if (s.vlanId !== undefined) o.vlanId = s.vlanId
      if (s.vlanPrio !== undefined) o.vlanPrio = s.vlanPrio
      if (s.vlanEthType !== undefined) o.vlanEthType = ctxProtocol(s.vlanEthType)
      const proto = s.ipProto === undefined ? undefined : protoNumber(s.ipProto)
      if (proto !== undefined) o.ipProto = proto
      const addr = (text: string, field: string) => {
        const p = parsePrefix(text)
        if (!p) throw new MatchError(field, 'not an address')
        return { address: p.address, mask: prefixMask(p.prefixLength, p.address.length) }
      }
      if (s.dstIp) {
        const a = addr(s.dstIp, 'dstIp')
        if (a.address.length === 4) [o.ipv4Dst, o.ipv4DstMask] = [a.address, a.mask]
        else [o.ipv6Dst, o.ipv6DstMask] = [a.address, a.mask]
      }
      if (s.srcIp) {
        const a = addr(s.srcIp, 'srcIp')
        if (a.address.length === 4) [o.ipv4Src, o.ipv4SrcMask] = [a.address, a.mask]
        else [o.ipv6Src, o.ipv6SrcMask] = [a.address, a.mask]
      }
      if (s.dstPort !== undefined || s.srcPort !== undefined) {
        const l4 = proto === 6 ? 'tcp' : proto === 17 ? 'udp' : proto === 132 ? 'sctp' : undefined
        if (!l4) throw new MatchError('ipProto', 'ports need ipProto tcp, udp or sctp')
        if (s.dstPort !== undefined) o[`${l4}Dst`] = s.dstPort
        if (s.srcPort !== undefined) o[`${l4}Src`] = s.srcPort
        if (s.srcPortMask !== undefined) o[`${l4}SrcMask`] = s.srcPortMask
        if (s.dstPortMask !== undefined) o[`${l4}DstMask`] = s.dstPortMask
      }
      const a = acts(s, ctx)
      if (a) o.act = a
      o.flags = clsFlags(s)
      if (s.fragment !== undefined) {
        o.keyFlags = s.fragment ? 1 : 0 // TCA_FLOWER_KEY_FLAGS_IS_FRAGMENT
        o.keyFlagsMask = 1
      }
      if (ethType !== 0x0003) o.ethType = ethType
      return o
    }
  }
}

function ctxProtocol(p: string | number): number {
  const named: Record<string, number> = {
    ip: 0x0800,
    ipv6: 0x86dd,
    arp: 0x0806,
    '802.1q': 0x8100,
    '802.1ad': 0x88a8,
  }
  if (typeof p === 'number') return p
  const v = named[p.toLowerCase()] ?? (p.startsWith('0x') ? Number.parseInt(p, 16) : Number(p))
  if (!Number.isInteger(v) || v < 0 || v > 0xffff)
    throw new MatchError('vlanEthType', `unknown EtherType ${p}`)
  return v
}

// ---- output -----------------------------------------------------------------------------------

export interface U32Key {
  /** The 32-bit word compared, as a host number (tc prints it in hex). */
  value: number
  mask: number
  offset: number
  offmask: number
}
export interface U32Options {
  kind: 'u32'
  classid?: string
  /** The hash table this node is in (`800:`). */
  ht?: string
  link?: string
  divisor?: number
  terminal?: boolean
  keys?: U32Key[]
  hashkey?: { mask: number; at: number }
  flags: ClsFlag[]
}
export interface BpfFilterOptions {
  kind: 'bpf'
  classid?: string
  name?: string
  directAction: boolean
  /** The program, when it is eBPF. */
  id?: number
  tag?: string
  /** Classic BPF instructions, when it is not. */
  ops?: Array<{ code: number; jt: number; jf: number; k: number }>
  flags: ClsFlag[]
}
export interface MatchallOptions {
  kind: 'matchall'
  classid?: string
  flags: ClsFlag[]
  hits?: number
}
export interface FlowerOptions {
  kind: 'flower'
  classid?: string
  indev?: string
  ethType?: number
  dstMac?: string
  dstMacMask?: string
  srcMac?: string
  srcMacMask?: string
  vlanId?: number
  vlanPrio?: number
  vlanEthType?: number
  ipProto?: 'tcp' | 'udp' | 'sctp' | 'icmp' | 'icmpv6' | number
  /** Address/prefix, e.g. `10.0.0.0/24`. */
  dstIp?: string
  srcIp?: string
  dstPort?: number
  srcPort?: number
  flags: ClsFlag[]
}
export interface UnknownFilterOptions {
  kind: 'unknown'
  data?: Uint8Array
}
/** A filter's kind-specific settings as read back (u32, bpf, matchall, flower, or raw for others). */
export type FilterOptions =
  | U32Options
  | BpfFilterOptions
  | MatchallOptions
  | FlowerOptions
  | UnknownFilterOptions

const flagNames = Object.entries(CLS_FLAGS) as Array<[ClsFlag, number]>
export function decodeClsFlags(f: number | undefined): ClsFlag[] {
  const out: ClsFlag[] = []
  if (f) for (const [name, bit] of flagNames) if (f & bit) out.push(name)
  return out
}
const protoNames = new Map(
  Object.entries(IP_PROTOS).map(([k, v]) => [v as number, k as keyof typeof IP_PROTOS]),
)

function prefixLength(mask: Uint8Array | undefined): number | undefined {
  if (!mask) return undefined
  let n = 0
  for (const b of mask) {
    if (b === 0xff) n += 8
    else {
      let x = b
      while (x & 0x80) {
        n++
        x = (x << 1) & 0xff
      }
      break
    }
  }
  return n
}

function ipWithMask(a: Uint8Array | undefined, m: Uint8Array | undefined): string | undefined {
  if (!a) return undefined
  const text = formatIp(a) as string
  const len = prefixLength(m)
  return len === undefined || len === a.length * 8 ? text : `${text}/${len}`
}

type Decoded<F> = F extends () => { decodeFrom(...a: never[]): infer V } ? V : never
type Formats = typeof filterAttrs.decls.options.codecs

/** The typed options and actions of a decoded filter message. */
export function toFilterOptions(kind: string, raw: unknown): { options: FilterOptions; actions?: Action[] } {
  if (raw === undefined || raw instanceof Uint8Array)
    return { options: raw instanceof Uint8Array ? { kind: 'unknown', data: raw } : { kind: 'unknown' } }
  switch (kind) {
    case 'u32': {
      const o = raw as Decoded<Formats['u32']>
      const out: U32Options = { kind, flags: decodeClsFlags(o.flags) }
      if (o.classid !== undefined) out.classid = formatClassid(o.classid)
      if (o.hash !== undefined) out.ht = formatU32Handle(o.hash & 0xfff00000)
      if (o.link !== undefined) out.link = formatU32Handle(o.link)
      if (o.divisor !== undefined) out.divisor = o.divisor
      if (o.sel) {
        out.terminal = (o.sel.flags & TC_U32_TERMINAL) !== 0
        const keys = o.sel.keys
        out.keys = new Array(keys.length)
        for (let i = 0; i < keys.length; i++) {
          const k = keys[i] as (typeof keys)[number]
          out.keys[i] = { value: k.val, mask: k.mask, offset: k.off, offmask: k.offmask }
        }
        if (o.sel.hmask) out.hashkey = { mask: o.sel.hmask, at: o.sel.hoff }
      }
      return withActions(out, o.act)
    }
    case 'bpf': {
      const o = raw as Decoded<Formats['bpf']>
      const out: BpfFilterOptions = {
        kind,
        directAction: ((o.flags ?? 0) & TCA_BPF_FLAG_ACT_DIRECT) !== 0,
        flags: decodeClsFlags(o.flagsGen),
      }
      if (o.classid !== undefined) out.classid = formatClassid(o.classid)
      if (o.name !== undefined) out.name = o.name
      if (o.id !== undefined) out.id = o.id
      if (o.tag) out.tag = Buffer.from(o.tag).toString('hex')
      if (o.ops) {
        const b = Buffer.from(o.ops)
        out.ops = []
        for (let i = 0; i + 8 <= b.length; i += 8)
          out.ops.push({
            code: b.readUInt16LE(i),
            jt: b[i + 2] as number,
            jf: b[i + 3] as number,
            k: b.readUInt32LE(i + 4),
          })
      }
      return withActions(out, o.act)
    }
    case 'matchall': {
      const o = raw as Decoded<Formats['matchall']>
      const out: MatchallOptions = { kind, flags: decodeClsFlags(o.flags) }
      if (o.classid !== undefined) out.classid = formatClassid(o.classid)
      if (o.pcnt) out.hits = Number(o.pcnt.rhit)
      return withActions(out, o.act)
    }
    case 'flower': {
      const o = raw as Decoded<Formats['flower']>
      const out: FlowerOptions = { kind, flags: decodeClsFlags(o.flags) }
      if (o.classid !== undefined) out.classid = formatClassid(o.classid)
      if (o.indev !== undefined) out.indev = o.indev
      if (o.ethType !== undefined) out.ethType = o.ethType
      if (o.ethDst) out.dstMac = o.ethDst
      if (o.ethDstMask) out.dstMacMask = o.ethDstMask
      if (o.ethSrc) out.srcMac = o.ethSrc
      if (o.ethSrcMask) out.srcMacMask = o.ethSrcMask
      if (o.vlanId !== undefined) out.vlanId = o.vlanId
      if (o.vlanPrio !== undefined) out.vlanPrio = o.vlanPrio
      if (o.vlanEthType !== undefined) out.vlanEthType = o.vlanEthType
      if (o.ipProto !== undefined) out.ipProto = protoNames.get(o.ipProto) ?? o.ipProto
      const dst = ipWithMask(o.ipv4Dst, o.ipv4DstMask) ?? ipWithMask(o.ipv6Dst, o.ipv6DstMask)
      const src = ipWithMask(o.ipv4Src, o.ipv4SrcMask) ?? ipWithMask(o.ipv6Src, o.ipv6SrcMask)
      if (dst) out.dstIp = dst
      if (src) out.srcIp = src
      const dport = o.tcpDst ?? o.udpDst ?? o.sctpDst
      const sport = o.tcpSrc ?? o.udpSrc ?? o.sctpSrc
      if (dport !== undefined) out.dstPort = dport
      if (sport !== undefined) out.srcPort = sport
      return withActions(out, o.act)
    }
    default:
      return { options: { kind: 'unknown' } }
  }
}

function withActions(options: FilterOptions, act: ActionAttrs[] | undefined) {
  const actions = toActions(act)
  return actions ? { options, actions } : { options }
}
