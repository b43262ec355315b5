import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { InvalidInputError, type Link, NetlinkError, openRoute, type RouteClient } from '../src/index.ts'
import { expectSameLink, type IpLink } from './helpers/ip-compare.ts'
import { TestNetns } from './helpers/netns.ts'

let ns: TestNetns
let other: TestNetns
let rt: RouteClient

beforeAll(async () => {
  ns = new TestNetns('links')
  other = new TestNetns('links2')
  rt = await openRoute({ netns: ns.name })
})
afterAll(() => {
  rt?.close()
  ns?.remove()
  other?.remove()
})

const ipLinks = (n = ns) => n.ipJson<IpLink[]>('-d', 'link', 'show')

async function expectMatchesIp(names: string[]): Promise<void> {
  const theirs = ipLinks()
  const ours = await rt.links.list()
  for (const name of names) {
    const o = ours.find((l) => l.name === name)
    const t = theirs.find((l) => l.ifname === name)
    expect(o, `${name} in rxnetlink's list`).toBeDefined()
    expect(t, `${name} in ip's list`).toBeDefined()
    expectSameLink(o as Link, t as IpLink, theirs)
  }
}

describe('links made by rxnetlink, read back with ip -j -d link show', () => {
  test('veth with a named peer, queue counts and MAC', async () => {
    const link = await rt.links.create({
      name: 'va0',
      kind: 'veth',
      mtu: 9000,
      address: '02:00:00:00:00:01',
      numTxQueues: 4,
      numRxQueues: 3,
      peer: { name: 'vb0', address: '02:00:00:00:00:02', mtu: 9000 },
    })
    expect(link).toMatchObject({
      name: 'va0',
      kind: 'veth',
      mtu: 9000,
      address: '02:00:00:00:00:01',
      numTxQueues: 4,
    })
    await expectMatchesIp(['va0', 'vb0'])
    const peer = await rt.links.get('vb0')
    expect(peer.parent).toBe(link?.index)
  })

  test('veth whose peer lives in another namespace', async () => {
    await rt.links.create({ name: 'vx-a', kind: 'veth', peer: { name: 'vx-b', netns: other.name } })
    expect(ipLinks(other).map((l) => l.ifname)).toContain('vx-b')
    expect(ipLinks().map((l) => l.ifname)).not.toContain('vx-b')
    await expectMatchesIp(['vx-a'])
    const ours = await rt.links.get('vx-a')
    expect(ours.linkNetnsid).toBeTypeOf('number')
  })

  test('bridge with its options, and a port enslaved and released', async () => {
    await rt.links.create({
      name: 'br0',
      kind: 'bridge',
      stp: false,
      forwardDelay: 400,
      ageingTime: 20000,
      priority: 4096,
    })
    await rt.links.set('va0', { master: 'br0' })
    await expectMatchesIp(['br0', 'va0'])
    expect((await rt.links.get('va0')).master).toBe((await rt.links.get('br0')).index)
    await rt.links.set('va0', { master: null })
    expect((await rt.links.get('va0')).master).toBeUndefined()
    await expectMatchesIp(['va0'])
  })

  test('macvlan and macvtap on a veth, with their modes', async () => {
    await rt.links.create({ name: 'mv0', kind: 'macvlan', link: 'vb0', mode: 'bridge' })
    await rt.links.create({ name: 'mt0', kind: 'macvtap', link: 'vb0', mode: 'vepa' })
    await expectMatchesIp(['mv0', 'mt0'])
    expect((await rt.links.get('mt0')).info).toEqual({ kind: 'macvtap', mode: 'vepa' })
  })

  test('vxlan with id, port, remote and local; and a multicast group', async () => {
    await rt.links.create({
      name: 'vxl0',
      kind: 'vxlan',
      id: 4242,
      port: 4789,
      remote: '10.1.2.3',
      local: '10.9.9.9',
      ttl: 16,
    })
    await rt.links.create({
      name: 'vxl1',
      kind: 'vxlan',
      id: 7,
      port: 8472,
      group: '239.1.1.1',
      link: 'vb0',
      learning: false,
    })
    await expectMatchesIp(['vxl0', 'vxl1'])
    expect((await rt.links.get('vxl1')).info).toMatchObject({ id: 7, group: '239.1.1.1', learning: false })
  })

  test('ifb, and a link created up', async () => {
    const l = await rt.links.create({ name: 'ifb7', kind: 'ifb', up: true, txqlen: 77 })
    expect(l?.up).toBe(true)
    await expectMatchesIp(['ifb7', 'lo'])
  })

  test('counters come with a list unless stats: false, which leaves only them out', async () => {
    const withStats = await rt.links.list()
    const without = await rt.links.list({ stats: false })
    expect(withStats.every((l) => typeof l.stats?.rxBytes === 'bigint')).toBe(true)
    expect(without.some((l) => 'stats' in l)).toBe(false)
    const strip = (ls: Link[]) => ls.map(({ stats: _, ...l }) => l)
    expect(strip(without)).toEqual(strip(withStats))
  })
})

describe('links made by ip, read by rxnetlink', () => {
  test('every kind this kernel has, plus tun/tap and loopback', async () => {
    ns.ip('link', 'add', 'ipv0', 'numtxqueues', '2', 'type', 'veth', 'peer', 'name', 'ipv1')
    ns.ip('link', 'add', 'ipbr', 'type', 'bridge', 'stp_state', '1', 'priority', '100')
    ns.ip('link', 'add', 'ipmv', 'link', 'ipv1', 'type', 'macvlan', 'mode', 'private')
    ns.ip('link', 'add', 'ipvx', 'type', 'vxlan', 'id', '99', 'dstport', '4790', 'remote', '2001:db8::1')
    ns.ip('link', 'add', 'ipifb', 'type', 'ifb')
    ns.ip(
      'tuntap',
      'add',
      'dev',
      'iptap',
      'mode',
      'tap',
      'multi_queue',
      'vnet_hdr',
      'user',
      '65534',
      'group',
      '100',
    )
    ns.ip('tuntap', 'add', 'dev', 'iptun', 'mode', 'tun')
    ns.ip('link', 'set', 'ipv0', 'master', 'ipbr', 'up')
    await expectMatchesIp(['ipv0', 'ipv1', 'ipbr', 'ipmv', 'ipvx', 'ipifb', 'iptap', 'iptun', 'lo'])
    expect((await rt.links.get('iptap')).info).toMatchObject({
      kind: 'tun',
      type: 'tap',
      multiQueue: true,
      vnetHdr: true,
      persist: true,
    })
    expect((await rt.links.get('iptun')).type).toBe('none')
    expect((await rt.links.get('ipvx')).info).toMatchObject({ remote: '2001:db8::1' })
  })
})

describe('changes', () => {
  test('up/down, mtu, name, MAC and txqlen, checked with ip', async () => {
    await rt.links.create({ name: 'ch0', kind: 'veth', peer: { name: 'ch1' } })
    await rt.links.set('ch0', { up: true, mtu: 1400, address: '02:aa:bb:cc:dd:ee', txqlen: 500 })
    let t = ipLinks().find((l) => l.ifname === 'ch0')
    expect(t).toMatchObject({ mtu: 1400, address: '02:aa:bb:cc:dd:ee', txqlen: 500 })
    expect(t?.flags).toContain('UP')
    await rt.links.set('ch0', { name: 'ch0-renamed', up: false })
    t = ipLinks().find((l) => l.ifname === 'ch0-renamed')
    expect(t?.flags).not.toContain('UP')
    await expectMatchesIp(['ch0-renamed'])
  })

  test('a link moved to another namespace leaves this one', async () => {
    await rt.links.create({ name: 'mv-a', kind: 'veth', peer: { name: 'mv-b' } })
    await rt.links.set('mv-b', { netns: other.name })
    expect(ipLinks().map((l) => l.ifname)).not.toContain('mv-b')
    expect(ipLinks(other).map((l) => l.ifname)).toContain('mv-b')
  })

  test('delete by name and by index', async () => {
    await rt.links.create({ name: 'del0', kind: 'ifb' })
    const l = await rt.links.create({ name: 'del1', kind: 'ifb' })
    await rt.links.delete('del0')
    await rt.links.delete(l?.index as number)
    const names = ipLinks().map((x) => x.ifname)
    expect(names).not.toContain('del0')
    expect(names).not.toContain('del1')
  })
})

describe('bad input', () => {
  const attempts: Array<[string, () => Promise<unknown>, string]> = [
    ['name over 15 bytes', () => rt.links.create({ name: 'x'.repeat(16), kind: 'ifb' }), 'name'],
    ['unknown kind', () => rt.links.create({ name: 'x0', kind: 'wireguard' } as never), 'kind'],
    ['bad MAC', () => rt.links.create({ name: 'x0', kind: 'ifb', address: '02:00:00:00:00' }), 'address'],
    ['negative MTU', () => rt.links.create({ name: 'x0', kind: 'ifb', mtu: -1 }), 'mtu'],
    ['huge MTU', () => rt.links.set('lo', { mtu: 1e9 }), 'mtu'],
    [
      'bad peer name',
      () => rt.links.create({ name: 'x0', kind: 'veth', peer: { name: 'a/b' } }),
      'peer.name',
    ],
    ['vxlan id too big', () => rt.links.create({ name: 'x0', kind: 'vxlan', id: 1 << 24 }), 'id'],
    [
      'vlan without lower device',
      () => rt.links.create({ name: 'x0', kind: 'vlan', id: 5 } as never),
      'link',
    ],
  ]
  test.each(attempts)(
    '%s is rejected before any syscall, naming the field',
    async (_what, attempt, field) => {
      const before = ipLinks().map((l) => l.ifname)
      const err = await attempt().catch((e: unknown) => e)
      expect(err).toBeInstanceOf(InvalidInputError)
      expect((err as InvalidInputError).field).toBe(field)
      expect(ipLinks().map((l) => l.ifname)).toEqual(before)
    },
  )

  test('a kernel refusal is a NetlinkError with the extended-ack message; nothing is left behind', async () => {
    await rt.links.create({ name: 'dup0', kind: 'ifb' })
    const err = await rt.links.create({ name: 'dup0', kind: 'ifb' }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(NetlinkError)
    expect((err as NetlinkError).code).toBe('EEXIST')
    // A veth whose peer name is taken fails as a whole: the first half is not created.
    const half = await rt.links
      .create({ name: 'half0', kind: 'veth', peer: { name: 'dup0' } })
      .catch((e: unknown) => e)
    expect(half).toBeInstanceOf(NetlinkError)
    expect(ipLinks().map((l) => l.ifname)).not.toContain('half0')
    const small = await rt.links.set('va0', { mtu: 10 }).catch((e: unknown) => e)
    expect(small).toMatchObject({ code: 'EINVAL' })
    expect((small as NetlinkError).extackMessage).toMatch(/mtu/i)
  })

  test('a change the kernel refuses halfway is rolled back', async () => {
    await rt.links.create({ name: 'rb0', kind: 'veth', peer: { name: 'rb1' } })
    const before = ipLinks().find((l) => l.ifname === 'rb0')
    // The name is taken: the kernel applies the MTU before it fails on the name.
    const err = await rt.links.set('rb0', { mtu: 1280, name: 'rb1' }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(NetlinkError)
    const after = ipLinks().find((l) => l.ifindex === before?.ifindex)
    expect(after?.mtu).toBe(before?.mtu)
    expect(after?.ifname).toBe('rb0')
  })
})
