import type { Subscription } from 'rxjs'
import { type Channels, type EthtoolClient, ethtoolEvents$, openEthtool, type Rss } from '../ethtool/index.ts'
import type { NetnsRef } from '../netlink/sys/index.ts'

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
  private readonly queued = new Map<number, string>()
  private scheduled = false

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
    if (!this.client || this.closed) return
    this.queued.set(index, name)
    if (this.scheduled) return
    this.scheduled = true
    setImmediate(() => {
      this.scheduled = false
      const batch = [...this.queued]
      this.queued.clear()
      for (const [i, n] of batch) void this.query(i, n).then((r) => !this.closed && this.onResult(i, r))
    })
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
    this.events?.unsubscribe()
    this.client?.close()
  }
}
