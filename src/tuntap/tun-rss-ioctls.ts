// Request numbers and argument bytes of the proposed kernel-native tun RSS / hash reporting
// ioctls (latest posted version, v12; not in mainline, and number 228 is contested, so the
// kernel back end must probe before use). No I/O: the tun back end passes these to ioctl().
//
//   TUNGETVNETHASHTYPES        _IOR('T', 228, __u32)                 out: supported hash types
//   TUNSETVNETREPORTINGAUTOMQ  _IOR('T', 229, __u32)                 in: types to report, 0 = off
//   TUNSETVNETREPORTINGRSS     _IOR('T', 230, struct tun_vnet_rss)   in: RSS with hash reporting
//   TUNSETVNETRSS              _IOR('T', 231, struct tun_vnet_rss)   in: RSS without reporting
//
// struct tun_vnet_rss (8 bytes, host byte order): u32 hash_types, u16 indirection_table_mask,
// u16 unclassified_queue; the ioctl argument continues, without padding, with
// u16 table[mask + 1] (host byte order) and the 40 key bytes.

import { endianness } from 'node:os'
import { ioc } from '../netlink/sys/ioc.ts'
import type { RssConfig } from './rss-config.ts'
import { type HashType, hashTypesToMask, maskToHashTypes } from './rss-hash-types.ts'
import { RSS_KEY_LENGTH } from './toeplitz.ts'

/** sizeof(struct tun_vnet_rss): the fixed part only. */
export const TUN_VNET_RSS_SIZE = 8

/** Proposed ioctl: the hash types the kernel can compute (out: __u32 mask). */
export const TUNGETVNETHASHTYPES = ioc('r', 'T', 228, 4)
/** Proposed ioctl: report hashes with automatic queue choice (in: __u32 types; 0 disables). */
export const TUNSETVNETREPORTINGAUTOMQ = ioc('r', 'T', 229, 4)
/** Proposed ioctl: RSS with hash reporting (in: struct tun_vnet_rss + table + key). */
export const TUNSETVNETREPORTINGRSS = ioc('r', 'T', 230, TUN_VNET_RSS_SIZE)
/** Proposed ioctl: RSS without hash reporting (in: struct tun_vnet_rss + table + key). */
export const TUNSETVNETRSS = ioc('r', 'T', 231, TUN_VNET_RSS_SIZE)

export type ByteOrder = 'little' | 'big'

/** The machine's byte order ("host endianness" in the UAPI). */
export const HOST_BYTE_ORDER: ByteOrder = endianness() === 'LE' ? 'little' : 'big'

export interface TunIoctlEncodeOptions {
  /** Byte order of the integers (default: the host's, which is what the kernel reads). */
  byteOrder?: ByteOrder
}

function writeU16(buf: Buffer, v: number, at: number, order: ByteOrder): void {
  if (order === 'little') buf.writeUInt16LE(v, at)
  else buf.writeUInt16BE(v, at)
}

function writeU32(buf: Buffer, v: number, at: number, order: ByteOrder): void {
  if (order === 'little') buf.writeUInt32LE(v, at)
  else buf.writeUInt32BE(v, at)
}

/**
 * The argument of TUNSETVNETRSS / TUNSETVNETREPORTINGRSS for a validated configuration:
 * 8 + 2 * table.length + 40 bytes.
 */
export function encodeTunVnetRss(config: RssConfig, options: TunIoctlEncodeOptions = {}): Buffer {
  const order = options.byteOrder ?? HOST_BYTE_ORDER
  const n = config.table.length
  if (n === 0 || (n & (n - 1)) !== 0 || n > 0x10000) {
    throw new RangeError(`indirection table length ${n} is not a power of two in 1..65536`)
  }
  if (config.key.length !== RSS_KEY_LENGTH) {
    throw new RangeError(`RSS key must be ${RSS_KEY_LENGTH} bytes, got ${config.key.length}`)
  }
  const buf = Buffer.alloc(TUN_VNET_RSS_SIZE + 2 * n + RSS_KEY_LENGTH)
  writeU32(buf, hashTypesToMask(config.hashTypes), 0, order)
  writeU16(buf, n - 1, 4, order)
  writeU16(buf, config.defaultQueue, 6, order)
  config.table.forEach((q, i) => {
    writeU16(buf, q, TUN_VNET_RSS_SIZE + 2 * i, order)
  })
  buf.set(config.key, TUN_VNET_RSS_SIZE + 2 * n)
  return buf
}

/** What an encoded `struct tun_vnet_rss` argument holds (for tests and diagnostics). */
export interface DecodedTunVnetRss {
  hashTypesMask: number
  hashTypes: HashType[]
  table: number[]
  defaultQueue: number
  key: Uint8Array
}

/** Decodes a TUNSETVNETRSS / TUNSETVNETREPORTINGRSS argument (tests, diagnostics). */
export function decodeTunVnetRss(buf: Uint8Array, options: TunIoctlEncodeOptions = {}): DecodedTunVnetRss {
  const le = (options.byteOrder ?? HOST_BYTE_ORDER) === 'little'
  if (buf.length < TUN_VNET_RSS_SIZE) throw new RangeError(`tun_vnet_rss needs ${TUN_VNET_RSS_SIZE} bytes`)
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.length)
  const mask = dv.getUint32(0, le)
  const n = dv.getUint16(4, le) + 1
  const need = TUN_VNET_RSS_SIZE + 2 * n + RSS_KEY_LENGTH
  if (buf.length < need) throw new RangeError(`tun_vnet_rss with ${n} table entries needs ${need} bytes`)
  const table = Array.from({ length: n }, (_, i) => dv.getUint16(TUN_VNET_RSS_SIZE + 2 * i, le))
  const keyAt = TUN_VNET_RSS_SIZE + 2 * n
  return {
    hashTypesMask: mask,
    hashTypes: maskToHashTypes(mask),
    table,
    defaultQueue: dv.getUint16(6, le),
    key: Uint8Array.from(buf.subarray(keyAt, keyAt + RSS_KEY_LENGTH)),
  }
}

/** The __u32 argument of TUNSETVNETREPORTINGAUTOMQ (hash types to report; empty disables). */
export function encodeHashTypesArg(
  types: readonly HashType[] | number,
  options: TunIoctlEncodeOptions = {},
): Buffer {
  const buf = Buffer.alloc(4)
  writeU32(
    buf,
    typeof types === 'number' ? types >>> 0 : hashTypesToMask(types),
    0,
    options.byteOrder ?? HOST_BYTE_ORDER,
  )
  return buf
}

/** Reads the __u32 TUNGETVNETHASHTYPES wrote (pass a 4-byte Buffer to the ioctl, then this). */
export function decodeHashTypesArg(
  buf: Uint8Array,
  options: TunIoctlEncodeOptions = {},
): { mask: number; hashTypes: HashType[] } {
  if (buf.length < 4) throw new RangeError('a hash types argument is 4 bytes')
  const mask = new DataView(buf.buffer, buf.byteOffset, 4).getUint32(
    0,
    (options.byteOrder ?? HOST_BYTE_ORDER) === 'little',
  )
  return { mask, hashTypes: maskToHashTypes(mask) }
}
