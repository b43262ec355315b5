import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Tap } from '../src/tuntap/device.ts'
import { PacketSocket } from '../src/tuntap/packet-socket.ts'
import type { TapQueue } from '../src/tuntap/queue.ts'
import { loadConstantSteering, SelectorSteering } from '../src/tuntap/steering-program.ts'
import { TestNetns } from './helpers/netns.ts'
import { QueueRecorder, quietNetns, seqFrame, seqOf } from './helpers/tap-frames.ts'

let ns: TestNetns
beforeAll(() => {
  ns = new TestNetns('steer')
  quietNetns(ns)
})
afterAll(() => ns?.remove())

let seq = 0
/** Sends `n` test frames; returns, per queue object, how many of them it read. */
async function sendAndCount(tap: Tap, ps: PacketSocket, n: number): Promise<Map<TapQueue, number>> {
  const first = seq
  const rec = new QueueRecorder(tap, (f) => {
    const s = seqOf(f)
    return s !== undefined && s >= first ? s : undefined
  })
  const order = tap.attachedQueues
  for (let i = 0; i < n; i++) expect(ps.send(seqFrame(seq++))).toBe(true)
  expect(await rec.waitFor(n)).toBe(n)
  rec.stop()
  const counts = new Map<TapQueue, number>()
  for (const { queue } of rec.order) {
    const q = order[queue]!
    counts.set(q, (counts.get(q) ?? 0) + 1)
  }
  return counts
}

describe('steering programs', () => {
  it("a constant program puts 100 of 100 frames on queue 2, and detaching restores tun's choice", async () => {
    using tap = Tap.create({ name: 'st0', queues: 4, netns: ns.name })
    using ps = PacketSocket.open({ ifname: 'st0', netns: ns.name })
    ns.ip('link', 'set', 'st0', 'up')
    const q = tap.queues
    // Where tun's own choice (flow hash) puts this flow:
    const auto = await sendAndCount(tap, ps, 20)
    expect(auto.size).toBe(1)
    const autoQueue = [...auto.keys()][0]!

    {
      using prog = loadConstantSteering(2)
      tap.setSteeringProgram(prog)
    } // the device holds its own reference: closing ours changes nothing
    expect(await sendAndCount(tap, ps, 100)).toEqual(new Map([[q[2]!, 100]]))

    tap.setSteeringProgram(null)
    expect(await sendAndCount(tap, ps, 20)).toEqual(new Map([[autoQueue, 20]]))
  })

  it('the result is taken modulo the attached queues, in the kernel order after a detach', async () => {
    using tap = Tap.create({ name: 'st1', queues: 4, netns: ns.name })
    using ps = PacketSocket.open({ ifname: 'st1', netns: ns.name })
    ns.ip('link', 'set', 'st1', 'up')
    const [q0, q1, q2, q3] = tap.queues as [TapQueue, TapQueue, TapQueue, TapQueue]
    using six = loadConstantSteering(6)
    tap.setSteeringProgram(six)
    expect(await sendAndCount(tap, ps, 10)).toEqual(new Map([[q2, 10]])) // 6 % 4

    q1.detach() // q3 moves into slot 1
    expect(tap.attachedQueues).toEqual([q0, q3, q2])
    using one = loadConstantSteering(1)
    tap.setSteeringProgram(one)
    expect(await sendAndCount(tap, ps, 10)).toEqual(new Map([[q3, 10]]))
    tap.setSteeringProgram(six)
    expect(await sendAndCount(tap, ps, 10)).toEqual(new Map([[q0, 10]])) // 6 % 3

    q1.attach() // back as the last queue
    using three = loadConstantSteering(3)
    tap.setSteeringProgram(three)
    expect(await sendAndCount(tap, ps, 10)).toEqual(new Map([[q1, 10]]))
  })

  it('a map-driven program moves traffic live, without reattaching', async () => {
    using tap = Tap.create({ name: 'st2', queues: 4, netns: ns.name })
    using ps = PacketSocket.open({ ifname: 'st2', netns: ns.name })
    ns.ip('link', 'set', 'st2', 'up')
    using sel = SelectorSteering.create(1)
    tap.setSteeringProgram(sel)
    expect(await sendAndCount(tap, ps, 10)).toEqual(new Map([[tap.queues[1]!, 10]]))
    for (const target of [3, 0, 2]) {
      sel.setQueue(target)
      expect(sel.queue).toBe(target)
      expect(await sendAndCount(tap, ps, 10)).toEqual(new Map([[tap.queues[target]!, 10]]))
    }
  })

  it('validates the queue before loading', () => {
    expect(() => loadConstantSteering(-1)).toThrow(expect.objectContaining({ kind: 'invalid-input' }))
    expect(() => loadConstantSteering(65536)).toThrow(expect.objectContaining({ kind: 'invalid-input' }))
  })
})
