// Finds what RSS hashes in a frame: the IP addresses, the Mobile IPv6 addresses the `_EX` hash
// types use, and the TCP/UDP ports. No I/O, no allocation on the hot path (parseFrameInto).
//
// Parsing decisions (the eBPF programs' parser, frame-parser-asm.ts, makes the same ones):
// - Ethernet: up to MAX_VLAN_TAGS 802.1Q (0x8100) / 802.1ad (0x88a8) tags are skipped, in any
//   order; a frame with more tags, or with an ethertype other than IPv4/IPv6, is not IP.
// - IPv4: version must be 4, IHL >= 5 and the whole header (options included) present. A packet
//   with MF set or a non-zero fragment offset is a fragment: no ports.
// - IPv6: version must be 6 and the 40-byte header present. Extension headers followed:
//   hop-by-hop (0), routing (43), destination options (60), AH (51), at most MAX_IPV6_EXT_HEADERS
//   of them. A fragment header (44) ends the walk (no ports, upper protocol unknown). Any other
//   next-header value is the upper-layer protocol. A truncated extension header, or too many,
//   ends the walk with the upper protocol unknown (the addresses are still usable).
// - The Home Address option (type 0xC9, length 16) is taken from the first destination options
//   header that has one; the address of the first routing header with type 2 and length field 2
//   (24 bytes) is the routing address. Options are walked as TLVs (Pad1 is one byte), at most
//   MAX_IPV6_OPTIONS of them per header; a TLV that runs past its header ends that header's walk.
// - TCP (6) / UDP (17) ports are usable when the packet is not a fragment and the 4 port bytes are
//   inside the frame (the rest of the transport header is not required).
// - Lengths in the IP headers (total length, payload length) are not used: the frame's own
//   length bounds every read.

export const ETH_P_IP = 0x0800
export const ETH_P_IPV6 = 0x86dd
export const ETH_P_8021Q = 0x8100
export const ETH_P_8021AD = 0x88a8

/** VLAN tags skipped before giving up on a frame. */
export const MAX_VLAN_TAGS = 4
/** IPv6 extension headers followed before giving up on finding the upper-layer protocol. */
export const MAX_IPV6_EXT_HEADERS = 8
/** Options (TLVs, Pad1 included) examined per destination options header for the Home Address. */
export const MAX_IPV6_OPTIONS = 8

/** IP protocol numbers the parsers (this one and the eBPF programs) walk or hash. */
export const IPPROTO = {
  HOPOPTS: 0,
  TCP: 6,
  UDP: 17,
  ROUTING: 43,
  FRAGMENT: 44,
  AH: 51,
  DSTOPTS: 60,
} as const
const {
  HOPOPTS: IPPROTO_HOPOPTS,
  TCP: IPPROTO_TCP,
  UDP: IPPROTO_UDP,
  ROUTING: IPPROTO_ROUTING,
  FRAGMENT: IPPROTO_FRAGMENT,
  AH: IPPROTO_AH,
  DSTOPTS: IPPROTO_DSTOPTS,
} = IPPROTO
const IPV6_TLV_HOME_ADDRESS = 0xc9

/** Where a frame starts: an Ethernet header (tap) or directly the IP header (tun). */
export type LinkType = 'ethernet' | 'ip'

/** What the parser found. Offsets are into the frame; -1 means absent. */
export interface ParsedFrame {
  /** The network protocol, or null when the frame is not (well-formed, complete) IPv4/IPv6. */
  network: 'ipv4' | 'ipv6' | null
  /** VLAN tags skipped. */
  vlanTags: number
  networkOffset: number
  /** Source and destination address of the IP header (4 or 16 bytes each). */
  srcAddrOffset: number
  dstAddrOffset: number
  /** IPv6: at least one extension header (0, 43, 44, 51 or 60) follows the fixed header. */
  ipv6Extensions: boolean
  /** IPv6: the Home Address option's address (destination options header). */
  homeAddressOffset: number
  /** IPv6: the address in a type 2 routing header. */
  routingAddressOffset: number
  /** IPv4 MF or fragment offset set, or an IPv6 fragment header. */
  fragment: boolean
  /** Upper-layer protocol number reached, or -1 (fragment, truncated or too long chain, not IP). */
  protocol: number
  transportOffset: number
  /** 'tcp' or 'udp' when the ports at `portsOffset` can be hashed. */
  l4: 'tcp' | 'udp' | null
  /** Source port (2 bytes) then destination port (2 bytes). */
  portsOffset: number
}

/** A ParsedFrame with nothing found, for parseFrameInto's reusable output. */
export function emptyParsedFrame(): ParsedFrame {
  return {
    network: null,
    vlanTags: 0,
    networkOffset: -1,
    srcAddrOffset: -1,
    dstAddrOffset: -1,
    ipv6Extensions: false,
    homeAddressOffset: -1,
    routingAddressOffset: -1,
    fragment: false,
    protocol: -1,
    transportOffset: -1,
    l4: null,
    portsOffset: -1,
  }
}

function reset(out: ParsedFrame): void {
  out.network = null
  out.vlanTags = 0
  out.networkOffset = -1
  out.srcAddrOffset = -1
  out.dstAddrOffset = -1
  out.ipv6Extensions = false
  out.homeAddressOffset = -1
  out.routingAddressOffset = -1
  out.fragment = false
  out.protocol = -1
  out.transportOffset = -1
  out.l4 = null
  out.portsOffset = -1
}

/** Parses `frame` and returns what was found (see the module notes for every decision). */
export function parseFrame(frame: Uint8Array, linkType: LinkType = 'ethernet'): ParsedFrame {
  const out = emptyParsedFrame()
  parseFrameInto(frame, out, linkType)
  return out
}

/** As parseFrame, writing into `out` (every field is reset first). */
export function parseFrameInto(frame: Uint8Array, out: ParsedFrame, linkType: LinkType = 'ethernet'): void {
  reset(out)
  const len = frame.length
  let off: number
  let version: number
  if (linkType === 'ip') {
    if (len < 1) return
    off = 0
    version = frame[0]! >> 4
  } else {
    if (len < 14) return
    let ethertype = (frame[12]! << 8) | frame[13]!
    off = 14
    let tags = 0
    while (ethertype === ETH_P_8021Q || ethertype === ETH_P_8021AD) {
      if (tags === MAX_VLAN_TAGS || off + 4 > len) return
      ethertype = (frame[off + 2]! << 8) | frame[off + 3]!
      off += 4
      tags++
    }
    out.vlanTags = tags
    if (ethertype === ETH_P_IP) version = 4
    else if (ethertype === ETH_P_IPV6) version = 6
    else return
  }
  if (version === 4) parseIpv4(frame, off, out)
  else if (version === 6) parseIpv6(frame, off, out)
}

function setPorts(frame: Uint8Array, out: ParsedFrame, protocol: number, at: number): void {
  out.protocol = protocol
  out.transportOffset = at
  if ((protocol === IPPROTO_TCP || protocol === IPPROTO_UDP) && at + 4 <= frame.length) {
    out.l4 = protocol === IPPROTO_TCP ? 'tcp' : 'udp'
    out.portsOffset = at
  }
}

function parseIpv4(frame: Uint8Array, off: number, out: ParsedFrame): void {
  const len = frame.length
  if (off + 20 > len) return
  const b0 = frame[off]!
  const ihl = b0 & 0x0f
  if (b0 >> 4 !== 4 || ihl < 5) return
  const hlen = ihl * 4
  if (off + hlen > len) return
  out.network = 'ipv4'
  out.networkOffset = off
  out.srcAddrOffset = off + 12
  out.dstAddrOffset = off + 16
  // Flags and fragment offset: MF is 0x2000, the offset is the low 13 bits (DF, 0x4000, is not).
  const fragField = ((frame[off + 6]! << 8) | frame[off + 7]!) & 0x3fff
  const protocol = frame[off + 9]!
  if (fragField !== 0) {
    out.fragment = true
    out.protocol = protocol
    return
  }
  setPorts(frame, out, protocol, off + hlen)
}

function scanHomeAddress(frame: Uint8Array, start: number, end: number, out: ParsedFrame): void {
  let q = start
  for (let n = 0; n < MAX_IPV6_OPTIONS && q < end; n++) {
    const type = frame[q]!
    if (type === 0) {
      q++ // Pad1
      continue
    }
    if (q + 2 > end) return
    const optLen = frame[q + 1]!
    if (q + 2 + optLen > end) return
    if (type === IPV6_TLV_HOME_ADDRESS && optLen === 16) {
      out.homeAddressOffset = q + 2
      return
    }
    q += 2 + optLen
  }
}

function parseIpv6(frame: Uint8Array, off: number, out: ParsedFrame): void {
  const len = frame.length
  if (off + 40 > len) return
  if (frame[off]! >> 4 !== 6) return
  out.network = 'ipv6'
  out.networkOffset = off
  out.srcAddrOffset = off + 8
  out.dstAddrOffset = off + 24
  let next = frame[off + 6]!
  let p = off + 40
  for (let n = 0; n <= MAX_IPV6_EXT_HEADERS; n++) {
    switch (next) {
      case IPPROTO_HOPOPTS:
      case IPPROTO_ROUTING:
      case IPPROTO_DSTOPTS: {
        out.ipv6Extensions = true
        if (n === MAX_IPV6_EXT_HEADERS || p + 2 > len) return
        const hlen = (frame[p + 1]! + 1) * 8
        if (p + hlen > len) return
        if (next === IPPROTO_DSTOPTS) {
          if (out.homeAddressOffset < 0) scanHomeAddress(frame, p + 2, p + hlen, out)
        } else if (next === IPPROTO_ROUTING) {
          if (out.routingAddressOffset < 0 && frame[p + 2] === 2 && hlen === 24)
            out.routingAddressOffset = p + 8
        }
        next = frame[p]!
        p += hlen
        break
      }
      case IPPROTO_AH: {
        out.ipv6Extensions = true
        if (n === MAX_IPV6_EXT_HEADERS || p + 2 > len) return
        const hlen = (frame[p + 1]! + 2) * 4
        if (p + hlen > len) return
        next = frame[p]!
        p += hlen
        break
      }
      case IPPROTO_FRAGMENT:
        out.ipv6Extensions = true
        out.fragment = true
        return
      default:
        setPorts(frame, out, next, p)
        return
    }
  }
}
