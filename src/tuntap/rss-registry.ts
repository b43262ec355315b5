import { Observable, Subject } from 'rxjs'
import type { NetnsRef } from '../netlink/sys/index.ts'
import type { TapRssStatus } from './tap-rss.ts'

/** The RSS of one tap managed through rxnetlink in this process. */
export interface ManagedTapRss {
  /** The namespace the tap was opened in, as the caller named it. */
  netns: NetnsRef | undefined
  index: number
  name: string
  /** undefined: RSS was detached, or the tap closed. */
  status: TapRssStatus | undefined
}

const current = new Map<string, ManagedTapRss>()
const changes = new Subject<ManagedTapRss>()

const keyOf = (netns: NetnsRef | undefined, ifindex: number) => `${JSON.stringify(netns ?? null)}/${ifindex}`

/** Whether a tap's namespace is the one a watcher names (same spelling: name, path or fd). */
export function sameNetns(a: NetnsRef | undefined, b: NetnsRef | undefined): boolean {
  return JSON.stringify(a ?? null) === JSON.stringify(b ?? null)
}

/** @internal Called by `tap.rss` whenever what is in force changes. */
export function publishTapRss(entry: ManagedTapRss): void {
  const key = keyOf(entry.netns, entry.index)
  if (entry.status) current.set(key, entry)
  else current.delete(key)
  changes.next(entry)
}

/**
 * Taps whose RSS this process manages: the current ones, then every change. The device state
 * (`deviceState$`) shows them per link; this is for code that wants them alone.
 */
export function managedTapRss$(): Observable<ManagedTapRss> {
  return new Observable<ManagedTapRss>((subscriber) => {
    const sub = changes.subscribe(subscriber)
    for (const e of [...current.values()]) subscriber.next(e)
    return sub
  })
}
