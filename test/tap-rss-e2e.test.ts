// End to end, in a namespace this file creates: taps with 4, 8 and 16 queues get RSS through
// `tap.rss.apply` (the eBPF back end: this kernel has no tun RSS ioctls); 10,000+ frames from
// 1,000+ flows of every kind are sent through each tap and every frame is read back from the
// queue fd rxnetlink's own rssHash + table predicted. Then the table and key change live (one map
// update, no reattach) and everything is sent again.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Tap } from '../src/tuntap/device.ts'
import { PacketSocket } from '../src/tuntap/packet-socket.ts'
import { HASH_TYPES } from '../src/tuntap/rss-hash-types.ts'
import { TestNetns } from './helpers/netns.ts'
import { Prng } from './helpers/prng.ts'
import { makeFlows, sendAndLand } from './helpers/rss-flows.ts'
import { quietNetns } from './helpers/tap-frames.ts'

/** Fisher-Yates with the test's PRNG: every queue gets the same share of the table. */
function shuffle(r: Prng, xs: number[]): number[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = r.int(i + 1)
    ;[xs[i], xs[j]] = [xs[j]!, xs[i]!]
  }
  return xs
}

const FLOWS = 1250
const PER_FLOW = 8

describe('tap RSS end to end (ebpf back end)', () => {
  let ns: TestNetns
  const flows = makeFlows(2024, FLOWS, PER_FLOW)
  beforeAll(() => {
    ns = new TestNetns('rsse2e')
    quietNetns(ns)
  })
  afterAll(() => ns?.remove())

  it('the frame set covers every kind asked for', () => {
    expect(flows.frames.length).toBeGreaterThanOrEqual(10_000)
    expect(flows.flows).toBeGreaterThanOrEqual(1_000)
    for (const k of ['v4-tcp', 'v4-udp', 'v4-icmp', 'v4-132', 'v6-tcp', 'v6-udp', 'v6-icmp', 'v6-47'])
      expect(flows.kinds[k], k).toBeGreaterThan(100)
    expect(flows.kinds.truncated).toBeGreaterThan(50)
    expect(flows.kinds.arp).toBeGreaterThan(20)
  })

  for (const queues of [4, 8, 16]) {
    it(`${queues} queues: every frame on its predicted queue, before and after a live table + key change`, async () => {
      const name = `rsse${queues}`
      using tap = Tap.create({ name, queues, netns: ns.name })
      ns.ip('link', 'set', name, 'up')
      using ps = PacketSocket.open({ ifname: name, netns: ns.name })
      const r = new Prng(queues)
      const status = await tap.rss.apply({
        hashTypes: [...HASH_TYPES],
        key: r.bytes(40),
        table: shuffle(
          r,
          Array.from({ length: 128 }, (_, i) => i % queues),
        ),
        defaultQueue: queues - 1,
      })
      expect(status.backend).toBe('ebpf')
      expect(status.fallbackReason).toMatch(/TUNGETVNETHASHTYPES/)
      const steering = tap.rss.steering
      const programId = steering?.program.info().id

      const first = await sendAndLand(tap, ps, flows.frames, (f) => tap.rss.reportFor(f).queue)
      expect(first.mismatched.slice(0, 5)).toEqual([])
      expect({ lost: first.lost, unexpected: first.unexpected }).toEqual({ lost: 0, unexpected: 0 })
      expect(first.matched).toBe(flows.frames.length)
      expect(first.perQueue.every((n) => n > flows.frames.length / queues / 4)).toBe(true)

      // live change: new key, new (shorter) table; same program, same maps
      const table = Array.from({ length: 64 }, (_, i) => (i * 5 + 1) % queues)
      const updated = await tap.rss.update({ key: r.bytes(40), table })
      expect(updated.config.table).toEqual(table)
      expect(tap.rss.steering).toBe(steering)
      expect(tap.rss.steering?.program.info().id).toBe(programId)
      expect(steering?.read().table).toEqual(table) // map readback

      const second = await sendAndLand(tap, ps, flows.frames, (f) => tap.rss.reportFor(f).queue)
      expect(second.mismatched.slice(0, 5)).toEqual([])
      expect({ lost: second.lost, unexpected: second.unexpected }).toEqual({ lost: 0, unexpected: 0 })
      expect(second.matched).toBe(flows.frames.length)
      // the placement really changed
      expect(second.perQueue).not.toEqual(first.perQueue)
    }, 60_000)
  }
})
