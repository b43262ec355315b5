// Exact bytes of the proposed kernel tun RSS ioctls. Expected values are written out by hand
// from the UAPI layout (see the comments), not produced by the encoder.
import { describe, expect, it } from 'vitest'
import { ioc } from '../src/netlink/sys/ioc.ts'
import { parseRssConfig } from '../src/tuntap/rss-config.ts'
import { MICROSOFT_RSS_KEY_HEX } from '../src/tuntap/toeplitz.ts'
import {
  decodeHashTypesArg,
  decodeTunVnetRss,
  encodeHashTypesArg,
  encodeTunVnetRss,
  HOST_BYTE_ORDER,
  TUN_VNET_RSS_SIZE,
  TUNGETVNETHASHTYPES,
  TUNSETVNETREPORTINGAUTOMQ,
  TUNSETVNETREPORTINGRSS,
  TUNSETVNETRSS,
} from '../src/tuntap/tun-rss-ioctls.ts'

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')
const KEY_0_TO_39 = Array.from({ length: 40 }, (_, i) => i.toString(16).padStart(2, '0')).join('')

describe('request numbers', () => {
  it('_IOC packs dir(2) size(14) type(8) nr(8)', () => {
    // Known tun requests as a check of the helper: TUNSETIFF = _IOW('T', 202, int),
    // TUNSETSTEERINGEBPF = _IOR('T', 224, int), TUNSETVNETHDRSZ = _IOW('T', 216, int).
    expect(ioc('w', 'T', 202, 4)).toBe(0x400454ca)
    expect(ioc('r', 'T', 224, 4)).toBe(0x800454e0)
    expect(ioc('w', 'T', 216, 4)).toBe(0x400454d8)
  })

  it('the four proposed ioctls: _IOR, type T, 228..231, sizes 4/4/8/8', () => {
    // 0x80000000 (read) | size << 16 | 'T' (0x54) << 8 | nr
    expect(TUNGETVNETHASHTYPES).toBe(0x800454e4)
    expect(TUNSETVNETREPORTINGAUTOMQ).toBe(0x800454e5)
    expect(TUNSETVNETREPORTINGRSS).toBe(0x800854e6)
    expect(TUNSETVNETRSS).toBe(0x800854e7)
    expect(TUN_VNET_RSS_SIZE).toBe(8)
  })
})

describe('struct tun_vnet_rss + table + key', () => {
  it('IPv4 hash types, 4-entry table, default key (little-endian host)', () => {
    const c = parseRssConfig({ hashTypes: ['ipv4', 'tcpv4', 'udpv4'], table: [0, 1, 2, 3], defaultQueue: 0 })
    const b = encodeTunVnetRss(c, { byteOrder: 'little' })
    expect(b.length).toBe(8 + 2 * 4 + 40)
    expect(hex(b)).toBe(
      '07000000' + // hash_types: bits 0, 1, 2
        '0300' + // indirection_table_mask: 4 - 1
        '0000' + // unclassified_queue
        '0000' +
        '0100' +
        '0200' +
        '0300' + // table
        MICROSOFT_RSS_KEY_HEX,
    )
  })

  it('all nine types, 8 entries, default queue 5, key 00..27, both byte orders', () => {
    const c = parseRssConfig({
      hashTypes: ['udpv6_ex', 'tcpv6_ex', 'ipv6_ex', 'udpv6', 'tcpv6', 'ipv6', 'udpv4', 'tcpv4', 'ipv4'],
      key: KEY_0_TO_39,
      table: [3, 2, 1, 0, 3, 2, 1, 0],
      defaultQueue: 5,
    })
    expect(hex(encodeTunVnetRss(c, { byteOrder: 'little' }))).toBe(
      ['ff010000', '0700', '0500', '0300020001000000', '0300020001000000', KEY_0_TO_39].join(''),
    )
    expect(hex(encodeTunVnetRss(c, { byteOrder: 'big' }))).toBe(
      ['000001ff', '0007', '0005', '0003000200010000', '0003000200010000', KEY_0_TO_39].join(''),
    )
  })

  it('one-entry table, IPv6 L4 types, large queue numbers', () => {
    const c = parseRssConfig({
      hashTypes: ['tcpv6', 'udpv6'],
      table: [0x1234],
      defaultQueue: 0x0102,
      key: KEY_0_TO_39,
    })
    expect(hex(encodeTunVnetRss(c, { byteOrder: 'little' }))).toBe(
      ['30000000', '0000', '0201', '3412', KEY_0_TO_39].join(''),
    )
  })

  it('128 entries: mask 0x7f, 8 + 256 + 40 bytes', () => {
    const table = Array.from({ length: 128 }, (_, i) => i % 3)
    const b = encodeTunVnetRss(parseRssConfig({ hashTypes: ['tcpv4'], table, defaultQueue: 1 }), {
      byteOrder: 'little',
    })
    expect(b.length).toBe(304)
    expect(hex(b.subarray(0, 14))).toBe('02000000' + '7f00' + '0100' + '0000' + '0100' + '0200')
    expect(hex(b.subarray(8 + 254, 8 + 256))).toBe('0100') // table[127] = 127 % 3
    expect(hex(b.subarray(264))).toBe(MICROSOFT_RSS_KEY_HEX)
  })

  it('uses the host byte order by default and decodes back', () => {
    const c = parseRssConfig({ hashTypes: ['ipv4', 'udpv6'], table: [1, 0], defaultQueue: 1 })
    const b = encodeTunVnetRss(c)
    expect(b).toEqual(encodeTunVnetRss(c, { byteOrder: HOST_BYTE_ORDER }))
    const d = decodeTunVnetRss(b)
    expect(d).toEqual({
      hashTypesMask: 0x21,
      hashTypes: ['ipv4', 'udpv6'],
      table: [1, 0],
      defaultQueue: 1,
      key: c.key,
    })
    expect(() => decodeTunVnetRss(b.subarray(0, b.length - 1))).toThrow(RangeError)
  })

  it('refuses configurations that bypassed the schema', () => {
    const c = parseRssConfig({ hashTypes: [], table: [0, 1], defaultQueue: 0 })
    expect(() => encodeTunVnetRss({ ...c, table: [0, 1, 2] })).toThrow(RangeError)
    expect(() => encodeTunVnetRss({ ...c, key: new Uint8Array(16) })).toThrow(RangeError)
  })
})

describe('__u32 hash type arguments', () => {
  it('TUNSETVNETREPORTINGAUTOMQ argument', () => {
    expect(hex(encodeHashTypesArg(['ipv4', 'tcpv6_ex'], { byteOrder: 'little' }))).toBe('81000000')
    expect(hex(encodeHashTypesArg([], { byteOrder: 'little' }))).toBe('00000000')
    expect(hex(encodeHashTypesArg(0x3f, { byteOrder: 'little' }))).toBe('3f000000')
    expect(hex(encodeHashTypesArg(0x1ff, { byteOrder: 'big' }))).toBe('000001ff')
  })

  it('TUNGETVNETHASHTYPES result (v12 answers 0x3f: no _EX types)', () => {
    expect(decodeHashTypesArg(Buffer.from('3f000000', 'hex'), { byteOrder: 'little' })).toEqual({
      mask: 0x3f,
      hashTypes: ['ipv4', 'tcpv4', 'udpv4', 'ipv6', 'tcpv6', 'udpv6'],
    })
    expect(() => decodeHashTypesArg(new Uint8Array(3))).toThrow(RangeError)
  })
})
