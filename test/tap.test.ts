import { readdirSync, readlinkSync, statSync } from 'node:fs'
import { firstValueFrom, take, toArray } from 'rxjs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { exit, loadProgram, mov64Imm, R0 } from '../src/bpf/index.ts'
import { closeFd, dupFd, eventFd } from '../src/netlink/sys/index.ts'
import { Tap } from '../src/tuntap/device.ts'
import { TunIoctl } from '../src/tuntap/ioctls.ts'
import { PacketSocket } from '../src/tuntap/packet-socket.ts'
import { TapError } from '../src/tuntap/tap-errors.ts'
import { TestNetns } from './helpers/netns.ts'
import { QueueRecorder, quietNetns, seqFrame, seqOf } from './helpers/tap-frames.ts'

interface TunLink {
  ifname: string
  operstate: string
  flags: string[]
  num_tx_queues: number
  linkinfo: {
    info_kind: string
    info_data: {
      type: string
      pi: boolean
      vnet_hdr: boolean
      multi_queue: boolean
      numqueues: number
      numdisabled: number
      persist: boolean
      user?: string
      group?: string
    }
  }
  stats64?: { rx: { packets: number } }
}

const openFds = () => readdirSync('/proc/self/fd').length

function reason(f: () => unknown): TapError['reason'] {
  try {
    f()
  } catch (e) {
    if (e instanceof TapError) return e.reason
    throw e
  }
  throw new Error('did not throw')
}

let ns: TestNetns
const link = (name: string) => ns.ipJson<TunLink[]>('-d', '-s', 'link', 'show', name)[0]!
const exists = (name: string) => ns.ipJson<TunLink[]>('link', 'show').some((l) => l.ifname === name)

beforeAll(() => {
  ns = new TestNetns('tap')
  quietNetns(ns)
})
afterAll(() => ns?.remove())

describe('ioctl numbers', () => {
  it('match linux/if_tun.h on x86-64', () => {
    expect(TunIoctl.TUNSETIFF).toBe(0x400454ca)
    expect(TunIoctl.TUNGETIFF).toBe(0x800454d2)
    expect(TunIoctl.TUNSETQUEUE).toBe(0x400454d9)
    expect(TunIoctl.TUNSETSTEERINGEBPF).toBe(0x800454e0)
    expect(TunIoctl.TUNSETFILTEREBPF).toBe(0x800454e1)
    expect(TunIoctl.TUNSETCARRIER).toBe(0x400454e2)
    expect(TunIoctl.TUNGETDEVNETNS).toBe(0x54e3)
  })
})

describe('Tap', () => {
  it('creates a 4-queue tap with vnet headers, as ip -d reports it', () => {
    const fds = openFds()
    {
      using tap = Tap.create({ name: 'mq0', queues: 4, vnetHdr: true, netns: ns.name })
      expect(tap.name).toBe('mq0')
      expect(tap.queues).toHaveLength(4)
      expect(tap.attachedQueues.map((q) => q.index)).toEqual([0, 1, 2, 3])
      expect(openFds()).toBe(fds + 4)
      const l = link('mq0')
      expect(l.linkinfo.info_kind).toBe('tun')
      expect(l.linkinfo.info_data).toMatchObject({
        type: 'tap',
        pi: false,
        vnet_hdr: true,
        multi_queue: true,
        numqueues: 4,
        numdisabled: 0,
        persist: false,
      })
      expect(l.num_tx_queues).toBe(256)
      expect(tap.ifindex).toBe(ns.ipJson<Array<{ ifindex: number }>>('link', 'show', 'mq0')[0]!.ifindex)
      expect(tap.info()).toEqual({ name: 'mq0', flags: ['tap', 'multiQueue', 'noPi', 'vnetHdr'] })
    }
    expect(exists('mq0')).toBe(false) // not persistent: gone with its last queue
    expect(openFds()).toBe(fds)
  })

  it('numbers a name template and makes single-queue and tun devices', () => {
    using a = Tap.create({ name: 'tpl%d', netns: ns.name })
    using b = Tap.create({ name: 'tpl%d', netns: ns.name })
    expect([a.name, b.name].sort()).toEqual(['tpl0', 'tpl1'])
    expect(link(a.name).linkinfo.info_data).toMatchObject({ type: 'tap', multi_queue: false })
    expect(link(a.name).num_tx_queues).toBe(1)
    using t = Tap.create({ name: 'tun7', mode: 'tun', netns: ns.name })
    expect(t.mode).toBe('tun')
    expect(link('tun7').linkinfo.info_data.type).toBe('tun')
    expect(Tap.features(ns.name)).toEqual(
      expect.arrayContaining(['tun', 'tap', 'multiQueue', 'vnetHdr', 'noPi']),
    )
  })

  it('validates input before touching the kernel', () => {
    const fds = openFds()
    const r1 = reason(() => Tap.create({ name: 'a-very-long-name', netns: ns.name }))
    expect(r1.kind === 'invalid-input' && r1.issues[0]).toMatchObject({
      path: 'name',
      message: 'at most 15 bytes',
    })
    expect(reason(() => Tap.create({ name: 'é'.repeat(8), netns: ns.name })).kind).toBe('invalid-input')
    expect(reason(() => Tap.create({ name: 'a b', netns: ns.name })).kind).toBe('invalid-input')
    expect(reason(() => Tap.create({ name: 'x%s', netns: ns.name })).kind).toBe('invalid-input')
    expect(reason(() => Tap.create({ queues: 0, netns: ns.name })).kind).toBe('invalid-input')
    const r2 = reason(() => Tap.create({ queues: 257, netns: ns.name }))
    expect(r2.kind === 'invalid-input' && r2.issues[0]?.path).toBe('queues')
    expect(reason(() => Tap.create({ queues: 2, multiQueue: false, netns: ns.name })).kind).toBe(
      'invalid-input',
    )
    expect(reason(() => Tap.open({ name: 'tap%d', netns: ns.name })).kind).toBe('invalid-input')
    expect(openFds()).toBe(fds)
    using t = Tap.create({ name: 'val0', netns: ns.name })
    expect(reason(() => t.setSteeringProgram({ fd: -1 })).kind).toBe('invalid-input')
    expect(reason(() => t.setCarrier('yes' as unknown as boolean)).kind).toBe('invalid-input')
    expect(reason(() => t.queues[0]!.write(Buffer.alloc(0))).kind).toBe('invalid-input')
    using ps = PacketSocket.open({ ifname: 'val0', netns: ns.name })
    expect(reason(() => ps.send(Buffer.alloc(10))).kind).toBe('invalid-input')
    expect(reason(() => PacketSocket.open({ ifname: 'nosuch', netns: ns.name })).kind).toBe('not-found')
    expect(reason(() => PacketSocket.open({ netns: ns.name })).kind).toBe('invalid-input')
  })

  it('refuses a taken name, a second queue on a single-queue device and flag mismatches', () => {
    using a = Tap.create({ name: 'dup0', netns: ns.name })
    expect(reason(() => Tap.create({ name: 'dup0', netns: ns.name }))).toMatchObject({
      kind: 'exists',
      name: 'dup0',
    })
    expect(reason(() => Tap.open({ name: 'dup0', netns: ns.name })).kind).toBe('busy')
    expect(reason(() => a.addQueue()).kind).toBe('busy')
    using m = Tap.create({ name: 'mm0', queues: 2, netns: ns.name })
    expect(reason(() => Tap.open({ name: 'mm0', mode: 'tun', queues: 2, netns: ns.name })).kind).toBe(
      'mismatch',
    )
    expect(reason(() => Tap.open({ name: 'mm0', multiQueue: false, netns: ns.name })).kind).toBe('mismatch')
    expect(reason(() => Tap.open({ name: 'nosuch0', netns: ns.name }))).toMatchObject({ kind: 'not-found' })
    expect(m.queues).toHaveLength(2)
  })

  it('persists, reopens, and goes away when persistence is turned off', () => {
    {
      using t = Tap.create({ name: 'pers0', queues: 2, persist: true, netns: ns.name })
      expect(t.info().flags).toContain('persist')
    }
    expect(link('pers0').linkinfo.info_data).toMatchObject({ persist: true, numqueues: 0 })
    {
      using t = Tap.open({ name: 'pers0', queues: 3, netns: ns.name })
      expect(link('pers0').linkinfo.info_data.numqueues).toBe(3)
      t.setPersist(false)
    }
    expect(exists('pers0')).toBe(false)
  })

  it('adds, detaches and re-attaches queues, mirroring the kernel queue order', () => {
    using t = Tap.create({ name: 'qq0', queues: 4, netns: ns.name })
    const [q0, q1, q2, q3] = t.queues as [
      Tap['queues'][0],
      Tap['queues'][0],
      Tap['queues'][0],
      Tap['queues'][0],
    ]
    q1.detach()
    expect(q1.attached).toBe(false)
    expect(q1.index).toBeUndefined()
    // tun moves the last queue into the freed slot
    expect(t.attachedQueues).toEqual([q0, q3, q2])
    expect(link('qq0').linkinfo.info_data).toMatchObject({ numqueues: 3, numdisabled: 1 })
    expect(reason(() => q1.write(seqFrame(1))).kind).toBe('queue-detached')
    q1.attach()
    expect(t.attachedQueues).toEqual([q0, q3, q2, q1])
    expect(q1.index).toBe(3)
    const q4 = t.addQueue()
    expect(q4.index).toBe(4)
    expect(link('qq0').linkinfo.info_data).toMatchObject({ numqueues: 5, numdisabled: 0 })
    q0.close()
    expect(t.attachedQueues).toEqual([q4, q3, q2, q1])
    expect(t.queues).toHaveLength(4)
    expect(link('qq0').linkinfo.info_data.numqueues).toBe(4)
  })

  it('gets and sets the per-device ioctls', () => {
    using t = Tap.create({
      name: 'io0',
      queues: 2,
      vnetHdr: true,
      netns: ns.name,
      owner: 65534,
      group: 65534,
    })
    expect(link('io0').linkinfo.info_data).toMatchObject({ user: 'nobody', group: 'nogroup' })
    t.setOwner(0)
    t.setGroup(0)
    expect(link('io0').linkinfo.info_data).toMatchObject({ user: 'root', group: 'root' })
    expect(reason(() => t.setOwner(-1)).kind).toBe('invalid-input')
    expect(t.vnetHdrSize).toBe(10)
    t.vnetHdrSize = 12
    expect(t.vnetHdrSize).toBe(12)
    expect(
      reason(() => {
        t.vnetHdrSize = 4
      }).kind,
    ).toBe('invalid-input')
    expect(t.vnetLittleEndian).toBe(false)
    t.vnetLittleEndian = true
    expect(t.vnetLittleEndian).toBe(true)
    const be = (() => {
      try {
        return t.vnetBigEndian
      } catch (e) {
        return (e as TapError).kind
      }
    })()
    expect([false, 'unsupported']).toContain(be)
    t.sndbuf = 1 << 20
    expect(t.sndbuf).toBe(1 << 20)
    t.setOffload(['csum', 'tso4', 'tso6'])
    expect(reason(() => t.setOffload(['bogus' as 'csum'])).kind).toBe('invalid-input')
    ns.ip('link', 'set', 'io0', 'up')
    t.setCarrier(false)
    expect(link('io0').flags).toContain('NO-CARRIER')
    t.setCarrier(true)
    expect(link('io0').flags).not.toContain('NO-CARRIER')
  })

  it('TUNGETDEVNETNS returns the device namespace', () => {
    using t = Tap.create({ name: 'nsq0', netns: ns.name })
    const fd = t.openNetnsFd()
    try {
      const ino = statSync(`/run/netns/${ns.name}`).ino
      expect(readlinkSync(`/proc/self/fd/${fd}`)).toBe(`net:[${ino}]`)
    } finally {
      closeFd(fd)
    }
  })
})

describe('frames', () => {
  it('a frame sent through AF_PACKET on the tap is read from a queue fd', async () => {
    using t = Tap.create({ name: 'fr0', queues: 4, netns: ns.name })
    using ps = PacketSocket.open({ ifname: 'fr0', netns: ns.name })
    expect(ps.ifindex).toBe(t.ifindex)
    expect(reason(() => ps.send(seqFrame(0)))).toMatchObject({ kind: 'system', errno: 'ENETDOWN' }) // tap down
    ns.ip('link', 'set', 'fr0', 'up')
    const rec = new QueueRecorder(t, (f) => seqOf(f))
    for (let i = 0; i < 20; i++) expect(ps.send(seqFrame(i))).toBe(true)
    expect(await rec.waitFor(20)).toBe(20)
    rec.stop()
    expect([...rec.seen.keys()].sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i))
    // without a steering program tun picks by flow hash: one flow, one queue
    expect(new Set(rec.seen.values()).size).toBe(1)
  })

  it('read() waits for the next frame; frames$ streams them; the vnet header comes first', async () => {
    using t = Tap.create({ name: 'fr1', vnetHdr: true, netns: ns.name })
    using ps = PacketSocket.open({ ifindex: t.ifindex, netns: ns.name })
    ns.ip('link', 'set', 'fr1', 'up')
    const q = t.queues[0]!
    const pending = q.read()
    setTimeout(() => ps.send(seqFrame(7)), 20)
    const f = await pending
    expect(f.length).toBe(10 + 60)
    expect(seqOf(f, 10)).toBe(7)
    const three = firstValueFrom(q.frames$.pipe(take(3), toArray()))
    for (let i = 0; i < 3; i++) ps.send(seqFrame(100 + i))
    expect((await three).map((x) => seqOf(x, 10))).toEqual([100, 101, 102])
  })

  it('concurrent reads are served in order; an unsubscribed frames$ leaves frames queued', async () => {
    using t = Tap.create({ name: 'fr2', netns: ns.name })
    using ps = PacketSocket.open({ ifname: 'fr2', netns: ns.name })
    ns.ip('link', 'set', 'fr2', 'up')
    const q = t.queues[0]!
    const reads = [q.read(), q.read(), q.read()]
    for (let i = 0; i < 3; i++) ps.send(seqFrame(200 + i))
    expect((await Promise.all(reads)).map((f) => seqOf(f))).toEqual([200, 201, 202])
    const got: number[] = []
    const sub = q.frames$.subscribe((f) => got.push(seqOf(f)!))
    ps.send(seqFrame(300))
    await new Promise((r) => setTimeout(r, 50))
    sub.unsubscribe()
    ps.send(seqFrame(301))
    await new Promise((r) => setTimeout(r, 50))
    expect(got).toEqual([300])
    expect(seqOf(q.tryRead()!)).toBe(301)
  })

  it('queue.write injects a frame the host receives', async () => {
    using t = Tap.create({ name: 'wr0', netns: ns.name })
    ns.ip('link', 'set', 'wr0', 'up')
    const before = link('wr0').stats64?.rx.packets ?? 0
    for (let i = 0; i < 5; i++) expect(t.queues[0]!.write(seqFrame(i))).toBe(true)
    expect((link('wr0').stats64?.rx.packets ?? 0) - before).toBe(5)
  })

  it('close rejects a pending read and completes frames$; deleting the device fails reads', async () => {
    const t = Tap.create({ name: 'cl0', queues: 2, netns: ns.name })
    const q = t.queues[0]!
    const pending = q.read()
    const done = firstValueFrom(q.frames$.pipe(toArray()))
    q.close()
    await expect(pending).rejects.toMatchObject({ kind: 'closed' })
    expect(await done).toEqual([])
    expect(q.closed).toBe(true)
    const q2 = t.queues[0]!
    const waiting = q2.read()
    ns.ip('link', 'del', 'cl0')
    await expect(waiting).rejects.toMatchObject({ kind: 'device-gone' })
    t.close()
  })

  it('TUNSETFILTEREBPF drops (0) or trims (n) frames before they are queued', async () => {
    using t = Tap.create({ name: 'flt0', netns: ns.name })
    using ps = PacketSocket.open({ ifname: 'flt0', netns: ns.name })
    ns.ip('link', 'set', 'flt0', 'up')
    const q = t.queues[0]!
    using drop = loadProgram({ type: 'socket-filter', insns: [mov64Imm(R0, 0), exit()] })
    using trim = loadProgram({ type: 'socket-filter', insns: [mov64Imm(R0, 22), exit()] })
    t.setFilterProgram(drop)
    ps.send(seqFrame(1))
    t.setFilterProgram(trim)
    ps.send(seqFrame(2))
    const f = await q.read()
    expect(f.length).toBe(22)
    expect(seqOf(f)).toBe(2) // frame 1 was dropped; frame 2 trimmed to the header and sequence number
    t.setFilterProgram(null)
    ps.send(seqFrame(3))
    expect((await q.read()).length).toBe(60)
    expect(q.tryRead()).toBeNull()
  })
})

describe('adopting queue fds', () => {
  it('takes over a queue fd by asking the kernel for its device', async () => {
    using t = Tap.create({ name: 'ad0', queues: 2, netns: ns.name })
    const fd = dupFd(t.queues[1]!.fd)
    using adopted = Tap.fromFds([fd]) // no netns given: the device's own is found through the fd
    expect(adopted.name).toBe('ad0')
    expect(adopted.multiQueue).toBe(true)
    expect(adopted.info().flags).toEqual(['tap', 'multiQueue', 'noPi'])
    expect(adopted.ifindex).toBe(t.ifindex)
    ns.ip('link', 'set', 'ad0', 'up')
    using ps = PacketSocket.open({ ifname: 'ad0', netns: ns.name })
    using prog = loadProgram({ type: 'socket-filter', insns: [mov64Imm(R0, 1), exit()] })
    adopted.setSteeringProgram(prog) // through the adopted fd
    ps.send(seqFrame(5))
    expect(seqOf(await adopted.queues[0]!.read())).toBe(5)
  })

  it('refuses fds that are not attached tun queues', () => {
    const ev = eventFd()
    try {
      expect(reason(() => Tap.fromFds([ev]))).toMatchObject({ kind: 'not-a-tun-fd', fd: ev })
    } finally {
      closeFd(ev)
    }
    expect(reason(() => Tap.fromFds([])).kind).toBe('invalid-input')
    using a = Tap.create({ name: 'mix0', netns: ns.name })
    using b = Tap.create({ name: 'mix1', netns: ns.name })
    const r = reason(() => Tap.fromFds([a.queues[0]!.fd, b.queues[0]!.fd]))
    expect(r.kind === 'invalid-input' && r.issues[0]?.message).toMatch(/different devices/)
  })

  it('a detached queue fd can be adopted (the kernel cannot tell) and attached again', () => {
    using t = Tap.create({ name: 'ad1', queues: 2, netns: ns.name })
    t.queues[1]!.detach()
    using adopted = Tap.fromFds([dupFd(t.queues[1]!.fd)])
    expect(adopted.info().name).toBe('ad1') // TUNGETIFF still answers on a detached queue
    expect(link('ad1').linkinfo.info_data).toMatchObject({ numqueues: 1, numdisabled: 1 })
    adopted.queues[0]!.attach()
    expect(link('ad1').linkinfo.info_data).toMatchObject({ numqueues: 2, numdisabled: 0 })
    adopted.queues[0]!.attach() // already attached: nothing happens
    expect(link('ad1').linkinfo.info_data.numqueues).toBe(2)
  })
})
