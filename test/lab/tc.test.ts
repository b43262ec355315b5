// tc kinds the development kernel lacks (prio, multiq, mqprio, flower, matchall, gact, skbedit,
// act_bpf), cross-checked with `tc` inside the kernel lab's guest. Excluded from the host run by
// vitest.config.ts; their request bytes are also checked against captured tc requests on the host
// (test/tc-requests.test.ts).
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { NetlinkError } from '../../src/netlink/codec/index.ts'
import { type Filter, TcApi } from '../../src/netlink/route/tc/index.ts'
import { NETLINK_ROUTE, NetlinkSocket } from '../../src/netlink/socket/index.ts'
import { InvalidInputError } from '../../src/netlink/validate.ts'
import { loadTestProgram, type TestProgram } from '../helpers/bpf.ts'
import { TestNetns } from '../helpers/netns.ts'
import { tcj } from '../helpers/tc-json.ts'

let ns: TestNetns
let sock: NetlinkSocket
let tc: TcApi
let act: TestProgram

beforeAll(() => {
  ns = new TestNetns('labtc')
  ns.ip('link', 'add', 'q0', 'numtxqueues', '4', 'numrxqueues', '4', 'type', 'veth', 'peer', 'name', 'q1')
  ns.ip('link', 'add', 'r0', 'numtxqueues', '4', 'type', 'veth', 'peer', 'name', 'r1')
  for (const d of ['q0', 'q1', 'r0', 'r1']) ns.ip('link', 'set', d, 'up')
  sock = new NetlinkSocket(NETLINK_ROUTE, { netns: ns.name })
  tc = new TcApi(sock, ns.name)
  act = loadTestProgram('sched_act', 'rxnl_act', 3)
})
afterAll(() => {
  sock?.close()
  act?.close()
  ns?.remove()
})

type QJson = {
  kind: string
  handle: string
  root?: boolean
  parent?: string
  options?: Record<string, unknown>
}
const qdiscJson = (dev: string) => tcj<QJson[]>(ns.name, 'qdisc', 'show', 'dev', dev)
type FJson = { pref: number; kind: string; protocol: string; options?: Record<string, unknown> }
const filterJson = (dev: string, ...where: string[]) =>
  tcj<FJson[]>(ns.name, 'filter', 'show', 'dev', dev, ...where)
const filterText = (dev: string, parent: string) => ns.tc('filter', 'show', 'dev', dev, parent)

describe('prio, multiq, mqprio', () => {
  test('prio: bands and priomap as tc reads them; a tc-made prio decoded', async () => {
    const priomap = [3, 2, 2, 2, 1, 2, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1]
    const q = await tc.qdiscs.add({ dev: 'q0', kind: 'prio', handle: '1:', bands: 4, priomap })
    expect(q.options).toEqual({ kind: 'prio', bands: 4, priomap })
    const j = qdiscJson('q0').find((x) => x.kind === 'prio')
    expect(j?.options).toMatchObject({ bands: 4, priomap })
    await tc.qdiscs.delete({ dev: 'q0' })
    ns.tc('qdisc', 'add', 'dev', 'q0', 'root', 'handle', '2:', 'prio', 'bands', '5')
    const [mine] = (await tc.qdiscs.list('q0')).filter((x) => x.kind === 'prio')
    const theirs = qdiscJson('q0').find((x) => x.kind === 'prio')
    expect(mine?.options).toEqual({ kind: 'prio', bands: 5, priomap: theirs?.options?.priomap })
    await tc.qdiscs.delete({ dev: 'q0' })
  })

  test('multiq takes one band per tx queue; a tc-made one decodes the same', async () => {
    const q = await tc.qdiscs.add({ dev: 'q0', kind: 'multiq', handle: '3:' })
    expect(q.options).toEqual({ kind: 'multiq', bands: 4, maxBands: 4 })
    expect(ns.tc('qdisc', 'show', 'dev', 'q0')).toMatch(/qdisc multiq 3: root .*bands 4\/4/)
    await tc.qdiscs.delete({ dev: 'q0' })
    ns.tc('qdisc', 'add', 'dev', 'q0', 'root', 'handle', '4:', 'multiq')
    expect((await tc.qdiscs.list('q0')).find((x) => x.kind === 'multiq')).toMatchObject({
      handle: '4:',
      options: { bands: 4, maxBands: 4 },
    })
    await tc.qdiscs.delete({ dev: 'q0' })
  })

  test('mqprio: traffic classes, map and queue ranges as tc reads them', async () => {
    const q = await tc.qdiscs.add({
      dev: 'q0',
      kind: 'mqprio',
      handle: '5:',
      numTc: 2,
      map: [0, 0, 0, 0, 1, 1, 1, 1],
      queues: ['2@0', { count: 2, offset: 2 }],
    })
    expect(q.options).toMatchObject({
      kind: 'mqprio',
      numTc: 2,
      hw: 0,
      queues: [
        { count: 2, offset: 0 },
        { count: 2, offset: 2 },
      ],
    })
    const j = qdiscJson('q0').find((x) => x.kind === 'mqprio')
    expect(j?.options).toMatchObject({
      tc: 2,
      map: [0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0],
      queues: [
        [0, 1],
        [2, 3],
      ],
    })
    await tc.qdiscs.delete({ dev: 'q0' })
    ns.tc(
      ...'qdisc add dev q0 root handle 6: mqprio num_tc 4 map 0 1 2 3 queues 1@0 1@1 1@2 1@3 hw 0'.split(' '),
    )
    const mine = (await tc.qdiscs.list('q0')).find((x) => x.kind === 'mqprio')
    expect(mine?.options).toMatchObject({
      numTc: 4,
      map: [0, 1, 2, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
      queues: [0, 1, 2, 3].map((i) => ({ count: 1, offset: i })),
    })
    await tc.qdiscs.delete({ dev: 'q0' })
  })

  test('mqprio: queue ranges past the device are refused before sending; kernel refusals carry its message', async () => {
    const bad = await tc.qdiscs
      .add({ dev: 'q0', kind: 'mqprio', numTc: 2, queues: ['2@0', '3@2'] })
      .catch((e: unknown) => e)
    expect(bad).toBeInstanceOf(InvalidInputError)
    expect((bad as InvalidInputError).field).toBe('queues[1]')
    const overlap = await tc.qdiscs
      .add({ dev: 'q0', kind: 'mqprio', numTc: 2, queues: ['2@0', '2@1'] })
      .catch((e: unknown) => e)
    expect(overlap).toBeInstanceOf(NetlinkError)
    expect((overlap as NetlinkError).code).toBe('EINVAL')
    expect(qdiscJson('q0').map((x) => x.kind)).not.toContain('mqprio')
  })
})

describe('flower, matchall and the actions the tc path of tap RSS uses', () => {
  beforeAll(async () => {
    await tc.qdiscs.add({ dev: 'r0', kind: 'clsact' })
    await tc.qdiscs.add({ dev: 'q0', kind: 'multiq', handle: '1:' })
  })

  test('flower + skbedit queue_mapping (as DPDK does), read back by tc', async () => {
    const f = await tc.filters.add({
      dev: 'q0',
      parent: '1:',
      protocol: 'ip',
      pref: 1,
      kind: 'flower',
      ipProto: 'tcp',
      dstIp: '10.0.0.0/24',
      dstPort: 80,
      skipHw: true,
      actions: [{ kind: 'skbedit', queueMapping: 3 }],
    })
    expect(f.options).toMatchObject({ kind: 'flower', ipProto: 'tcp', dstIp: '10.0.0.0/24', dstPort: 80 })
    const [j] = filterJson('q0', 'parent', '1:').filter((x) => x.options)
    const keys = j?.options?.keys as Record<string, unknown>
    expect(keys).toMatchObject({ ip_proto: 'tcp', dst_ip: '10.0.0.0/24', dst_port: 80 })
    expect(j?.options?.skip_hw).toBe(true)
    const [ja] = (j?.options?.actions ?? []) as Array<Record<string, unknown>>
    expect(ja).toMatchObject({ kind: 'skbedit', queue_mapping: 3, index: f.actions?.[0]?.index })
    expect(f.actions?.[0]).toMatchObject({ kind: 'skbedit', control: 'pipe', options: { queueMapping: 3 } })
  })

  test('a queue_mapping beyond the tx queues is refused before sending', async () => {
    const e = await tc.filters
      .add({ dev: 'q0', parent: '1:', kind: 'flower', actions: [{ kind: 'skbedit', queueMapping: 4 }] })
      .catch((x: unknown) => x)
    expect(e).toBeInstanceOf(InvalidInputError)
    expect((e as InvalidInputError).field).toBe('actions[0].queueMapping')
  })

  test('flower with VLAN and IPv6 keys made by tc decodes to what tc prints', async () => {
    ns.tc(
      ...'filter add dev r0 ingress protocol 802.1q pref 2 flower vlan_id 10 vlan_prio 3 vlan_ethtype ipv6 ip_proto udp dst_ip 2001:db8::/64 src_port 53 skip_hw action gact drop'.split(
        ' ',
      ),
    )
    const mine = (await tc.filters.list({ dev: 'r0', parent: 'ingress' })).find((f) => f.options) as Filter
    const j = filterJson('r0', 'ingress').find((x) => x.options) as FJson
    const keys = j.options?.keys as Record<string, unknown>
    expect(mine.options).toMatchObject({
      kind: 'flower',
      vlanId: keys.vlan_id,
      vlanPrio: keys.vlan_prio,
      vlanEthType: 0x86dd,
      ipProto: keys.ip_proto,
      dstIp: keys.dst_ip,
      srcPort: keys.src_port,
      flags: expect.arrayContaining(['skip_hw']),
    })
    expect(mine.handle).toBe(`0x${Number(j.options?.handle).toString(16)}`)
    const [ja] = (j.options?.actions ?? []) as Array<Record<string, unknown>>
    expect(mine.actions?.[0]).toMatchObject({
      kind: 'gact',
      control: (ja?.control_action as { type?: string } | undefined)?.type,
      index: ja?.index,
    })
    await tc.filters.delete({ dev: 'r0', parent: 'ingress' })
  })

  test('matchall + gact and skbedit mark/priority, as tc prints them', async () => {
    await tc.filters.add({
      dev: 'r0',
      parent: 'egress',
      pref: 3,
      kind: 'matchall',
      skipHw: true,
      actions: [
        { kind: 'skbedit', mark: 0x10, priority: '1:2' },
        { kind: 'gact', action: { goto: 5 } },
      ],
    })
    await tc.filters.add({
      dev: 'r0',
      parent: 'egress',
      pref: 4,
      kind: 'matchall',
      actions: [{ kind: 'gact', action: 'drop' }],
    })
    const text = filterText('r0', 'egress')
    expect(text).toMatch(/pref 3 matchall/)
    expect(text).toMatch(/skbedit\s+priority 1:2 mark 16 pipe/)
    expect(text).toMatch(/gact action goto chain 5/)
    expect(text).toMatch(/gact action drop/)
    const mine = (await tc.filters.list({ dev: 'r0', parent: 'egress' })).filter((f) => f.options)
    expect(mine.map((f) => f.actions?.map((a) => [a.kind, a.control, a.options]))).toEqual([
      [
        ['skbedit', 'pipe', { kind: 'skbedit', mark: 16, priority: '1:2' }],
        ['gact', { goto: 5 }, { kind: 'gact' }],
      ],
      [['gact', 'drop', { kind: 'gact' }]],
    ])
    ns.tc(
      ...'filter add dev r0 egress pref 5 matchall action skbedit queue_mapping 2 action gact pass'.split(
        ' ',
      ),
    )
    const made = (await tc.filters.list({ dev: 'r0', parent: 'egress' })).find(
      (f) => f.pref === 5 && f.options,
    )
    expect(made?.actions?.map((a) => [a.kind, a.control, a.options])).toEqual([
      ['skbedit', 'pipe', { kind: 'skbedit', queueMapping: 2 }],
      ['gact', 'pass', { kind: 'gact' }],
    ])
    await tc.filters.delete({ dev: 'r0', parent: 'egress' })
  })

  test('act_bpf with a program fd, read back by tc (id, tag, name)', async () => {
    const f = await tc.filters.add({
      dev: 'r0',
      parent: 'ingress',
      protocol: 'ip',
      pref: 6,
      kind: 'flower',
      ipProto: 'udp',
      actions: [{ kind: 'bpf', program: { fd: act.fd }, name: 'rxnl-steer' }],
    })
    expect(f.actions?.[0]?.options).toEqual({ kind: 'bpf', id: act.id, tag: act.tag, name: 'rxnl-steer' })
    const j = filterJson('r0', 'ingress').find((x) => x.options) as FJson
    const [ja] = (j.options?.actions ?? []) as Array<Record<string, unknown>>
    expect(ja).toMatchObject({ kind: 'bpf', bpf_name: 'rxnl-steer' })
    expect(JSON.stringify(ja)).toContain(act.tag)
    await tc.filters.delete({ dev: 'r0', parent: 'ingress' })
  })

  test('standalone gact and skbedit actions: add, list, delete', async () => {
    await tc.actions.add([
      { kind: 'gact', action: 'drop', index: 70 },
      { kind: 'skbedit', mark: 5, index: 71 },
    ])
    expect((await tc.actions.list('gact')).find((a) => a.index === 70)).toMatchObject({ control: 'drop' })
    expect((await tc.actions.list('skbedit')).find((a) => a.index === 71)?.options).toEqual({
      kind: 'skbedit',
      mark: 5,
    })
    expect(ns.tc('actions', 'ls', 'action', 'gact')).toMatch(/index 70/)
    await tc.actions.delete({ kind: 'gact', index: 70 })
    await tc.actions.delete({ kind: 'skbedit', index: 71 })
    expect((await tc.actions.list('gact')).map((a) => a.index)).not.toContain(70)
  })
})
