import { distinctUntilChanged, map, Observable, ReplaySubject, share } from 'rxjs'
import type { Rss } from '../ethtool/index.ts'
import type { NetlinkMessage } from '../netlink/codec/index.ts'
import type { Address, Link } from '../netlink/route/index.ts'
import type { Filter, Qdisc, TcClass } from '../netlink/route/tc/index.ts'
import { NETLINK_ROUTE, NetlinkSocket } from '../netlink/socket/index.ts'
import type { NetnsRef } from '../netlink/sys/index.ts'
import { type ManagedTapRss, managedTapRss$, sameNetns } from '../tuntap/rss-registry.ts'
import type { TapRssStatus } from '../tuntap/tap-rss.ts'
import { type DevlinkInstance, DevlinkTracker } from './devlink-tracker.ts'
import { deepEqual } from './equal.ts'
import { type DeviceEthtool, EthtoolTracker } from './ethtool-tracker.ts'
import { type CollectionName, emptyCollections, type Names, SOURCES, type StateSource } from './sources.ts'

/** An immutable snapshot of a namespace's devices. */
export interface DeviceState {
  /** Links by ifindex. */
  readonly links: ReadonlyMap<number, Link>
  /** Addresses by `index/address/prefixLength`. */
  readonly addresses: ReadonlyMap<string, Address>
  /** Qdiscs by `index/handle/parent`. */
  readonly qdiscs: ReadonlyMap<string, Qdisc>
  /** Classes by `index/classid`. */
  readonly classes: ReadonlyMap<string, TcClass>
  /** Filters by `index/parent/chain/pref/protocol/handle` (handle `-` for the classifier itself). */
  readonly filters: ReadonlyMap<string, Filter>
  /** ethtool channels and RSS by ifindex, for devices that have either. */
  readonly ethtool: ReadonlyMap<number, DeviceEthtool>
  /** devlink instances by handle (`bus/device`), with ports, parameters and health reporters. */
  readonly devlink: ReadonlyMap<string, DevlinkInstance>
  /** RSS of taps managed through rxnetlink in this process, by ifindex: back end and configuration. */
  readonly tapRss: ReadonlyMap<number, ManagedTapRss>
  /** Which optional parts this kernel (and the options) let the state track. */
  readonly tracks: { readonly ethtool: boolean; readonly devlink: boolean }
}

type Item = {
  link: Link
  address: Address
  qdisc: Qdisc
  class: TcClass
  filter: Filter
  ethtool: DeviceEthtool
  devlink: DevlinkInstance
  tapRss: ManagedTapRss
}
const KIND = {
  links: 'link',
  addresses: 'address',
  qdiscs: 'qdisc',
  classes: 'class',
  filters: 'filter',
  ethtool: 'ethtool',
  devlink: 'devlink',
  tapRss: 'tapRss',
} as const satisfies Record<CollectionName, keyof Item>

/** One change between two snapshots. */
export type StateChange = {
  [K in keyof Item]: { kind: K; op: 'add' | 'change' | 'del'; key: string; before?: Item[K]; after?: Item[K] }
}[keyof Item]

/** One emission of `deviceState$`: the snapshot, what changed since the previous one, and why. */
export interface StateUpdate {
  readonly state: DeviceState
  readonly changes: readonly StateChange[]
  /**
   * Why this snapshot was made: the first one (`initial`), notifications (`event`), or a re-dump
   * after notifications were lost (`resync`: a receive-buffer overrun or an undecodable one).
   */
  readonly reason: 'initial' | 'event' | 'resync'
  /** Increases by one per emission. */
  readonly seq: number
}

/** Where `deviceState$` watches and what it tracks. */
export interface DeviceStateOptions {
  netns?: NetnsRef
  /** Receive buffer of the notification socket (default 4 MiB). */
  receiveBuffer?: number
  /** Track ethtool channels and RSS per device (default true). */
  ethtool?: boolean
  /** Track devlink instances when the kernel has devlink (default true). */
  devlink?: boolean
}

const registry = new Map<string, Observable<StateUpdate>>()

/**
 * The device state of a namespace as a stream of snapshots. Subscribing joins the rtnetlink
 * groups first, then dumps, then applies what arrived during the dump, so nothing is missed or
 * applied twice; lost notifications (ENOBUFS) trigger a re-dump whose result is emitted with
 * `reason: 'resync'`. Subscribers with the same options share one set of sockets, closed when
 * the last one unsubscribes; a late subscriber gets the current snapshot at once.
 */
export function deviceState$(options: DeviceStateOptions = {}): Observable<StateUpdate> {
  const key = JSON.stringify([
    options.netns ?? null,
    options.receiveBuffer ?? null,
    options.ethtool ?? true,
    options.devlink ?? true,
  ])
  let shared = registry.get(key)
  if (!shared) {
    shared = new Observable<StateUpdate>((subscriber) => {
      const store = new StateStore(
        options,
        (u) => subscriber.next(u),
        (e) => subscriber.error(e),
      )
      store.start()
      return () => store.stop()
    }).pipe(
      share({
        connector: () => new ReplaySubject<StateUpdate>(1),
        resetOnError: true,
        resetOnComplete: true,
        resetOnRefCountZero: true,
      }),
    )
    registry.set(key, shared)
  }
  return shared
}

/** Where a device's RSS comes from: a tap this process steers, or the NIC (ethtool). */
export type DeviceRss =
  | { source: 'tap'; backend: TapRssStatus['backend']; status: TapRssStatus }
  | { source: 'ethtool'; rss: Rss }

/** One device's RSS by name, re-emitted only when it changes (undefined: none, or no device). */
export function rss$(name: string, options: DeviceStateOptions = {}): Observable<DeviceRss | undefined> {
  return deviceState$(options).pipe(
    map((u): DeviceRss | undefined => {
      const link = [...u.state.links.values()].find((l) => l.name === name)
      if (!link) return undefined
      const tap = u.state.tapRss.get(link.index)?.status
      if (tap) return { source: 'tap', backend: tap.backend, status: tap }
      const rss = u.state.ethtool.get(link.index)?.rss
      return rss ? { source: 'ethtool', rss } : undefined
    }),
    distinctUntilChanged((a, b) => deepEqual(a, b)),
  )
}

/** One link by name, re-emitted only when it changes (undefined while it does not exist). */
export function link$(name: string, options: DeviceStateOptions = {}): Observable<Link | undefined> {
  return deviceState$(options).pipe(
    map((u) => [...u.state.links.values()].find((l) => l.name === name)),
    distinctUntilChanged((a, b) => deepEqual(a, b)),
  )
}

/**
 * What ethtool and devlink report enters the state through the same change machinery as
 * rtnetlink notifications, from sources that neither dump nor decode messages themselves.
 */
const queried = <T>(name: 'ethtool' | 'devlink' | 'tapRss', key: (v: T) => string): StateSource<unknown> =>
  ({
    name,
    groups: [],
    dump: async () => [],
    key,
    fromMessage: () => undefined,
  }) as StateSource<T> as StateSource<unknown>
const ethtoolSource = queried<DeviceEthtool>('ethtool', (e) => String(e.index))
const devlinkSource = queried<DevlinkInstance>('devlink', (d) => d.handle)
const tapRssSource = queried<ManagedTapRss>('tapRss', (t) => String(t.index))

type ByIndex = 'links' | 'ethtool' | 'tapRss'
const isByIndex = (name: CollectionName): name is ByIndex =>
  name === 'links' || name === 'ethtool' || name === 'tapRss'

class StateStore {
  private dumps: NetlinkSocket | undefined
  private events: NetlinkSocket | undefined
  private state = emptyCollections()
  private pending: StateChange[] = []
  /** Notifications received while a dump is running: applied after it. */
  private buffered: NetlinkMessage[] | undefined
  private resyncWanted = false
  private resyncing = false
  /** Notifications queued before a re-dump describe older states than the dump: dropped. */
  private discarding = false
  private flushScheduled = false
  private seq = 0
  private stopped = false
  private subscription: { unsubscribe(): void } | undefined
  private ethtool: EthtoolTracker | undefined
  private devlink: DevlinkTracker | undefined
  private tracks = { ethtool: false, devlink: false }
  /** The snapshot's views of links and ethtool, keyed by ifindex, kept alongside. */
  private byIndex: {
    links: Map<number, Link>
    ethtool: Map<number, DeviceEthtool>
    tapRss: Map<number, ManagedTapRss>
  } = { links: new Map(), ethtool: new Map(), tapRss: new Map() }
  private tapRssSub: { unsubscribe(): void } | undefined
  /** Maps a snapshot holds: copied before their next change. */
  private readonly shared = new Set<string>()
  private readonly names: Names = (i) => this.state.links.get(String(i))?.name ?? ''

  constructor(
    private readonly options: DeviceStateOptions,
    private readonly emit: (u: StateUpdate) => void,
    private readonly fail: (e: unknown) => void,
  ) {}

  start(): void {
    try {
      // Join the groups before dumping: whatever changes during the dump is then buffered.
      this.events = new NetlinkSocket(NETLINK_ROUTE, {
        netns: this.options.netns,
        receiveBuffer: this.options.receiveBuffer ?? 4 * 1024 * 1024,
      })
      const groups = [...new Set(SOURCES.flatMap((s) => s.groups))]
      this.subscription = this.events.notifications(groups).subscribe({
        next: (e) => {
          if (e.kind === 'overrun') this.requestResync()
          else this.onMessage(e.message)
        },
        error: (e: unknown) => this.fail(e),
      })
    } catch (e) {
      this.fail(e)
      return
    }
    void this.load('initial')
  }

  stop(): void {
    this.stopped = true
    this.ethtool?.close()
    this.devlink?.close()
    this.tapRssSub?.unsubscribe()
    this.subscription?.unsubscribe()
    this.events?.close()
    this.dumps?.close()
  }

  private onMessage(m: NetlinkMessage): void {
    if (this.discarding) return
    if (this.buffered) {
      this.buffered.push(m)
      return
    }
    if (this.applyMessage(m)) this.scheduleFlush()
  }

  /** Applies one notification; false if it was not one of ours or could not be read. */
  private applyMessage(m: NetlinkMessage): boolean {
    for (const source of SOURCES) {
      let r: ReturnType<StateSource<unknown>['fromMessage']>
      try {
        r = source.fromMessage(m, this.names)
      } catch {
        // An undecodable notification means our view may be wrong: start over from a dump.
        this.requestResync()
        return false
      }
      if (!r) continue
      this.apply(source, r.op, r.value)
      return true
    }
    return false
  }

  /**
   * A collection to change. Snapshots share the store's maps until the store next changes one:
   * only then is that map copied, so an emission costs nothing for the collections it left alone.
   */
  private writable(name: CollectionName): Map<string, unknown> {
    if (this.shared.delete(name))
      this.state[name] = new Map(this.state[name] as Map<string, unknown>) as never
    return this.state[name] as Map<string, unknown>
  }

  /** The same, for the snapshot's maps keyed by ifindex. */
  private writableByIndex(name: ByIndex): Map<number, unknown> {
    if (this.shared.delete(`${name}#`))
      this.byIndex[name] = new Map(this.byIndex[name] as Map<number, unknown>) as never
    return this.byIndex[name] as Map<number, unknown>
  }

  private remove(name: CollectionName, key: string): void {
    this.writable(name).delete(key)
    if (isByIndex(name)) this.writableByIndex(name).delete(Number(key))
  }

  private apply(source: StateSource<unknown>, op: 'set' | 'del', value: unknown): void {
    const key = source.key(value)
    const before = (this.state[source.name] as Map<string, unknown>).get(key)
    const kind = KIND[source.name]
    if (op === 'del') {
      for (const [name, k] of source.cascade?.(value, this.state) ?? []) {
        const victim = (this.state[name] as Map<string, unknown>).get(k)
        if (victim === undefined || (name === source.name && k === key)) continue
        this.remove(name, k)
        this.pending.push({ kind: KIND[name], op: 'del', key: k, before: victim } as StateChange)
      }
      if (before === undefined) return
      this.remove(source.name, key)
      this.pending.push({ kind, op: 'del', key, before } as StateChange)
    } else {
      if (source.keep && !source.keep(value)) return
      if (before !== undefined && deepEqual(before, value)) return
      this.writable(source.name).set(key, value)
      if (isByIndex(source.name)) this.writableByIndex(source.name).set(Number(key), value)
      // ethtool announces its own changes; a link change only matters for a device ethtool has
      // not been asked about yet, or one known under another name.
      const l = value as Link
      if (source.name === 'links' && !this.buffered && (before as Link | undefined)?.name !== l.name)
        this.ethtool?.refresh(l.index, l.name)
      this.pending.push({ kind, op: before ? 'change' : 'add', key, before, after: value } as StateChange)
    }
  }

  private requestResync(): void {
    if (this.resyncWanted) return
    this.resyncWanted = true
    // Not from inside the socket's read loop: let it finish delivering what it has read.
    setImmediate(() => {
      if (!this.resyncing && !this.stopped) void this.load('resync')
    })
  }

  /** Dumps every source, then applies the notifications that came in meanwhile, then emits. */
  private async load(reason: 'initial' | 'resync'): Promise<void> {
    this.resyncing = true
    this.resyncWanted = false
    if (reason === 'resync') {
      this.discarding = true
      try {
        this.events?.flush()
      } finally {
        this.discarding = false
      }
    }
    this.buffered = []
    try {
      this.dumps ??= new NetlinkSocket(NETLINK_ROUTE, { netns: this.options.netns })
      const fresh = emptyCollections()
      const names: Names = (i) => fresh.links.get(String(i))?.name ?? ''
      for (const source of SOURCES) {
        // An inconsistent dump is fine here: every change that made it so is also among the
        // notifications buffered meanwhile, and those are applied on top of it below.
        const msgs = await source.dump(this.dumps, fresh)
        const coll = fresh[source.name] as Map<string, unknown>
        for (const m of msgs) {
          const r = source.fromMessage(m, names)
          if (r?.op === 'set' && (!source.keep || source.keep(r.value)))
            coll.set(source.key(r.value), r.value)
        }
      }
      if (this.stopped) return
      // Diff the old view against the dump, then let buffered notifications bring it up to date.
      for (const source of SOURCES) {
        const now = fresh[source.name] as Map<string, unknown>
        for (const [key, v] of this.state[source.name] as Map<string, unknown>) {
          if (now.has(key)) continue
          this.remove(source.name, key)
          this.pending.push({ kind: KIND[source.name], op: 'del', key, before: v } as StateChange)
        }
        for (const v of now.values()) this.apply(source, 'set', v)
      }
      const buffered = this.buffered
      this.buffered = undefined
      for (const m of buffered) this.applyMessage(m)
      await this.loadEthtool()
      await this.loadDevlink()
      this.loadTapRss()
      if (this.stopped) return
      this.flush(reason, true)
    } catch (e) {
      this.buffered = undefined
      if (!this.stopped) this.fail(e)
      return
    } finally {
      this.resyncing = false
    }
    if (this.resyncWanted && !this.stopped) void this.load('resync')
  }

  /** Asks ethtool about every link (ethtool has no dump of everything). */
  private async loadEthtool(): Promise<void> {
    if (this.options.ethtool === false) return
    if (!this.ethtool) {
      const tracker = new EthtoolTracker(
        this.options.netns,
        (index, info) => this.onQueried(ethtoolSource, String(index), info),
        () => this.requestResync(),
      )
      if (!(await tracker.open())) return
      this.ethtool = tracker
      this.tracks = { ...this.tracks, ethtool: true }
    }
    const tracker = this.ethtool
    this.replaceAll(ethtoolSource, await tracker.all([...this.state.links.values()]))
  }

  private async loadDevlink(): Promise<void> {
    if (this.options.devlink === false) return
    if (!this.devlink) {
      const tracker = new DevlinkTracker(
        this.options.netns,
        (handle, instance) => this.onQueried(devlinkSource, handle, instance),
        () => this.requestResync(),
      )
      if (!(await tracker.open())) return
      this.devlink = tracker
      this.tracks = { ...this.tracks, devlink: true }
    }
    this.replaceAll(devlinkSource, await this.devlink.all())
  }

  /** Taps this process manages, from the registry that `tap.rss` keeps current. */
  private loadTapRss(): void {
    const mine = (t: ManagedTapRss) => sameNetns(t.netns, this.options.netns)
    if (!this.tapRssSub) {
      const initial: ManagedTapRss[] = []
      let starting = true
      this.tapRssSub = managedTapRss$().subscribe((t) => {
        if (!mine(t)) return
        if (starting) initial.push(t)
        else this.onQueried(tapRssSource, String(t.index), t.status ? t : undefined)
      })
      starting = false
      this.replaceAll(
        tapRssSource,
        initial.filter((t) => this.state.links.has(String(t.index))),
      )
      return
    }
    // After a resync: keep only taps whose links still exist.
    this.replaceAll(
      tapRssSource,
      [...(this.state.tapRss.values() as Iterable<ManagedTapRss>)].filter((t) =>
        this.state.links.has(String(t.index)),
      ),
    )
  }

  /** Makes a queried collection hold exactly these items. */
  private replaceAll(source: StateSource<unknown>, items: readonly unknown[]): void {
    const seen = new Set<string>()
    for (const v of items) {
      seen.add(source.key(v))
      this.apply(source, 'set', v)
    }
    for (const [k, v] of this.state[source.name] as Map<string, unknown>)
      if (!seen.has(k)) this.apply(source, 'del', v)
  }

  /** A fresh answer about one object (undefined: it has nothing to report, or is gone). */
  private onQueried(source: StateSource<unknown>, key: string, value: unknown): void {
    if (this.stopped || this.buffered) return
    const before = (this.state[source.name] as Map<string, unknown>).get(key)
    // ethtool and tap RSS are about links: one that vanished meanwhile must not come back through it.
    const alive = source === devlinkSource || this.state.links.has(key)
    if (value !== undefined && alive) this.apply(source, 'set', value)
    else if (before !== undefined) this.apply(source, 'del', before)
    this.scheduleFlush()
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return
    this.flushScheduled = true
    // Everything one socket read delivered becomes one snapshot.
    setImmediate(() => {
      this.flushScheduled = false
      if (!this.stopped && !this.buffered) this.flush('event', false)
    })
  }

  private flush(reason: StateUpdate['reason'], always: boolean): void {
    if (!always && this.pending.length === 0) return
    const changes = this.pending
    this.pending = []
    // The maps handed out are never mutated again: the store copies one before changing it.
    const { addresses, qdiscs, classes, filters, devlink } = this.state
    const state: DeviceState = {
      links: this.byIndex.links,
      addresses,
      qdiscs,
      classes,
      filters,
      ethtool: this.byIndex.ethtool,
      tapRss: this.byIndex.tapRss,
      devlink: devlink as ReadonlyMap<string, DevlinkInstance>,
      tracks: this.tracks,
    }
    for (const name of Object.keys(KIND)) this.shared.add(name)
    this.shared.add('links#')
    this.shared.add('ethtool#')
    this.shared.add('tapRss#')
    this.emit({ state, changes, reason, seq: ++this.seq })
  }
}
