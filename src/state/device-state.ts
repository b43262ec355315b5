import { distinctUntilChanged, map, Observable, ReplaySubject, share } from 'rxjs'
import type { NetlinkMessage } from '../netlink/codec/index.ts'
import type { Address, Link } from '../netlink/route/index.ts'
import type { Filter, Qdisc, TcClass } from '../netlink/route/tc/index.ts'
import { NETLINK_ROUTE, NetlinkSocket } from '../netlink/socket/index.ts'
import type { NetnsRef } from '../netlink/sys/index.ts'
import { deepEqual } from './equal.ts'
import { type DeviceEthtool, EthtoolTracker } from './ethtool-tracker.ts'
import {
  type CollectionName,
  type Collections,
  emptyCollections,
  type Names,
  SOURCES,
  type StateSource,
} from './sources.ts'

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
}

type Item = {
  link: Link
  address: Address
  qdisc: Qdisc
  class: TcClass
  filter: Filter
  ethtool: DeviceEthtool
}
const KIND = {
  links: 'link',
  addresses: 'address',
  qdiscs: 'qdisc',
  classes: 'class',
  filters: 'filter',
  ethtool: 'ethtool',
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
  const key = JSON.stringify([options.netns ?? null, options.receiveBuffer ?? null, options.ethtool ?? true])
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

/** One link by name, re-emitted only when it changes (undefined while it does not exist). */
export function link$(name: string, options: DeviceStateOptions = {}): Observable<Link | undefined> {
  return deviceState$(options).pipe(
    map((u) => [...u.state.links.values()].find((l) => l.name === name)),
    distinctUntilChanged((a, b) => deepEqual(a, b)),
  )
}

const copy = (c: Collections): Collections => ({
  links: new Map(c.links),
  addresses: new Map(c.addresses),
  qdiscs: new Map(c.qdiscs),
  classes: new Map(c.classes),
  filters: new Map(c.filters),
  ethtool: new Map(c.ethtool),
})

/** ethtool results enter the state through the same change machinery as kernel notifications. */
const ethtoolSource: StateSource<DeviceEthtool> = {
  name: 'ethtool',
  groups: [],
  dump: async () => [],
  key: (e) => String(e.index),
  fromMessage: () => undefined,
}

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

  private apply(source: StateSource<unknown>, op: 'set' | 'del', value: unknown): void {
    const coll = this.state[source.name] as Map<string, unknown>
    const key = source.key(value)
    const before = coll.get(key)
    const kind = KIND[source.name]
    if (op === 'del') {
      for (const [name, k] of source.cascade?.(value, this.state) ?? []) {
        const victim = (this.state[name] as Map<string, unknown>).get(k)
        if (victim === undefined || (name === source.name && k === key)) continue
        ;(this.state[name] as Map<string, unknown>).delete(k)
        this.pending.push({ kind: KIND[name], op: 'del', key: k, before: victim } as StateChange)
      }
      if (before === undefined) return
      coll.delete(key)
      this.pending.push({ kind, op: 'del', key, before } as StateChange)
    } else {
      if (source.keep && !source.keep(value)) return
      if (before !== undefined && deepEqual(before, value)) return
      coll.set(key, value)
      if (source.name === 'links' && !this.buffered) {
        const l = value as Link
        this.ethtool?.refresh(l.index, l.name)
      }
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
      const old = this.state
      this.state = copy(old)
      for (const source of SOURCES) {
        const now = fresh[source.name] as Map<string, unknown>
        const coll = this.state[source.name] as Map<string, unknown>
        for (const [key, v] of old[source.name] as Map<string, unknown>) {
          if (now.has(key)) continue
          coll.delete(key)
          this.pending.push({ kind: KIND[source.name], op: 'del', key, before: v } as StateChange)
        }
        for (const v of now.values()) this.apply(source, 'set', v)
      }
      const buffered = this.buffered
      this.buffered = undefined
      for (const m of buffered) this.applyMessage(m)
      await this.loadEthtool()
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
        (index, info) => this.onEthtool(index, info),
        () => this.requestResync(),
      )
      if (!(await tracker.open())) return
      this.ethtool = tracker
    }
    const tracker = this.ethtool
    const links = [...this.state.links.values()]
    const results = await Promise.all(links.map((l) => tracker.query(l.index, l.name)))
    const seen = new Set<string>()
    links.forEach((l, i) => {
      const r = results[i]
      if (!r) return
      seen.add(String(l.index))
      this.apply(ethtoolSource as StateSource<unknown>, 'set', r)
    })
    for (const [k, v] of this.state.ethtool)
      if (!seen.has(k)) this.apply(ethtoolSource as StateSource<unknown>, 'del', v)
  }

  private onEthtool(index: number, info: DeviceEthtool | undefined): void {
    if (this.stopped || this.buffered) return
    const before = this.state.ethtool.get(String(index))
    if (info && this.state.links.has(String(index)))
      this.apply(ethtoolSource as StateSource<unknown>, 'set', info)
    else if (before) this.apply(ethtoolSource as StateSource<unknown>, 'del', before)
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
    // The maps handed out are never mutated again: the store works on copies from here on.
    const links = new Map<number, Link>()
    for (const l of this.state.links.values()) links.set(l.index, l)
    const ethtool = new Map<number, DeviceEthtool>()
    for (const e of this.state.ethtool.values()) ethtool.set(e.index, e)
    const { addresses, qdiscs, classes, filters } = this.state
    const state: DeviceState = { links, addresses, qdiscs, classes, filters, ethtool }
    this.state = copy(this.state)
    this.emit({ state, changes, reason, seq: ++this.seq })
  }
}
