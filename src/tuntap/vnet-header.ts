// The virtio-net header a tun/tap with IFF_VNET_HDR puts before every frame: encode and decode
// `virtio_net_hdr` (10 bytes), `virtio_net_hdr_v1` (12, + num_buffers) and
// `virtio_net_hdr_v1_hash` (20, + le32 hash_value, le16 hash_report, le16 padding). No I/O.
//
// The 16-bit fields up to num_buffers are little-endian unless the device was switched to
// big-endian with TUNSETVNETBE (legacy big-endian guests): pass `endian: 'big'`. The hash fields
// are little-endian in every case.

import type { HashReport } from './rss-hash-types.ts'
import { HASH_REPORT_VALUE } from './rss-hash-types.ts'

/** `flags` bits (VIRTIO_NET_HDR_F_*). */
export const VnetFlag = {
  /** Checksum at csum_start + csum_offset still to be filled in. */
  NeedsCsum: 1,
  /** Checksum already validated. */
  DataValid: 2,
  /** csum_start/csum_offset carry coalescing counts (RSC). */
  RscInfo: 4,
  /** UDP tunnel checksum offload. */
  UdpTunnelCsum: 8,
} as const
export type VnetFlag = (typeof VnetFlag)[keyof typeof VnetFlag]

/** The segmentation kind in the low bits of `gso_type` (VIRTIO_NET_HDR_GSO_*). */
export const VnetGso = {
  None: 0,
  TcpV4: 1,
  /** UFO (IPv4 UDP fragmentation offload). */
  Udp: 3,
  TcpV6: 4,
  /** USO (UDP segmentation, IPv4 and IPv6). */
  UdpL4: 5,
} as const
export type VnetGso = (typeof VnetGso)[keyof typeof VnetGso]

/** Modifier bits OR-ed into `gso_type`. */
export const VnetGsoModifier = {
  UdpTunnelIpv4: 0x20,
  UdpTunnelIpv6: 0x40,
  Ecn: 0x80,
} as const
export type VnetGsoModifier = (typeof VnetGsoModifier)[keyof typeof VnetGsoModifier]

/** Mask of the segmentation kind within `gso_type` (the rest are modifier bits). */
export const VNET_GSO_KIND_MASK = 0x1f

/** Which virtio-net header: `virtio_net_hdr` (10), `_v1` (12) or `_v1_hash` (20 bytes). */
export type VnetHeaderLayout = 'legacy' | 'v1' | 'v1_hash'

/** Bytes of each layout (what TUNSETVNETHDRSZ must be at least). */
export const VNET_HEADER_SIZE: Readonly<Record<VnetHeaderLayout, number>> = {
  legacy: 10,
  v1: 12,
  v1_hash: 20,
}

export type Endianness = 'little' | 'big'

interface VnetHeaderBase {
  /** OR of VnetFlag values (unknown bits are kept). */
  flags: number
  /** A VnetGso kind OR-ed with VnetGsoModifier bits (unknown values are kept). */
  gsoType: number
  hdrLen: number
  gsoSize: number
  csumStart: number
  csumOffset: number
}

/** `struct virtio_net_hdr`. */
export interface VnetHeaderLegacy extends VnetHeaderBase {
  layout: 'legacy'
}

/** `struct virtio_net_hdr_v1` (= `virtio_net_hdr_mrg_rxbuf`). */
export interface VnetHeaderV1 extends VnetHeaderBase {
  layout: 'v1'
  numBuffers: number
}

/** `struct virtio_net_hdr_v1_hash`. */
export interface VnetHeaderV1Hash extends VnetHeaderBase {
  layout: 'v1_hash'
  numBuffers: number
  /** The hash (u32). */
  hashValue: number
  /** VIRTIO_NET_HASH_REPORT_* value; see hashReportName(). */
  hashReport: number
}

/** A decoded virtio-net header of any layout. */
export type VnetHeader = VnetHeaderLegacy | VnetHeaderV1 | VnetHeaderV1Hash

type Fields<T> = Partial<Omit<T, 'layout'>>

/** Encoder input: the layout plus any fields (missing ones are 0). */
export type VnetHeaderInput =
  | ({ layout: 'legacy' } & Fields<VnetHeaderLegacy>)
  | ({ layout: 'v1' } & Fields<VnetHeaderV1>)
  | ({ layout: 'v1_hash' } & Fields<Omit<VnetHeaderV1Hash, 'hashReport'>> & {
        hashReport?: number | HashReport
      })

export interface VnetHeaderCodecOptions {
  /** Byte order of the 16-bit fields up to num_buffers (default little; big after TUNSETVNETBE). */
  endian?: Endianness
}

/** Writes `h` at `offset` of `buf`; returns the number of bytes written. Out-of-range values throw. */
export function writeVnetHeader(
  buf: Buffer,
  offset: number,
  h: VnetHeaderInput,
  options: VnetHeaderCodecOptions = {},
): number {
  const size = VNET_HEADER_SIZE[h.layout]
  if (offset < 0 || offset + size > buf.length) {
    throw new RangeError(`a ${h.layout} vnet header needs ${size} bytes at offset ${offset} of ${buf.length}`)
  }
  const be = options.endian === 'big'
  const w16 = (v: number | undefined, at: number): void => {
    if (be) buf.writeUInt16BE(v ?? 0, offset + at)
    else buf.writeUInt16LE(v ?? 0, offset + at)
  }
  buf.writeUInt8(h.flags ?? 0, offset)
  buf.writeUInt8(h.gsoType ?? 0, offset + 1)
  w16(h.hdrLen, 2)
  w16(h.gsoSize, 4)
  w16(h.csumStart, 6)
  w16(h.csumOffset, 8)
  if (h.layout !== 'legacy') w16(h.numBuffers, 10)
  if (h.layout === 'v1_hash') {
    const report = typeof h.hashReport === 'string' ? HASH_REPORT_VALUE[h.hashReport] : (h.hashReport ?? 0)
    buf.writeUInt32LE(h.hashValue ?? 0, offset + 12)
    buf.writeUInt16LE(report, offset + 16)
    buf.writeUInt16LE(0, offset + 18)
  }
  return size
}

/** The header's bytes (10, 12 or 20). */
export function encodeVnetHeader(h: VnetHeaderInput, options: VnetHeaderCodecOptions = {}): Buffer {
  const buf = Buffer.alloc(VNET_HEADER_SIZE[h.layout])
  writeVnetHeader(buf, 0, h, options)
  return buf
}

/** Reads a header of `layout` at `offset` of `buf` (the padding field is ignored). */
export function decodeVnetHeader<L extends VnetHeaderLayout>(
  buf: Uint8Array,
  layout: L,
  options: VnetHeaderCodecOptions & { offset?: number } = {},
): Extract<VnetHeader, { layout: L }> {
  const offset = options.offset ?? 0
  const size = VNET_HEADER_SIZE[layout]
  if (offset < 0 || offset + size > buf.length) {
    throw new RangeError(`a ${layout} vnet header needs ${size} bytes at offset ${offset} of ${buf.length}`)
  }
  const dv = new DataView(buf.buffer, buf.byteOffset + offset, size)
  const le = options.endian !== 'big'
  const base: VnetHeaderBase = {
    flags: dv.getUint8(0),
    gsoType: dv.getUint8(1),
    hdrLen: dv.getUint16(2, le),
    gsoSize: dv.getUint16(4, le),
    csumStart: dv.getUint16(6, le),
    csumOffset: dv.getUint16(8, le),
  }
  let h: VnetHeader
  if (layout === 'legacy') h = { layout: 'legacy', ...base }
  else if (layout === 'v1') h = { layout: 'v1', ...base, numBuffers: dv.getUint16(10, le) }
  else {
    h = {
      layout: 'v1_hash',
      ...base,
      numBuffers: dv.getUint16(10, le),
      hashValue: dv.getUint32(12, true),
      hashReport: dv.getUint16(16, true),
    }
  }
  return h as Extract<VnetHeader, { layout: L }>
}

/** The segmentation kind of a `gso_type` byte. */
export function vnetGsoKind(gsoType: number): number {
  return gsoType & VNET_GSO_KIND_MASK
}
