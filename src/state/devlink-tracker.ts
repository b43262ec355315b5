import type { Subscription } from 'rxjs'
import {
  type DevlinkClient,
  type DevlinkDevice,
  type DevlinkEvent,
  type DevlinkParam,
  type DevlinkPort,
  devlinkEvents$,
  type HealthReporter,
  openDevlink,
} from '../devlink/index.ts'
import { FamilyNotFoundError } from '../netlink/generic/index.ts'
import type { NetnsRef } from '../netlink/sys/index.ts'
import { RefreshQueue } from './refresh-queue.ts'

/** One devlink instance with its ports, parameters and health reporters. */
export interface DevlinkInstance {
  /** bus/device */
  handle: string
  device: DevlinkDevice
  ports: DevlinkPort[]
  params: DevlinkParam[]
  health: HealthReporter[]
}

/** The devlink instance an event is about (its handle's first two segments). */
function instanceOf(e: Exclude<DevlinkEvent, { type: 'overrun' }>): string {
  const h =
    e.type === 'dev'
      ? e.device.handle
      : e.type === 'port'
        ? e.port.device
        : e.type === 'param'
          ? e.param.handle
          : e.type === 'rate'
            ? e.rate.device
            : e.type === 'trap'
              ? e.trap.handle
              : e.type === 'health'
                ? e.reporter.handle
                : e.handle
  return h.split('/').slice(0, 2).join('/')
}

/**
 * Keeps devlink's view of the namespace current. devlink notifications say what kind of object
 * changed but not always all of it (a parameter's new value, a reporter's counters), so any
 * notification about an instance re-reads that whole instance.
 */
export class DevlinkTracker {
  private client: DevlinkClient | undefined
  private events: Subscription | undefined
  private readonly queue = new RefreshQueue<string, undefined, DevlinkInstance | undefined>(
    (handle) => this.query(handle),
    (handle, result) => this.onResult(handle, result),
  )

  constructor(
    private readonly netns: NetnsRef | undefined,
    /** Receives fresh results (undefined: the instance is gone). */
    private readonly onResult: (handle: string, instance: DevlinkInstance | undefined) => void,
    private readonly onLost: () => void,
  ) {}

  /** False when the kernel has no devlink family: the state then has no devlink part. */
  async open(): Promise<boolean> {
    const opts = this.netns === undefined ? {} : { netns: this.netns }
    try {
      this.client = await openDevlink(opts)
    } catch (e) {
      if (e instanceof FamilyNotFoundError) return false
      throw e
    }
    this.events = devlinkEvents$(opts).subscribe({
      next: (e) => {
        if (e.type === 'overrun') this.onLost()
        else if (e.type !== 'other' || e.handle !== '') this.queue.ask(instanceOf(e), undefined)
      },
      error: () => this.onLost(),
    })
    return true
  }

  /** Every instance, read afresh. */
  async all(): Promise<DevlinkInstance[]> {
    const c = this.client
    if (!c) return []
    const devices = await c.devices.list()
    const found = await Promise.all(devices.map((d) => this.query(d.handle)))
    return found.filter((d): d is DevlinkInstance => d !== undefined)
  }

  private async query(handle: string): Promise<DevlinkInstance | undefined> {
    const c = this.client
    if (!c) return undefined
    let device: DevlinkDevice
    try {
      device = await c.devices.get(handle)
    } catch {
      return undefined // gone (or going): its deletion notification follows or a resync will tell
    }
    const [ports, params, health] = await Promise.all([
      c.ports.list(handle),
      c.params.list(handle).catch(() => []),
      c.health.list(handle).catch(() => []),
    ])
    return { handle, device, ports, params, health }
  }

  close(): void {
    this.queue.close()
    this.events?.unsubscribe()
    this.client?.close()
  }
}
