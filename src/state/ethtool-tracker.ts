import type { Subscription } from 'rxjs'
import { type Channels, type EthtoolClient, ethtoolEvents$, openEthtool, type Rss } from '../ethtool/index.ts'
import type { NetnsRef } from '../netlink/sys/index.ts'
import { RefreshQueue } from './refresh-queue.ts'

/** What ethtool says about one device: its channels and default RSS context, where it has them. */
export interface DeviceEthtool {
  index: number
  name: string
  channels?: Channels
  rss?: Rss
}

/**
 * Keeps ethtool's view of devices current. The kernel announces channel and RSS changes on the
 * ethtool monitor group; for everything else (a new device, a renamed one) the store asks again
 * when rtnetlink says the link changed.
 */
export class EthtoolTracker {
  private client: EthtoolClient | undefined
  private events: Subscription | undefined
  private closed = false
  private readonly queue = new RefreshQueue<number, string, DeviceEthtool | undefined>(
    (index, name) => this.query(index, name),
    (index, result) => this.onResult(index, result),
  )

  constructor(
    private readonly netns: NetnsRef | undefined,
    /** Receives fresh results (undefined: the device has neither channels nor RSS). */
    private readonly onResult: (index: number, info: DeviceEthtool | undefined) => void,
    private readonly onLost: () => void,
  ) {}

  async open(): Promise<boolean> {
    try {
      this.client = await openEthtool(this.netns === undefined ? {} : { netns: this.netns })
    } catch {
      return false // no ethtool family nor ioctl: the state simply has no ethtool part
    }
    this.events = ethtoolEvents$(this.netns === undefined ? {} : { netns: this.netns }).subscribe({
      next: (e) => {
        if (e.type === 'overrun') this.onLost()
        else if (e.type === 'channels') this.refresh(e.channels.ifindex, e.channels.ifname)
        else if (e.type === 'rss') this.refresh(e.rss.ifindex, e.rss.ifname)
      },
      error: () => this.onLost(),
    })
    return true
  }

  /** Asks again about a device, soon (repeated asks within one turn are merged). */
  refresh(index: number, name: string): void {
    if (this.client) this.queue.ask(index, name)
  }

  /**
   * What ethtool says about each of these links: two dumps where the kernel has them, otherwise
   * one question per device.
   */
  async all(links: ReadonlyArray<{ index: number; name: string }>): Promise<DeviceEthtool[]> {
    const c = this.client
    if (!c || this.closed) return []
    let dumped: [Channels[], Rss[]] | undefined
    try {
      dumped = await Promise.all([c.channels.list(), c.rss.list()])
    } catch {
      dumped = undefined // an ioctl-only kernel: ask per device below
    }
    if (!dumped) {
      const found = await Promise.all(links.map((l) => this.query(l.index, l.name)))
      return found.filter((r) => r !== undefined)
    }
    const channels = new Map(dumped[0].map((x) => [x.ifindex, x]))
    const rss = new Map(dumped[1].map((x) => [x.ifindex, x]))
    const out: DeviceEthtool[] = []
    for (const { index, name } of links) {
      const e: DeviceEthtool = { index, name }
      const ch = channels.get(index)
      const r = rss.get(index)
      if (ch) e.channels = ch
      if (r) e.rss = r
      if (ch || r) out.push(e)
    }
    return out
  }

  async query(index: number, name: string): Promise<DeviceEthtool | undefined> {
    const c = this.client
    if (!c || this.closed) return undefined
    const [channels, rss] = await Promise.all([
      c.channels.get(index).catch(() => undefined),
      c.rss.get(index).catch(() => undefined),
    ])
    if (!channels && !rss) return undefined
    const out: DeviceEthtool = { index, name }
    if (channels) out.channels = channels
    if (rss) out.rss = rss
    return out
  }

  close(): void {
    this.closed = true
    this.queue.close()
    this.events?.unsubscribe()
    this.client?.close()
  }
}
