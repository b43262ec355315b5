// Many flows of every kind RSS must handle, as Ethernet frames, and a runner that sends frames
// through a tap and reads every one back from the queue fd it landed on.
import type { Tap } from '../../src/tuntap/device.ts'
import type { PacketSocket } from '../../src/tuntap/packet-socket.ts'
import { buildFrame, type FrameSpec, type Ipv6Extension, type TransportSpec, type VlanTag } from './frames.ts'
import { Prng } from './prng.ts'

export interface FlowSet {
  frames: Buffer[]
  flows: number
  /** How many frames of each kind (for the test's own sanity checks). */
  kinds: Record<string, number>
}

const ip4 = (r: Prng): string => [10 + r.int(200), r.int(256), r.int(256), 1 + r.int(254)].join('.')
const ip6 = (r: Prng): string =>
  ['2001', 'db8', ...Array.from({ length: 6 }, () => r.int(0x10000).toString(16))].join(':')

/**
 * `flows` flows of `perFlow` frames each: IPv4/IPv6; TCP, UDP, ICMP and other protocols (SCTP,
 * GRE); untagged, 802.1Q, 802.1ad + 802.1Q; IPv4 options and fragments (first and later); IPv6
 * hop-by-hop, routing (type 2 and others), destination options with and without the Home Address
 * option, fragment and AH headers; plus some frames cut short and some that are not IP.
 * Every frame's payload ends with a unique sequence number.
 */
export function makeFlows(seed: number, flows: number, perFlow: number): FlowSet {
  const r = new Prng(seed)
  const frames: Buffer[] = []
  const kinds: Record<string, number> = {}
  let seq = 0
  const payload = (): Uint8Array => {
    const p = Buffer.alloc(12)
    p.write('RXNL', 0, 'latin1')
    p.writeUInt32BE(seq++, 4)
    p.writeUInt32BE(r.u32(), 8)
    return p
  }
  const count = (k: string) => {
    kinds[k] = (kinds[k] ?? 0) + 1
  }
  for (let f = 0; f < flows; f++) {
    const vlans: VlanTag[] = r.pick([
      [],
      [],
      [{ vid: 1 + r.int(4094) }],
      [{ tpid: 0x88a8, vid: 1 + r.int(4094) }, { vid: 1 + r.int(4094) }],
    ])
    const ports = { srcPort: r.int(65536), dstPort: r.int(65536) }
    const l4: TransportSpec = r.pick<TransportSpec>([
      { proto: 'tcp', ...ports },
      { proto: 'tcp', ...ports },
      { proto: 'udp', ...ports },
      { proto: 'udp', ...ports },
      { proto: 'icmp' },
      { proto: 'other', protocol: 132, header: Uint8Array.of(0, 1, 0, 2, 0, 0, 0, 0) },
      { proto: 'other', protocol: 47, header: Uint8Array.of(0, 0, 8, 0) },
    ])
    const v6 = r.int(2) === 1
    let kind = `${v6 ? 'v6' : 'v4'}-${l4.proto === 'other' ? l4.protocol : l4.proto}`
    if (vlans.length > 0) kind += `-vlan${vlans.length}`
    let spec: (i: number) => FrameSpec
    if (!v6) {
      const src = ip4(r)
      const dst = ip4(r)
      const variant = r.int(10)
      const options = variant === 1 ? Uint8Array.of(1, 1, 1, 0, 7, 7, 4, 0, 0, 0, 0, 0) : undefined
      if (variant === 1) kind += '-options'
      const fragments = variant >= 8
      if (fragments) kind += '-fragments'
      spec = (i) => ({
        vlans,
        ip: {
          version: 4,
          src,
          dst,
          ...(options ? { options } : {}),
          ...(fragments ? { fragment: { offset: (i % 3) * 184, more: i % 3 !== 2 } } : {}),
          dontFragment: !fragments && i % 2 === 0,
        },
        l4,
        payload: payload(),
      })
    } else {
      const src = ip6(r)
      const dst = ip6(r)
      const exts: Ipv6Extension[] = []
      const n = r.pick([0, 0, 1, 1, 2, 3])
      for (let k = 0; k < n; k++) {
        const e = r.pick(['hop', 'dst-hao', 'dst-hao', 'dst', 'rt2', 'rt0', 'frag', 'ah'] as const)
        kind += `-${e}`
        if (e === 'hop') exts.push({ type: 'hop-by-hop', options: Uint8Array.of(5, 2, 0, 0) })
        else if (e === 'dst-hao') exts.push({ type: 'destination', homeAddress: ip6(r) })
        else if (e === 'dst') exts.push({ type: 'destination', options: Uint8Array.of(0x1e, 2, 0xaa, 0xbb) })
        else if (e === 'rt2') exts.push({ type: 'routing2', address: ip6(r) })
        else if (e === 'rt0')
          exts.push({ type: 'routing', routingType: 0, data: new Uint8Array(20), segmentsLeft: 1 })
        else if (e === 'frag') exts.push({ type: 'fragment', offset: 0, more: true })
        else exts.push({ type: 'ah', icvLength: 12 })
      }
      spec = (i) => ({
        vlans,
        ip: {
          version: 6,
          src,
          dst,
          // later fragments of fragmented flows: non-zero offset, no transport header
          extensions: exts.map((e) =>
            e.type === 'fragment' ? { ...e, offset: (i % 2) * 1448, more: i % 2 === 0 } : e,
          ),
        },
        l4,
        payload: payload(),
      })
    }
    for (let i = 0; i < perFlow; i++) {
      frames.push(buildFrame(spec(i)))
      count(kind.split('-').slice(0, 2).join('-'))
    }
  }
  // A few frames cut short (inside the IP header, the extension headers or the ports) and some
  // that are not IP at all: they too must land where rssHash says (usually the default queue).
  const whole = frames.length
  for (let i = 0; i < Math.ceil(whole / 100); i++) {
    const f = frames[r.int(whole)]!
    frames.push(Buffer.from(f.subarray(0, 14 + r.int(Math.max(1, f.length - 14)))))
    count('truncated')
  }
  for (let i = 0; i < Math.ceil(whole / 200); i++) {
    const arp = Buffer.alloc(42)
    arp.fill(0xff, 0, 6)
    arp.writeUInt16BE(0x0806, 12)
    arp.writeUInt32BE(i, 38)
    frames.push(arp)
    count('arp')
  }
  return { frames, flows, kinds }
}

export interface Landing {
  /** Frames read back on the queue `predict` named. */
  matched: number
  mismatched: Array<{ index: number; predicted: number; got: number }>
  /** Frames never read back. */
  lost: number
  /** Frames read that were not sent (or were read twice). */
  unexpected: number
  perQueue: number[]
}

/**
 * Sends `frames` through the tap's AF_PACKET socket in batches and reads every queue until each
 * frame is back; frames are told apart by their bytes (identical frames are interchangeable, as
 * they must land on the same queue).
 */
export async function sendAndLand(
  tap: Tap,
  ps: PacketSocket,
  frames: readonly Buffer[],
  predict: (frame: Buffer) => number,
  batch = 256,
): Promise<Landing> {
  const queues = tap.attachedQueues
  const out: Landing = { matched: 0, mismatched: [], lost: 0, unexpected: 0, perQueue: queues.map(() => 0) }
  for (let start = 0; start < frames.length; start += batch) {
    const chunk = frames.slice(start, start + batch)
    const pending = new Map<string, number[]>()
    chunk.forEach((f, i) => {
      const k = f.toString('latin1')
      const list = pending.get(k)
      if (list) list.push(start + i)
      else pending.set(k, [start + i])
    })
    for (const f of chunk) {
      while (!ps.send(f)) await new Promise((res) => setTimeout(res, 1))
    }
    let got = 0
    const deadline = Date.now() + 5000
    while (got < chunk.length && Date.now() < deadline) {
      let any = false
      queues.forEach((q, qi) => {
        for (let f = q.tryRead(); f !== null; f = q.tryRead()) {
          any = true
          const list = pending.get(f.toString('latin1'))
          const index = list?.shift()
          if (index === undefined) {
            out.unexpected++
            continue
          }
          got++
          out.perQueue[qi]!++
          const predicted = predict(frames[index]!)
          if (predicted === qi) out.matched++
          else out.mismatched.push({ index, predicted, got: qi })
        }
      })
      if (!any && got < chunk.length) await new Promise((res) => setTimeout(res, 1))
    }
    out.lost += chunk.length - got
  }
  return out
}
