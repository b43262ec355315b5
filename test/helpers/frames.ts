// Ethernet frame builders for steering tests: IPv4/IPv6, TCP/UDP/ICMP/other protocols, VLAN tags,
// IPv4 options and fragments, IPv6 extension headers. Used by the pure hash tests and by the
// end-to-end tests that send frames through real taps. IPv4 header checksums are correct;
// transport checksums are left zero (steering never looks at them).

export const ETH_P_IPV4 = 0x0800
export const ETH_P_IPV6 = 0x86dd
export const ETH_P_ARP = 0x0806
export const ETH_P_8021Q = 0x8100
export const ETH_P_8021AD = 0x88a8

export const IPPROTO_HOPOPTS = 0
export const IPPROTO_ICMP = 1
export const IPPROTO_TCP = 6
export const IPPROTO_UDP = 17
export const IPPROTO_ROUTING = 43
export const IPPROTO_FRAGMENT = 44
export const IPPROTO_ESP = 50
export const IPPROTO_AH = 51
export const IPPROTO_ICMPV6 = 58
export const IPPROTO_NONE = 59
export const IPPROTO_DSTOPTS = 60
export const IPPROTO_SCTP = 132

export interface VlanTag {
  /** 0x8100 (802.1Q, the default) or 0x88a8 (802.1ad service tag). */
  tpid?: number
  vid: number
  pcp?: number
  dei?: boolean
}

export interface Ipv4Spec {
  version: 4
  src: string
  dst: string
  ttl?: number
  id?: number
  tos?: number
  /** Raw option bytes; padded with End-of-Options (0) to a multiple of 4. At most 40 bytes. */
  options?: Uint8Array
  dontFragment?: boolean
  /**
   * Makes the packet a fragment. `offset` is in bytes (a multiple of 8). A fragment with a
   * non-zero offset carries no transport header: only `payload` follows the IP header.
   */
  fragment?: { offset: number; more: boolean }
  /** Overrides the protocol field (default: from the transport spec). */
  protocol?: number
}

export type Ipv6Extension =
  /** Hop-by-hop options; `options` are raw TLVs (padded with Pad1/PadN to a multiple of 8). */
  | { type: 'hop-by-hop'; options?: Uint8Array }
  /** Destination options; `homeAddress` adds a Home Address option (type 0xC9, aligned 8n+6). */
  | { type: 'destination'; homeAddress?: string; options?: Uint8Array }
  /** Type 2 routing header (Mobile IPv6): one address. */
  | { type: 'routing2'; address: string; segmentsLeft?: number }
  /** Any other routing header: `data` follows the 4 fixed bytes, padded to a multiple of 8. */
  | { type: 'routing'; routingType: number; data?: Uint8Array; segmentsLeft?: number }
  /** Fragment header; `offset` in bytes (multiple of 8). Non-zero offsets carry no transport header. */
  | { type: 'fragment'; offset: number; more: boolean; id?: number }
  /** Authentication header with an `icvLength`-byte ICV (multiple of 4, default 12). */
  | { type: 'ah'; spi?: number; seq?: number; icvLength?: number }
  /** Raw bytes as an extension header with the given number (its first byte is overwritten). */
  | { type: 'raw'; nextHeaderValue: number; bytes: Uint8Array }

export interface Ipv6Spec {
  version: 6
  src: string
  dst: string
  hopLimit?: number
  trafficClass?: number
  flowLabel?: number
  extensions?: Ipv6Extension[]
}

export type TransportSpec =
  | { proto: 'tcp'; srcPort: number; dstPort: number; flags?: number; seq?: number }
  | { proto: 'udp'; srcPort: number; dstPort: number }
  /** ICMP echo request (ICMPv6 echo request over IPv6). */
  | { proto: 'icmp'; id?: number; seq?: number }
  /** Any other protocol number, with raw header bytes. */
  | { proto: 'other'; protocol: number; header?: Uint8Array }

export interface FrameSpec {
  dstMac?: string
  srcMac?: string
  vlans?: VlanTag[]
  ip: Ipv4Spec | Ipv6Spec
  l4: TransportSpec
  payload?: Uint8Array
  /** Pads the frame with zeros to at least this many bytes (60 for a minimum Ethernet frame). */
  padTo?: number
}

/** `a.b.c.d` to 4 bytes. */
export function ipv4Bytes(s: string): Uint8Array {
  const parts = s.split('.')
  if (parts.length !== 4) throw new Error(`bad IPv4 address ${s}`)
  return Uint8Array.from(
    parts.map((p) => {
      const n = Number(p)
      if (!/^\d+$/.test(p) || n > 255) throw new Error(`bad IPv4 address ${s}`)
      return n
    }),
  )
}

/** IPv6 text (with `::` compression, no embedded IPv4) to 16 bytes. */
export function ipv6Bytes(s: string): Uint8Array {
  const halves = s.split('::')
  if (halves.length > 2) throw new Error(`bad IPv6 address ${s}`)
  const groups = (h: string | undefined): string[] => (h === undefined || h === '' ? [] : h.split(':'))
  const head = groups(halves[0])
  const tail = groups(halves[1])
  const missing = 8 - head.length - tail.length
  if (halves.length === 1 ? missing !== 0 : missing < 1) throw new Error(`bad IPv6 address ${s}`)
  const all = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill('0'), ...tail]
  const out = new Uint8Array(16)
  all.forEach((g, i) => {
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) throw new Error(`bad IPv6 address ${s}`)
    const v = Number.parseInt(g, 16)
    out[2 * i] = v >> 8
    out[2 * i + 1] = v & 0xff
  })
  return out
}

export function macBytes(s: string): Uint8Array {
  const parts = s.split(':')
  if (parts.length !== 6) throw new Error(`bad MAC ${s}`)
  return Uint8Array.from(parts.map((p) => Number.parseInt(p, 16)))
}

/** The Internet checksum (ones' complement of the ones' complement sum of 16-bit words). */
export function internetChecksum(bytes: Uint8Array): number {
  let sum = 0
  for (let i = 0; i < bytes.length; i += 2) sum += (bytes[i]! << 8) | (bytes[i + 1] ?? 0)
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16)
  return ~sum & 0xffff
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let o = 0
  for (const p of parts) {
    out.set(p, o)
    o += p.length
  }
  return out
}

function u16(v: number): Uint8Array {
  return Uint8Array.of((v >> 8) & 0xff, v & 0xff)
}

function u32(v: number): Uint8Array {
  return Uint8Array.of((v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff)
}

function transportProtocol(l4: TransportSpec, version: 4 | 6): number {
  switch (l4.proto) {
    case 'tcp':
      return IPPROTO_TCP
    case 'udp':
      return IPPROTO_UDP
    case 'icmp':
      return version === 4 ? IPPROTO_ICMP : IPPROTO_ICMPV6
    case 'other':
      return l4.protocol
  }
}

function transportHeader(l4: TransportSpec, version: 4 | 6, payloadLength: number): Uint8Array {
  switch (l4.proto) {
    case 'tcp':
      return concat([
        u16(l4.srcPort),
        u16(l4.dstPort),
        u32(l4.seq ?? 1),
        u32(0),
        Uint8Array.of(5 << 4, l4.flags ?? 0x02),
        u16(65535),
        u16(0),
        u16(0),
      ])
    case 'udp':
      return concat([u16(l4.srcPort), u16(l4.dstPort), u16(8 + payloadLength), u16(0)])
    case 'icmp':
      return concat([Uint8Array.of(version === 4 ? 8 : 128, 0), u16(0), u16(l4.id ?? 1), u16(l4.seq ?? 1)])
    case 'other':
      return l4.header ?? new Uint8Array(0)
  }
}

/** Pads TLV options (after a 2-byte extension header start) to a multiple of 8 with Pad1/PadN. */
function padOptions(options: Uint8Array): Uint8Array {
  const rem = (8 - ((2 + options.length) % 8)) % 8
  if (rem === 0) return options
  if (rem === 1) return concat([options, Uint8Array.of(0)])
  return concat([options, Uint8Array.of(1, rem - 2), new Uint8Array(rem - 2)])
}

/** One extension header's bytes with a zero next-header byte (filled in by the chain builder). */
function extensionBytes(ext: Ipv6Extension): { proto: number; bytes: Uint8Array } {
  switch (ext.type) {
    case 'hop-by-hop':
    case 'destination': {
      let opts = ext.options ?? new Uint8Array(0)
      if (ext.type === 'destination' && ext.homeAddress !== undefined) {
        // Home Address option wants 8n+6 alignment: pad from offset 2 + opts.length.
        const at = 2 + opts.length
        const pad = (6 - (at % 8) + 8) % 8
        const padding =
          pad === 0
            ? new Uint8Array(0)
            : pad === 1
              ? Uint8Array.of(0)
              : concat([Uint8Array.of(1, pad - 2), new Uint8Array(pad - 2)])
        opts = concat([opts, padding, Uint8Array.of(0xc9, 16), ipv6Bytes(ext.homeAddress)])
      }
      const body = padOptions(opts)
      const bytes = concat([Uint8Array.of(0, (2 + body.length) / 8 - 1), body])
      return { proto: ext.type === 'hop-by-hop' ? IPPROTO_HOPOPTS : IPPROTO_DSTOPTS, bytes }
    }
    case 'routing2': {
      const bytes = concat([Uint8Array.of(0, 2, 2, ext.segmentsLeft ?? 1), u32(0), ipv6Bytes(ext.address)])
      return { proto: IPPROTO_ROUTING, bytes }
    }
    case 'routing': {
      const data = ext.data ?? new Uint8Array(4)
      const total = Math.ceil((4 + data.length) / 8) * 8
      const bytes = new Uint8Array(Math.max(8, total))
      bytes.set(Uint8Array.of(0, bytes.length / 8 - 1, ext.routingType, ext.segmentsLeft ?? 0))
      bytes.set(data, 4)
      return { proto: IPPROTO_ROUTING, bytes }
    }
    case 'fragment': {
      if (ext.offset % 8 !== 0) throw new Error('fragment offset must be a multiple of 8')
      const field = ((ext.offset / 8) << 3) | (ext.more ? 1 : 0)
      return {
        proto: IPPROTO_FRAGMENT,
        bytes: concat([Uint8Array.of(0, 0), u16(field), u32(ext.id ?? 0x1234)]),
      }
    }
    case 'ah': {
      const icv = ext.icvLength ?? 12
      if (icv % 4 !== 0) throw new Error('AH ICV length must be a multiple of 4')
      const total = 12 + icv
      const bytes = concat([
        Uint8Array.of(0, total / 4 - 2),
        u16(0),
        u32(ext.spi ?? 0x100),
        u32(ext.seq ?? 1),
        new Uint8Array(icv),
      ])
      return { proto: IPPROTO_AH, bytes }
    }
    case 'raw':
      return { proto: ext.nextHeaderValue, bytes: Uint8Array.from(ext.bytes) }
  }
}

function ipv4Packet(ip: Ipv4Spec, l4: TransportSpec, payload: Uint8Array): Uint8Array {
  const nonFirst = ip.fragment !== undefined && ip.fragment.offset !== 0
  const body = nonFirst ? payload : concat([transportHeader(l4, 4, payload.length), payload])
  const rawOpts = ip.options ?? new Uint8Array(0)
  const opts = concat([rawOpts, new Uint8Array((4 - (rawOpts.length % 4)) % 4)])
  if (opts.length > 40) throw new Error('IPv4 options exceed 40 bytes')
  const ihl = 5 + opts.length / 4
  const hdr = new Uint8Array(ihl * 4)
  const frag = ip.fragment
  if (frag !== undefined && frag.offset % 8 !== 0) throw new Error('fragment offset must be a multiple of 8')
  const flagsFrag = (ip.dontFragment ? 0x4000 : 0) | (frag?.more ? 0x2000 : 0) | ((frag?.offset ?? 0) / 8)
  hdr.set([0x40 | ihl, ip.tos ?? 0])
  hdr.set(u16(hdr.length + body.length), 2)
  hdr.set(u16(ip.id ?? 0x4242), 4)
  hdr.set(u16(flagsFrag), 6)
  hdr.set([ip.ttl ?? 64, ip.protocol ?? transportProtocol(l4, 4)], 8)
  hdr.set(ipv4Bytes(ip.src), 12)
  hdr.set(ipv4Bytes(ip.dst), 16)
  hdr.set(opts, 20)
  hdr.set(u16(internetChecksum(hdr)), 10)
  return concat([hdr, body])
}

function ipv6Packet(ip: Ipv6Spec, l4: TransportSpec, payload: Uint8Array): Uint8Array {
  const exts = (ip.extensions ?? []).map(extensionBytes)
  const nonFirst = (ip.extensions ?? []).some((e) => e.type === 'fragment' && e.offset !== 0)
  const body = nonFirst ? payload : concat([transportHeader(l4, 6, payload.length), payload])
  // Chain: fixed header's next header = first extension (or transport), each extension's first
  // byte = the following one.
  const protos = [...exts.map((e) => e.proto), transportProtocol(l4, 6)]
  exts.forEach((e, i) => {
    e.bytes[0] = protos[i + 1]!
  })
  const chain = concat([...exts.map((e) => e.bytes), body])
  const hdr = new Uint8Array(40)
  const tc = ip.trafficClass ?? 0
  const fl = ip.flowLabel ?? 0
  hdr.set(u32(((6 << 28) | (tc << 20) | (fl & 0xfffff)) >>> 0), 0)
  hdr.set(u16(chain.length), 4)
  hdr.set([protos[0]!, ip.hopLimit ?? 64], 6)
  hdr.set(ipv6Bytes(ip.src), 8)
  hdr.set(ipv6Bytes(ip.dst), 24)
  return concat([hdr, chain])
}

function ethernetHeader(ethertype: number, vlans: VlanTag[], dstMac?: string, srcMac?: string): Uint8Array {
  const parts = [macBytes(dstMac ?? '02:00:00:00:00:02'), macBytes(srcMac ?? '02:00:00:00:00:01')]
  for (const v of vlans) {
    parts.push(u16(v.tpid ?? ETH_P_8021Q), u16(((v.pcp ?? 0) << 13) | (v.dei ? 0x1000 : 0) | (v.vid & 0xfff)))
  }
  parts.push(u16(ethertype))
  return concat(parts)
}

function pad(frame: Uint8Array, to: number | undefined): Buffer {
  const out = Buffer.alloc(Math.max(frame.length, to ?? 0))
  out.set(frame)
  return out
}

/** A complete Ethernet frame as a Buffer. */
export function buildFrame(spec: FrameSpec): Buffer {
  const payload = spec.payload ?? new Uint8Array(0)
  const ip = spec.ip
  const packet = ip.version === 4 ? ipv4Packet(ip, spec.l4, payload) : ipv6Packet(ip, spec.l4, payload)
  const eth = ethernetHeader(
    ip.version === 4 ? ETH_P_IPV4 : ETH_P_IPV6,
    spec.vlans ?? [],
    spec.dstMac,
    spec.srcMac,
  )
  return pad(concat([eth, packet]), spec.padTo)
}

/** The IP packet alone (what an IFF_TUN device carries). */
export function buildIpPacket(spec: Omit<FrameSpec, 'dstMac' | 'srcMac' | 'vlans' | 'padTo'>): Buffer {
  const payload = spec.payload ?? new Uint8Array(0)
  const ip = spec.ip
  return Buffer.from(ip.version === 4 ? ipv4Packet(ip, spec.l4, payload) : ipv6Packet(ip, spec.l4, payload))
}

/** A frame with any ethertype and raw payload (e.g. ARP), optionally VLAN-tagged. */
export function buildRawFrame(
  ethertype: number,
  payload: Uint8Array,
  opts: { vlans?: VlanTag[]; dstMac?: string; srcMac?: string; padTo?: number } = {},
): Buffer {
  return pad(
    concat([ethernetHeader(ethertype, opts.vlans ?? [], opts.dstMac, opts.srcMac), payload]),
    opts.padTo,
  )
}

/** A minimal ARP request (who-has `target` tell `sender`). */
export function arpRequest(sender: string, target: string): Buffer {
  const body = concat([
    u16(1),
    u16(ETH_P_IPV4),
    Uint8Array.of(6, 4),
    u16(1),
    macBytes('02:00:00:00:00:01'),
    ipv4Bytes(sender),
    new Uint8Array(6),
    ipv4Bytes(target),
  ])
  return buildRawFrame(ETH_P_ARP, body, { dstMac: 'ff:ff:ff:ff:ff:ff' })
}

/**
 * The RSS hash input for a flow, built independently of the library's parser:
 * src addr, dst addr, then (when given) src port, dst port, network byte order.
 */
export function hashInput(
  src: string,
  dst: string,
  ports?: { srcPort: number; dstPort: number },
): Uint8Array {
  const a = src.includes(':') ? ipv6Bytes(src) : ipv4Bytes(src)
  const b = dst.includes(':') ? ipv6Bytes(dst) : ipv4Bytes(dst)
  return ports === undefined ? concat([a, b]) : concat([a, b, u16(ports.srcPort), u16(ports.dstPort)])
}
