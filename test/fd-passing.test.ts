import { readlinkSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BpfMap } from '../src/bpf/index.ts'
import { AF_UNIX, closeFd, eventFd, SOCK_CLOEXEC, SOCK_STREAM, socketPair } from '../src/netlink/sys/index.ts'
import { Tap } from '../src/tuntap/device.ts'
import { FdPassError, receiveFds, sendFds, tryReceiveFds } from '../src/tuntap/fd-passing.ts'
import { PacketSocket } from '../src/tuntap/packet-socket.ts'
import type { TapQueue } from '../src/tuntap/queue.ts'
import { RssSteering } from '../src/tuntap/rss-steering-program.ts'
import { loadConstantSteering, SelectorSteering } from '../src/tuntap/steering-program.ts'
import { runChild } from './helpers/child.ts'
import { TestNetns } from './helpers/netns.ts'
import { buildFrame, STANDARD_KEY } from './helpers/rss-packets.ts'
import { QueueRecorder, quietNetns, seqFrame, seqOf } from './helpers/tap-frames.ts'

const target = (fd: number) => readlinkSync(`/proc/self/fd/${fd}`)

describe('SCM_RIGHTS in one process', () => {
  it('passes fds and data; the received fds name the same files', async () => {
    const [a, b] = socketPair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC)
    const ev = eventFd()
    using map = BpfMap.create({ type: 'array', keySize: 4, valueSize: 4, maxEntries: 1 })
    try {
      const pending = receiveFds(b)
      expect(sendFds(a, [ev, map.fd], Buffer.from('two fds'))).toBe(7)
      const r = await pending
      expect(r.data.toString()).toBe('two fds')
      expect(r.truncated).toBe(false)
      expect(r.fds).toHaveLength(2)
      expect(r.fds).not.toContain(ev)
      expect(target(r.fds[0]!)).toBe(target(ev))
      using same = BpfMap.fromFd(r.fds[1]!)
      same.update(BpfMap.u32(0), BpfMap.u32(99))
      expect(map.lookup(BpfMap.u32(0))?.readUInt32LE(0)).toBe(99)
      closeFd(r.fds[0]!)

      // no data: one zero byte goes with the fds on a stream socket
      sendFds(a, [ev])
      const r2 = await receiveFds(b)
      expect(r2.data).toEqual(Buffer.alloc(1))
      closeFd(r2.fds[0]!)
      // a message without fds
      sendFds(a, [], Buffer.from('x'))
      expect(await receiveFds(b)).toMatchObject({ fds: [], truncated: false })
      expect(tryReceiveFds(b)).toBeNull()
    } finally {
      closeFd(ev)
      closeFd(a)
      closeFd(b)
    }
  })

  it('reports fds dropped for lack of room, a closed peer and bad input', async () => {
    const [a, b] = socketPair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC)
    const ev = eventFd()
    try {
      sendFds(a, [ev, ev, ev], Buffer.from('3'))
      const r = await receiveFds(b, { maxFds: 1 })
      expect(r.truncated).toBe(true)
      expect(r.fds).toHaveLength(1)
      closeFd(r.fds[0]!)
      expect(() => sendFds(a, Array(254).fill(ev))).toThrow(FdPassError)
      expect(() => sendFds(-1, [ev])).toThrow(expect.objectContaining({ kind: 'invalid-input' }))
      const waiting = receiveFds(b)
      closeFd(a)
      await expect(waiting).rejects.toMatchObject({ kind: 'peer-closed' })
    } finally {
      closeFd(ev)
      closeFd(b)
    }
  })
})

describe('SCM_RIGHTS between processes', () => {
  let ns: TestNetns
  beforeAll(() => {
    ns = new TestNetns('fdpass')
    quietNetns(ns)
  })
  afterAll(() => ns?.remove())

  it('a child receives fds and sends them back', async () => {
    const run = runChild<{ fds: number; text: string }>('echo')
    const ev = eventFd()
    try {
      sendFds(run.socket, [ev], Buffer.from('abc'))
      const back = await receiveFds(run.socket)
      expect(back.data.toString()).toBe('cba')
      expect(target(back.fds[0]!)).toBe(target(ev))
      closeFd(back.fds[0]!)
      const out = await run.result
      expect(out.result).toEqual({ fds: 1, text: 'abc' })
      expect(out.identity.uid).toBe(0)
    } finally {
      closeFd(ev)
      run.close()
    }
  })

  it('an unprivileged child (uid 65534, no capabilities) steers a tap through a passed map fd', async () => {
    using tap = Tap.create({ name: 'fdp0', queues: 4, netns: ns.name })
    using ps = PacketSocket.open({ ifname: 'fdp0', netns: ns.name })
    ns.ip('link', 'set', 'fdp0', 'up')
    using sel = SelectorSteering.create(0)
    tap.setSteeringProgram(sel)

    const run = runChild<{ create: { error?: string }; info: { type: string; keySize: number } }>('map', {
      unprivileged: true,
    })
    try {
      sendFds(run.socket, [sel.map.fd], Buffer.from('3'))
      expect((await receiveFds(run.socket)).data.toString()).toBe('done')
      const out = await run.result
      expect(out.identity).toMatchObject({
        uid: 65534,
        capEff: '0000000000000000',
        capBnd: '0000000000000000',
      })
      // it may not create a map, but may use the one it was given
      expect(out.result.create).toEqual({ error: 'permission-denied' })
      expect(out.result.info).toMatchObject({ type: 'array', keySize: 4 })
      expect(sel.queue).toBe(3)
    } finally {
      run.close()
    }
    // the frames follow the child's choice
    const rec = new QueueRecorder(tap, (f) => seqOf(f))
    for (let i = 0; i < 20; i++) ps.send(seqFrame(i))
    expect(await rec.waitFor(20)).toBe(20)
    rec.stop()
    expect(new Set(rec.seen.values())).toEqual(new Set([3]))
  })

  it('an unprivileged child holding only a queue fd and a program fd attaches steering and reads', async () => {
    using tap = Tap.create({ name: 'fdp1', queues: 4, netns: ns.name })
    using ps = PacketSocket.open({ ifname: 'fdp1', netns: ns.name })
    ns.ip('link', 'set', 'fdp1', 'up')
    const [, q1] = tap.queues as [TapQueue, TapQueue]
    using prog = loadConstantSteering(1)
    const run = runChild<{
      steer: { error?: string }
      features: { ok?: { name: string; flags: string[] } }
      create: { error?: string }
      seqs: number[]
    }>('tap', { unprivileged: true })
    try {
      sendFds(run.socket, [q1.fd, prog.fd], Buffer.from('5'))
      expect((await receiveFds(run.socket)).data.toString()).toBe('ready')
      for (let i = 0; i < 5; i++) ps.send(seqFrame(1000 + i))
      const out = await run.result
      expect(out.identity.uid).toBe(65534)
      expect(out.result.steer).toEqual({}) // attached without error
      expect(out.result.features.ok).toEqual({ name: 'fdp1', flags: ['tap', 'multiQueue', 'noPi'] })
      expect(out.result.create).toEqual({ error: 'permission-denied' })
      expect(out.result.seqs).toEqual([1000, 1001, 1002, 1003, 1004])
    } finally {
      run.close()
    }
  })

  it('an unprivileged child holding only the RSS config map fd reconfigures RSS live', async () => {
    using tap = Tap.create({ name: 'fdp2', queues: 4, netns: ns.name })
    using ps = PacketSocket.open({ ifname: 'fdp2', netns: ns.name })
    ns.ip('link', 'set', 'fdp2', 'up')
    using rss = RssSteering.create(
      {},
      { hashTypes: ['ipv4', 'tcpv4'], key: STANDARD_KEY, table: [0, 1, 2, 3], defaultQueue: 0 },
    )
    tap.setSteeringProgram(rss)
    const run = runChild<{ capacity: number; hashTypes: string[]; table: number[] }>('rss', {
      unprivileged: true,
    })
    try {
      sendFds(run.socket, [rss.config.fd], Buffer.from(JSON.stringify([2, 2, 3, 3])))
      expect((await receiveFds(run.socket)).data.toString()).toBe('applied')
      const out = await run.result
      expect(out.identity).toMatchObject({ uid: 65534, capEff: '0000000000000000' })
      expect(out.result).toEqual({ capacity: 128, hashTypes: ['ipv4', 'tcpv4'], table: [2, 2, 3, 3] })
    } finally {
      run.close()
    }
    expect(rss.read().table).toEqual([2, 2, 3, 3])
    const rec = new QueueRecorder(tap, (f) => f.readUInt16BE(14 + 20))
    for (let i = 0; i < 64; i++) {
      ps.send(
        buildFrame({
          ip: { v: 4, src: '10.0.0.1', dst: '10.0.0.2', proto: 6 },
          ports: { src: 1000 + i, dst: 80 },
        }),
      )
    }
    expect(await rec.waitFor(64)).toBe(64)
    rec.stop()
    const used = new Set(rec.seen.values())
    expect(used).toEqual(new Set([2, 3]))
  })
})
