import { filter, firstValueFrom, timeout } from 'rxjs'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import {
  type EthtoolClient,
  type EthtoolEvent,
  NoSuchDeviceError,
  NotSupportedError,
  openEthtool,
} from '../src/ethtool/index.ts'
import { NetlinkError } from '../src/netlink/codec/index.ts'
import { InvalidInputError } from '../src/netlink/validate.ts'
import { ethtool, ethtoolChannels } from './helpers/ethtool.ts'
import { TestNetns } from './helpers/netns.ts'

// veth is the one multi-queue device this host's kernel offers: it has channels (rx/tx, up to
// its queue count) but neither rings nor RSS, so those must fail cleanly with typed errors.
let ns: TestNetns
let v0Index: number
beforeAll(() => {
  ns = new TestNetns('ethtool')
  ns.ip('link', 'add', 'v0', 'numtxqueues', '8', 'numrxqueues', '8', 'type', 'veth', 'peer', 'v1')
  ns.ip('link', 'set', 'v1', 'numtxqueues', '8', 'numrxqueues', '8')
  v0Index = ns.ipJson<Array<{ ifindex: number }>>('link', 'show', 'v0')[0]!.ifindex
})
afterAll(() => ns?.remove())

test('on this kernel every operation has its netlink form and RSS changes are announced', async () => {
  using et = await openEthtool({ netns: ns.name })
  expect(et.backends).toEqual({
    channels: 'netlink',
    rings: 'netlink',
    rssGet: 'netlink',
    rssSet: 'netlink',
    rssContexts: 'netlink',
    rssContextList: 'netlink',
    rssNotifications: true,
  })
})

describe.each(['netlink', 'ioctl'] as const)('through %s', (backend) => {
  let et: EthtoolClient
  beforeAll(async () => {
    et = await openEthtool({ netns: ns.name, backend })
  })
  afterAll(() => et?.close())

  test('channels of a veth are what `ethtool -l` reports, by name and by index', async () => {
    ethtool(ns.name, '-L', 'v0', 'rx', '8', 'tx', '8')
    const byName = await et.channels.get('v0')
    expect(byName).toMatchObject({ ifname: 'v0', ifindex: v0Index, ...ethtoolChannels(ns.name, 'v0') })
    expect(byName).toMatchObject({ rx: 8, tx: 8, maxRx: 8, maxTx: 8, combined: 0, maxCombined: 0 })
    expect(await et.channels.get(v0Index)).toEqual(byName)
  })

  test('channels set through rxnetlink are what `ethtool -l` then reads', async () => {
    const after = await et.channels.set('v0', { rx: 3, tx: 5 })
    expect(after).toMatchObject({ rx: 3, tx: 5 })
    expect(ethtoolChannels(ns.name, 'v0')).toMatchObject({ rx: 3, tx: 5, maxRx: 8, maxTx: 8 })
    // Only the counts named change.
    await et.channels.set(v0Index, { rx: 6 })
    expect(ethtoolChannels(ns.name, 'v0')).toMatchObject({ rx: 6, tx: 5 })
    // And what ethtool sets, rxnetlink reads.
    ethtool(ns.name, '-L', 'v0', 'rx', '2', 'tx', '7')
    expect(await et.channels.get('v0')).toMatchObject({ rx: 2, tx: 7 })
  })

  test('channels.list dumps every device that has channels (netlink), or says the ioctl cannot', async () => {
    if (backend === 'ioctl') {
      await expect(et.channels.list()).rejects.toBeInstanceOf(NotSupportedError)
      await expect(et.rss.list()).rejects.toBeInstanceOf(NotSupportedError)
      return
    }
    const all = await et.channels.list()
    const hasChannels = (n: string) => {
      try {
        ethtool(ns.name, '-l', n)
        return true
      } catch {
        return false
      }
    }
    expect(all.map((c) => c.ifname).sort()).toEqual(['lo', 'v0', 'v1'].filter(hasChannels))
    expect(all.find((c) => c.ifname === 'v0')).toEqual(await et.channels.get('v0'))
    // No device here has RSS: the dump is empty rather than an error.
    expect(await et.rss.list()).toEqual([])
  })

  test('a count above the maximum is refused, naming the field', async () => {
    const err = await et.channels.set('v0', { rx: 9 }).catch((e: unknown) => e)
    if (backend === 'netlink') {
      // The kernel's extended ack, with the attribute it pointed at.
      expect(err).toBeInstanceOf(NetlinkError)
      expect(err).toMatchObject({ code: 'EINVAL', attrPath: 'rxCount' })
      expect((err as NetlinkError).extackMessage).toMatch(/exceeds maximum/)
    } else {
      // The ioctl would say only EINVAL: the client reads the maxima first and says which.
      expect(err).toBeInstanceOf(InvalidInputError)
      expect(err).toMatchObject({ field: 'rx' })
      expect((err as Error).message).toMatch(/at most 8 rx channels/)
    }
    expect(ethtoolChannels(ns.name, 'v0')).toMatchObject({ rx: 2, tx: 7 })
  })

  test('rings: veth has none, and says so as a typed error (as `ethtool -g` fails too)', async () => {
    expect(() => ethtool(ns.name, '-g', 'v0')).toThrow()
    const err = await et.rings.get('v0').catch((e: unknown) => e)
    expect(err).toBeInstanceOf(NotSupportedError)
    expect(err).toMatchObject({ operation: 'rings.get', device: 'v0', code: 'EOPNOTSUPP' })
    await expect(et.rings.set('v0', { rx: 128 })).rejects.toBeInstanceOf(NotSupportedError)
  })

  test('RSS: veth has none; get, set and contexts fail with NotSupportedError (as `ethtool -x` does)', async () => {
    expect(() => ethtool(ns.name, '-x', 'v0')).toThrow()
    const err = await et.rss.get('v0').catch((e: unknown) => e)
    expect(err).toBeInstanceOf(NotSupportedError)
    expect(err).toMatchObject({ operation: 'rss.get', device: 'v0' })
    await expect(et.rss.get('v0', { context: 1 })).rejects.toBeInstanceOf(NotSupportedError)
    // set reads the device first, so nothing is attempted on a device without RSS.
    await expect(et.rss.set('v0', { table: [0, 1, 0, 1] })).rejects.toBeInstanceOf(NotSupportedError)
    await expect(et.rss.contexts.create('v0')).rejects.toBeInstanceOf(NotSupportedError)
    await expect(et.rss.contexts.delete('v0', 1)).rejects.toBeInstanceOf(NotSupportedError)
    if (backend === 'netlink')
      await expect(et.rss.contexts.list('v0')).rejects.toBeInstanceOf(NotSupportedError)
    else await expect(et.rss.contexts.list('v0')).rejects.toThrow(/RSS_GET dump/)
  })

  test('an unknown device is a NoSuchDeviceError naming it', async () => {
    for (const dev of ['nosuch0', 999_999] as const) {
      const err = await et.channels.get(dev).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(NoSuchDeviceError)
      expect(err).toMatchObject({ device: dev, code: 'ENODEV' })
      await expect(et.rss.get(dev)).rejects.toBeInstanceOf(NoSuchDeviceError)
      await expect(et.rss.set(dev, { hfunc: 'toeplitz' })).rejects.toBeInstanceOf(NoSuchDeviceError)
    }
  })
})

test('input is validated before anything is sent: a closed client still answers InvalidInputError', async () => {
  const et = await openEthtool({ netns: ns.name })
  et.close()
  const cases: Array<[Promise<unknown>, string]> = [
    [et.channels.set('v0', { rx: -1 }), 'rx'],
    [et.channels.set('v0', {}), ''],
    [et.channels.get('bad/name'), ''],
    [et.rss.set('v0', { table: [0, 1.5] }), 'table[1]'],
    [et.rss.set('v0', { key: 'zz' }), 'key'],
    [et.rss.set('v0', { hfunc: 'md5' as 'xor' }), 'hfunc'],
    [et.rss.contexts.delete('v0', 0), ''],
    [et.rings.set('v0', { tcpDataSplit: 'maybe' as 'enabled' }), 'tcpDataSplit'],
  ]
  for (const [p, field] of cases) {
    const err = await p.catch((e: unknown) => e)
    expect(err).toBeInstanceOf(InvalidInputError)
    expect((err as InvalidInputError).field).toBe(field)
  }
})

test('channel changes arrive as typed events on the monitor group', async () => {
  using et = await openEthtool({ netns: ns.name })
  const events: EthtoolEvent[] = []
  const got = firstValueFrom(
    et.events$.pipe(
      filter((e) => e.type === 'channels' && e.channels.ifname === 'v0' && e.channels.rx === 4),
      timeout(5000),
    ),
  )
  const sub = et.events$.subscribe((e) => events.push(e))
  // The subscription opens its socket asynchronously; change channels until one is seen.
  for (let i = 0; i < 20 && events.length === 0; i++) {
    await et.channels.set('v0', { rx: i % 2 ? 5 : 6 })
    await new Promise((r) => setTimeout(r, 50))
  }
  await et.channels.set('v0', { rx: 4 })
  const e = await got
  sub.unsubscribe()
  expect(e).toMatchObject({ type: 'channels', channels: { ifname: 'v0', ifindex: v0Index, rx: 4, maxRx: 8 } })
})
