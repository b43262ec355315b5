// tap.rss: back-end choice and reporting, live changes, detach, hash reports, bad input (typed
// errors before any change, previous configuration kept: checked with packets and map readback),
// and least privilege (an unprivileged process changes RSS through a passed map fd).
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BpfError } from '../src/bpf/errors.ts'
import { closeFd, dupFd } from '../src/netlink/sys/index.ts'
import { Tap } from '../src/tuntap/device.ts'
import { receiveFds, sendFds } from '../src/tuntap/fd-passing.ts'
import { PacketSocket } from '../src/tuntap/packet-socket.ts'
import { type RssConfig, RssConfigError, type RssConfigInput } from '../src/tuntap/rss-config.ts'
import { hashReportFor } from '../src/tuntap/rss-hash.ts'
import { HASH_TYPES } from '../src/tuntap/rss-hash-types.ts'
import { RssConfigMap } from '../src/tuntap/rss-steering-program.ts'
import { TapError } from '../src/tuntap/tap-errors.ts'
import { microsoftRssKey } from '../src/tuntap/toeplitz.ts'
import { decodeVnetHeader, encodeVnetHeader } from '../src/tuntap/vnet-header.ts'
import { runChild } from './helpers/child.ts'
import { buildFrame } from './helpers/frames.ts'
import { TestNetns } from './helpers/netns.ts'
import { sendAndLand } from './helpers/rss-flows.ts'
import { quietNetns } from './helpers/tap-frames.ts'

/** 256 TCP/UDP/ICMP flows over IPv4 and IPv6, one frame each. */
const FRAMES = Array.from({ length: 256 }, (_, i) =>
  buildFrame({
    ip:
      i % 2 === 0
        ? { version: 4, src: `10.1.${i >> 4}.${i & 15}`, dst: '10.2.0.1' }
        : { version: 6, src: `2001:db8::${i.toString(16)}`, dst: '2001:db8::ffff' },
    l4:
      i % 3 === 2
        ? { proto: 'icmp' }
        : { proto: i % 3 === 0 ? 'tcp' : 'udp', srcPort: 1000 + i, dstPort: 80 },
  }),
)

const BASE: RssConfigInput = {
  hashTypes: ['ipv4', 'tcpv4', 'udpv4', 'ipv6', 'tcpv6', 'udpv6'],
  table: [0, 1, 2, 3, 3, 2, 1, 0],
  defaultQueue: 0,
}

describe('tap.rss', () => {
  let ns: TestNetns
  beforeAll(() => {
    ns = new TestNetns('taprss')
    quietNetns(ns)
  })
  afterAll(() => ns?.remove())

  function open(name: string, queues = 4, vnetHdr = false): { tap: Tap; ps: PacketSocket } {
    const tap = Tap.create({ name, queues, netns: ns.name, vnetHdr })
    ns.ip('link', 'set', name, 'up')
    return { tap, ps: PacketSocket.open({ ifname: name, netns: ns.name }) }
  }

  /** Sends FRAMES; expects every one on the queue `config` puts it on. Returns per-queue counts. */
  async function expectPlacement(tap: Tap, ps: PacketSocket, config: RssConfig): Promise<number[]> {
    const r = await sendAndLand(tap, ps, FRAMES, (f) => hashReportFor(f, config).queue)
    expect(r.mismatched).toEqual([])
    expect({ lost: r.lost, unexpected: r.unexpected, matched: r.matched }).toEqual({
      lost: 0,
      unexpected: 0,
      matched: FRAMES.length,
    })
    return r.perQueue
  }

  it('probes the kernel back end (absent on this kernel) and falls back to ebpf, saying why', async () => {
    const { tap, ps } = open('trss0')
    using _t = tap
    using _p = ps
    expect(tap.rss.probe()).toEqual({ available: false, hashTypes: [], errno: 'EINVAL' })
    expect(tap.rss.backend).toBeUndefined()
    const s = await tap.rss.apply(BASE)
    expect(s).toMatchObject({
      backend: 'ebpf',
      reporting: 'software',
      maxTableLength: 128,
      supportedHashTypes: HASH_TYPES,
      fallbackReason: 'the kernel has no tun RSS ioctls (TUNGETVNETHASHTYPES: EINVAL)',
    })
    expect(s.config.key).toEqual(microsoftRssKey()) // the default key
    expect(tap.rss.backend).toBe('ebpf')
    await expectPlacement(tap, ps, s.config)

    // forcing: the kernel back end is refused (typed, nothing changed); ebpf is taken as asked
    await expect(tap.rss.apply(BASE, { backend: 'kernel' })).rejects.toThrow(
      expect.objectContaining({ name: 'TapError', kind: 'unsupported' }),
    )
    expect(tap.rss.backend).toBe('ebpf')
    const forced = await tap.rss.apply(BASE, { backend: 'ebpf' })
    expect(forced.backend).toBe('ebpf')
    expect(forced.fallbackReason).toBeUndefined()
  })

  it('live changes update the map without reattaching; detach returns the tap to automatic steering', async () => {
    const { tap, ps } = open('trss1')
    using _t = tap
    using _p = ps
    await tap.rss.apply({ ...BASE, table: [3] })
    const steering = tap.rss.steering!
    const id = steering.program.info().id
    expect(await expectPlacement(tap, ps, tap.rss.config!)).toEqual([0, 0, 0, FRAMES.length])

    await tap.rss.update({ table: [1, 2] })
    expect(tap.rss.steering).toBe(steering)
    expect(steering.program.info().id).toBe(id)
    expect(steering.read()).toMatchObject({ table: [1, 2], hashTypes: BASE.hashTypes })
    const two = await expectPlacement(tap, ps, tap.rss.config!)
    expect(two[0]).toBe(0)
    expect(two[3]).toBe(0)

    // hash types live too: with none enabled every frame takes the default queue
    await tap.rss.update({ hashTypes: [], defaultQueue: 2 })
    expect(await expectPlacement(tap, ps, tap.rss.config!)).toEqual([0, 0, FRAMES.length, 0])

    // a longer table than the program holds needs a new program: given tableCapacity, it is made
    // and swapped in (TUNSETSTEERINGEBPF replaces the old one)
    const long = Array.from({ length: 256 }, (_, i) => i % 4)
    await expect(tap.rss.update({ table: long })).rejects.toThrow(RssConfigError)
    const bigger = await tap.rss.apply({ ...BASE, table: long }, { tableCapacity: 256 })
    expect(bigger.maxTableLength).toBe(256)
    expect(tap.rss.steering).not.toBe(steering)
    await expectPlacement(tap, ps, bigger.config)

    await tap.rss.detach()
    expect(tap.rss.backend).toBeUndefined()
    expect(tap.rss.steering).toBeUndefined()
    // automatic choice (tun's flow hash): the 256 flows spread over several queues
    const auto = await sendAndLand(tap, ps, FRAMES, () => -1)
    expect(auto.lost).toBe(0)
    expect(auto.perQueue.filter((n) => n > 0).length).toBeGreaterThan(1)
  })

  it('reportFor gives what a VMM writes into virtio_net_hdr_v1_hash (standard vectors)', async () => {
    const { tap, ps } = open('trss2', 4, true)
    using _t = tap
    using _p = ps
    tap.vnetHdrSize = 12
    const key = microsoftRssKey()
    await tap.rss.apply({ hashTypes: [...HASH_TYPES], key, table: [0, 1, 2, 3], defaultQueue: 1 })
    const tcp4 = buildFrame({
      ip: { version: 4, src: '66.9.149.187', dst: '161.142.100.80' },
      l4: { proto: 'tcp', srcPort: 2794, dstPort: 1766 },
    })
    const udp6 = buildFrame({
      ip: { version: 6, src: '3ffe:2501:200:1fff::7', dst: '3ffe:2501:200:3::1' },
      l4: { proto: 'udp', srcPort: 2794, dstPort: 1766 },
    })
    const icmp4 = buildFrame({
      ip: { version: 4, src: '66.9.149.187', dst: '161.142.100.80' },
      l4: { proto: 'icmp' },
    })
    expect(tap.rss.reportFor(tcp4)).toEqual({
      hashValue: 0x51ccc178,
      hashReport: 2,
      reportType: 'tcpv4',
      queue: 0,
    })
    expect(tap.rss.reportFor(udp6)).toMatchObject({
      hashValue: 0x40207d3d,
      hashReport: 9,
      reportType: 'udpv6_ex',
    })
    expect(tap.rss.reportFor(icmp4)).toMatchObject({
      hashValue: 0x323e8fc2,
      hashReport: 1,
      reportType: 'ipv4',
    })
    const arp = Buffer.alloc(42)
    arp.writeUInt16BE(0x0806, 12)
    expect(tap.rss.reportFor(arp)).toEqual({ hashValue: 0, hashReport: 0, reportType: 'none', queue: 1 })

    // frames read from the queues (12-byte header first): the report is computed past the header,
    // the frame is on the queue it names, and it fills a v1_hash header
    ps.send(tcp4)
    const q = tap.attachedQueues[0]!
    const read = await q.read()
    const report = tap.rss.reportFor(read, { vnetHeader: 12 })
    expect(report).toEqual(tap.rss.reportFor(tcp4))
    const hdr = encodeVnetHeader({ ...decodeVnetHeader(read, 'v1'), layout: 'v1_hash', ...report })
    expect(decodeVnetHeader(hdr, 'v1_hash')).toMatchObject({ hashValue: 0x51ccc178, hashReport: 2 })
  })

  it('bad input: typed errors before any change, the previous configuration stays in force', async () => {
    const { tap, ps } = open('trss3')
    using _t = tap
    using _p = ps
    const good = await tap.rss.apply({ ...BASE, key: 'aa'.repeat(40) })
    const before = tap.rss.steering!.read()

    const cases: Array<[string, RssConfigInput, string, RegExp]> = [
      ['wrong key length', { ...BASE, key: new Uint8Array(39) }, 'key', /exactly 40 bytes, got 39/],
      ['key not hex', { ...BASE, key: 'zz'.repeat(40) }, 'key', /not a hex string/],
      ['table not a power of two', { ...BASE, table: [0, 1, 2] }, 'table', /length 3 is not a power of two/],
      ['empty table', { ...BASE, table: [] }, 'table', /at least one entry/],
      [
        'table too long for the back end',
        { ...BASE, table: Array(256).fill(0) },
        'table',
        /256 entries exceed the maximum of 128/,
      ],
      [
        'entry beyond the queues',
        { ...BASE, table: [0, 1, 2, 3, 4, 0, 0, 0] },
        'table[4]',
        /queue 4 is beyond the device's 4 queues/,
      ],
      ['default queue beyond', { ...BASE, defaultQueue: 9 }, 'defaultQueue', /queue 9 is beyond/],
      [
        'unknown hash type',
        { ...BASE, hashTypes: ['tcpv4', 'tcpv5' as 'tcpv4'] },
        'hashTypes[1]',
        /"tcpv5" is not a hash type/,
      ],
      ['negative queue', { ...BASE, table: [0, -1] }, 'table[1]', /0 or more/],
      ['unknown field', { ...BASE, queue: 1 } as RssConfigInput, 'queue', /not an RSS configuration field/],
    ]
    for (const [what, input, field, message] of cases) {
      const err = await tap.rss.apply(input).then(
        () => undefined,
        (e: unknown) => e,
      )
      expect(err, what).toBeInstanceOf(RssConfigError)
      expect((err as RssConfigError).field, what).toBe(field)
      expect((err as RssConfigError).message, what).toMatch(message)
    }
    // bad options and live updates are refused the same way
    await expect(tap.rss.apply(BASE, { backend: 'tc' as 'ebpf' })).rejects.toThrow(
      expect.objectContaining({ kind: 'invalid-input' }),
    )
    await expect(tap.rss.apply(BASE, { reporting: true })).rejects.toThrow(/cannot write hashes/)
    await expect(tap.rss.apply(BASE, { tableCapacity: 100 })).rejects.toThrow(/power of two/)
    await expect(tap.rss.update({ table: [7] })).rejects.toThrow(/queue 7 is beyond/)
    await expect(tap.rss.update({ key: '00' })).rejects.toThrow(/40 bytes/)

    // nothing changed: the state, the map (readback) and the placement of packets
    expect(tap.rss.config).toEqual(good.config)
    expect(tap.rss.steering!.read()).toEqual(before)
    await expectPlacement(tap, ps, good.config)

    // through the map alone (what an fd holder uses): the same checks, the queue count kept in the map
    using map = RssConfigMap.fromFd(dupFd(tap.rss.steering!.config.fd))
    expect(map.queues).toBe(4)
    expect(() => map.update({ table: [0, 4] })).toThrow(/table\[1\]: queue 4 is beyond the device's 4 queues/)
    expect(() => map.apply({ ...BASE, table: Array(256).fill(0) })).toThrow(/exceed the maximum of 128/)
    expect(map.read()).toEqual(before)

    // closed fds: a closed map, an fd that is not open, a closed tap
    map.close()
    expect(() => map.update({ table: [1] })).toThrow(
      expect.objectContaining({ name: 'BpfError', kind: 'closed' }),
    )
    const fd = dupFd(tap.rss.steering!.config.fd)
    closeFd(fd)
    expect(() => RssConfigMap.fromFd(fd)).toThrow(BpfError)
    expect(() => RssConfigMap.fromFd(fd)).toThrow(/the object is closed/)
    expect(tap.rss.steering!.read()).toEqual(before)
    await expectPlacement(tap, ps, good.config)

    tap.close()
    await expect(tap.rss.apply(BASE)).rejects.toThrow(
      expect.objectContaining({ name: 'TapError', kind: 'closed' }),
    )
    expect(() => tap.rss.probe()).toThrow(TapError)
  })

  it('least privilege: an unprivileged process changes table and key through the passed map fd; creating a link fails with EPERM', async () => {
    const { tap, ps } = open('trss4')
    using _t = tap
    using _p = ps
    await tap.rss.apply({ ...BASE, table: [0, 0, 1, 1] })
    await expectPlacement(tap, ps, tap.rss.config!)
    const newKey = 'c3'.repeat(20) + '5a'.repeat(20)
    const newTable = [2, 3, 3, 2, 3, 2, 2, 3]
    const run = runChild<{
      queues: number
      badInput: { name: string; field: string; message: string }
      unchanged: boolean
      table: number[]
      key: string
      hashTypes: string[]
      link: { name: string; code: string; message: string }
      tap: { name: string; kind: string }
      map: { name: string; kind: string }
    }>('rss-lp', { unprivileged: true, netns: ns.name })
    try {
      sendFds(
        run.socket,
        [tap.rss.steering!.config.fd],
        Buffer.from(JSON.stringify({ table: newTable, key: newKey })),
      )
      expect((await receiveFds(run.socket)).data.toString()).toBe('applied')
      const out = await run.result
      expect(out.identity).toMatchObject({
        uid: 65534,
        capEff: '0000000000000000',
        capBnd: '0000000000000000',
      })
      expect(out.result).toMatchObject({
        queues: 4,
        badInput: { name: 'RssConfigError', field: 'table[0]' },
        unchanged: true,
        table: newTable,
        key: newKey,
        hashTypes: BASE.hashTypes,
        link: { name: 'NetlinkError', code: 'EPERM' },
        tap: { name: 'TapError', kind: 'permission-denied' },
        map: { name: 'BpfError', kind: 'permission-denied' },
      })
      expect(out.result.link.message).toMatch(/links\.create\(lp0\): EPERM/)
    } finally {
      run.close()
    }
    // the privileged side sees the change, and packets follow it
    const now = tap.rss.refresh()!.config
    expect(now.table).toEqual(newTable)
    expect(Buffer.from(now.key).toString('hex')).toBe(newKey)
    const perQueue = await expectPlacement(tap, ps, now)
    expect(perQueue[0]).toBe(0)
    expect(perQueue[1]).toBe(0)
    expect(ns.ipJson<Array<{ ifname: string }>>('link', 'show').map((l) => l.ifname)).not.toContain('lp0')
  })
})
