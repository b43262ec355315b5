// Frames and configurations for the steering tests: traffic aimed at the rules of a
// configuration (overlapping prefixes, port ranges by mask, VLAN ids, contexts) plus traffic no
// rule matches. Every frame ends with a 4-byte sequence number (the program's trace index).
import type { SteeringConfigInput } from '../../src/steering/index.ts'
import { buildFrame, type Ext, type PacketSpec } from './rss-packets.ts'

/** The deterministic PRNG the other frame helpers use. */
export { prng as rng } from './rss-packets.ts'

/** A mixed configuration for an 8-queue tap: 9 rules, three contexts over different queue subsets. */
export function mixedConfig(): SteeringConfigInput {
  return {
    rss: {
      hashTypes: ['ipv4', 'tcpv4', 'udpv4', 'ipv6', 'tcpv6', 'udpv6', 'ipv6_ex', 'tcpv6_ex', 'udpv6_ex'],
      table: Array.from({ length: 64 }, (_, i) => i % 8),
      defaultQueue: 0,
    },
    contexts: [
      { id: 1, queues: [0, 1] },
      { id: 2, queues: [2, 3, 4], hashTypes: ['ipv4', 'tcpv4'] },
      { id: 3, table: [5, 6, 7, 5, 6, 7, 5, 6], key: 'a1'.repeat(40), hashTypes: ['ipv6', 'udpv6', 'ipv4'] },
    ],
    rules: [
      { name: 'vlan10', match: { vlanId: 10 }, action: { queue: 7 } },
      {
        name: 'ten-one-tcp-4k',
        match: { src: '10.1.0.0/16', ipProto: 'tcp', dstPort: { port: 0x1000, mask: 0xf000 } },
        action: { context: 2 },
      },
      { name: 'ten', match: { src: '10.0.0.0/8' }, action: { context: 1 } },
      { name: 'db8-1-udp', match: { dst: '2001:db8:1::/48', ipProto: 'udp' }, action: { context: 3 } },
      { name: 'db8', match: { dst: '2001:db8::/32' }, action: { queue: 4 } },
      { name: 'arp', match: { etherType: 'arp' }, action: { queue: 6 } },
      { name: 'dns', match: { ipProto: 'udp', dstPort: 53 }, action: { queue: 5 } },
      {
        name: 'sctp-low',
        match: { ipProto: 'sctp', srcPort: { port: 0, mask: 0xff00 } },
        action: { context: 3 },
      },
      {
        name: 'https-back',
        priority: 5,
        match: { dst: '192.168.0.0/16', ipProto: 'tcp', srcPort: 443 },
        action: { queue: 3 },
      },
    ],
  }
}

function withSeq(frame: Buffer, seq: number): Buffer {
  const tail = Buffer.alloc(4)
  tail.writeUInt32BE(seq >>> 0)
  return Buffer.concat([frame, tail])
}

/** The sequence number at the end of a frame. */
export function seqAtEnd(frame: Buffer): number {
  return frame.readUInt32BE(frame.length - 4)
}

/**
 * A frame aimed at the mixed configuration's rules (or at none), ending with `seq`. Payload
 * lengths vary; IPv6 frames sometimes carry extension headers. `qinq: false`: one 802.1Q tag at
 * most (what the tc back end's flower filters look through); `tagged: false`: no tags.
 */
export function mixedFrame(
  rand: () => number,
  seq: number,
  options: { qinq?: boolean; tagged?: boolean } = {},
): Buffer {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!
  const byte = () => Math.floor(rand() * 256)
  const hex = () =>
    Math.floor(rand() * 65536)
      .toString(16)
      .padStart(4, '0')
  const v4 = () =>
    pick([
      () => `10.1.${byte()}.${byte()}`,
      () => `10.${byte()}.${byte()}.${byte()}`,
      () => `192.168.${byte()}.${byte()}`,
      () => `${byte()}.${byte()}.${byte()}.${byte()}`,
    ])()
  const v6 = () =>
    pick([
      () => `2001:db8:1:${hex()}::${hex()}`,
      () => `2001:db8:${hex()}::${hex()}`,
      () => `fd00:${hex()}:${hex()}::${hex()}`,
    ])()
  const port = () =>
    pick([
      () => Math.floor(rand() * 65536),
      () => 0x1000 + Math.floor(rand() * 0x1000),
      () => 53,
      () => 443,
      () => byte(),
    ])()
  const kind = rand()
  if (kind < 0.05) {
    // ARP, or an EtherType nothing matches
    const et = rand() < 0.6 ? 0x0806 : 0x88b5
    const h = Buffer.from('ffffffffffff020000000001', 'hex')
    const t = Buffer.alloc(2)
    t.writeUInt16BE(et)
    return withSeq(Buffer.concat([h, t, Buffer.alloc(28 + Math.floor(rand() * 20), 0x11)]), seq)
  }
  const vlan =
    options.tagged === false
      ? []
      : pick([[], [], [], [0x8100], options.qinq === false ? [0x8100] : [0x88a8, 0x8100]])
  const vid = pick([10, 10, 20, byte()])
  const proto = pick([6, 6, 17, 17, 132, 1])
  const payloadLen = 8 + Math.floor(rand() * 40)
  const payload = Buffer.alloc(payloadLen, 0x5a)
  if (proto === 132) {
    payload.writeUInt16BE(port(), 0)
    payload.writeUInt16BE(port(), 2)
  }
  const ports = { src: port(), dst: port() }
  let spec: PacketSpec
  if (rand() < 0.55) {
    const frag = rand() < 0.05
    spec = {
      vlan,
      ip: { v: 4, src: v4(), dst: v4(), proto, fragOffset: frag ? 10 : 0, df: rand() < 0.5 },
      ports,
      payload,
    }
  } else {
    const ext: Ext[] = []
    if (rand() < 0.2)
      ext.push(pick([{ type: 'hop' }, { type: 'dst', hao: v6() }, { type: 'rt2', addr: v6() }] as Ext[]))
    spec = { vlan, ip: { v: 6, src: v6(), dst: v6(), proto, ext }, ports, payload }
  }
  const frame = buildFrame(spec)
  if (vlan.length > 0) frame.writeUInt16BE((frame.readUInt16BE(14) & 0xf000) | vid, 14)
  return withSeq(frame, seq)
}
