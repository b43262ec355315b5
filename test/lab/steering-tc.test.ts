// The steering tc back end (multiq + flower + skbedit + act_bpf) on a real 8-queue tap, inside the
// kernel lab's guest (the development kernel lacks those kinds). Every frame must arrive on the
// queue the reference classifier predicts. Traffic has at most one 802.1Q tag: flower looks
// through one tag (stacked tags: see src/steering/tc.ts). Excluded from the host run by
// vitest.config.ts.
//
// Under TCG a frame costs about a millisecond to send and read back, so the traffic is chosen
// rather than sent wholesale: random frames are sorted by the path explain() gives them (rule,
// context, queue, hash type, tagged or not) and at most `perPath` of each are sent. Rare paths
// (a rule's context queue for one hash type) keep every frame the candidates had; common ones (the
// default RSS for TCP over IPv4) stop being sent after `perPath`.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TcApi } from '../../src/netlink/route/tc/index.ts'
import { NETLINK_ROUTE, NetlinkSocket } from '../../src/netlink/socket/index.ts'
import { classifier } from '../../src/steering/index.ts'
import { TcSteering } from '../../src/steering/tc.ts'
import { Tap } from '../../src/tuntap/device.ts'
import { PacketSocket } from '../../src/tuntap/packet-socket.ts'
import { TestNetns } from '../helpers/netns.ts'
import { mixedConfig, mixedFrame, rng } from '../helpers/steering-frames.ts'
import { quietNetns } from '../helpers/tap-frames.ts'

let ns: TestNetns
let sock: NetlinkSocket
let tc: TcApi

beforeAll(() => {
  ns = new TestNetns('labsteer')
  quietNetns(ns)
  sock = new NetlinkSocket(NETLINK_ROUTE, { netns: ns.name })
  tc = new TcApi(sock, ns.name)
})
afterAll(() => {
  sock?.close()
  ns?.remove()
})

describe('tc steering back end on a tap', () => {
  const run = async (
    name: string,
    options: {
      tagged?: boolean
      qinq?: boolean
      via?: 'packet' | 'veth'
      candidates: number
      perPath: number
    },
  ) => {
    using tap = Tap.create({ name, queues: 8, netns: ns.name })
    ns.ip('link', 'set', name, 'txqueuelen', '4000', 'up')
    using steering = TcSteering.create(mixedConfig(), { dev: name, queues: 8 })
    await steering.apply(tc)
    // tc -j lists each filter twice (its priority's head, then the filter with its handle)
    const filters = ns.tcJson<Array<{ kind?: string; pref?: number }>>(
      'filter',
      'show',
      'dev',
      name,
      'parent',
      '1:',
    )
    const prefs = new Set(filters.filter((f) => f.kind === 'flower').map((f) => f.pref))
    expect(prefs.size).toBe(steering.plan.filters.length)
    // 'veth': frames enter a veth pair and its peer's ingress redirects them to the tap, as traffic
    // from a NIC or a bridge port reaches a VM's tap; 'packet': written to the tap itself.
    let sendOn = name
    if (options.via === 'veth') {
      ns.ip('link', 'add', `${name}a`, 'type', 'veth', 'peer', 'name', `${name}b`)
      ns.ip('link', 'set', `${name}a`, 'up')
      ns.ip('link', 'set', `${name}b`, 'up')
      ns.tc('qdisc', 'add', 'dev', `${name}b`, 'clsact')
      ns.tc(
        ...`filter add dev ${name}b ingress protocol all matchall action mirred egress redirect dev ${name}`.split(
          ' ',
        ),
      )
      sendOn = `${name}a`
    }
    using ps = PacketSocket.open({ ifname: sendOn, netns: ns.name })
    const c = classifier(mixedConfig())
    const rand = rng(99)
    const perPath = new Map<string, number>()
    const frames: Buffer[] = []
    for (let i = 0; i < options.candidates; i++) {
      const frame = mixedFrame(rand, frames.length, options)
      const e = c.explain(frame)
      const path = `${e.rule} ${e.context} ${e.queue} ${e.hashType} ${frame.readUInt16BE(12) === 0x8100}`
      const n = perPath.get(path) ?? 0
      if (n >= options.perPath) continue
      perPath.set(path, n + 1)
      frames.push(frame)
    }
    const N = frames.length
    const got: Array<{ queue: number; frame: Buffer }> = []
    const drain = async (want: number) => {
      let idle = 0
      while (got.length < want && idle < 500) {
        let n = 0
        tap.attachedQueues.forEach((q, queue) => {
          for (let f = q.tryRead(); f !== null; f = q.tryRead()) {
            got.push({ queue, frame: f })
            n++
          }
        })
        idle = n === 0 ? idle + 1 : 0
        if (n === 0) await new Promise((r) => setTimeout(r, 2))
      }
    }
    for (let seq = 0; seq < N; seq++) {
      expect(ps.send(frames[seq]!)).toBe(true)
      if (seq % 500 === 499) await drain(seq + 1)
    }
    await drain(N)
    expect(got.length).toBe(N)
    const wrong = got.filter(({ queue, frame }) => c.explain(frame).queue !== queue)
    // on failure: which rules' frames went astray, and where
    const astray: Record<string, number> = {}
    for (const w of wrong) {
      const e = c.explain(w.frame)
      const k = `rule ${e.rule ?? '-'} (${e.context === null ? 'queue' : `context ${e.context}`}) ${e.queue}→${w.queue}`
      astray[k] = (astray[k] ?? 0) + 1
    }
    expect({ wrong: wrong.length, astray }).toEqual({ wrong: 0, astray: {} })
    expect(new Set(got.map((g) => g.queue)).size).toBe(8)
    // every rule had frames (vlan10 only when tagged), and frames no rule matches
    const rules = new Set(got.map(({ frame }) => c.explain(frame).rule))
    expect(rules.size).toBe(options.tagged === false ? 9 : 10)
  }

  it('untagged traffic: every frame on the queue explain() predicts (multiq, flower, skbedit, act_bpf)', () =>
    run('steertc0', { tagged: false, candidates: 5000, perPath: 30 }))
  // Tagged traffic comes in through a veth and a redirect, as it reaches a VM's tap from a NIC or
  // bridge. Written straight to the tap through AF_PACKET, a tagged frame cannot be classified by
  // flower: af_packet moves the network header past the VLAN tag while skb->protocol stays
  // 802.1Q, so flower's dissector reads the IP header as the tag (u32 at offset 0 shows it).
  it('traffic with one 802.1Q tag too, arriving through a veth: every frame on the queue explain() predicts', () =>
    run('steertc1', { qinq: false, via: 'veth', candidates: 8000, perPath: 25 }))
})
