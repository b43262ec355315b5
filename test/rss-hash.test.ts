import { describe, expect, it } from 'vitest'
import { MAX_IPV6_EXT_HEADERS, MAX_VLAN_TAGS, parseFrame } from '../src/tuntap/frame-parser.ts'
import { parseRssConfig, type RssConfig } from '../src/tuntap/rss-config.ts'
import { queueForHash, rssHash, rssQueue, rssSteering } from '../src/tuntap/rss-hash.ts'
import type { HashType } from '../src/tuntap/rss-hash-types.ts'
import { HASH_TYPES } from '../src/tuntap/rss-hash-types.ts'
import { microsoftRssKey } from '../src/tuntap/toeplitz.ts'
import {
  arpRequest,
  buildFrame,
  buildIpPacket,
  buildRawFrame,
  ETH_P_8021AD,
  ETH_P_IPV4,
  type FrameSpec,
  hashInput,
  type Ipv4Spec,
  type Ipv6Extension,
  type TransportSpec,
} from './helpers/frames.ts'
import { Prng } from './helpers/prng.ts'
import { toeplitzReference } from './helpers/toeplitz-reference.ts'

const KEY = microsoftRssKey()
const table = Array.from({ length: 128 }, (_, i) => i % 4)

function config(hashTypes: HashType[], extra: Partial<RssConfig> = {}): RssConfig {
  return parseRssConfig({ hashTypes, table, defaultQueue: 3, ...extra })
}

const ALL = config([...HASH_TYPES])

// From the standard vectors: first IPv4 and first IPv6 rows.
const V4 = {
  src: '66.9.149.187',
  dst: '161.142.100.80',
  srcPort: 2794,
  dstPort: 1766,
  ip: 0x323e8fc2,
  l4: 0x51ccc178,
}
const V6 = {
  src: '3ffe:2501:200:1fff::7',
  dst: '3ffe:2501:200:3::1',
  srcPort: 2794,
  dstPort: 1766,
  ip: 0x2cc18cd5,
  l4: 0x40207d3d,
}
const HOME = '2001:db8:aaaa::1'
const CARE_OF_DST = '2001:db8:bbbb::2'

const tcp = (p: { srcPort: number; dstPort: number }): TransportSpec => ({ proto: 'tcp', ...p })
const udp = (p: { srcPort: number; dstPort: number }): TransportSpec => ({ proto: 'udp', ...p })

function v4(
  l4: TransportSpec,
  more: Omit<Partial<FrameSpec>, 'ip'> & { ip?: Partial<Ipv4Spec> } = {},
): Buffer {
  const { ip, ...rest } = more
  return buildFrame({ ip: { version: 4, src: V4.src, dst: V4.dst, ...ip }, l4, ...rest })
}

function v6(l4: TransportSpec, extensions: Ipv6Extension[] = [], more: Partial<FrameSpec> = {}): Buffer {
  return buildFrame({ ip: { version: 6, src: V6.src, dst: V6.dst, extensions }, l4, ...more })
}

/** The virtio specification's selection order (the library default is QEMU's). */
const specHash = (f: Uint8Array, c: RssConfig) => rssHash(f, c, { rules: 'spec' })

function ref(src: string, dst: string, ports?: { srcPort: number; dstPort: number }): number {
  return toeplitzReference(KEY, hashInput(src, dst, ports))
}

describe('IPv4', () => {
  it('TCP with TCPv4 enabled hashes addresses and ports (standard vector)', () => {
    expect(rssHash(v4(tcp(V4)), ALL)).toEqual({ hash: V4.l4, reportType: 'tcpv4' })
  })

  it('TCP with only IPv4 enabled hashes the addresses', () => {
    expect(rssHash(v4(tcp(V4)), config(['ipv4']))).toEqual({ hash: V4.ip, reportType: 'ipv4' })
  })

  it('TCP with only UDPv4 enabled gets no hash', () => {
    expect(rssHash(v4(tcp(V4)), config(['udpv4']))).toEqual({ hash: 0, reportType: 'none' })
  })

  it('UDP prefers UDPv4 and falls back to IPv4', () => {
    expect(rssHash(v4(udp(V4)), ALL)).toEqual({ hash: V4.l4, reportType: 'udpv4' })
    expect(rssHash(v4(udp(V4)), config(['tcpv4', 'ipv4']))).toEqual({ hash: V4.ip, reportType: 'ipv4' })
    expect(rssHash(v4(udp(V4)), config(['tcpv4']))).toEqual({ hash: 0, reportType: 'none' })
  })

  it('ICMP and other protocols hash addresses only', () => {
    expect(rssHash(v4({ proto: 'icmp' }), ALL)).toEqual({ hash: V4.ip, reportType: 'ipv4' })
    expect(rssHash(v4({ proto: 'other', protocol: 132, header: new Uint8Array(12) }), ALL)).toEqual({
      hash: V4.ip,
      reportType: 'ipv4',
    })
    expect(rssHash(v4({ proto: 'icmp' }), config(['tcpv4', 'udpv4']))).toEqual({
      hash: 0,
      reportType: 'none',
    })
  })

  it('IPv4 options are skipped by IHL', () => {
    const options = Uint8Array.of(0x94, 4, 0, 0, 0x01, 0x07, 7, 4, 0, 0, 0, 0) // router alert, NOP, RR
    const f = v4(tcp(V4), { ip: { options } })
    expect(parseFrame(f).transportOffset).toBe(14 + 20 + 12)
    expect(rssHash(f, ALL)).toEqual({ hash: V4.l4, reportType: 'tcpv4' })
  })

  it('fragments get no L4 hash: first (MF) and non-first (offset) alike', () => {
    const first = v4(tcp(V4), { ip: { fragment: { offset: 0, more: true } } })
    const middle = v4(tcp(V4), {
      ip: { fragment: { offset: 1480, more: true } },
      payload: new Uint8Array(40),
    })
    const last = v4(udp(V4), { ip: { fragment: { offset: 2960, more: false } }, payload: new Uint8Array(40) })
    for (const f of [first, middle, last]) {
      expect(parseFrame(f).fragment).toBe(true)
      expect(rssHash(f, ALL)).toEqual({ hash: V4.ip, reportType: 'ipv4' })
      expect(rssHash(f, config(['tcpv4', 'udpv4']))).toEqual({ hash: 0, reportType: 'none' })
    }
  })

  it('DF alone is not a fragment', () => {
    expect(rssHash(v4(tcp(V4), { ip: { dontFragment: true } }), ALL)).toEqual({
      hash: V4.l4,
      reportType: 'tcpv4',
    })
  })

  it('all five IPv4 vectors through frames', () => {
    const rows: [string, number, string, number, number, number][] = [
      ['161.142.100.80', 1766, '66.9.149.187', 2794, 0x323e8fc2, 0x51ccc178],
      ['65.69.140.83', 4739, '199.92.111.2', 14230, 0xd718262a, 0xc626b0ea],
      ['12.22.207.184', 38024, '24.19.198.95', 12898, 0xd2d0a5de, 0x5c2b394a],
      ['209.142.163.6', 2217, '38.27.205.30', 48228, 0x82989176, 0xafc7327f],
      ['202.188.127.2', 1303, '153.39.163.191', 44251, 0x5d1809c5, 0x10e828a2],
    ]
    for (const [dst, dstPort, src, srcPort, ip, l4] of rows) {
      const f = buildFrame({ ip: { version: 4, src, dst }, l4: { proto: 'udp', srcPort, dstPort } })
      expect(rssHash(f, ALL)).toEqual({ hash: l4, reportType: 'udpv4' })
      expect(rssHash(f, config(['ipv4', 'tcpv4']))).toEqual({ hash: ip, reportType: 'ipv4' })
    }
  })
})

describe('VLAN tags', () => {
  const plain = rssHash(v4(tcp(V4)), ALL)
  it('one 802.1Q tag, 802.1ad + 802.1Q, and mixed stacks hash like the untagged frame', () => {
    const stacks = [
      [{ vid: 10 }],
      [{ tpid: ETH_P_8021AD, vid: 100 }, { vid: 10 }],
      [{ tpid: ETH_P_8021AD, vid: 100 }, { tpid: ETH_P_8021AD, vid: 200 }, { vid: 10 }],
      Array.from({ length: MAX_VLAN_TAGS }, (_, i) => ({ vid: i + 1, pcp: 5 })),
    ]
    for (const vlans of stacks) {
      const f = v4(tcp(V4), { vlans })
      expect(parseFrame(f).vlanTags).toBe(vlans.length)
      expect(rssHash(f, ALL)).toEqual(plain)
    }
    expect(rssHash(v6(tcp(V6), [], { vlans: [{ tpid: ETH_P_8021AD, vid: 7 }, { vid: 8 }] }), ALL)).toEqual({
      hash: V6.l4,
      reportType: 'tcpv6_ex',
    })
  })

  it(`more than ${MAX_VLAN_TAGS} tags: not parsed, no hash, default queue`, () => {
    const f = v4(tcp(V4), { vlans: Array.from({ length: MAX_VLAN_TAGS + 1 }, (_, i) => ({ vid: i + 1 })) })
    expect(rssHash(f, ALL)).toEqual({ hash: 0, reportType: 'none' })
    expect(rssQueue(f, ALL)).toBe(3)
  })
})

describe("IPv6 without extension headers (rules: 'spec')", () => {
  it('TCP/UDP/ICMPv6 follow TCPv6 → UDPv6 → IPv6', () => {
    expect(specHash(v6(tcp(V6)), ALL)).toEqual({ hash: V6.l4, reportType: 'tcpv6' })
    expect(specHash(v6(udp(V6)), ALL)).toEqual({ hash: V6.l4, reportType: 'udpv6' })
    expect(specHash(v6({ proto: 'icmp' }), ALL)).toEqual({ hash: V6.ip, reportType: 'ipv6' })
    expect(specHash(v6(tcp(V6)), config(['ipv6', 'udpv6']))).toEqual({ hash: V6.ip, reportType: 'ipv6' })
    expect(specHash(v6(udp(V6)), config(['tcpv6']))).toEqual({ hash: 0, reportType: 'none' })
  })

  it('the _EX types do not apply without extension headers', () => {
    expect(specHash(v6(tcp(V6)), config(['ipv6_ex', 'tcpv6_ex', 'udpv6_ex']))).toEqual({
      hash: 0,
      reportType: 'none',
    })
    expect(specHash(v6(tcp(V6)), config(['ipv6', 'tcpv6_ex']))).toEqual({ hash: V6.ip, reportType: 'ipv6' })
  })

  it('IPv6 types do not apply to IPv4 and vice versa', () => {
    expect(specHash(v4(tcp(V4)), config(['ipv6', 'tcpv6', 'udpv6', 'ipv6_ex']))).toEqual({
      hash: 0,
      reportType: 'none',
    })
    expect(specHash(v6(tcp(V6)), config(['ipv4', 'tcpv4', 'udpv4']))).toEqual({ hash: 0, reportType: 'none' })
  })

  it('the three IPv6 vectors through frames', () => {
    const rows: [string, number, string, number, number, number][] = [
      ['3ffe:2501:200:3::1', 1766, '3ffe:2501:200:1fff::7', 2794, 0x2cc18cd5, 0x40207d3d],
      ['ff02::1', 4739, '3ffe:501:8::260:97ff:fe40:efab', 14230, 0x0f0c461c, 0xdde51bbf],
      [
        'fe80::200:f8ff:fe21:67cf',
        38024,
        '3ffe:1900:4545:3:200:f8ff:fe21:67cf',
        44251,
        0x4b61e985,
        0x02d1feef,
      ],
    ]
    for (const [dst, dstPort, src, srcPort, ip, l4] of rows) {
      const f = buildFrame({ ip: { version: 6, src, dst }, l4: { proto: 'tcp', srcPort, dstPort } })
      expect(specHash(f, ALL)).toEqual({ hash: l4, reportType: 'tcpv6' })
      expect(specHash(f, config(['ipv6']))).toEqual({ hash: ip, reportType: 'ipv6' })
    }
  })
})

describe("IPv6 with extension headers (rules: 'spec')", () => {
  const hbh: Ipv6Extension = { type: 'hop-by-hop', options: Uint8Array.of(5, 2, 0, 0) } // router alert
  const hao: Ipv6Extension = { type: 'destination', homeAddress: HOME }
  const rh2: Ipv6Extension = { type: 'routing2', address: CARE_OF_DST }

  it('_EX without a Home Address option or type 2 routing header hashes the fixed addresses', () => {
    expect(specHash(v6(tcp(V6), [hbh]), ALL)).toEqual({ hash: V6.l4, reportType: 'tcpv6_ex' })
    expect(specHash(v6(udp(V6), [hbh]), ALL)).toEqual({ hash: V6.l4, reportType: 'udpv6_ex' })
    expect(specHash(v6({ proto: 'icmp' }, [hbh]), ALL)).toEqual({ hash: V6.ip, reportType: 'ipv6_ex' })
  })

  it('the Home Address option replaces the source address', () => {
    const f = v6(tcp(V6), [hao])
    expect(parseFrame(f).homeAddressOffset).toBeGreaterThan(0)
    expect(specHash(f, ALL)).toEqual({ hash: ref(HOME, V6.dst, V6), reportType: 'tcpv6_ex' })
    expect(specHash(f, config(['ipv6_ex']))).toEqual({ hash: ref(HOME, V6.dst), reportType: 'ipv6_ex' })
  })

  it('the type 2 routing header address replaces the destination address', () => {
    const f = v6(udp(V6), [rh2])
    expect(specHash(f, ALL)).toEqual({ hash: ref(V6.src, CARE_OF_DST, V6), reportType: 'udpv6_ex' })
  })

  it('both, in RFC 6275 order (hop-by-hop, routing, destination options)', () => {
    const f = v6(tcp(V6), [hbh, rh2, hao])
    expect(specHash(f, ALL)).toEqual({ hash: ref(HOME, CARE_OF_DST, V6), reportType: 'tcpv6_ex' })
  })

  it('without _EX types, extension headers are skipped and the fixed addresses hashed', () => {
    const f = v6(tcp(V6), [hbh, rh2, hao])
    expect(specHash(f, config(['ipv6', 'tcpv6', 'udpv6']))).toEqual({ hash: V6.l4, reportType: 'tcpv6' })
    expect(specHash(f, config(['ipv6']))).toEqual({ hash: V6.ip, reportType: 'ipv6' })
  })

  it('IP_EX takes precedence over TCPv6/UDPv6 (the spec lists all _EX types first)', () => {
    const f = v6(tcp(V6), [hao])
    expect(specHash(f, config(['ipv6_ex', 'tcpv6']))).toEqual({
      hash: ref(HOME, V6.dst),
      reportType: 'ipv6_ex',
    })
    expect(specHash(f, config(['udpv6_ex', 'tcpv6']))).toEqual({ hash: V6.l4, reportType: 'tcpv6' })
  })

  it('other routing types give no address; a non-HAO option is ignored', () => {
    const srh: Ipv6Extension = { type: 'routing', routingType: 4, data: new Uint8Array(36), segmentsLeft: 1 }
    const rt0: Ipv6Extension = { type: 'routing', routingType: 0, data: new Uint8Array(20), segmentsLeft: 1 }
    const otherOpt: Ipv6Extension = {
      type: 'destination',
      options: Uint8Array.of(0x1e, 16, ...new Uint8Array(16)),
    }
    for (const ext of [srh, rt0, otherOpt]) {
      const f = v6(tcp(V6), [ext])
      const p = parseFrame(f)
      expect(p.routingAddressOffset).toBe(-1)
      expect(p.homeAddressOffset).toBe(-1)
      expect(specHash(f, ALL)).toEqual({ hash: V6.l4, reportType: 'tcpv6_ex' })
    }
  })

  it('AH is skipped by its length', () => {
    const f = v6(tcp(V6), [hao, { type: 'ah', icvLength: 16 }])
    expect(parseFrame(f).l4).toBe('tcp')
    expect(specHash(f, ALL)).toEqual({ hash: ref(HOME, V6.dst, V6), reportType: 'tcpv6_ex' })
  })

  it('a fragment header means no ports, first fragment or not', () => {
    for (const frag of [
      { type: 'fragment', offset: 0, more: true },
      { type: 'fragment', offset: 1448, more: false },
    ] as const) {
      const f = v6(tcp(V6), [hao, frag], { payload: new Uint8Array(24) })
      const p = parseFrame(f)
      expect(p.fragment).toBe(true)
      expect(p.l4).toBeNull()
      expect(specHash(f, ALL)).toEqual({ hash: ref(HOME, V6.dst), reportType: 'ipv6_ex' })
      expect(specHash(f, config(['tcpv6', 'ipv6']))).toEqual({ hash: V6.ip, reportType: 'ipv6' })
      expect(specHash(f, config(['tcpv6', 'tcpv6_ex']))).toEqual({ hash: 0, reportType: 'none' })
    }
  })

  it(`up to ${MAX_IPV6_EXT_HEADERS} extension headers are followed; more stop the walk`, () => {
    const dst = (): Ipv6Extension => ({ type: 'destination' })
    const ok = v6(tcp(V6), Array.from({ length: MAX_IPV6_EXT_HEADERS }, dst))
    expect(specHash(ok, ALL)).toEqual({ hash: V6.l4, reportType: 'tcpv6_ex' })
    const tooMany = v6(tcp(V6), Array.from({ length: MAX_IPV6_EXT_HEADERS + 1 }, dst))
    expect(parseFrame(tooMany).protocol).toBe(-1)
    expect(specHash(tooMany, ALL)).toEqual({ hash: V6.ip, reportType: 'ipv6_ex' })
  })

  it('an unknown next header (e.g. Mobility 135) is the upper-layer protocol', () => {
    const f = v6({ proto: 'other', protocol: 135, header: new Uint8Array(8) })
    expect(parseFrame(f).ipv6Extensions).toBe(false)
    expect(specHash(f, ALL)).toEqual({ hash: V6.ip, reportType: 'ipv6' })
  })
})

describe("QEMU's selection order (rules: 'qemu', the default)", () => {
  const qemu = { rules: 'qemu' } as const
  const hao: Ipv6Extension = { type: 'destination', homeAddress: HOME }

  it('_EX types apply without extension headers (same value, _EX report)', () => {
    expect(rssHash(v6(tcp(V6)), config(['tcpv6_ex']), qemu)).toEqual({ hash: V6.l4, reportType: 'tcpv6_ex' })
    expect(rssHash(v6(tcp(V6)), ALL, qemu)).toEqual({ hash: V6.l4, reportType: 'tcpv6_ex' })
    expect(rssHash(v6({ proto: 'icmp' }), ALL, qemu)).toEqual({ hash: V6.ip, reportType: 'ipv6_ex' })
  })

  it('L4 before addresses: TCPv6 beats IP_EX', () => {
    const f = v6(tcp(V6), [hao])
    expect(rssHash(f, config(['ipv6_ex', 'tcpv6']), qemu)).toEqual({ hash: V6.l4, reportType: 'tcpv6' })
    expect(rssHash(f, config(['ipv6_ex', 'tcpv6']))).toEqual({ hash: V6.l4, reportType: 'tcpv6' })
    expect(specHash(f, config(['ipv6_ex', 'tcpv6']))).toEqual({
      hash: ref(HOME, V6.dst),
      reportType: 'ipv6_ex',
    })
  })

  it('IPv4 is the same under both rules', () => {
    for (const f of [v4(tcp(V4)), v4(udp(V4)), v4({ proto: 'icmp' })]) {
      for (const types of [['ipv4'], ['tcpv4', 'udpv4'], [...HASH_TYPES]] as HashType[][]) {
        expect(rssHash(f, config(types), qemu)).toEqual(rssHash(f, config(types)))
      }
    }
  })

  it('with all nine types enabled both rules give the same hash and queue', () => {
    const rng = new Prng(77)
    const ip6 = (): string => Array.from({ length: 8 }, () => rng.int(0x10000).toString(16)).join(':')
    const spec = rssSteering(ALL, { rules: 'spec' })
    const q = rssSteering(ALL)
    for (let i = 0; i < 500; i++) {
      const ports = { srcPort: rng.int(65536), dstPort: rng.int(65536) }
      const choices: Ipv6Extension[][] = [
        [],
        [hao],
        [{ type: 'routing2', address: ip6() }],
        [{ type: 'hop-by-hop' }],
      ]
      const exts = choices[rng.int(4)]!
      const l4 = rng.pick<TransportSpec>([tcp(ports), udp(ports), { proto: 'icmp' }])
      const f = buildFrame({ ip: { version: 6, src: ip6(), dst: ip6(), extensions: exts }, l4 })
      expect(q.hash(f).hash).toBe(spec.hash(f).hash)
      expect(q.queue(f)).toBe(spec.queue(f))
    }
  })
})

describe('truncated and malformed frames', () => {
  it('every prefix of every kind of frame parses without throwing', () => {
    const frames = [
      v4(tcp(V4), { vlans: [{ vid: 1 }], ip: { options: new Uint8Array(8) } }),
      v6(tcp(V6), [
        { type: 'hop-by-hop' },
        { type: 'routing2', address: CARE_OF_DST },
        { type: 'destination', homeAddress: HOME },
        { type: 'ah' },
      ]),
    ]
    for (const f of frames) {
      for (let n = 0; n <= f.length; n++) {
        const r = rssHash(f.subarray(0, n), ALL)
        expect(['none', 'ipv4', 'tcpv4', 'ipv6_ex', 'tcpv6_ex']).toContain(r.reportType)
      }
    }
  })

  it('IPv4: truncated ports fall back to the address hash; a truncated header gives no hash', () => {
    const f = v4(tcp(V4))
    const l4At = 14 + 20
    expect(rssHash(f.subarray(0, l4At + 4), ALL)).toEqual({ hash: V4.l4, reportType: 'tcpv4' })
    expect(rssHash(f.subarray(0, l4At + 3), ALL)).toEqual({ hash: V4.ip, reportType: 'ipv4' })
    expect(rssHash(f.subarray(0, l4At), ALL)).toEqual({ hash: V4.ip, reportType: 'ipv4' })
    expect(rssHash(f.subarray(0, l4At - 1), ALL)).toEqual({ hash: 0, reportType: 'none' })
  })

  it('IPv6: a truncated extension header keeps the address hash; a truncated fixed header gives none', () => {
    const f = v6(tcp(V6), [{ type: 'destination', homeAddress: HOME }])
    const extAt = 14 + 40
    expect(rssHash(f.subarray(0, extAt + 23), ALL)).toEqual({ hash: V6.ip, reportType: 'ipv6_ex' })
    expect(rssHash(f.subarray(0, extAt + 24), ALL)).toEqual({
      hash: ref(HOME, V6.dst),
      reportType: 'ipv6_ex',
    })
    expect(rssHash(f.subarray(0, extAt + 28), ALL)).toEqual({
      hash: ref(HOME, V6.dst, V6),
      reportType: 'tcpv6_ex',
    })
    expect(rssHash(f.subarray(0, extAt - 1), ALL)).toEqual({ hash: 0, reportType: 'none' })
  })

  it('not IP, wrong version, bad IHL: no hash and the default queue', () => {
    const bad4 = v4(tcp(V4))
    bad4[14] = 0x44 // IHL 4
    const wrongVersion = v4(tcp(V4))
    wrongVersion[14] = 0x65
    const v6InV4 = buildRawFrame(
      ETH_P_IPV4,
      buildIpPacket({ ip: { version: 6, src: V6.src, dst: V6.dst }, l4: tcp(V6) }),
    )
    for (const f of [arpRequest('10.0.0.1', '10.0.0.2'), bad4, wrongVersion, v6InV4, new Uint8Array(0)]) {
      expect(rssHash(f, ALL)).toEqual({ hash: 0, reportType: 'none' })
      expect(rssQueue(f, ALL)).toBe(3)
    }
  })

  it('random bytes never throw', () => {
    const rng = new Prng(31337)
    for (let i = 0; i < 5000; i++) {
      const f = rng.bytes(rng.int(120))
      if (f.length >= 14 && i % 2 === 0) {
        f[12] = i % 4 === 0 ? 0x86 : 0x08
        f[13] = i % 4 === 0 ? 0xdd : 0x00
        f[14] = i % 4 === 0 ? 0x60 | (f[14]! & 0xf) : 0x45
      }
      const r = rssHash(f, ALL)
      expect(r.hash >>> 0).toBe(r.hash)
    }
  })
})

describe('link type ip (tun)', () => {
  it('hashes a bare IP packet like the same packet in a frame', () => {
    const cfg = config(['tcpv4', 'tcpv6'])
    expect(
      rssHash(buildIpPacket({ ip: { version: 4, src: V4.src, dst: V4.dst }, l4: tcp(V4) }), cfg, {
        linkType: 'ip',
      }),
    ).toEqual({
      hash: V4.l4,
      reportType: 'tcpv4',
    })
    expect(
      rssHash(buildIpPacket({ ip: { version: 6, src: V6.src, dst: V6.dst }, l4: tcp(V6) }), cfg, {
        linkType: 'ip',
      }),
    ).toEqual({
      hash: V6.l4,
      reportType: 'tcpv6',
    })
    expect(rssHash(Uint8Array.of(0x10), cfg, { linkType: 'ip' }).reportType).toBe('none')
  })
})

describe('queues', () => {
  it('rssQueue is table[hash & (length - 1)]', () => {
    const t = Array.from({ length: 8 }, (_, i) => 7 - i)
    const cfg = config(['tcpv4'], { table: t })
    expect(rssQueue(v4(tcp(V4)), cfg)).toBe(t[V4.l4 & 7])
    const one = config(['tcpv4'], { table: [2] })
    expect(rssQueue(v4(tcp(V4)), one)).toBe(2)
    expect(queueForHash({ hash: 5, reportType: 'ipv4' }, { table: [0, 1, 2, 3], defaultQueue: 9 })).toBe(1)
    expect(queueForHash({ hash: 5, reportType: 'none' }, { table: [0, 1, 2, 3], defaultQueue: 9 })).toBe(9)
  })

  it('rssSteering agrees with rssHash/rssQueue on seeded random flows, and snapshots its config', () => {
    const rng = new Prng(2024)
    const key = rng.bytes(40)
    const cfg = parseRssConfig({
      hashTypes: ['ipv4', 'tcpv4', 'udpv4', 'ipv6', 'udpv6', 'tcpv6_ex'],
      key,
      table: Array.from({ length: 64 }, () => rng.int(16)),
      defaultQueue: 15,
    })
    const steering = rssSteering(cfg)
    const ip4 = (): string => Array.from({ length: 4 }, () => rng.int(256)).join('.')
    const ip6 = (): string => Array.from({ length: 8 }, () => rng.int(0x10000).toString(16)).join(':')
    for (let i = 0; i < 2000; i++) {
      const six = rng.int(2) === 1
      const ports = { srcPort: rng.int(65536), dstPort: rng.int(65536) }
      const l4 = rng.pick<TransportSpec>([tcp(ports), udp(ports), { proto: 'icmp' }])
      const exts: Ipv6Extension[] = rng.int(3) === 0 ? [{ type: 'destination', homeAddress: ip6() }] : []
      const f = six
        ? buildFrame({ ip: { version: 6, src: ip6(), dst: ip6(), extensions: exts }, l4 })
        : buildFrame({
            ip: { version: 4, src: ip4(), dst: ip4() },
            l4,
            vlans: rng.int(2) ? [{ vid: 5 }] : [],
          })
      const r = rssHash(f, cfg)
      expect(steering.hash(f)).toEqual(r)
      expect(steering.queue(f)).toBe(rssQueue(f, cfg))
      if (r.reportType === 'none') expect(steering.queue(f)).toBe(15)
    }
    const f = v4(tcp(V4))
    const before = steering.queue(f)
    cfg.table.fill(0)
    cfg.key.fill(0)
    expect(steering.queue(f)).toBe(before)
  })
})
