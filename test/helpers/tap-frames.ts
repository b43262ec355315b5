import { firstValueFrom, merge, type Observable, type Subscription, timer } from 'rxjs'
import { map } from 'rxjs/operators'
import type { Tap } from '../../src/tuntap/device.ts'
import { sh, type TestNetns } from './netns.ts'

/** EtherType of the test frames (IEEE local experimental 1), so stray traffic is easy to ignore. */
export const ETH_P_TEST = 0x88b5

/** A minimal Ethernet frame: broadcast destination, a fixed source, `ethertype`, payload. */
export function ethFrame(payload: Buffer, ethertype = ETH_P_TEST): Buffer {
  const h = Buffer.alloc(14)
  Buffer.from('ffffffffffff020000000001', 'hex').copy(h, 0)
  h.writeUInt16BE(ethertype, 12)
  return Buffer.concat([h, payload])
}

/** A test frame carrying a sequence number (so each can be identified on whatever queue). */
export function seqFrame(seq: number): Buffer {
  const p = Buffer.alloc(46)
  p.write('rxnl', 0)
  p.writeUInt32BE(seq, 4)
  return ethFrame(p)
}

/** The sequence number of a test frame (after `skip` bytes of virtio-net header), or undefined. */
export function seqOf(frame: Buffer, skip = 0): number | undefined {
  const f = frame.subarray(skip)
  if (f.length < 22 || f.readUInt16BE(12) !== ETH_P_TEST || f.toString('latin1', 14, 18) !== 'rxnl')
    return undefined
  return f.readUInt32BE(18)
}

/** Turns IPv6 off in the namespace (no router solicitations or MLD reports on a tap that goes up). */
export function quietNetns(ns: TestNetns): void {
  sh('ip', [
    'netns',
    'exec',
    ns.name,
    'sysctl',
    '-qw',
    'net.ipv6.conf.all.disable_ipv6=1',
    'net.ipv6.conf.default.disable_ipv6=1',
  ])
}

/** Listens on every attached queue of `tap`; `seen` maps a key (from `keyOf`) to the queue index. */
export class QueueRecorder<K> {
  readonly seen = new Map<K, number>()
  readonly order: Array<{ key: K; queue: number; frame: Buffer }> = []
  readonly #sub: Subscription
  constructor(tap: Tap, keyOf: (frame: Buffer) => K | undefined) {
    const streams: Array<Observable<{ q: number; frame: Buffer }>> = tap.attachedQueues.map((q, i) =>
      q.frames$.pipe(map((frame) => ({ q: i, frame }))),
    )
    this.#sub = merge(...streams).subscribe(({ q, frame }) => {
      const key = keyOf(frame)
      if (key === undefined) return
      this.seen.set(key, q)
      this.order.push({ key, queue: q, frame })
    })
  }
  /** Waits until `n` frames were seen (or `ms` passed); returns how many were. */
  async waitFor(n: number, ms = 5000): Promise<number> {
    const deadline = Date.now() + ms
    while (this.order.length < n && Date.now() < deadline) await firstValueFrom(timer(5))
    return this.order.length
  }
  stop(): void {
    this.#sub.unsubscribe()
  }
}
