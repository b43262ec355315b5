import { describe, expect, it } from 'vitest'
import { hashReportName } from '../src/tuntap/rss-hash-types.ts'
import {
  decodeVnetHeader,
  encodeVnetHeader,
  VNET_HEADER_SIZE,
  VnetFlag,
  VnetGso,
  VnetGsoModifier,
  vnetGsoKind,
  writeVnetHeader,
} from '../src/tuntap/vnet-header.ts'

// A TSO frame: csum needed, TCPv4 with ECN, 54 header bytes, MSS 1448, csum at 34 + 16.
const fields = {
  flags: VnetFlag.NeedsCsum,
  gsoType: VnetGso.TcpV4 | VnetGsoModifier.Ecn,
  hdrLen: 54,
  gsoSize: 1448,
  csumStart: 34,
  csumOffset: 16,
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')

describe('vnet header layouts', () => {
  it('sizes', () => {
    expect(VNET_HEADER_SIZE).toEqual({ legacy: 10, v1: 12, v1_hash: 20 })
  })

  it('flag and GSO values are virtio’s', () => {
    expect(VnetFlag).toEqual({ NeedsCsum: 1, DataValid: 2, RscInfo: 4, UdpTunnelCsum: 8 })
    expect(VnetGso).toEqual({ None: 0, TcpV4: 1, Udp: 3, TcpV6: 4, UdpL4: 5 })
    expect(VnetGsoModifier).toEqual({ UdpTunnelIpv4: 0x20, UdpTunnelIpv6: 0x40, Ecn: 0x80 })
    expect(vnetGsoKind(VnetGso.UdpL4 | VnetGsoModifier.UdpTunnelIpv6)).toBe(VnetGso.UdpL4)
  })

  it('virtio_net_hdr, little-endian', () => {
    expect(hex(encodeVnetHeader({ layout: 'legacy', ...fields }))).toBe('01813600a80522001000')
  })

  it('virtio_net_hdr, big-endian (TUNSETVNETBE)', () => {
    expect(hex(encodeVnetHeader({ layout: 'legacy', ...fields }, { endian: 'big' }))).toBe(
      '0181003605a800220010',
    )
  })

  it('virtio_net_hdr_v1 adds num_buffers', () => {
    expect(hex(encodeVnetHeader({ layout: 'v1', ...fields, numBuffers: 1 }))).toBe('01813600a805220010000100')
    expect(hex(encodeVnetHeader({ layout: 'v1', ...fields, numBuffers: 1 }, { endian: 'big' }))).toBe(
      '0181003605a8002200100001',
    )
  })

  it('virtio_net_hdr_v1_hash: hash fields little-endian even on a big-endian header', () => {
    const h = {
      layout: 'v1_hash' as const,
      ...fields,
      numBuffers: 1,
      hashValue: 0x51ccc178,
      hashReport: 'tcpv4' as const,
    }
    expect(hex(encodeVnetHeader(h))).toBe('01813600a80522001000010078c1cc5102000000')
    expect(hex(encodeVnetHeader(h, { endian: 'big' }))).toBe('0181003605a800220010000178c1cc5102000000')
    expect(hex(encodeVnetHeader({ ...h, hashReport: 9 }))).toBe('01813600a80522001000010078c1cc5109000000')
  })

  it('missing fields are zero', () => {
    expect(hex(encodeVnetHeader({ layout: 'v1_hash' }))).toBe('00'.repeat(20))
    expect(hex(encodeVnetHeader({ layout: 'legacy', flags: VnetFlag.DataValid }))).toBe(`02${'00'.repeat(9)}`)
  })

  it('decodes what it encodes, in both byte orders, at an offset', () => {
    for (const endian of ['little', 'big'] as const) {
      const h = { layout: 'v1_hash' as const, ...fields, numBuffers: 3, hashValue: 0xfedcba98, hashReport: 8 }
      const buf = Buffer.alloc(25, 0xee)
      expect(writeVnetHeader(buf, 5, h, { endian })).toBe(20)
      expect(buf[4]).toBe(0xee)
      const d = decodeVnetHeader(buf, 'v1_hash', { endian, offset: 5 })
      expect(d).toEqual(h)
      expect(hashReportName(d.hashReport)).toBe('tcpv6_ex')
      expect(decodeVnetHeader(buf.subarray(5), 'legacy', { endian })).toEqual({ layout: 'legacy', ...fields })
      expect(decodeVnetHeader(buf.subarray(5), 'v1', { endian })).toEqual({
        layout: 'v1',
        ...fields,
        numBuffers: 3,
      })
    }
  })

  it('decodes hand-written bytes and keeps unknown bits', () => {
    // flags ff, gso e7, hdr_len 2, gso_size 1, csum 0/0, num_buffers 5, hash dd cc bb aa (LE),
    // report 10 (not defined by virtio), padding ffff (ignored).
    const bytes = Buffer.from('ffe702000100000000000500aabbccdd0a00ffff', 'hex')
    const d = decodeVnetHeader(bytes, 'v1_hash')
    expect(hashReportName(d.hashReport)).toBeUndefined()
    expect(d).toEqual({
      layout: 'v1_hash',
      flags: 0xff,
      gsoType: 0xe7,
      hdrLen: 2,
      gsoSize: 1,
      csumStart: 0,
      csumOffset: 0,
      numBuffers: 5,
      hashValue: 0xddccbbaa,
      hashReport: 10,
    })
  })

  it('refuses short buffers and out-of-range values', () => {
    expect(() => decodeVnetHeader(new Uint8Array(19), 'v1_hash')).toThrow(RangeError)
    expect(() => decodeVnetHeader(new Uint8Array(12), 'v1', { offset: 1 })).toThrow(RangeError)
    expect(() => writeVnetHeader(Buffer.alloc(11), 0, { layout: 'v1' })).toThrow(RangeError)
    expect(() => encodeVnetHeader({ layout: 'legacy', hdrLen: 0x10000 })).toThrow(RangeError)
    expect(() => encodeVnetHeader({ layout: 'v1_hash', hashValue: -1 })).toThrow(RangeError)
  })
})
