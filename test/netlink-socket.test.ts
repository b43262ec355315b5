import { spawnSync } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { filter, firstValueFrom, take, toArray } from 'rxjs'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import {
  decodeMessage,
  encodeRequest,
  NetlinkError,
  NLM_F_CREATE,
  NLM_F_EXCL,
} from '../src/netlink/codec/index.ts'
import { RTM, RTNLGRP } from '../src/netlink/route/constants.ts'
import { linkMessage } from '../src/netlink/route/link-attrs.ts'
import { multicast$, NETLINK_ROUTE, NetlinkSocket } from '../src/netlink/socket/index.ts'
import { TestNetns } from './helpers/netns.ts'

let ns: TestNetns
beforeAll(() => {
  ns = new TestNetns('sock')
  for (let i = 0; i < 5; i++) ns.ip('link', 'add', `va${i}`, 'type', 'veth', 'peer', 'name', `vb${i}`)
})
afterAll(() => ns?.remove())

const openFds = () => readdirSync('/proc/self/fd').length
const getLink = (index: number) => encodeRequest(linkMessage, RTM.GETLINK, 0, { index }, {})
const newLink = (attrs: Parameters<typeof encodeRequest<never, never>>[4] | object) =>
  encodeRequest(linkMessage, RTM.NEWLINK, NLM_F_CREATE | NLM_F_EXCL, {}, attrs as never)

describe('requests and dumps', () => {
  test('a link dump matches ip -j link show', async () => {
    using sock = new NetlinkSocket(NETLINK_ROUTE, { netns: ns.name })
    const msgs = await sock.dump(encodeRequest(linkMessage, RTM.GETLINK, 0, {}, {}), 'links.list')
    const ours = msgs
      .map((m) => decodeMessage(linkMessage, m))
      .map((l) => [l.header.index, l.attrs.ifname, l.attrs.mtu])
    const theirs = ns.ipJson<Array<{ ifindex: number; ifname: string; mtu: number }>>('link', 'show')
    expect(ours.sort()).toEqual(theirs.map((l) => [l.ifindex, l.ifname, l.mtu]).sort())
    expect(ours).toHaveLength(11)
  })

  test('a dump decodes its replies as they arrive; a decode failure waits for the dump to end', async () => {
    using sock = new NetlinkSocket(NETLINK_ROUTE, { netns: ns.name })
    const req = () => encodeRequest(linkMessage, RTM.GETLINK, 0, {}, {})
    const names = await sock.dump(req(), 'links.list', {
      decode: (m) => {
        const name = decodeMessage(linkMessage, m).attrs.ifname
        return name?.startsWith('va') ? name : undefined
      },
    })
    expect(names.sort()).toEqual(['va0', 'va1', 'va2', 'va3', 'va4'])
    let seen = 0
    const failed = await sock
      .dump(req(), 'links.list', {
        decode: () => {
          seen++
          throw new Error('undecodable')
        },
      })
      .catch((e: unknown) => e)
    expect(failed).toEqual(new Error('undecodable'))
    expect(seen).toBe(1)
    // The failed dump's remaining replies were consumed, not left for the next request.
    expect(await sock.dump(req(), 'links.list')).toHaveLength(11)
  })

  test('a kernel refusal carries the extended-ack message and the attribute path', async () => {
    using sock = new NetlinkSocket(NETLINK_ROUTE, { netns: ns.name })
    const err = await sock
      .request(newLink({ ifname: 'vx0', linkinfo: { kind: 'vxlan', data: { id: 1 << 25 } } }), 'links.create')
      .catch((e: unknown) => e)
    expect(err).toBeInstanceOf(NetlinkError)
    expect(err).toMatchObject({
      code: 'ERANGE',
      errno: 34,
      extackMessage: 'VXLAN ID must be lower than 16777216',
      attrPath: 'linkinfo.data.id',
      operation: 'links.create',
    })
    const policy = await sock
      .request(newLink({ ifname: 'x'.repeat(20), linkinfo: { kind: 'veth' } }), 'links.create')
      .catch((e: unknown) => e)
    expect(policy).toMatchObject({ code: 'ERANGE', attrPath: 'ifname' })
    expect(ns.ipJson<Array<{ ifname: string }>>('link', 'show').map((l) => l.ifname)).not.toContain('vx0')
  }, 30_000)

  test('1,000 concurrent requests on one socket each get their own reply', async () => {
    using sock = new NetlinkSocket(NETLINK_ROUTE, { netns: ns.name })
    const links = ns.ipJson<Array<{ ifindex: number; ifname: string }>>('link', 'show')
    const names = new Map(links.map((l) => [l.ifindex, l.ifname]))
    const indexes = Array.from({ length: 1000 }, (_, i) =>
      i % 13 === 0 ? 100_000 + i : links[i % links.length]!.ifindex,
    )
    const results = await Promise.allSettled(
      indexes.map((index) => sock.request(getLink(index), 'links.get')),
    )
    results.forEach((r, i) => {
      const index = indexes[i]!
      if (index >= 100_000) {
        expect(r.status).toBe('rejected')
        expect((r as PromiseRejectedResult).reason).toMatchObject({ code: 'ENODEV' })
      } else {
        expect(r.status).toBe('fulfilled')
        const [reply] = (r as PromiseFulfilledResult<Awaited<ReturnType<typeof sock.request>>>).value
        const link = decodeMessage(linkMessage, reply!)
        expect([link.header.index, link.attrs.ifname]).toEqual([index, names.get(index)])
      }
    })
  })
})

describe('multicast', () => {
  test('a link created by another program arrives as a notification', async () => {
    const events = multicast$(NETLINK_ROUTE, [RTNLGRP.LINK], { netns: ns.name })
    const got = firstValueFrom(
      events.pipe(
        filter((e) => e.kind === 'message' && e.message.type === RTM.NEWLINK),
        filter((e) => e.kind === 'message' && decodeMessage(linkMessage, e.message).attrs.ifname === 'note0'),
        take(1),
      ),
    )
    await new Promise((r) => setTimeout(r, 50))
    ns.ip('link', 'add', 'note0', 'type', 'veth', 'peer', 'name', 'note1')
    const e = await got
    expect(e.kind).toBe('message')
  })

  test('a receive-buffer overrun is signalled as an event, not silence', async () => {
    const events = multicast$(NETLINK_ROUTE, [RTNLGRP.LINK], { netns: ns.name, receiveBuffer: 4096 })
    const seen = firstValueFrom(
      events.pipe(
        filter((e) => e.kind === 'overrun'),
        take(1),
        toArray(),
      ),
    )
    await new Promise((r) => setTimeout(r, 50))
    const batch = Array.from({ length: 200 }, (_, i) => `link add ob${i} type veth peer name oc${i}`).join(
      '\n',
    )
    spawnSync('ip', ['-n', ns.name, '-batch', '-'], { input: batch })
    expect(await seen).toEqual([{ kind: 'overrun' }])
    spawnSync('ip', ['-n', ns.name, '-batch', '-'], {
      input: Array.from({ length: 200 }, (_, i) => `link del ob${i}`).join('\n'),
    })
  }, 30_000)
})

describe('resources', () => {
  test('1,000 sockets opened and closed, some waiting on multicast, leave no fd behind', async () => {
    // Counted at rest: the poller closes its eventfd once nothing is watched.
    const atRest = () => new Promise((r) => setTimeout(r, 50))
    await atRest()
    const before = openFds()
    for (let i = 0; i < 1000; i++) {
      const sock = new NetlinkSocket(NETLINK_ROUTE, { netns: i % 2 ? ns.name : undefined })
      if (i % 3 === 0) {
        const sub = sock.notifications([RTNLGRP.LINK]).subscribe()
        await new Promise((r) => setImmediate(r))
        sock.close()
        sub.unsubscribe()
      } else if (i % 3 === 1) {
        const sub = multicast$(NETLINK_ROUTE, [RTNLGRP.LINK, RTNLGRP.TC]).subscribe()
        await new Promise((r) => setImmediate(r))
        sub.unsubscribe()
        sock.close()
      } else sock.close()
    }
    await atRest()
    expect(openFds()).toBe(before)
  }, 60_000)

  test('a process whose socket is waiting exits on its own once the socket is closed', () => {
    const script = `
      import { NetlinkSocket, NETLINK_ROUTE } from './src/netlink/socket/index.ts'
      const sock = new NetlinkSocket(NETLINK_ROUTE)
      sock.notifications([1]).subscribe({ complete: () => console.log('completed') })
      setTimeout(() => sock.close(), 200)
    `
    const t0 = Date.now()
    const r = spawnSync('npx', ['tsx', '--input-type=module', '-e', script], {
      encoding: 'utf8',
      timeout: 20_000,
    })
    expect(r.signal).toBeNull()
    expect(r.status).toBe(0)
    expect(r.stdout.trim()).toBe('completed')
    expect(Date.now() - t0).toBeLessThan(15_000)
  }, 30_000)
})
