// The frame builders feed the end-to-end tap tests, so their output is checked field by field here.
import { describe, expect, it } from 'vitest'
import {
  buildFrame,
  ETH_P_8021AD,
  ETH_P_8021Q,
  ETH_P_IPV4,
  ETH_P_IPV6,
  internetChecksum,
  ipv4Bytes,
  ipv6Bytes,
} from './helpers/frames.ts'

const u16 = (b: Uint8Array, o: number): number => (b[o]! << 8) | b[o + 1]!

describe('frame builders', () => {
  it('address parsing', () => {
    expect([...ipv4Bytes('10.1.2.255')]).toEqual([10, 1, 2, 255])
    expect(Buffer.from(ipv6Bytes('3ffe:501:8::260:97ff:fe40:efab')).toString('hex')).toBe(
      '3ffe050100080000026097fffe40efab',
    )
    expect(Buffer.from(ipv6Bytes('::1')).toString('hex')).toBe(`${'0'.repeat(30)}01`)
    expect(Buffer.from(ipv6Bytes('ff02::')).toString('hex')).toBe(`ff02${'0'.repeat(28)}`)
    expect(() => ipv6Bytes('1::2::3')).toThrow()
    expect(() => ipv4Bytes('1.2.3.256')).toThrow()
  })

  it('IPv4 TCP with options, VLAN tags and padding', () => {
    const f = buildFrame({
      vlans: [
        { tpid: ETH_P_8021AD, vid: 100 },
        { vid: 10, pcp: 3 },
      ],
      ip: { version: 4, src: '10.0.0.1', dst: '10.0.0.2', options: Uint8Array.of(1, 1, 1) },
      l4: { proto: 'tcp', srcPort: 1000, dstPort: 80 },
      payload: new Uint8Array(5),
      padTo: 128,
    })
    expect(u16(f, 12)).toBe(ETH_P_8021AD)
    expect(u16(f, 14) & 0xfff).toBe(100)
    expect(u16(f, 16)).toBe(ETH_P_8021Q)
    expect(u16(f, 18)).toBe((3 << 13) | 10)
    expect(u16(f, 20)).toBe(ETH_P_IPV4)
    const ip = f.subarray(22)
    expect(ip[0]).toBe(0x46) // IHL 6: 3 option bytes padded to 4
    expect(u16(ip, 2)).toBe(24 + 20 + 5)
    expect(internetChecksum(ip.subarray(0, 24))).toBe(0)
    expect(ip[9]).toBe(6)
    expect(u16(ip, 24)).toBe(1000)
    expect(u16(ip, 26)).toBe(80)
    expect(f.length).toBe(128)
  })

  it('IPv4 fragments: flags, offsets, and no transport header after the first', () => {
    const first = buildFrame({
      ip: { version: 4, src: '1.1.1.1', dst: '2.2.2.2', fragment: { offset: 0, more: true } },
      l4: { proto: 'udp', srcPort: 1, dstPort: 2 },
    })
    expect(u16(first, 14 + 6)).toBe(0x2000)
    expect(first.length).toBe(14 + 20 + 8)
    const later = buildFrame({
      ip: {
        version: 4,
        src: '1.1.1.1',
        dst: '2.2.2.2',
        fragment: { offset: 1480, more: false },
        dontFragment: false,
      },
      l4: { proto: 'udp', srcPort: 1, dstPort: 2 },
      payload: new Uint8Array(16),
    })
    expect(u16(later, 14 + 6)).toBe(185)
    expect(later.length).toBe(14 + 20 + 16)
    expect(internetChecksum(later.subarray(14, 34))).toBe(0)
  })

  it('IPv6 extension header chain: next headers, lengths, Home Address alignment', () => {
    const f = buildFrame({
      ip: {
        version: 6,
        src: '2001:db8::1',
        dst: '2001:db8::2',
        extensions: [
          { type: 'hop-by-hop' },
          { type: 'routing2', address: '2001:db8::99' },
          { type: 'destination', homeAddress: '2001:db8::77' },
          { type: 'fragment', offset: 0, more: true, id: 7 },
          { type: 'ah', icvLength: 12 },
        ],
      },
      l4: { proto: 'udp', srcPort: 53, dstPort: 5353 },
    })
    expect(u16(f, 12)).toBe(ETH_P_IPV6)
    const ip = f.subarray(14)
    expect(ip[0]! >> 4).toBe(6)
    expect(u16(ip, 4)).toBe(ip.length - 40)
    expect(ip[6]).toBe(0) // hop-by-hop
    let p = 40
    expect(ip[p]).toBe(43)
    expect(ip[p + 1]).toBe(0) // 8 bytes
    p += 8
    expect([ip[p], ip[p + 1], ip[p + 2], ip[p + 3]]).toEqual([60, 2, 2, 1]) // routing type 2, 24 bytes
    expect(Buffer.from(ip.subarray(p + 8, p + 24))).toEqual(Buffer.from(ipv6Bytes('2001:db8::99')))
    p += 24
    expect(ip[p]).toBe(44)
    const hao = ip.indexOf(0xc9, p + 2)
    expect((hao - p) % 8).toBe(6) // 8n+6 alignment
    expect(ip[hao + 1]).toBe(16)
    expect(Buffer.from(ip.subarray(hao + 2, hao + 18))).toEqual(Buffer.from(ipv6Bytes('2001:db8::77')))
    p += (ip[p + 1]! + 1) * 8
    expect([ip[p], u16(ip, p + 2)]).toEqual([51, 1]) // fragment: next AH, offset 0, M
    p += 8
    expect([ip[p], ip[p + 1]]).toEqual([17, 4]) // AH: next UDP, (12 + 12) / 4 - 2
    p += 24
    expect(u16(ip, p)).toBe(53)
    expect(u16(ip, p + 4)).toBe(8)
  })
})
