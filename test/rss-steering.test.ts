import type { Subscription } from 'rxjs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { inNetns } from '../src/netlink/sys/index.ts'
import { Tap } from '../src/tuntap/device.ts'
import { PacketSocket } from '../src/tuntap/packet-socket.ts'
import type { RssConfig } from '../src/tuntap/rss-config.ts'
import { rssHash } from '../src/tuntap/rss-hash.ts'
import type { HashReport, HashType } from '../src/tuntap/rss-hash-types.ts'
import {
  decodeRssConfig,
  encodeRssConfig,
  type RssLastResult,
  RssSteering,
} from '../src/tuntap/rss-steering-program.ts'
import { TestNetns } from './helpers/netns.ts'
import {
  buildFrame,
  ipBytes,
  type PacketSpec,
  prng,
  randomSpec,
  STANDARD_KEY,
  toeplitz,
} from './helpers/rss-packets.ts'
import { quietNetns } from './helpers/tap-frames.ts'

const ALL: HashType[] = [
  'ipv4',
  'tcpv4',
  'udpv4',
  'ipv6',
  'tcpv6',
  'udpv6',
  'ipv6_ex',
  'tcpv6_ex',
  'udpv6_ex',
]
const PLAIN: HashType[] = ['ipv4', 'tcpv4', 'udpv4', 'ipv6', 'tcpv6', 'udpv6']
const IP_ONLY: HashType[] = ['ipv4', 'ipv6']

/** The library's prediction (rssHash, default rules) in the program's record shape. */
const expectedRss = (frame: Buffer, c: RssConfig, linkType: 'ethernet' | 'ip' = 'ethernet') => {
  const r = rssHash(frame, c, { linkType })
  return { hash: r.hash, report: r.reportType as HashReport }
}

/** The standard vectors: [dst, dport, src, sport, ip-only hash, ip+ports hash]. */
const VECTORS: Array<[string, number, string, number, number, number]> = [
  ['161.142.100.80', 1766, '66.9.149.187', 2794, 0x323e8fc2, 0x51ccc178],
  ['65.69.140.83', 4739, '199.92.111.2', 14230, 0xd718262a, 0xc626b0ea],
  ['12.22.207.184', 38024, '24.19.198.95', 12898, 0xd2d0a5de, 0x5c2b394a],
  ['209.142.163.6', 2217, '38.27.205.30', 48228, 0x82989176, 0xafc7327f],
  ['202.188.127.2', 1303, '153.39.163.191', 44251, 0x5d1809c5, 0x10e828a2],
  ['3ffe:2501:200:3::1', 1766, '3ffe:2501:200:1fff::7', 2794, 0x2cc18cd5, 0x40207d3d],
  ['ff02::1', 4739, '3ffe:501:8::260:97ff:fe40:efab', 14230, 0x0f0c461c, 0xdde51bbf],
  ['fe80::200:f8ff:fe21:67cf', 38024, '3ffe:1900:4545:3:200:f8ff:fe21:67cf', 44251, 0x4b61e985, 0x02d1feef],
]
const vectorSpec = ([dst, dport, src, sport]: (typeof VECTORS)[number], proto = 6): PacketSpec => ({
  ip: dst.includes(':') ? { v: 6, src, dst, proto } : { v: 4, src, dst, proto },
  ports: { src: sport, dst: dport },
})

/** A 128-entry table over 4 queues with a non-trivial pattern. */
const TABLE = Array.from({ length: 128 }, (_, i) => (i * 7 + 3) % 4)
const config = (hashTypes: HashType[], over: Partial<RssConfig> = {}): RssConfig => ({
  hashTypes,
  key: Uint8Array.from(STANDARD_KEY),
  table: TABLE,
  defaultQueue: 1,
  ...over,
})
const queueFor = (c: RssConfig, e: { hash: number; report: string }) =>
  e.report === 'none' ? c.defaultQueue : c.table[e.hash & (c.table.length - 1)]!

describe('reference Toeplitz', () => {
  it('matches the 16 standard vectors', () => {
    for (const [dst, dport, src, sport, ipOnly, withPorts] of VECTORS) {
      const ports = Buffer.alloc(4)
      ports.writeUInt16BE(sport, 0)
      ports.writeUInt16BE(dport, 2)
      const addrs = Buffer.concat([ipBytes(src), ipBytes(dst)])
      expect(toeplitz(STANDARD_KEY, addrs)).toBe(ipOnly)
      expect(toeplitz(STANDARD_KEY, Buffer.concat([addrs, ports]))).toBe(withPorts)
    }
  })
})

describe('config encoding', () => {
  it('round-trips and validates', () => {
    const c = config(ALL, { table: [0, 1, 2, 3], defaultQueue: 9 })
    const b = encodeRssConfig(c, 128, 16)
    expect(b.length).toBe(64 + 256)
    expect(b.readUInt32LE(0)).toBe(0x1ff)
    expect(b.readUInt16LE(4)).toBe(3)
    expect(b.readUInt16LE(6)).toBe(9)
    expect(b.readUInt16LE(8)).toBe(16)
    expect(b.subarray(16, 56)).toEqual(STANDARD_KEY)
    expect(decodeRssConfig(b)).toEqual({ ...c, hashTypes: ALL, queues: 16 })
    // the encoder takes validated configurations only; what bypassed the schema is refused
    expect(() => encodeRssConfig(config(ALL, { table: [0, 1, 2] }), 128)).toThrow(/power of two/)
    expect(() => encodeRssConfig(config(ALL, { table: Array(256).fill(0) }), 128)).toThrow(/up to 128/)
    expect(() => encodeRssConfig(config(ALL, { key: new Uint8Array(39) }), 128)).toThrow(/40 bytes/)
  })
})

describe('RSS program loading', () => {
  it('loads for table capacities 1 to 32768 in both layers, and checks its options', () => {
    for (const tableCapacity of [1, 2, 128, 32768])
      for (const layer of ['l2', 'l3'] as const) {
        using rss = RssSteering.create({ tableCapacity, layer })
        expect(rss.config.map.valueSize).toBe(64 + 2 * tableCapacity)
        expect(rss.config.tableCapacity).toBe(tableCapacity)
      }
    expect(() => RssSteering.create({ tableCapacity: 100 })).toThrow(
      expect.objectContaining({ kind: 'invalid-input' }),
    )
    expect(() => RssSteering.create({}, config(ALL, { table: [0, 1, 2] }))).toThrow(/power of two/)
    expect(() =>
      RssSteering.create({ tableCapacity: 4 }, config(ALL, { table: [0, 1, 2, 3, 0, 1, 2, 3] })),
    ).toThrow(/exceed the maximum of 4/)
  })
})

describe('RSS program under BPF_PROG_TEST_RUN (l3 mode)', () => {
  let ns: TestNetns
  let rss: RssSteering
  beforeAll(() => {
    ns = new TestNetns('rssrun')
    rss = RssSteering.create({ layer: 'l3', record: true }, config(ALL))
  })
  afterAll(() => {
    rss?.close()
    ns?.remove()
  })

  const run = (frame: Buffer) => {
    const retval = inNetns(ns.name, () => rss.program.testRun(frame).retval)
    return { retval, last: rss.last()! }
  }
  const check = (spec: PacketSpec | Buffer, c: RssConfig) => {
    const frame = Buffer.isBuffer(spec) ? spec : buildFrame(spec)
    const e = expectedRss(frame, c)
    const { retval, last } = run(frame)
    expect({ hash: last.hash, report: last.report, queue: retval }).toEqual({
      hash: e.hash,
      report: e.report,
      queue: queueFor(c, e),
    })
    return e
  }

  it('loads with its two maps (config and last-result)', () => {
    const info = rss.program.info()
    expect(info.name).toBe('rxnl_rss')
    expect(info.mapIds).toHaveLength(2)
  })

  it('gives the standard vector hashes (IP + ports, and IP only)', () => {
    for (const v of VECTORS) {
      rss.apply(config(PLAIN))
      const c1 = config(PLAIN)
      expect(check(vectorSpec(v), c1)).toMatchObject({ hash: v[5] })
      expect(check(vectorSpec(v, 17), c1).hash).toBe(v[5])
      const c2 = config(IP_ONLY)
      rss.apply(c2)
      expect(check(vectorSpec(v), c2)).toMatchObject({
        hash: v[4],
        report: v[0].includes(':') ? 'ipv6' : 'ipv4',
      })
    }
  })

  it('follows the selection rules case by case', () => {
    const c = config(ALL)
    rss.apply(c)
    const v4 = { v: 4 as const, src: '10.0.0.1', dst: '10.0.0.2' }
    const v6 = { v: 6 as const, src: '2001:db8::1', dst: '2001:db8::2' }
    const ports = { src: 1234, dst: 80 }
    const cases: Array<[string, PacketSpec, string]> = [
      ['tcp4', { ip: { ...v4, proto: 6 }, ports }, 'tcpv4'],
      ['udp4', { ip: { ...v4, proto: 17 }, ports }, 'udpv4'],
      ['icmp4', { ip: { ...v4, proto: 1 } }, 'ipv4'],
      ['tcp4 options', { ip: { ...v4, proto: 6, options: Buffer.alloc(12, 1) }, ports }, 'tcpv4'],
      ['tcp4 first fragment', { ip: { ...v4, proto: 6, mf: true }, ports }, 'ipv4'],
      ['tcp4 later fragment', { ip: { ...v4, proto: 6, fragOffset: 20 }, ports }, 'ipv4'],
      ['tcp4 DF only', { ip: { ...v4, proto: 6, df: true }, ports }, 'tcpv4'],
      ['tcp4 802.1Q', { vlan: [0x8100], ip: { ...v4, proto: 6 }, ports }, 'tcpv4'],
      ['tcp4 QinQ', { vlan: [0x88a8, 0x8100], ip: { ...v4, proto: 6 }, ports }, 'tcpv4'],
      ['three tags', { vlan: [0x88a8, 0x8100, 0x8100], ip: { ...v4, proto: 6 }, ports }, 'tcpv4'],
      ['four tags', { vlan: [0x88a8, 0x88a8, 0x8100, 0x8100], ip: { ...v4, proto: 6 }, ports }, 'tcpv4'],
      [
        'five tags',
        { vlan: [0x88a8, 0x88a8, 0x8100, 0x8100, 0x8100], ip: { ...v4, proto: 6 }, ports },
        'none',
      ],
      ['old QinQ 0x9100 is not a tag', { vlan: [0x9100], ip: { ...v4, proto: 6 }, ports }, 'none'],
      ['truncated tcp4', { ip: { ...v4, proto: 6 }, ports, truncate: 14 + 20 + 2 }, 'ipv4'],
      // (a truncated IP header cannot go through BPF_PROG_TEST_RUN, which wants it whole: tap test)
      ['tcp6', { ip: { ...v6, proto: 6 }, ports }, 'tcpv6_ex'],
      ['udp6', { ip: { ...v6, proto: 17 }, ports }, 'udpv6_ex'],
      ['icmp6', { ip: { ...v6, proto: 58 } }, 'ipv6_ex'],
      ['tcp6 hop', { ip: { ...v6, proto: 6, ext: [{ type: 'hop', len8: 1 }] }, ports }, 'tcpv6_ex'],
      [
        'tcp6 hao',
        { ip: { ...v6, proto: 6, ext: [{ type: 'dst', hao: '2001:db8:ffff::9' }] }, ports },
        'tcpv6_ex',
      ],
      [
        'tcp6 hao pad1',
        { ip: { ...v6, proto: 6, ext: [{ type: 'dst', hao: '2001:db8:ffff::9', pad: 'pad1' }] }, ports },
        'tcpv6_ex',
      ],
      [
        'tcp6 rt2',
        { ip: { ...v6, proto: 6, ext: [{ type: 'rt2', addr: '2001:db8:eeee::7' }] }, ports },
        'tcpv6_ex',
      ],
      [
        'udp6 hop+dst+rt2',
        {
          ip: {
            ...v6,
            proto: 17,
            ext: [
              { type: 'hop' },
              { type: 'dst', hao: '2001:db8:1::1' },
              { type: 'rt2', addr: '2001:db8:2::2' },
            ],
          },
          ports,
        },
        'udpv6_ex',
      ],
      [
        'tcp6 rt0',
        { ip: { ...v6, proto: 6, ext: [{ type: 'rt0', addrs: ['2001:db8::77'] }] }, ports },
        'tcpv6_ex',
      ],
      ['tcp6 fragment', { ip: { ...v6, proto: 6, ext: [{ type: 'frag', more: true }] }, ports }, 'ipv6_ex'],
      ['dst without hao', { ip: { ...v6, proto: 6, ext: [{ type: 'dst' }] }, ports }, 'tcpv6_ex'],
      [
        'truncated ext',
        { ip: { ...v6, proto: 6, ext: [{ type: 'hop', len8: 1 }] }, ports, truncate: 14 + 41 },
        'ipv6_ex',
      ],
    ]
    for (const [name, spec, report] of cases) {
      const e = check(spec, c)
      expect(`${name}: ${e.report}`).toBe(`${name}: ${report}`)
    }
    // non-IP frames and frames with no hash go to the default queue
    const arp = Buffer.concat([Buffer.from('ffffffffffff0200000000010806', 'hex'), Buffer.alloc(28)])
    expect(run(arp)).toMatchObject({ retval: 1, last: { report: 'none', hash: 0 } })
  })

  it('the _EX addresses replace the plain ones only for _EX types', () => {
    const spec: PacketSpec = {
      ip: {
        v: 6,
        src: '2001:db8::1',
        dst: '2001:db8::2',
        proto: 6,
        ext: [
          { type: 'dst', hao: '2001:db8:aaaa::1' },
          { type: 'rt2', addr: '2001:db8:bbbb::2' },
        ],
      },
      ports: { src: 5, dst: 6 },
    }
    const ports = Buffer.from([0, 5, 0, 6])
    const ex = Buffer.concat([ipBytes('2001:db8:aaaa::1'), ipBytes('2001:db8:bbbb::2')])
    const plain = Buffer.concat([ipBytes('2001:db8::1'), ipBytes('2001:db8::2')])
    const expectations: Array<[HashType[], string, Buffer]> = [
      [['tcpv6_ex'], 'tcpv6_ex', Buffer.concat([ex, ports])],
      [['tcpv6'], 'tcpv6', Buffer.concat([plain, ports])],
      [['ipv6_ex', 'tcpv6'], 'tcpv6', Buffer.concat([plain, ports])],
      [['ipv6_ex'], 'ipv6_ex', ex],
      [['ipv6', 'udpv6'], 'ipv6', plain],
      [['ipv4', 'tcpv4'], 'none', Buffer.alloc(0)],
    ]
    for (const [types, report, input] of expectations) {
      const c = config(types)
      rss.apply(c)
      const { last } = run(buildFrame(spec))
      expect(last.report).toBe(report)
      expect(last.hash).toBe(report === 'none' ? 0 : toeplitz(STANDARD_KEY, input))
    }
  })

  it('agrees with the reference on 1500 random frames under random hash-type sets', () => {
    const rand = prng(7)
    for (let round = 0; round < 15; round++) {
      const types = ALL.filter(() => rand() < 0.6)
      const key = Buffer.from(Array.from({ length: 40 }, () => Math.floor(rand() * 256)))
      const size = 2 ** Math.floor(rand() * 8)
      const c = config(types, { key, table: Array.from({ length: size }, () => Math.floor(rand() * 16)) })
      rss.apply(c)
      for (let i = 0; i < 100; i++) check(randomSpec(rand), c)
    }
  })
})

describe('RSS steering on a real 4-queue tap (l2 mode)', () => {
  let ns: TestNetns
  beforeAll(() => {
    ns = new TestNetns('rsstap')
    quietNetns(ns)
  })
  afterAll(() => ns?.remove())

  it('puts each frame on table[hash & mask] and reports the standard hashes', async () => {
    using tap = Tap.create({ name: 'rss0', queues: 4, netns: ns.name })
    using ps = PacketSocket.open({ ifname: 'rss0', netns: ns.name })
    ns.ip('link', 'set', 'rss0', 'up')
    using rss = RssSteering.create({ record: true }, config(PLAIN))
    tap.setSteeringProgram(rss)

    using probe = new LandingProbe(tap, ps, rss)
    const sendOne = (frame: Buffer) => probe.send(frame)
    for (const v of VECTORS) {
      const c = config(PLAIN)
      rss.apply(c)
      const r = await sendOne(buildFrame(vectorSpec(v)))
      expect(r.last.hash).toBe(v[5])
      expect(r.queue).toBe(TABLE[v[5] & 127])
      const c2 = config(IP_ONLY)
      rss.apply(c2)
      const r2 = await sendOne(buildFrame(vectorSpec(v)))
      expect(r2.last.hash).toBe(v[4])
      expect(r2.queue).toBe(TABLE[v[4] & 127])
    }

    // 400 random frames with all types on: every one lands where the reference says
    const rand = prng(42)
    const c = config(ALL, { defaultQueue: 3 })
    rss.apply(c)
    const counts = [0, 0, 0, 0]
    for (let i = 0; i < 400; i++) {
      const frame = buildFrame(randomSpec(rand))
      const e = expectedRss(frame, c)
      const r = await sendOne(frame)
      expect({ i, queue: r.queue, hash: r.last.hash }).toEqual({ i, queue: queueFor(c, e), hash: e.hash })
      counts[r.queue]!++
    }
    expect(counts.every((n) => n > 40)).toBe(true) // spread over all four queues

    // a live change: everything to queue 2 through the table, without reattaching
    rss.apply(config(ALL, { table: [2] }))
    for (const v of VECTORS) expect((await sendOne(buildFrame(vectorSpec(v)))).queue).toBe(2)
    // non-IP frames go to the default queue
    rss.apply(config(ALL, { defaultQueue: 3 }))
    const arp = Buffer.concat([Buffer.from('ffffffffffff0200000000010806', 'hex'), Buffer.alloc(46)])
    expect((await sendOne(arp)).queue).toBe(3)
    expect(rss.last()).toMatchObject({ report: 'none', queue: 3 })
    // so do IP frames cut inside their header
    const cut = buildFrame({ ip: { v: 4, src: '1.2.3.4', dst: '5.6.7.8', proto: 6 }, truncate: 14 + 10 })
    expect((await sendOne(cut)).queue).toBe(3)
    const cut6 = buildFrame({ ip: { v: 6, src: '::1', dst: '::2', proto: 6 }, truncate: 14 + 30 })
    expect((await sendOne(cut6)).queue).toBe(3)
    expect(rss.last()).toMatchObject({ report: 'none', hash: 0 })
  })

  it('works on a tun device too (l3 mode, raw IP packets with skb->protocol 0)', async () => {
    using tun = Tap.create({ name: 'rsstun0', mode: 'tun', queues: 4, netns: ns.name })
    using ps = PacketSocket.open({ ifname: 'rsstun0', netns: ns.name })
    ns.ip('link', 'set', 'rsstun0', 'up')
    using rss = RssSteering.create({ layer: 'l3', record: true }, config(PLAIN))
    tun.setSteeringProgram(rss)
    using probe = new LandingProbe(tun, ps, rss)
    for (const v of VECTORS) {
      const packet = buildFrame(vectorSpec(v)).subarray(14) // no Ethernet header on a tun
      const r = await probe.send(packet)
      expect(r.frame.equals(packet)).toBe(true)
      expect(r.last.hash).toBe(v[5])
      expect(r.queue).toBe(TABLE[v[5] & 127])
    }
  })
})

/** Watches every queue of a device; `send` returns the queue a frame landed on and the program's record. */
class LandingProbe implements Disposable {
  readonly #seen: Array<{ queue: number; frame: Buffer }> = []
  readonly #subs: Subscription[]
  constructor(
    tap: Tap,
    private readonly ps: PacketSocket,
    private readonly rss: RssSteering,
  ) {
    this.#subs = tap.attachedQueues.map((q, queue) =>
      q.frames$.subscribe((frame) => this.#seen.push({ queue, frame })),
    )
  }
  async send(frame: Buffer): Promise<{ queue: number; frame: Buffer; last: RssLastResult }> {
    const before = this.#seen.length
    this.ps.send(frame)
    const deadline = Date.now() + 5000
    while (this.#seen.length === before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 2))
    expect(this.#seen.length).toBe(before + 1)
    return { ...this.#seen[before]!, last: this.rss.last()! }
  }
  [Symbol.dispose](): void {
    for (const s of this.#subs) s.unsubscribe()
  }
}
