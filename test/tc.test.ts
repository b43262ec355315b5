import { spawnSync } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { filter, firstValueFrom, take, toArray } from 'rxjs'
import { afterAll, afterEach, beforeAll, describe, expect, test, vi } from 'vitest'
import { NetlinkError } from '../src/netlink/codec/index.ts'
import { RTM } from '../src/netlink/route/constants.ts'
import {
  type Filter,
  type Qdisc,
  TcApi,
  type TcEvent,
  type U32Options,
} from '../src/netlink/route/tc/index.ts'
import { NETLINK_ROUTE, NetlinkSocket } from '../src/netlink/socket/index.ts'
import { InvalidInputError } from '../src/netlink/validate.ts'
import { loadTestProgram, pinObject, TestBpffs, type TestProgram } from './helpers/bpf.ts'
import { TestNetns } from './helpers/netns.ts'
import { all, htbClasses, tcj, tcRate, tcSize } from './helpers/tc-json.ts'

let ns: TestNetns
let sock: NetlinkSocket
let tc: TcApi
let bpffs: TestBpffs
let cls: TestProgram
let index: Record<string, number>

beforeAll(() => {
  ns = new TestNetns('tc')
  ns.ip('link', 'add', 'a0', 'numtxqueues', '4', 'type', 'veth', 'peer', 'name', 'a1')
  ns.ip('link', 'add', 'b0', 'type', 'veth', 'peer', 'name', 'b1')
  for (const d of ['a0', 'a1', 'b0', 'b1']) ns.ip('link', 'set', d, 'up')
  index = Object.fromEntries(
    ns.ipJson<Array<{ ifindex: number; ifname: string }>>('link', 'show').map((l) => [l.ifname, l.ifindex]),
  )
  sock = new NetlinkSocket(NETLINK_ROUTE, { netns: ns.name })
  tc = new TcApi(sock, ns.name)
  bpffs = new TestBpffs()
  cls = loadTestProgram('sched_cls', 'rxnl_cls')
  pinObject(cls.fd, bpffs.path('cls'))
})
afterAll(() => {
  sock?.close()
  cls?.close()
  bpffs?.remove()
  ns?.remove()
})

type TcQdiscJson = {
  kind: string
  handle: string
  root?: boolean
  parent?: string
  options?: Record<string, unknown>
}
const qdiscsByTc = (dev: string) => tcj<TcQdiscJson[]>(ns.name, 'qdisc', 'show', 'dev', dev)
const place = (q: Qdisc) => ({
  kind: q.kind,
  handle: q.handle,
  parent: q.parent === 'root' ? undefined : q.parent === 'ingress' ? 'ffff:fff1' : q.parent,
})
const placeOf = (j: TcQdiscJson) => ({
  kind: j.kind,
  handle: j.handle,
  parent: j.root ? undefined : j.parent,
})

describe('qdiscs', () => {
  test('clsact and ingress: added, read back by tc, listed, deleted', async () => {
    const q = await tc.qdiscs.add({ dev: 'a1', kind: 'clsact' })
    expect(q).toMatchObject({
      dev: 'a1',
      index: index.a1,
      handle: 'ffff:',
      parent: 'ingress',
      kind: 'clsact',
    })
    await tc.qdiscs.add({ dev: 'b1', kind: 'ingress' })
    for (const dev of ['a1', 'b1']) {
      const ours = (await tc.qdiscs.list(dev)).map(place)
      expect(ours).toEqual(qdiscsByTc(dev).map(placeOf))
    }
    await tc.qdiscs.delete({ dev: 'b1', kind: 'ingress' })
    expect(qdiscsByTc('b1').map((j) => j.kind)).not.toContain('ingress')
  })

  test('htb with classes: every field as tc reads it back', async () => {
    const q = await tc.qdiscs.add({
      dev: 'a0',
      kind: 'htb',
      handle: '1:',
      defaultClass: '10',
      r2q: 5,
      directQlen: 100,
    })
    expect(q.options).toMatchObject({ kind: 'htb', r2q: 5, defaultClass: 0x10, directQlen: 100 })
    const [j] = qdiscsByTc('a0').filter((x) => x.kind === 'htb')
    expect(j?.options).toMatchObject({ r2q: 5, default: '0x10', direct_qlen: 100 })

    await tc.classes.add({
      dev: 'a0',
      kind: 'htb',
      parent: '1:',
      classid: '1:1',
      rate: '1gbit',
      ceil: '1gbit',
    })
    const specs = [
      {
        classid: '1:10',
        rate: '100mbit',
        ceil: '200mbit',
        burst: '15k',
        cburst: '15k',
        prio: 1,
        quantum: 1500,
      },
      { classid: '1:20', rate: 50e9 },
      { classid: '1:30', rate: '1mbit', ceil: '5mbit', prio: 7, mtu: 9000, mpu: 64 },
    ]
    for (const s of specs) await tc.classes.add({ dev: 'a0', kind: 'htb', parent: '1:1', ...s })
    await tc.qdiscs.add({ dev: 'a0', kind: 'pfifo', parent: '1:10', handle: '10:', limit: 50 })

    const ours = await tc.classes.list('a0')
    const theirs = htbClasses(ns.name, 'a0')
    expect(ours.map((c) => c.handle).sort()).toEqual(theirs.map((t) => t.classid).sort())
    for (const t of theirs) {
      const c = ours.find((x) => x.handle === t.classid)
      if (c?.options.kind !== 'htb') throw new Error(`class ${t.classid} missing`)
      expect(c.parent).toBe(t.parent === 'root' ? 'root' : t.parent)
      expect(c.leaf).toBe(t.leaf)
      expect(c.options.rate).toBe(tcRate(t.rate as string))
      expect(c.options.ceil).toBe(tcRate(t.ceil as string))
      expect(c.options.burst).toBe(tcSize(t.burst as string))
      expect(c.options.cburst).toBe(tcSize(t.cburst as string))
      expect(c.options.mpu).toBe(tcSize(t.mpu as string))
      expect(c.options.level).toBe(Number(t.level))
      if (t.prio !== undefined) expect(c.options.prio).toBe(Number(t.prio))
      if (t.quantum !== undefined) expect(c.options.quantum).toBe(Number(t.quantum))
      expect(c.options.linklayer).toBe(t.linklayer)
    }
    const c10 = ours.find((c) => c.handle === '1:10')
    expect(c10?.options).toMatchObject({ rate: 100e6, ceil: 200e6, prio: 1, quantum: 1500 })
    expect(ours.find((c) => c.handle === '1:20')?.options).toMatchObject({ rate: 50e9, ceil: 50e9 })
    expect(c10?.xstats).toEqual({
      lends: expect.any(Number),
      borrows: expect.any(Number),
      giants: 0,
      tokens: expect.any(Number),
      ctokens: expect.any(Number),
    })
  })

  test('htb classes: change and replace, read back by tc', async () => {
    ns.tc('qdisc', 'add', 'dev', 'b1', 'root', 'handle', '9:', 'htb')
    await tc.classes.add({ dev: 'b1', kind: 'htb', parent: '9:', classid: '9:1', rate: '10mbit' })
    const changed = await tc.classes.change({
      dev: 'b1',
      kind: 'htb',
      parent: '9:',
      classid: '9:1',
      rate: '20mbit',
      ceil: '40mbit',
      prio: 3,
    })
    expect(changed.options).toMatchObject({ kind: 'htb', rate: 20e6, ceil: 40e6, prio: 3 })
    let [t] = htbClasses(ns.name, 'b1')
    expect([tcRate(t?.rate as string), tcRate(t?.ceil as string), t?.prio]).toEqual([20e6, 40e6, '3'])
    await tc.classes.replace({ dev: 'b1', kind: 'htb', parent: '9:', classid: '9:1', rate: '5mbit' })
    ;[t] = htbClasses(ns.name, 'b1')
    expect(tcRate(t?.rate as string)).toBe(5e6)
    await tc.classes.replace({ dev: 'b1', kind: 'htb', parent: '9:', classid: '9:2', rate: '1mbit' })
    expect(
      htbClasses(ns.name, 'b1')
        .map((c) => c.classid)
        .sort(),
    ).toEqual(['9:1', '9:2'])
    await tc.qdiscs.delete({ dev: 'b1' })
  })

  test('htb classes made by tc decode to what tc prints', async () => {
    ns.tc('qdisc', 'add', 'dev', 'b0', 'root', 'handle', '2:', 'htb', 'default', '20')
    ns.tc(
      'class',
      'add',
      'dev',
      'b0',
      'parent',
      '2:',
      'classid',
      '2:20',
      'htb',
      'rate',
      '64kbit',
      'ceil',
      '1mbit',
    )
    ns.tc(
      'class',
      'add',
      'dev',
      'b0',
      'parent',
      '2:',
      'classid',
      '2:30',
      'htb',
      'rate',
      '12gbit',
      'burst',
      '100k',
    )
    const ours = await tc.classes.list('b0')
    for (const t of htbClasses(ns.name, 'b0')) {
      const c = ours.find((x) => x.handle === t.classid)
      expect(c?.options).toMatchObject({
        kind: 'htb',
        rate: tcRate(t.rate as string),
        ceil: tcRate(t.ceil as string),
        burst: tcSize(t.burst as string),
        cburst: tcSize(t.cburst as string),
      })
    }
    const [q] = (await tc.qdiscs.list('b0')).filter((x) => x.kind === 'htb')
    expect(q?.options).toMatchObject({ kind: 'htb', defaultClass: 0x20, r2q: 10 })
    await tc.classes.delete({ dev: 'b0', classid: '2:30' })
    expect(htbClasses(ns.name, 'b0').map((c) => c.classid)).toEqual(['2:20'])
    await tc.qdiscs.delete({ dev: 'b0' })
  })

  test('tbf: added, replaced, changed; read back by tc; tc-made tbf decoded', async () => {
    const tbfJson = () => qdiscsByTc('b0').find((j) => j.kind === 'tbf')?.options as Record<string, unknown>
    await tc.qdiscs.add({
      dev: 'b0',
      kind: 'tbf',
      handle: '3:',
      rate: '1mbit',
      burst: '10kb',
      limit: 20000,
      peakrate: '2mbit',
      mtu: 2000,
    })
    let [q] = await tc.qdiscs.list('b0')
    let j = tbfJson()
    expect(q?.options).toMatchObject({
      kind: 'tbf',
      rate: 1e6,
      burst: 10240,
      limit: 20000,
      peakrate: 2e6,
      mtu: 2000,
    })
    expect((j.rate as number) * 8).toBe(1e6)
    expect(tcSize(j.burst as string)).toBe(10240)
    expect(j.minburst).toBe(2000)

    await tc.qdiscs.change({
      dev: 'b0',
      kind: 'tbf',
      handle: '3:',
      rate: '5mbit',
      burst: '20kb',
      latency: '50ms',
    })
    ;[q] = await tc.qdiscs.list('b0')
    j = tbfJson()
    expect(q?.options).toMatchObject({ kind: 'tbf', rate: 5e6, burst: 20480, limit: 5e6 / 8 / 20 + 20480 })
    expect((j.rate as number) * 8).toBe(5e6)

    await tc.qdiscs.replace({
      dev: 'b0',
      kind: 'tbf',
      handle: '3:',
      rate: '40gbit',
      burst: '1mb',
      latency: '1ms',
    })
    ;[q] = await tc.qdiscs.list('b0')
    expect(q?.options).toMatchObject({ kind: 'tbf', rate: 40e9 })

    await tc.qdiscs.delete({ dev: 'b0' })
    ns.tc(
      'qdisc',
      'add',
      'dev',
      'b0',
      'root',
      'handle',
      '4:',
      'tbf',
      'rate',
      '256kbit',
      'burst',
      '5kb',
      'latency',
      '70ms',
      'mpu',
      '64',
    )
    ;[q] = await tc.qdiscs.list('b0')
    j = tbfJson()
    expect(q).toMatchObject({ handle: '4:', parent: 'root', kind: 'tbf' })
    expect(q?.options).toMatchObject({
      rate: (j.rate as number) * 8,
      burst: tcSize(j.burst as string),
      mpu: 64,
    })
    await tc.qdiscs.delete({ dev: 'b0' })
  })

  test('mq on a 4-queue veth, with its per-queue children', async () => {
    await tc.qdiscs.add({ dev: 'b1', kind: 'mq', handle: '7:' })
    const theirs = qdiscsByTc('b1').map(placeOf)
    const ours = (await tc.qdiscs.list('b1')).map(place)
    expect(ours.sort((a, b) => `${a.parent}`.localeCompare(`${b.parent}`))).toEqual(
      theirs.sort((a, b) => `${a.parent}`.localeCompare(`${b.parent}`)),
    )
    await tc.qdiscs.delete({ dev: 'b1' })
    // a0 has 4 tx queues.
    await tc.qdiscs.delete({ dev: 'a0' })
    await tc.qdiscs.add({ dev: 'a0', kind: 'mq', handle: '1:' })
    const children = (await tc.qdiscs.list('a0')).filter((q) => q.parent.startsWith('1:'))
    expect(children.map((q) => q.parent).sort()).toEqual(['1:1', '1:2', '1:3', '1:4'])
    for (const c of children) expect(c.options).toMatchObject({ kind: 'pfifo_fast', bands: 3 })
    await tc.qdiscs.delete({ dev: 'a0' })
  })

  test('pfifo and bfifo: limit read back; replace swaps the kind', async () => {
    await tc.qdiscs.add({ dev: 'b0', kind: 'pfifo', handle: '5:', limit: 77 })
    expect(qdiscsByTc('b0').find((j) => j.kind === 'pfifo')?.options).toEqual({ limit: 77 })
    await tc.qdiscs.replace({ dev: 'b0', kind: 'bfifo', limit: '10k' })
    expect(qdiscsByTc('b0').find((j) => j.kind === 'bfifo')?.options).toEqual({ limit: 10240 })
    const [q] = await tc.qdiscs.list('b0')
    expect(q?.options).toEqual({ kind: 'bfifo', limit: 10240 })
    await tc.qdiscs.delete({ dev: 'b0' })
    ns.tc('qdisc', 'add', 'dev', 'b0', 'root', 'pfifo', 'limit', '33')
    expect((await tc.qdiscs.list('b0'))[0]?.options).toEqual({ kind: 'pfifo', limit: 33 })
    await tc.qdiscs.delete({ dev: 'b0' })
  })

  test('listing every device matches tc qdisc show', async () => {
    const theirs = tcj<Array<TcQdiscJson & { dev: string }>>(ns.name, 'qdisc', 'show')
    const ours = await tc.qdiscs.list()
    const key = (x: { dev: string; kind: string; handle: string; parent?: string | undefined }) =>
      `${x.dev} ${x.kind} ${x.handle} ${x.parent ?? 'root'}`
    expect(ours.map((q) => key({ ...place(q), dev: q.dev })).sort()).toEqual(
      theirs.map((j) => key({ ...placeOf(j), dev: j.dev })).sort(),
    )
  })
})

type TcFilterJson = {
  protocol: string
  pref: number
  kind: string
  chain: number
  options?: Record<string, unknown> & {
    fh?: string
    match?: unknown
    actions?: Array<Record<string, unknown>>
  }
}
const filtersByTc = (dev: string, parent: string) =>
  tcj<TcFilterJson[]>(ns.name, 'filter', 'show', 'dev', dev, parent)

function compareFilters(ours: Filter[], theirs: TcFilterJson[]): void {
  expect(ours).toHaveLength(theirs.length)
  ours.forEach((f, i) => {
    const t = theirs[i] as TcFilterJson
    expect([f.protocol, f.pref, f.kind, f.chain]).toEqual([t.protocol, t.pref, t.kind, t.chain])
    if (f.kind === 'u32' && t.options) {
      const o = f.options as U32Options
      expect(f.handle).toBe(t.options.fh)
      const keys = all(t.options.match as Array<{ value: string; mask: string; off: number }>)
      expect((o.keys ?? []).map((k) => [k.value.toString(16), k.mask.toString(16), k.offset])).toEqual(
        keys.map((k) => [k.value, k.mask, k.off]),
      )
    }
    if (f.kind === 'bpf' && t.options) {
      const prog = t.options.prog as { id: number; tag: string; name: string }
      expect(f.handle).toBe(t.options.handle)
      expect(f.options).toMatchObject({ kind: 'bpf', id: prog.id, tag: prog.tag })
      expect(f.options?.kind === 'bpf' && f.options.name).toBe(t.options.bpf_name ?? false)
      expect(f.options?.kind === 'bpf' && f.options.directAction).toBe(t.options['direct-action'] === true)
    }
    const acts = t.options?.actions ?? []
    expect(f.actions ?? []).toHaveLength(acts.length)
    ;(f.actions ?? []).forEach((a, k) => {
      const ta = acts[k] as Record<string, unknown>
      expect([a.kind, a.order, a.index]).toEqual([ta.kind, ta.order, ta.index])
      expect(a.control).toBe((ta.control_action as { type: string }).type)
      if (a.options.kind === 'mirred')
        expect([a.options.action, a.options.direction, a.options.dev]).toEqual([
          ta.mirred_action,
          ta.direction,
          ta.to_dev,
        ])
    })
  })
}

describe('filters and actions', () => {
  beforeAll(async () => {
    await tc.qdiscs.add({ dev: 'a0', kind: 'clsact' })
  })

  test('u32 with the IPv4 and IPv6 helpers and mirred, as tc reads them', async () => {
    const f = await tc.filters.add({
      dev: 'a0',
      parent: 'ingress',
      kind: 'u32',
      protocol: 'ip',
      pref: 10,
      match: { ip: { src: '10.0.0.0/8', dst: '192.168.1.7', protocol: 'tcp', sport: 1000, dport: 80 } },
      actions: [{ kind: 'mirred', direction: 'egress', action: 'redirect', dev: 'a1' }],
    })
    expect(f).toMatchObject({ dev: 'a0', parent: 'ingress', protocol: 'ip', pref: 10, handle: '800::800' })
    expect(f.actions?.[0]?.options).toEqual({
      kind: 'mirred',
      direction: 'egress',
      action: 'redirect',
      ifindex: index.a1,
      dev: 'a1',
    })
    await tc.filters.add({
      dev: 'a0',
      parent: 'ingress',
      kind: 'u32',
      protocol: 'ipv6',
      pref: 20,
      match: { ip6: { src: '2001:db8:1::/48', dst: '2001:db8::1', protocol: 'udp', dport: 53 } },
      actions: [{ kind: 'mirred', direction: 'ingress', action: 'mirror', dev: index.b1 as number }],
    })
    await tc.filters.add({
      dev: 'a0',
      parent: 'ingress',
      kind: 'u32',
      protocol: 'all',
      pref: 30,
      match: {
        keys: [
          { value: 0x0800, mask: 0xffff, offset: -4 },
          { value: 6, mask: 0xff, offset: 8, nexthdr: true },
        ],
      },
      actions: [{ kind: 'mirred', direction: 'egress', action: 'mirror', dev: 'b0', control: 'pass' }],
    })
    compareFilters(await tc.filters.list({ dev: 'a0', parent: 'ingress' }), filtersByTc('a0', 'ingress'))
  })

  test('a u32 filter replaced by handle takes the new classid (u32 keeps its selector)', async () => {
    await tc.qdiscs.add({ dev: 'b0', kind: 'htb', handle: '1:' })
    const spec = { dev: 'b0', parent: '1:', kind: 'u32', protocol: 'ip', pref: 9 } as const
    const f = await tc.filters.add({ ...spec, classid: '1:1', match: { ip: { dst: '10.1.1.1' } } })
    const handle = f.handle as string
    const r = await tc.filters.replace({
      ...spec,
      handle,
      classid: '1:2',
      match: { ip: { dst: '10.1.1.1' } },
    })
    expect(r).toMatchObject({
      handle,
      options: { classid: '1:2', keys: [{ value: 0x0a010101, offset: 16 }] },
    })
    const theirs = tcj<TcFilterJson[]>(ns.name, 'filter', 'show', 'dev', 'b0', 'parent', '1:')
    expect(theirs.find((x) => x.options?.fh === handle)?.options).toMatchObject({ flowid: '1:2' })
    await tc.qdiscs.delete({ dev: 'b0' })
  })

  test('u32 filters made by tc decode to what tc prints, and get/delete by handle', async () => {
    ns.tc(
      ...'filter add dev a0 egress protocol ip pref 5 u32 match ip dst 172.16.0.0/12 match ip sport 22 0xffff action mirred egress redirect dev b0'.split(
        ' ',
      ),
    )
    ns.tc(...'filter add dev a0 egress protocol ipv6 pref 6 handle 1: u32 divisor 16'.split(' '))
    ns.tc(
      ...'filter add dev a0 egress protocol ipv6 pref 6 u32 match ip6 dst fe80::/10 link 1: hashkey mask 0x0000ff00 at 40'.split(
        ' ',
      ),
    )
    const ours = await tc.filters.list({ dev: 'a0', parent: 'egress' })
    compareFilters(ours, filtersByTc('a0', 'egress'))
    const linked = ours.find((f) => f.options?.kind === 'u32' && f.options.link)
    expect(linked?.options).toMatchObject({ link: '1:', hashkey: { mask: 0xff00, at: 40 } })
    expect(ours.find((f) => f.handle === '1:')?.options).toMatchObject({ kind: 'u32', divisor: 16 })

    // u32 hash tables are shared by a qdisc's filters, so pref 5's table is not 800: (ingress has it).
    const handle = ours.find((f) => f.pref === 5 && f.options?.kind === 'u32' && f.options.keys)
      ?.handle as string
    expect(handle).toMatch(/^8[0-9a-f]{2}::800$/)
    const select = { dev: 'a0', parent: 'egress', protocol: 'ip', pref: 5, kind: 'u32', handle }
    const got = await tc.filters.get(select)
    expect(got).toMatchObject({ handle, pref: 5, protocol: 'ip' })
    expect(got.actions?.[0]?.options).toMatchObject({ kind: 'mirred', dev: 'b0' })
    await tc.filters.delete(select)
    expect(filtersByTc('a0', 'egress').filter((f) => f.pref === 5 && f.options?.fh === handle)).toEqual([])
    await tc.filters.delete({ dev: 'a0', parent: 'egress' })
    expect(filtersByTc('a0', 'egress')).toEqual([])
  })

  test('bpf filters: by fd and by pinned path, direct action; tc-made ones decoded', async () => {
    const byFd = await tc.filters.add({
      dev: 'a0',
      parent: 'egress',
      kind: 'bpf',
      pref: 40,
      program: { fd: cls.fd },
      name: 'by-fd',
      directAction: true,
    })
    expect(byFd.options).toMatchObject({
      kind: 'bpf',
      id: cls.id,
      tag: cls.tag,
      name: 'by-fd',
      directAction: true,
    })
    await tc.filters.add({
      dev: 'a0',
      parent: 'egress',
      kind: 'bpf',
      protocol: 'ip',
      pref: 41,
      handle: 9,
      program: { pinned: bpffs.path('cls') },
      classid: '1:5',
      actions: [{ kind: 'mirred', direction: 'egress', action: 'redirect', dev: 'b0' }],
    })
    ns.tc(...`filter add dev a0 egress pref 42 bpf object-pinned ${bpffs.path('cls')} da`.split(' '))
    const ours = await tc.filters.list({ dev: 'a0', parent: 'egress' })
    compareFilters(ours, filtersByTc('a0', 'egress'))
    expect(ours.find((f) => f.pref === 41 && f.handle)).toMatchObject({
      handle: '0x9',
      options: { kind: 'bpf', classid: '1:5', name: 'cls:[*fsobj]', id: cls.id },
    })
    expect(ours.find((f) => f.pref === 42 && f.handle)?.options).toMatchObject({
      directAction: true,
      id: cls.id,
    })
    await tc.filters.delete({ dev: 'a0', parent: 'egress' })
  })

  test('standalone mirred actions: add, list and get as tc shows them, delete', async () => {
    const [added] = await tc.actions.add({
      kind: 'mirred',
      direction: 'egress',
      action: 'redirect',
      dev: 'b1',
      index: 500,
    })
    expect(added).toMatchObject({ kind: 'mirred', index: 500, control: 'stolen', options: { dev: 'b1' } })
    // Actions of filters deleted just before are freed by the kernel a moment later (RCU): compare
    // once both views agree on which exist.
    const view = async () => {
      const ours = await tc.actions.list('mirred')
      const theirs = tcj<Array<{ actions?: Array<Record<string, unknown>> }>>(
        ns.name,
        'actions',
        'ls',
        'action',
        'mirred',
      )
      // tc prints a dump that spans several messages as repeated "actions" keys.
      const tActs = theirs.flatMap((t) => all(t.actions)).flat()
      return {
        ours: ours.map((a) => [a.index, a.options.kind === 'mirred' && a.options.dev, a.refcnt, a.bindcnt]),
        theirs: tActs.map((t) => [t.index, t.to_dev, t.ref, t.bind]),
      }
    }
    let v = await view()
    for (let i = 0; i < 20 && JSON.stringify(v.ours) !== JSON.stringify(v.theirs); i++) {
      await new Promise((r) => setTimeout(r, 50))
      v = await view()
    }
    expect(v.ours).toEqual(v.theirs)
    expect(v.ours).toContainEqual([500, 'b1', 1, 0])
    expect(await tc.actions.get({ kind: 'mirred', index: 500 })).toMatchObject({
      index: 500,
      options: { dev: 'b1' },
    })
    await tc.actions.delete({ kind: 'mirred', index: 500 })
    expect((await tc.actions.list('mirred')).map((a) => a.index)).not.toContain(500)
  })
})

describe('example', () => {
  test('examples/tc.ts prints the device as JSON, matching the API', async () => {
    const r = spawnSync('npx', ['tsx', 'examples/tc.ts', '--netns', ns.name, '--dev', 'a0', '--json'], {
      encoding: 'utf8',
      timeout: 60_000,
    })
    expect(r.status, r.stderr).toBe(0)
    const out = JSON.parse(r.stdout) as { qdiscs: Qdisc[]; filters: Filter[] }
    expect(out.qdiscs.map((q) => q.kind)).toContain('clsact')
    const ours = await tc.filters.list({ dev: 'a0', parent: 'ingress' })
    expect(
      out.filters.filter((f) => f.parent === 'ingress').map((f) => [f.pref, f.handle, f.actions?.length]),
    ).toEqual(ours.map((f) => [f.pref, f.handle, f.actions?.length]))
    const text = spawnSync('npx', ['tsx', 'examples/tc.ts', '--netns', ns.name, '--dev', 'a0'], {
      encoding: 'utf8',
    })
    expect(text.stdout).toMatch(/action order 1: mirred egress redirect to a1 stolen/)
  })
})

describe('bad input', () => {
  afterEach(() => {
    vi.restoreAllMocks()
  })
  test('invalid handles, unknown kinds, misaligned u32 offsets, missing parents: typed errors, nothing sent', async () => {
    const spy = vi.spyOn(sock, 'request')
    const bad: Array<[() => Promise<unknown>, string]> = [
      [() => tc.qdiscs.add({ dev: 'a1', kind: 'htb', handle: '1:2:3' }), 'handle'],
      [() => tc.qdiscs.add({ dev: 'a1', kind: 'htb', handle: 'xyz' }), 'handle'],
      [() => tc.qdiscs.add({ dev: 'a1', kind: 'cake' } as never), 'kind'],
      [
        () => tc.classes.add({ dev: 'a1', kind: 'htb', parent: '1:', classid: '1:', rate: '1mbit' }),
        'classid',
      ],
      [() => tc.classes.add({ dev: 'a1', kind: 'htb', parent: '1:', classid: '1:5', rate: 'fast' }), 'rate'],
      [
        () =>
          tc.filters.add({
            dev: 'a1',
            parent: 'ingress',
            kind: 'u32',
            match: { keys: [{ value: 1, mask: 0xff, offset: 5 }] },
          }),
        'match.keys[0].offset',
      ],
      [() => tc.filters.add({ dev: 'a1', parent: 'ingress', kind: 'u32', handle: '1000::' }), 'handle'],
      [() => tc.filters.add({ dev: 'a1', kind: 'matchall' } as never), 'parent'],
      [() => tc.filters.add({ dev: 'a1', parent: 'sideways', kind: 'matchall' }), 'parent'],
      [
        () => tc.filters.add({ dev: 'a1', parent: 'ingress', kind: 'matchall', protocol: 'ipx7' }),
        'protocol',
      ],
      [() => tc.filters.add({ dev: 'a1', parent: 'ingress', kind: 'nope' } as never), 'kind'],
      [
        () =>
          tc.filters.add({
            dev: 'a1',
            parent: 'ingress',
            kind: 'u32',
            match: { ip: { src: '10.0.0.0/8' }, keys: [{ value: 0x0b000000, mask: 0xff000000, offset: 12 }] },
          }),
        'match.keys[0]',
      ],
      [() => tc.qdiscs.add({ dev: 'a1', kind: 'tbf', rate: '1mbit', burst: '10k' }), 'limit'],
    ]
    for (const [run, field] of bad) {
      const e = await run().catch((x: unknown) => x)
      expect(e, field).toBeInstanceOf(InvalidInputError)
      expect((e as InvalidInputError).field).toBe(field)
    }
    expect(spy).not.toHaveBeenCalled()
    spy.mockRestore()
  })

  test('a queue_mapping beyond the device queues is refused before the filter is sent', async () => {
    const spy = vi.spyOn(sock, 'request')
    const e = await tc.filters
      .add({ dev: 'a0', parent: 'egress', kind: 'matchall', actions: [{ kind: 'skbedit', queueMapping: 4 }] })
      .catch((x: unknown) => x)
    expect(e).toBeInstanceOf(InvalidInputError)
    expect((e as InvalidInputError).field).toBe('actions[0].queueMapping')
    expect((e as Error).message).toMatch(/a0 has 4 tx queues \(0…3\); queue 4 does not exist/)
    // Only the device lookup went out.
    expect(spy.mock.calls.map(([req]) => req.bytes.readUInt16LE(4))).toEqual([RTM.GETLINK])
    spy.mockRestore()
  })

  test("the kernel's refusals arrive as NetlinkError with its extended-ack message", async () => {
    const e = await tc.qdiscs.add({ dev: 'a0', kind: 'clsact' }).catch((x: unknown) => x)
    expect(e).toBeInstanceOf(NetlinkError)
    expect(e).toMatchObject({ code: 'EEXIST', extackMessage: 'Exclusivity flag on, cannot modify' })
    const noParent = await tc.classes
      .add({ dev: 'b1', kind: 'htb', parent: '9:', classid: '9:1', rate: '1mbit' })
      .catch((x: unknown) => x)
    expect(noParent).toMatchObject({ code: 'ENOENT' })
    const noDev = await tc.qdiscs.add({ dev: 'nosuch0', kind: 'clsact' }).catch((x: unknown) => x)
    expect(noDev).toMatchObject({ code: 'ENODEV' })
  })

  test('a filter whose second action fails leaves neither the filter nor the first action behind', async () => {
    const before = new Set((await tc.actions.list('mirred')).map((a) => a.index))
    const e = await tc.filters
      .add({
        dev: 'a0',
        parent: 'egress',
        kind: 'u32',
        pref: 77,
        match: { ip: { dst: '10.9.9.9' } },
        actions: [
          { kind: 'mirred', direction: 'egress', action: 'mirror', dev: 'b0' },
          { kind: 'mirred', direction: 'egress', action: 'redirect', dev: 999_999 },
        ],
      })
      .catch((x: unknown) => x)
    expect(e).toBeInstanceOf(NetlinkError)
    expect(filtersByTc('a0', 'egress').filter((f) => f.pref === 77)).toEqual([])
    expect((await tc.actions.list('mirred')).filter((a) => !before.has(a.index))).toEqual([])
  })
})

describe('events', () => {
  const openFds = () => readdirSync('/proc/self/fd').length

  test('qdisc, class and filter changes made by tc arrive typed, in order', async () => {
    const before = openFds()
    const got = firstValueFrom(
      tc.events$.pipe(
        filter(
          (e) =>
            e.type === 'overrun' ||
            ('qdisc' in e
              ? e.qdisc.dev === 'b1' && e.qdisc.kind !== 'noqueue'
              : 'class' in e
                ? e.class.dev === 'b1'
                : 'filter' in e && e.filter.dev === 'b1'),
        ),
        take(5),
        toArray(),
      ),
    )
    await new Promise((r) => setTimeout(r, 100))
    ns.tc(...'qdisc add dev b1 root handle 1: htb'.split(' '))
    ns.tc(...'class add dev b1 parent 1: classid 1:7 htb rate 1mbit'.split(' '))
    ns.tc(...'qdisc add dev b1 clsact'.split(' '))
    ns.tc(
      ...'filter add dev b1 ingress protocol ip pref 3 u32 match ip src 1.2.3.4/32 action mirred egress redirect dev a1'.split(
        ' ',
      ),
    )
    ns.tc(...'filter del dev b1 ingress protocol ip pref 3'.split(' '))
    const events = await got
    const summary = events.map((e: TcEvent) =>
      e.type === 'overrun'
        ? 'overrun'
        : e.object === 'qdisc'
          ? `${e.type} qdisc ${e.qdisc.kind} ${e.qdisc.handle}`
          : e.object === 'class'
            ? `${e.type} class ${e.class.handle} ${e.class.options.kind === 'htb' ? e.class.options.rate : ''}`
            : e.object === 'filter'
              ? `${e.type} filter ${e.filter.kind} ${e.filter.pref} ${e.filter.handle ?? ''}`
              : e.type,
    )
    expect(summary.slice(0, 3)).toEqual([
      'new qdisc htb 1:',
      'new class 1:7 1000000',
      'new qdisc clsact ffff:',
    ])
    expect(summary.slice(3)).toContain('new filter u32 3 800::800')
    const withAction = events.find(
      (e) => e.type === 'new' && e.object === 'filter' && e.filter.handle === '800::800',
    )
    expect(
      withAction?.type === 'new' && withAction.object === 'filter' && withAction.filter.actions?.[0]?.options,
    ).toMatchObject({
      kind: 'mirred',
      dev: 'a1',
    })
    await new Promise((r) => setTimeout(r, 50))
    expect(openFds()).toBe(before)
  })

  test('an overflowing event socket reports an overrun', async () => {
    const seen = firstValueFrom(
      tc.watch({ receiveBuffer: 4096 }).pipe(
        filter((e) => e.type === 'overrun'),
        take(1),
      ),
    )
    await new Promise((r) => setTimeout(r, 100))
    const batch = Array.from(
      { length: 300 },
      (_, i) =>
        `filter add dev a1 ingress protocol ip pref ${100 + i} u32 match ip dst 10.0.${i >> 8}.${i & 255}/32`,
    )
    spawnSync('tc', ['-n', ns.name, '-batch', '-'], { input: batch.join('\n') })
    expect(await seen).toEqual({ type: 'overrun' })
  })
})
