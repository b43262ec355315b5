import { describe, expect, test } from 'vitest'
import { encodeRequest, parseMessages } from '../src/netlink/codec/index.ts'
import { RTM } from '../src/netlink/route/constants.ts'
import {
  buildFilterRequest,
  buildQdiscRequest,
  decodeFilter,
  decodeQdisc,
  filterMessage,
  formatClassid,
  formatProtocol,
  formatU32Handle,
  parseClassid,
  parseFilterParent,
  parseProtocol,
  parsePsched,
  parseQdiscHandle,
  parseRate,
  parseSize,
  parseTime,
  parseU32Handle,
  qdiscMessage,
  rateTable,
  staticContext,
  u32Keys,
  xmitsize,
  xmittime,
} from '../src/netlink/route/tc/index.ts'
import { InvalidInputError } from '../src/netlink/validate.ts'

const clock = parsePsched('000003e8 00000040 000f4240 3b9aca00')
const names = (i: number) => ({ 2: 'v1', 3: 'v0' })[i] ?? ''
const ctx = staticContext({ v0: 3, v1: 2 }, 9)
const one = (b: Buffer) => parseMessages(b)[0] as ReturnType<typeof parseMessages>[number]

describe('handles, parents and protocols, as tc reads and prints them', () => {
  test('classids and qdisc handles', () => {
    expect(parseClassid('1:10')).toBe(0x10010)
    expect(parseClassid('1:')).toBe(0x10000)
    expect(parseClassid(':a')).toBe(0xa)
    expect(parseClassid('ffff:fff1')).toBe(0xfffffff1)
    expect(parseClassid('root')).toBe(0xffffffff)
    expect(parseClassid('none')).toBe(0)
    for (const bad of ['1:2:3', 'xyz', '10000:', '1:10000', ''])
      expect(parseClassid(bad), bad).toBeUndefined()
    expect(parseQdiscHandle('1:')).toBe(0x10000)
    expect(parseQdiscHandle('ffff')).toBe(0xffff0000)
    expect(parseQdiscHandle('1:10')).toBeUndefined()
    for (const h of [0x10010, 0x10000, 0xa, 0xffffffff, 0]) expect(parseClassid(formatClassid(h))).toBe(h)
    expect([formatClassid(0x10010), formatClassid(0x10000), formatClassid(0xa)]).toEqual(['1:10', '1:', ':a'])
    expect(parseFilterParent('ingress')).toBe(0xfffffff2)
    expect(parseFilterParent('egress')).toBe(0xfffffff3)
  })

  test('u32 handles', () => {
    expect(parseU32Handle('800::800')).toBe(0x80000800)
    expect(parseU32Handle('800:')).toBe(0x80000000)
    expect(parseU32Handle('1:2:3')).toBe(0x00102003)
    expect(parseU32Handle('0x80000800')).toBe(0x80000800)
    for (const bad of ['1000::', '1:100:', '1::1000', '800', 'a:b:c:d'])
      expect(parseU32Handle(bad), bad).toBeUndefined()
    expect([formatU32Handle(0x80000800), formatU32Handle(0x80000000), formatU32Handle(0x00102003)]).toEqual([
      '800::800',
      '800:',
      '1:2:3',
    ])
  })

  test('protocols', () => {
    expect(['ip', 'IPv6', 'all', '802.1q', '802.1AD', '0x88cc', 35020].map((p) => parseProtocol(p))).toEqual([
      0x800, 0x86dd, 3, 0x8100, 0x88a8, 0x88cc, 0x88cc,
    ])
    expect(parseProtocol('ipx7')).toBeUndefined()
    expect([0x800, 0x8100, 0x1234].map(formatProtocol)).toEqual(['ip', '802.1Q', '0x1234'])
  })
})

describe('units and the scheduler clock, as tc computes them', () => {
  test('rates are bits/s in, bytes/s out', () => {
    expect(parseRate('100mbit')).toBe(12_500_000)
    expect(parseRate('1.5gbit')).toBe(187_500_000)
    expect(parseRate('100Mibit')).toBe((100 * 1024 * 1024) / 8)
    expect(parseRate('125kbps')).toBe(125_000)
    expect(parseRate(8000)).toBe(1000)
    expect(parseRate('50gbit')).toBe(6_250_000_000)
    expect(parseRate('fast')).toBeUndefined()
    expect(parseRate('10 furlongs')).toBeUndefined()
  })

  test('sizes and times', () => {
    expect([
      parseSize('15k'),
      parseSize('32kbit'),
      parseSize('1mb'),
      parseSize('1500b'),
      parseSize(64),
    ]).toEqual([15360, 4096, 1048576, 1500, 64])
    expect([parseTime('400ms'), parseTime('1s'), parseTime('50us'), parseTime(7)]).toEqual([
      400_000, 1_000_000, 50, 7,
    ])
    expect(parseSize('5parsecs')).toBeUndefined()
  })

  test('ticks, bursts and rate tables', () => {
    expect(clock).toEqual({ tickInUsec: 15.625, hz: 1_000_000_000 })
    expect(xmittime(12_500_000, 15360, clock)).toBe(19187)
    expect(xmitsize(12_500_000, 19187, clock)).toBe(15337)
    const t = rateTable(12_500_000, { mtu: 1600 }, clock)
    expect(t.cellLog).toBe(3)
    expect(t.table.slice(0, 4)).toEqual([0, 15, 15, 31])
  })
})

describe('decoding what the kernel reports', () => {
  test('a qdisc kind rxnetlink does not model keeps its options raw', () => {
    const raw = Buffer.from('0800010001000000', 'hex')
    const m = encodeRequest(
      qdiscMessage,
      RTM.NEWQDISC,
      0,
      { ifindex: 3, handle: 0x10000, parent: 0xffffffff },
      {
        kind: 'cake',
        options: raw,
      },
    )
    expect(decodeQdisc(one(m.bytes), names)).toEqual({
      dev: 'v0',
      index: 3,
      handle: '1:',
      parent: 'root',
      kind: 'cake',
      options: { kind: 'unknown', data: raw },
    })
  })

  test('fq_codel, pfifo_fast and noqueue as the kernel reports them', () => {
    const fq = encodeRequest(
      qdiscMessage,
      RTM.NEWQDISC,
      0,
      { ifindex: 3, handle: 0, parent: 0x10001 },
      {
        kind: 'fq_codel',
        options: {
          target: 4999,
          limit: 10240,
          interval: 99999,
          ecn: 1,
          flows: 1024,
          quantum: 1514,
          dropBatchSize: 64,
          memoryLimit: 33554432,
        },
      },
    )
    expect(decodeQdisc(one(fq.bytes), names)).toMatchObject({
      handle: '0:',
      parent: '1:1',
      options: {
        kind: 'fq_codel',
        target: 4999,
        limit: 10240,
        interval: 99999,
        ecn: true,
        flows: 1024,
        quantum: 1514,
      },
    })
    const noq = encodeRequest(
      qdiscMessage,
      RTM.NEWQDISC,
      0,
      { ifindex: 2, parent: 0xffffffff, info: 2 },
      { kind: 'noqueue' },
    )
    expect(decodeQdisc(one(noq.bytes), names)).toEqual({
      dev: 'v1',
      index: 2,
      handle: '0:',
      parent: 'root',
      kind: 'noqueue',
      options: { kind: 'noqueue' },
      refcnt: 2,
    })
  })

  test('an unknown action kind inside a filter is kept raw, the known ones are typed', () => {
    const police = Buffer.from('0c0001000000000000000000', 'hex')
    const m = encodeRequest(
      filterMessage,
      RTM.NEWTFILTER,
      0,
      { ifindex: 3, parent: 0xfffffff2, info: 0x10008 },
      {
        kind: 'matchall',
        options: {
          act: [
            { kind: 'police', options: police },
            { kind: 'gact', options: { parms: { index: 4, capab: 0, action: 2, refcnt: 1, bindcnt: 1 } } },
          ],
        },
      },
    )
    const f = decodeFilter(one(m.bytes), names)
    expect(f).toMatchObject({ dev: 'v0', parent: 'ingress', protocol: 'ip', pref: 1, kind: 'matchall' })
    expect(f.actions).toEqual([
      { kind: 'police', index: 0, order: 1, control: 'pass', options: { kind: 'unknown', data: police } },
      { kind: 'gact', index: 4, order: 2, control: 'drop', options: { kind: 'gact' }, refcnt: 1, bindcnt: 1 },
    ])
  })

  test('lab-only kinds decode from the same bytes they encode to (prio, multiq, mqprio)', () => {
    const prio = buildQdiscRequest('add', { dev: 'v0', kind: 'prio', bands: 4, priomap: [3, 2, 1, 0] }, 3)
    expect(decodeQdisc(one(prio.bytes), names).options).toEqual({
      kind: 'prio',
      bands: 4,
      priomap: [3, 2, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    })
    const multiq = buildQdiscRequest('add', { dev: 'v0', kind: 'multiq' }, 3)
    expect(decodeQdisc(one(multiq.bytes), names).options).toEqual({ kind: 'multiq', bands: 0, maxBands: 0 })
    const mqprio = buildQdiscRequest(
      'add',
      {
        dev: 'v0',
        kind: 'mqprio',
        numTc: 2,
        map: [0, 1, 1],
        queues: ['1@0', '3@1'],
        mode: 'channel',
        shaper: 'bw_rlimit',
        maxRate: ['10mbit', '20mbit'],
      },
      3,
    )
    expect(decodeQdisc(one(mqprio.bytes), names).options).toEqual({
      kind: 'mqprio',
      numTc: 2,
      map: [0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
      hw: 0,
      queues: [
        { count: 1, offset: 0 },
        { count: 3, offset: 1 },
      ],
      mode: 'channel',
      shaper: 'bw_rlimit',
      maxRate: [10e6, 20e6],
    })
  })

  test('flower, matchall, skbedit and act_bpf decode from their own requests', () => {
    const flower = buildFilterRequest(
      'add',
      {
        dev: 'v0',
        parent: 'egress',
        protocol: '802.1q',
        pref: 2,
        kind: 'flower',
        vlanId: 10,
        vlanPrio: 3,
        vlanEthType: 'ip',
        ipProto: 'tcp',
        dstIp: '10.0.0.0/24',
        srcIp: '10.1.1.1',
        dstPort: 443,
        skipHw: true,
        actions: [
          { kind: 'skbedit', queueMapping: 3, mark: 7, priority: '1:2' },
          { kind: 'bpf', program: { fd: 9 }, name: 'steer' },
          { kind: 'gact', action: { goto: 4 } },
        ],
      },
      3,
      ctx,
    )
    const f = decodeFilter(one(flower.bytes), names)
    expect(f).toMatchObject({ protocol: '802.1Q', pref: 2, kind: 'flower', parent: 'egress' })
    expect(f.options).toEqual({
      kind: 'flower',
      ethType: 0x8100,
      vlanId: 10,
      vlanPrio: 3,
      vlanEthType: 0x800,
      ipProto: 'tcp',
      dstIp: '10.0.0.0/24',
      srcIp: '10.1.1.1',
      dstPort: 443,
      flags: ['skip_hw'],
    })
    expect(f.actions?.map((a) => [a.kind, a.control, a.options])).toEqual([
      ['skbedit', 'pipe', { kind: 'skbedit', queueMapping: 3, mark: 7, priority: '1:2' }],
      ['bpf', 'pipe', { kind: 'bpf', name: 'steer' }],
      ['gact', { goto: 4 }, { kind: 'gact' }],
    ])
    const all = buildFilterRequest(
      'add',
      { dev: 'v0', parent: 'ingress', kind: 'matchall', classid: '1:3', skipSw: true },
      3,
      ctx,
    )
    expect(decodeFilter(one(all.bytes), names).options).toEqual({
      kind: 'matchall',
      classid: '1:3',
      flags: ['skip_sw'],
    })
  })
})

describe('u32 keys', () => {
  test('IPv4 and IPv6 helpers pack as tc packs them; ports at one offset merge', () => {
    expect(u32Keys({ ip: { src: '10.0.0.0/8', sport: 80, dport: 443, protocol: 'udp' } })).toEqual([
      { val: 0x0a000000, mask: 0xff000000, off: 12, offmask: 0 },
      { val: 0x00110000, mask: 0x00ff0000, off: 8, offmask: 0 },
      { val: 0x005001bb, mask: 0xffffffff, off: 20, offmask: 0 },
    ])
    expect(u32Keys({ ip6: { dst: '2001:db8::/33' } })).toEqual([
      { val: 0x20010db8, mask: 0xffffffff, off: 24, offmask: 0 },
      { val: 0, mask: 0x80000000, off: 28, offmask: 0 },
    ])
  })

  test('contradicting matches and misaligned offsets are input errors', () => {
    const dup = () =>
      buildFilterRequest(
        'add',
        {
          dev: 'v0',
          parent: 'ingress',
          kind: 'u32',
          match: { ip: { dport: 80 }, keys: [{ value: 81, mask: 0xffff, offset: 20 }] },
        },
        3,
        ctx,
      )
    expect(dup).toThrow(InvalidInputError)
    expect(dup).toThrow(/match.keys\[0\]: conflicts with another match/)
    const odd = () =>
      buildFilterRequest(
        'add',
        { dev: 'v0', parent: 'ingress', kind: 'u32', match: { keys: [{ value: 1, mask: 1, offset: 6 }] } },
        3,
        ctx,
      )
    expect(odd).toThrow(/match.keys\[0\].offset: a u32 key offset must be a multiple of 4/)
  })
})
