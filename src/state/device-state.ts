import { distinctUntilChanged, map, Observable, ReplaySubject, share } from 'rxjs'
import type { Address, Link } from '../netlink/route/index.ts'
import { NETLINK_ROUTE, NetlinkSocket } from '../netlink/socket/index.ts'
import type { NetnsRef } from '../netlink/sys/index.ts'
import { deepEqual } from './equal.ts'
import { addressSource, linkSource, type StateSource } from './sources.ts'

/** An immutable snapshot of a namespace's devices. */
export interface DeviceState {
  /** Links by ifindex. */
  readonly links: ReadonlyMap<number, Link>
  /** Addresses by `index/address/prefixLength`. */
  readonly addresses: ReadonlyMap<string, Address>
}

/** One change between two snapshots. */
export type StateChange =
  | { kind: 'link'; op: 'add' | 'change' | 'del'; key: string; before?: Link; after?: Link }
  | { kind: 'address'; op: 'add' | 'change' | 'del'; key: string; before?: Address; after?: Address }

export interface StateUpdate {
  readonly state: DeviceState
  readonly changes: readonly StateChange[]
  /**
   * Why this snapshot was made: the first one (`initial`), notifications (`event`), or a re-dump
   * after notifications were lost (`resync`: overrun or an interrupted dump).
   */
  readonly reason: 'initial' | 'event' | 'resync'
  /** Increases by one per emission. */
  readonly seq: number
}

export interface DeviceStateOptions {
  netns?: NetnsRef
  /** Receive buffer of the notification socket (default 4 MiB). */
  receiveBuffer?: number
}

type Collections = { links: Map<string, Link>; addresses: Map<string, Address> }
type Kind = keyof Collections
const KIND: Record<Kind, StateChange['kind']> = { links: 'link', addresses: 'address' }
const SOURCES: { [K in Kind]: StateSource<Collections[K] extends Map<string, infer V> ? V : never> } = {
  links: linkSource,
  addresses: addressSource,
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
  const key = JSON.stringify([options.netns ?? null, options.receiveBuffer ?? null])
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

class StateStore {
  private dumps: NetlinkSocket | undefined
  private events: NetlinkSocket | undefined
  private state: Collections = { links: new Map(), addresses: new Map() }
  private pending: StateChange[] = []
  /** Notifications received while a dump is running: applied after it. */
  private buffered: Array<() => void> | undefined
  private resyncWanted = false
  /** Notifications queued before a re-dump describe older states than the dump: dropped. */
  private discarding = false
  private resyncing = false
  private flushScheduled = false
  private seq = 0
  private stopped = false
  private subscription: { unsubscribe(): void } | undefined

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
      const groups = Object.values(SOURCES).flatMap((s) => s.groups)
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
    this.subscription?.unsubscribe()
    this.events?.close()
    this.dumps?.close()
  }

  private onMessage(m: Parameters<StateSource<unknown>['fromMessage']>[0]): void {
    if (this.discarding) return
    for (const kind of Object.keys(SOURCES) as Kind[]) {
      let r: ReturnType<StateSource<unknown>['fromMessage']>
      try {
        r = SOURCES[kind].fromMessage(m)
      } catch {
        // An undecodable notification means our view may be wrong: start over from a dump.
        this.requestResync()
        return
      }
      if (!r) continue
      const apply = () => this.apply(kind, r.op, r.value as never)
      if (this.buffered) this.buffered.push(apply)
      else {
        apply()
        this.scheduleFlush()
      }
      return
    }
  }

  private apply<K extends Kind>(
    kind: K,
    op: 'set' | 'del',
    value: Collections[K] extends Map<string, infer V> ? V : never,
  ): void {
    const coll = this.state[kind] as Map<string, typeof value>
    const source = SOURCES[kind] as StateSource<typeof value>
    const key = source.key(value)
    const before = coll.get(key)
    if (op === 'del') {
      if (!before) return
      coll.delete(key)
      this.pending.push({ kind: KIND[kind], op: 'del', key, before } as unknown as StateChange)
    } else {
      if (before && deepEqual(before, value)) return
      coll.set(key, value)
      this.pending.push({
        kind: KIND[kind],
        op: before ? 'change' : 'add',
        key,
        before,
        after: value,
      } as StateChange)
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
      const fresh: Collections = { links: new Map(), addresses: new Map() }
      for (const kind of Object.keys(SOURCES) as Kind[]) {
        const source = SOURCES[kind] as StateSource<unknown>
        // An inconsistent dump is fine here: every change that made it so is also among the
        // notifications buffered meanwhile, and those are applied on top of it below.
        const msgs = await this.dumps.dump(source.dumpRequest(), `state.${source.name}`, {
          acceptInterrupted: true,
        })
        const coll = fresh[kind] as Map<string, unknown>
        for (const m of msgs) {
          const r = source.fromMessage(m)
          if (r?.op === 'set') coll.set(source.key(r.value), r.value)
        }
      }
      if (this.stopped) return
      // Diff the old view against the dump, then let buffered notifications bring it up to date.
      const old = this.state
      this.state = { links: new Map(old.links), addresses: new Map(old.addresses) }
      for (const kind of Object.keys(SOURCES) as Kind[]) {
        const now = fresh[kind] as Map<string, never>
        for (const [key, v] of old[kind] as Map<string, never>) if (!now.has(key)) this.apply(kind, 'del', v)
        for (const v of now.values()) this.apply(kind, 'set', v)
      }
      const buffered = this.buffered
      this.buffered = undefined
      for (const apply of buffered) apply()
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
    // The maps handed out are never mutated again: the store copies before changing.
    const state: DeviceState = {
      links: toIndexMap(this.state.links),
      addresses: new Map(this.state.addresses),
    }
    this.state = { links: new Map(this.state.links), addresses: new Map(this.state.addresses) }
    this.emit({ state, changes, reason, seq: ++this.seq })
  }
}

function toIndexMap(m: Map<string, Link>): Map<number, Link> {
  const out = new Map<number, Link>()
  for (const l of m.values()) out.set(l.index, l)
  return out
}
