import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import {
  type EthtoolClient,
  type EthtoolEvent,
  InvalidInputError,
  NotSupportedError,
  openEthtool,
} from '../../src/index.ts'
import { ethtoolChannels } from '../helpers/ethtool.ts'
import { sh, TestNetns } from '../helpers/netns.ts'
import {
  ethtoolIn,
  freeNetdevsimId,
  interfacesByDriver,
  Netdevsim,
  parseEthtoolX,
  run,
} from './genl-helpers.ts'

// Runs in the kernel lab guest (Debian 6.12). Two devices this host lacks:
// - netdevsim ports, which have channels and rings (`ethtool -l/-g`), and
// - the guest's virtio-net NIC (QEMU virtio-net-pci with rss=on), which has RSS (`ethtool -x`).
// On 6.12 RSS is read over netlink (RSS_GET, with the context dump) but set through the
// SIOCETHTOOL ioctl: RSS_SET and the context operations came in 6.17.

const ns = new TestNetns('ethtool-lab')
afterAll(() => ns.remove())

describe('netdevsim ports: channels and rings', () => {
  let nsim: Netdevsim
  let et: EthtoolClient
  let dev: string
  beforeAll(async () => {
    nsim = new Netdevsim(freeNetdevsimId(), 1, 4)
    const moved = run('devlink', ['dev', 'reload', nsim.handle, 'netns', ns.name])
    if (!moved.ok) throw new Error(moved.err)
    dev = nsim.netdevNames()[0] ?? ''
    if (!dev) {
      const ports = JSON.parse(sh('ip', ['netns', 'exec', ns.name, 'devlink', '-j', 'port', 'show'])) as {
        port: Record<string, { netdev?: string }>
      }
      dev = Object.entries(ports.port).find(([h]) => h.startsWith(`${nsim.handle}/`))?.[1].netdev ?? ''
    }
    et = await openEthtool({ netns: ns.name })
  })
  afterAll(() => {
    et?.close()
    nsim?.remove()
  })

  test('channels as `ethtool -l`', async () => {
    expect(await et.channels.get(dev)).toMatchObject(ethtoolChannels(ns.name, dev))
  })

  test('channels set as `ethtool -L`, announced on the monitor group', async () => {
    const cur = await et.channels.get(dev)
    const target = cur.combined > 1 ? cur.combined - 1 : Math.min(cur.maxCombined, 2)
    const events: EthtoolEvent[] = []
    const sub = et.events$.subscribe((e) => events.push(e))
    await new Promise((r) => setTimeout(r, 300))
    const after = await et.channels.set(dev, { combined: target })
    expect(after.combined).toBe(target)
    expect(ethtoolChannels(ns.name, dev).combined).toBe(target)
    await new Promise((r) => setTimeout(r, 300))
    sub.unsubscribe()
    expect(events).toContainEqual(
      expect.objectContaining({
        type: 'channels',
        channels: expect.objectContaining({ ifname: dev, combined: target }),
      }),
    )
  })

  test('rings get/set as `ethtool -g` / `-G`', async () => {
    const text = () => ethtoolIn(ns.name, '-g', dev)
    const cur = (label: string) => {
      const part = text().split(/Current hardware settings:/)[1] ?? ''
      const m = new RegExp(`^${label}:\\s+(\\S+)`, 'm').exec(part)
      return m?.[1] === 'n/a' ? 0 : Number(m?.[1])
    }
    const r = await et.rings.get(dev)
    expect(r.rx).toBe(cur('RX'))
    expect(r.tx).toBe(cur('TX'))
    const target = Math.max(1, Math.min(r.maxRx || 512, 256))
    const after = await et.rings.set(dev, { rx: target })
    expect(after.rx).toBe(target)
    expect(cur('RX')).toBe(target)
  })
})

describe('virtio-net: RSS', () => {
  let et: EthtoolClient
  let dev: string
  beforeAll(async () => {
    const found = interfacesByDriver('virtio_net')
    if (found.length === 0)
      throw new Error('no virtio-net interface in this guest (expected one with rss=on)')
    dev = found[0] as string
    sh('ip', ['link', 'set', 'dev', dev, 'netns', ns.name])
    ns.ip('link', 'set', dev, 'up')
    et = await openEthtool({ netns: ns.name })
  })
  afterAll(() => et?.close())

  test('backends on this kernel: RSS read over netlink, set through the ioctl', () => {
    expect(et.backends.rssGet).toBe('netlink')
    expect(et.backends.rssContextList).toBe('netlink')
    if (!et.backends.rssNotifications) {
      expect(et.backends.rssSet).toBe('ioctl')
      expect(et.backends.rssContexts).toBe('ioctl')
    }
  })

  test('rss.get: table, key and hash function as `ethtool -x`', async () => {
    const tool = parseEthtoolX(ethtoolIn(ns.name, '-x', dev))
    const rss = await et.rss.get(dev)
    expect(rss.context).toBe(0)
    expect(rss.table).toEqual(tool.table)
    expect(Buffer.from(rss.key).toString('hex')).toBe(tool.key)
    expect([rss.hfunc]).toEqual(tool.hfuncs)
    // The same through the ioctl.
    using io = await openEthtool({ netns: ns.name, backend: 'ioctl' })
    const viaIoctl = await io.rss.get(dev)
    expect(viaIoctl.table).toEqual(rss.table)
    expect(Buffer.from(viaIoctl.key).equals(Buffer.from(rss.key))).toBe(true)
    expect(viaIoctl.hfunc).toBe(rss.hfunc)
  })

  test('rss.set: a table and a key, read back with `ethtool -x`; ethtool -X read back by rxnetlink', async () => {
    const ch = await et.channels.get(dev)
    const queues = Math.max(1, ch.combined + ch.rx)
    const cur = await et.rss.get(dev)
    const table = cur.table.map((_, i) => (queues > 1 ? (i % 2) % queues : 0))
    const key = Uint8Array.from({ length: cur.key.length }, (_, i) => (i * 7 + 1) & 0xff)
    const after = await et.rss.set(dev, { table, key })
    expect(after.table).toEqual(table)
    expect(Buffer.from(after.key).toString('hex')).toBe(Buffer.from(key).toString('hex'))
    const tool = parseEthtoolX(ethtoolIn(ns.name, '-x', dev))
    expect(tool.table).toEqual(table)
    expect(tool.key).toBe(Buffer.from(key).toString('hex'))
    ethtoolIn(ns.name, '-X', dev, 'default')
    expect((await et.rss.get(dev)).table).toEqual(parseEthtoolX(ethtoolIn(ns.name, '-x', dev)).table)
  })

  test('a queue the device lacks or a key of the wrong length is refused before anything is set', async () => {
    const cur = await et.rss.get(dev)
    const ch = await et.channels.get(dev)
    const queues = ch.combined + ch.rx
    const table = cur.table.map(() => 0)
    table[5] = queues
    const e1 = await et.rss.set(dev, { table }).catch((e: unknown) => e)
    expect(e1).toBeInstanceOf(InvalidInputError)
    expect(e1).toMatchObject({ field: 'table[5]' })
    const e2 = await et.rss.set(dev, { key: new Uint8Array(cur.key.length + 1) }).catch((e: unknown) => e)
    expect(e2).toMatchObject({ field: 'key' })
    expect((await et.rss.get(dev)).table).toEqual(cur.table)
  })

  test('what the device or kernel cannot do is a NotSupportedError', async () => {
    // virtio-net hashes with Toeplitz only.
    await expect(et.rss.set(dev, { hfunc: 'xor' })).rejects.toBeInstanceOf(NotSupportedError)
    // Forcing netlink on a kernel without ETHTOOL_MSG_RSS_SET.
    if (!et.backends.rssNotifications) {
      using nl = await openEthtool({ netns: ns.name, backend: 'netlink' })
      await expect(nl.rss.set(dev, { hfunc: 'toeplitz' })).rejects.toBeInstanceOf(NotSupportedError)
    }
  })

  test('6.17+ (RSS_SET, RSS_NTF): set goes over netlink, the change is announced, flow hashing is reported', async () => {
    if (!et.backends.rssNotifications) return // 6.12: covered by the ioctl tests above
    expect(et.backends).toMatchObject({ rssSet: 'netlink', rssContexts: 'netlink' })
    const cur = await et.rss.get(dev)
    const events: EthtoolEvent[] = []
    const sub = et.events$.subscribe((e) => events.push(e))
    await new Promise((r) => setTimeout(r, 300))
    const key = Uint8Array.from({ length: cur.key.length }, (_, i) => (i * 3 + 5) & 0xff)
    await et.rss.set(dev, { key })
    await new Promise((r) => setTimeout(r, 300))
    sub.unsubscribe()
    const ev = events.find((e) => e.type === 'rss')
    expect(ev).toBeDefined()
    if (ev?.type === 'rss') {
      expect(ev.rss.ifname).toBe(dev)
      expect(Buffer.from(ev.rss.key).toString('hex')).toBe(Buffer.from(key).toString('hex'))
    }
    // Which header fields feed the hash, per flow type, as `ethtool -n DEV rx-flow-hash tcp4` says.
    const rss = await et.rss.get(dev)
    const names: Record<string, string> = {
      L2DA: 'l2da',
      'VLAN tag': 'vlan',
      'L3 proto': 'l3Proto',
      'IP SA': 'ipSrc',
      'IP DA': 'ipDst',
      'L4 bytes 0 & 1 [TCP/UDP src port]': 'l4b01',
      'L4 bytes 2 & 3 [TCP/UDP dst port]': 'l4b23',
    }
    for (const flow of ['tcp4', 'udp6'] as const) {
      const lines = ethtoolIn(ns.name, '-n', dev, 'rx-flow-hash', flow).split('\n').slice(1)
      const fields = lines.map((l) => names[l.trim()]).filter((x): x is string => !!x)
      expect(rss.flowHash?.[flow]).toEqual(fields)
    }
  })

  test('contexts: the dump lists the default one; virtio-net has no additional contexts', async () => {
    const list = await et.rss.contexts.list(dev)
    expect(list.map((r) => r.context)).toEqual([0])
    await expect(et.rss.contexts.create(dev)).rejects.toBeInstanceOf(NotSupportedError)
  })
})
