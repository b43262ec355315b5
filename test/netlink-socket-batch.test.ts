import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { encodeRequest, NetlinkError, NLM_F_CREATE, NLM_F_EXCL } from '../src/netlink/codec/index.ts'
import { RTM } from '../src/netlink/route/constants.ts'
import { linkMessage } from '../src/netlink/route/link-attrs.ts'
import { NETLINK_ROUTE, NetlinkSocket, SocketClosedError } from '../src/netlink/socket/index.ts'
import { TestNetns } from './helpers/netns.ts'

let ns: TestNetns
beforeAll(() => {
  ns = new TestNetns('batch')
})
afterAll(() => ns?.remove())

const newVeth = (name: string) =>
  encodeRequest(
    linkMessage,
    RTM.NEWLINK,
    NLM_F_CREATE | NLM_F_EXCL,
    {},
    {
      ifname: name,
      linkinfo: { kind: 'veth', data: { peer: { header: {}, attrs: { ifname: `${name}p` } } } },
    },
  )
const names = () => new Set(ns.ipJson<Array<{ ifname: string }>>('link', 'show').map((l) => l.ifname))

describe('NetlinkSocket.batch', () => {
  test('many requests per datagram: each failure lands at its own position, the rest succeed', async () => {
    using sock = new NetlinkSocket(NETLINK_ROUTE, { netns: ns.name, receiveBuffer: 4 << 20 })
    const wanted = Array.from({ length: 400 }, (_, i) => `bt${i}`)
    // Duplicates fail with EEXIST; one per datagram-sized stretch, and the very last one.
    const reqNames = wanted.map((n, i) => (i % 97 === 50 || i === 399 ? `bt${i - 1}` : n))
    const results = await sock.batch(
      reqNames.map((n) => newVeth(n)),
      'links.create',
      8 * 1024,
    )
    expect(results).toHaveLength(400)
    results.forEach((r, i) => {
      if (reqNames[i] !== wanted[i]) {
        expect(r, `request ${i}`).toBeInstanceOf(NetlinkError)
        expect((r as NetlinkError).code).toBe('EEXIST')
      } else expect(r, `request ${i}`).toBeUndefined()
    })
    const present = names()
    for (let i = 0; i < 400; i++)
      expect(present.has(`bt${i}`)).toBe(reqNames[i] === wanted[i] || reqNames.includes(`bt${i}`))
  })

  test('ordinary requests interleave with a batch on the same socket', async () => {
    using sock = new NetlinkSocket(NETLINK_ROUTE, { netns: ns.name })
    const batch = sock.batch(
      Array.from({ length: 50 }, (_, i) => newVeth(`bi${i}`)),
      'links.create',
    )
    const single = sock.request(encodeRequest(linkMessage, RTM.GETLINK, 0, {}, { ifname: 'lo' }), 'links.get')
    expect(await batch).toEqual(new Array(50).fill(undefined))
    expect((await single).length).toBe(1)
  })

  test('requests from a generator: one that throws stops the batch, and the datagrams already sent are carried out and answered', async () => {
    using sock = new NetlinkSocket(NETLINK_ROUTE, { netns: ns.name, receiveBuffer: 4 << 20 })
    let read = 0
    function* lazy(n: number, failAt?: number) {
      for (let i = 0; i < n; i++) {
        if (i === failAt) throw new Error('source failed')
        read++
        yield newVeth(`bl${i}`)
      }
    }
    expect(await sock.batch(lazy(120), 'links.create', 4 * 1024)).toEqual(new Array(120).fill(undefined))
    expect(read).toBe(120)
    for (let i = 0; i < 120; i++) expect(names().has(`bl${i}`)).toBe(true)
    ns.ip('link', 'del', 'bl0')
    read = 0
    await expect(sock.batch(lazy(120, 70), 'links.create', 4 * 1024)).rejects.toThrow('source failed')
    expect(read).toBe(70)
    // Only bl0 was missing: the datagrams sent before the failure were answered (EEXIST for the rest).
    expect(names().has('bl0')).toBe(true)
    const after = await sock.request(
      encodeRequest(linkMessage, RTM.GETLINK, 0, {}, { ifname: 'lo' }),
      'links.get',
    )
    expect(after.length).toBe(1)
  })

  test('by default a datagram holds what the send buffer takes: a small buffer still carries a large batch', async () => {
    using sock = new NetlinkSocket(NETLINK_ROUTE, { netns: ns.name, sendBuffer: 4096 })
    const reqs = Array.from({ length: 300 }, (_, i) => newVeth(`bs${i}`))
    expect(await sock.batch(reqs, 'links.create')).toEqual(new Array(300).fill(undefined))
    const present = names()
    expect(reqs.every((_, i) => present.has(`bs${i}`))).toBe(true)
  })

  test('closing the socket while a batch is being sent fails the batch; nothing is left waiting', async () => {
    const sock = new NetlinkSocket(NETLINK_ROUTE, { netns: ns.name, sendBuffer: 8 * 1024 })
    const batch = sock.batch(
      Array.from({ length: 400 }, (_, i) => newVeth(`bc${i}`)),
      'links.create',
    )
    setImmediate(() => sock.close())
    await expect(batch).rejects.toBeInstanceOf(SocketClosedError)
    // The namespace is still usable from a new socket, and some of the links were created.
    using again = new NetlinkSocket(NETLINK_ROUTE, { netns: ns.name })
    const lo = await again.request(
      encodeRequest(linkMessage, RTM.GETLINK, 0, {}, { ifname: 'lo' }),
      'links.get',
    )
    expect(lo.length).toBe(1)
    // Only the first datagram was on its way when the socket closed.
    const made = [...names()].filter((n) => /^bc\d+$/.test(n)).length
    expect(made).toBeGreaterThan(0)
    expect(made).toBeLessThan(400)
  })

  test('an empty batch resolves at once; a batch on a closed socket is refused', async () => {
    const sock = new NetlinkSocket(NETLINK_ROUTE, { netns: ns.name })
    const p = sock.batch([], 'nothing')
    expect(await p).toEqual([])
    sock.close()
    await expect(sock.batch([newVeth('bz0')], 'links.create')).rejects.toBeInstanceOf(SocketClosedError)
  })
})
