/**
 * tc handles, parents and protocols as users write them (`1:`, `1:10`, `root`, `ingress`,
 * `800::800`, `ip`, `802.1Q`) and as tc prints them: hexadecimal major:minor.
 */

export const TC_H_ROOT = 0xffffffff
export const TC_H_UNSPEC = 0
/** The ingress/clsact qdisc's parent. */
export const TC_H_INGRESS = 0xfffffff1
export const TC_H_CLSACT = TC_H_INGRESS
export const TC_H_MIN_INGRESS = 0xfff2
export const TC_H_MIN_EGRESS = 0xfff3
/** Filters on a clsact (or ingress) qdisc's ingress and egress hooks. */
export const TC_H_CLSACT_INGRESS = 0xfffffff2
export const TC_H_CLSACT_EGRESS = 0xfffffff3

export const major = (h: number): number => h >>> 16
export const minor = (h: number): number => h & 0xffff
export const makeHandle = (maj: number, min: number): number => ((maj << 16) | (min & 0xffff)) >>> 0

const HEX = /^[0-9a-fA-F]+$/

function hexPart(s: string, max: number): number | undefined {
  if (!HEX.test(s)) return undefined
  const n = Number.parseInt(s, 16)
  return n <= max ? n : undefined
}

/**
 * A classid or handle as `tc` reads it: `root`, `none`, `MAJ:MIN`, `MAJ:`, `:MIN` (hex), or a
 * bare hex number taken as the whole 32-bit value. Returns undefined when it is not one.
 */
export function parseClassid(text: string): number | undefined {
  if (text === 'root') return TC_H_ROOT
  if (text === 'none') return TC_H_UNSPEC
  const colon = text.indexOf(':')
  if (colon < 0) return text !== '' ? hexPart(text, 0xffffffff) : undefined
  const maj = colon === 0 ? 0 : hexPart(text.slice(0, colon), 0xffff)
  const rest = text.slice(colon + 1)
  const min = rest === '' ? 0 : hexPart(rest, 0xffff)
  if (maj === undefined || min === undefined) return undefined
  return makeHandle(maj, min)
}

/** A qdisc handle: `1:` or `1` (hex major, minor 0), or `none`. */
export function parseQdiscHandle(text: string): number | undefined {
  if (text === 'none') return 0
  const m = /^([0-9a-fA-F]{1,4}):?$/.exec(text)
  return m?.[1] ? makeHandle(Number.parseInt(m[1], 16), 0) : undefined
}

/** Where a qdisc hangs: `root`, `ingress`/`clsact` (ffff:fff1), or a class (`1:10`). */
export function parseQdiscParent(text: string): number | undefined {
  if (text === 'ingress' || text === 'clsact') return TC_H_INGRESS
  return parseClassid(text)
}

/** Where a filter hangs: `ingress`/`egress` (clsact hooks), `root`, or a qdisc/class handle. */
export function parseFilterParent(text: string): number | undefined {
  if (text === 'ingress') return TC_H_CLSACT_INGRESS
  if (text === 'egress') return TC_H_CLSACT_EGRESS
  return parseClassid(text)
}

/** tc's way of printing a handle: `root`, `none`, `1:`, `1:10`, `:10`. */
export function formatClassid(h: number): string {
  const v = h >>> 0
  if (v === TC_H_ROOT) return 'root'
  if (v === TC_H_UNSPEC) return 'none'
  if (major(v) === 0) return `:${minor(v).toString(16)}`
  if (minor(v) === 0) return `${major(v).toString(16)}:`
  return `${major(v).toString(16)}:${minor(v).toString(16)}`
}

export function formatQdiscParent(h: number): string {
  return h >>> 0 === TC_H_INGRESS ? 'ingress' : formatClassid(h)
}

export function formatFilterParent(h: number): string {
  const v = h >>> 0
  if (v === TC_H_CLSACT_INGRESS) return 'ingress'
  if (v === TC_H_CLSACT_EGRESS) return 'egress'
  return formatClassid(v)
}

/** u32 filter handles: htid(12 bits):hash(8 bits):node(12 bits), e.g. `800::800`, `1:`. */
export function parseU32Handle(text: string): number | undefined {
  if (!text.includes(':')) {
    if (/^0x[0-9a-fA-F]{1,8}$/.test(text)) return Number.parseInt(text.slice(2), 16)
    return undefined
  }
  const parts = text.split(':')
  if (parts.length > 3) return undefined
  const [ht = '', hash = '', node = ''] = parts
  const field = (s: string, max: number) => (s === '' ? 0 : hexPart(s, max))
  const h = field(ht, 0xfff)
  const b = field(hash, 0xff)
  const n = field(node, 0xfff)
  if (h === undefined || b === undefined || n === undefined) return undefined
  return ((h << 20) | (b << 12) | n) >>> 0
}

export function formatU32Handle(handle: number): string {
  const v = handle >>> 0
  if (v === 0) return 'none'
  const htid = v >>> 20
  const hash = (v >>> 12) & 0xff
  const node = v & 0xfff
  let out = htid ? `${htid.toString(16)}:` : ''
  if (hash) out += hash.toString(16)
  if (node) out += `:${node.toString(16)}`
  return out
}

/** EtherType names as iproute2 spells them (ll_proto); lookup is case-insensitive. */
export const ETH_PROTOCOLS: Readonly<Record<string, number>> = {
  all: 0x0003,
  ip: 0x0800,
  arp: 0x0806,
  rarp: 0x8035,
  '802.1Q': 0x8100,
  ipx: 0x8137,
  ipv6: 0x86dd,
  ppp_disc: 0x8863,
  ppp_ses: 0x8864,
  mpls_uc: 0x8847,
  mpls_mc: 0x8848,
  '802.1ad': 0x88a8,
  lldp: 0x88cc,
  '802_3': 0x0001,
  '802_2': 0x0004,
}
const protocolByLower = new Map(Object.entries(ETH_PROTOCOLS).map(([k, v]) => [k.toLowerCase(), v]))
const protocolNames = new Map(Object.entries(ETH_PROTOCOLS).map(([k, v]) => [v, k]))

/** `ip`, `ipv6`, `all`, `802.1q`, `0x88cc` or a number → the EtherType (host order). */
export function parseProtocol(p: string | number): number | undefined {
  if (typeof p === 'number') return Number.isInteger(p) && p >= 0 && p <= 0xffff ? p : undefined
  const named = protocolByLower.get(p.toLowerCase())
  if (named !== undefined) return named
  if (/^0x[0-9a-fA-F]{1,4}$/.test(p)) return Number.parseInt(p.slice(2), 16)
  if (/^\d+$/.test(p) && Number(p) <= 0xffff) return Number(p)
  return undefined
}

/** The EtherType as tc prints it: a name when it has one, else `0x…` hex. */
export function formatProtocol(p: number): string {
  return protocolNames.get(p) ?? `0x${p.toString(16).padStart(4, '0')}`
}

/** A 16-bit value between host and network byte order (tcm_info carries the protocol in network order). */
export const swap16 = (v: number): number => ((v & 0xff) << 8) | ((v >>> 8) & 0xff)
