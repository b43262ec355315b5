// The kernel lab's first test: proves the path (netdevsim, tc kinds and link kinds the host kernel
// lacks) and covers what issue 3 left for the lab: `dummy` and `vlan` links.
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { type Link, openRoute, type RouteClient } from '../../src/index.ts'
import { expectSameLink, type IpLink } from '../helpers/ip-compare.ts'
import { TestNetns } from '../helpers/netns.ts'
import { freeNetdevsimId, Netdevsim, run } from './genl-helpers.ts'

let ns: TestNetns
let rt: RouteClient

beforeAll(async () => {
  ns = new TestNetns('lab-links')
  rt = await openRoute({ netns: ns.name })
})
afterAll(() => {
  rt?.close()
  ns?.remove()
})

const ipLinks = () => ns.ipJson<IpLink[]>('-d', 'link', 'show')

/** rxnetlink's list and `ip -j -d link show`, compared field by field for every link. */
async function expectListMatchesIp(): Promise<{ ours: Link[]; theirs: IpLink[] }> {
  // Operational states settle asynchronously (linkwatch) after links go up: compare within a
  // window where ip saw the same thing before and after rxnetlink's dump.
  let theirs = ipLinks()
  let ours = await rt.links.list()
  for (let i = 0; i < 50; i++) {
    const after = ipLinks()
    if (JSON.stringify(after) === JSON.stringify(theirs)) break
    await new Promise((r) => setTimeout(r, 100))
    theirs = ipLinks()
    ours = await rt.links.list()
  }
  expect(ours.map((l) => l.name).sort()).toEqual(theirs.map((l) => l.ifname).sort())
  for (const t of theirs) expectSameLink(ours.find((l) => l.index === t.ifindex) as Link, t, theirs)
  return { ours, theirs }
}

describe('a netdevsim device with 2 ports and 4 queues', () => {
  let nsim: Netdevsim
  let ports: string[]
  beforeAll(() => {
    nsim = new Netdevsim(freeNetdevsimId(), 2, 4)
    // The device and its ports move into the test's namespace (devlink reload netns).
    const moved = run('devlink', ['dev', 'reload', nsim.handle, 'netns', ns.name])
    if (!moved.ok) throw new Error(`devlink dev reload: ${moved.err}`)
    const j = JSON.parse(run('ip', ['netns', 'exec', ns.name, 'devlink', '-j', 'port', 'show']).out) as {
      port: Record<string, { netdev?: string }>
    }
    ports = Object.entries(j.port)
      .filter(([h]) => h.startsWith(`${nsim.handle}/`))
      .map(([, p]) => p.netdev ?? '')
    for (const p of ports) ns.ip('link', 'set', p, 'up')
  })
  afterAll(() => nsim?.remove())

  test('its links as rxnetlink lists them are the links `ip -j -d link show` lists', async () => {
    expect(ports).toHaveLength(2)
    const { ours } = await expectListMatchesIp()
    for (const p of ports) {
      const l = ours.find((x) => x.name === p)
      expect(l, p).toMatchObject({ type: 'ether', numTxQueues: 4, numRxQueues: 4, up: true })
      expect(l?.kind).toBeUndefined() // a hardware-like device: no IFLA_LINKINFO kind
    }
  })

  test('a flower filter with skbedit added by tc, read back with tc -j and decoded by rxnetlink', async () => {
    const dev = ports[0] as string
    ns.tc('qdisc', 'add', 'dev', dev, 'clsact')
    ns.tc(
      ...`filter add dev ${dev} egress protocol ip pref 10 flower skip_hw ip_proto tcp dst_ip 192.0.2.0/24 dst_port 443 action skbedit queue_mapping 3`.split(
        ' ',
      ),
    )
    type F = { kind: string; pref: number; protocol: string; options?: Record<string, unknown> }
    const j = ns.tcJson<F[]>('filter', 'show', 'dev', dev, 'egress').find((f) => f.options) as F
    expect(j).toMatchObject({ kind: 'flower', pref: 10, protocol: 'ip' })
    expect(j.options?.keys).toMatchObject({ ip_proto: 'tcp', dst_ip: '192.0.2.0/24', dst_port: 443 })
    expect(j.options?.skip_hw).toBe(true)
    const [ja] = (j.options?.actions ?? []) as Array<Record<string, unknown>>
    expect(ja).toMatchObject({ kind: 'skbedit', queue_mapping: 3 })

    const mine = (await rt.tc.filters.list({ dev, parent: 'egress' })).find((f) => f.options)
    expect(mine).toMatchObject({ kind: 'flower', pref: 10 })
    expect(mine?.options).toMatchObject({
      kind: 'flower',
      ipProto: 'tcp',
      dstIp: '192.0.2.0/24',
      dstPort: 443,
    })
    const tcFlags = ['skip_hw', 'skip_sw', 'in_hw', 'not_in_hw'].filter((k) => j.options?.[k] === true)
    expect([...((mine?.options as { flags?: string[] } | undefined)?.flags ?? [])].sort()).toEqual(
      tcFlags.sort(),
    )
    expect(tcFlags).toContain('skip_hw')
    expect(mine?.actions?.[0]).toMatchObject({
      kind: 'skbedit',
      index: ja?.index,
      options: { queueMapping: 3 },
    })
  })
})

describe('dummy and vlan links (issue 3: kinds only the lab kernel has)', () => {
  type VlanData = { protocol?: string; id?: number; flags?: string[] }
  const ipLink = (name: string) => ipLinks().find((l) => l.ifname === name) as IpLink

  test('dummy made by rxnetlink, as ip reads it', async () => {
    const l = await rt.links.create({ name: 'dm0', kind: 'dummy', mtu: 9000, address: '02:00:00:00:01:01' })
    expect(l).toMatchObject({ name: 'dm0', kind: 'dummy', info: { kind: 'dummy' }, mtu: 9000 })
    const t = ipLink('dm0')
    expect(t.linkinfo?.info_kind).toBe('dummy')
    expect(t.address).toBe('02:00:00:00:01:01')
    expectSameLink(l as Link, t, ipLinks())
  })

  test.each([
    ['802.1Q', 'vq10', 10],
    ['802.1ad', 'vs20', 20],
  ] as const)('vlan %s made by rxnetlink on a dummy, as ip reads it', async (protocol, name, id) => {
    const l = await rt.links.create({ name, kind: 'vlan', link: 'dm0', id, protocol })
    expect(l?.info).toEqual({ kind: 'vlan', id, protocol })
    const t = ipLink(name)
    const d = (t.linkinfo?.info_data ?? {}) as VlanData
    expect([d.id, d.protocol]).toEqual([id, protocol])
    expect(t.link).toBe('dm0')
    expect(l?.parent).toBe((await rt.links.get('dm0')).index)
    expectSameLink(l as Link, t, ipLinks())
  })

  test('vlan without a protocol is 802.1Q', async () => {
    const l = await rt.links.create({ name: 'vd30', kind: 'vlan', link: 'dm0', id: 30 })
    expect(l?.info).toMatchObject({ kind: 'vlan', id: 30, protocol: '802.1Q' })
    expect((ipLink('vd30').linkinfo?.info_data as VlanData | undefined)?.protocol).toBe('802.1Q')
  })

  test('dummy and vlans made by ip, decoded by rxnetlink as ip prints them', async () => {
    ns.ip('link', 'add', 'dm1', 'mtu', '1400', 'type', 'dummy')
    ns.ip('link', 'add', 'link', 'dm1', 'name', 'iq100', 'type', 'vlan', 'id', '100')
    ns.ip('link', 'add', 'link', 'dm1', 'name', 'is4094', 'type', 'vlan', 'protocol', '802.1ad', 'id', '4094')
    ns.ip('link', 'set', 'dm1', 'up')
    ns.ip('link', 'set', 'iq100', 'up')
    const { ours } = await expectListMatchesIp()
    expect(ours.find((l) => l.name === 'dm1')).toMatchObject({ kind: 'dummy', mtu: 1400 })
    expect(ours.find((l) => l.name === 'iq100')?.info).toEqual({ kind: 'vlan', id: 100, protocol: '802.1Q' })
    expect(ours.find((l) => l.name === 'is4094')?.info).toEqual({
      kind: 'vlan',
      id: 4094,
      protocol: '802.1ad',
    })
    expect(ours.find((l) => l.name === 'iq100')?.parent).toBe(ours.find((l) => l.name === 'dm1')?.index)
  })

  test('a vlan id beyond 4094 is refused before any syscall; a kernel refusal names the problem', async () => {
    await expect(
      rt.links.create({ name: 'bad0', kind: 'vlan', link: 'dm0', id: 4095 }),
    ).rejects.toMatchObject({
      name: 'InvalidInputError',
      field: 'id',
    })
    // The same id twice on one lower device: the kernel refuses with EEXIST.
    await expect(rt.links.create({ name: 'dup10', kind: 'vlan', link: 'dm0', id: 10 })).rejects.toMatchObject(
      {
        name: 'NetlinkError',
        code: 'EEXIST',
      },
    )
    const names = ipLinks().map((l) => l.ifname)
    expect(names).not.toContain('bad0')
    expect(names).not.toContain('dup10')
  })
})
