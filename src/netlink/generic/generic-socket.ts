import { filter, map, Observable } from 'rxjs'
import {
  type AttrDecls,
  type AttrSet,
  type AttrValues,
  decodeMessage,
  encodeRequest,
  type MessageSpec,
  messageSpec,
  NetlinkError,
  type NetlinkMessage,
  noAttrs,
} from '../codec/index.ts'
import { NETLINK_GENERIC, type NetlinkEvent, NetlinkSocket, type SocketOptions } from '../socket/index.ts'
import { Errno } from '../sys/index.ts'
import { CTRL_CMD, ctrlMessage, GENL_ID_CTRL, genlmsghdr } from './nlctrl.ts'

/** What nlctrl says about a family on this kernel. */
export interface GenericFamily {
  name: string
  id: number
  version: number
  /** Operation (command) number → what it allows. */
  ops: Map<number, { doit: boolean; dumpit: boolean; adminPerm: boolean }>
  /** Multicast group name → id. */
  groups: Map<string, number>
}

/** The family is not registered in this kernel (module not loaded or not built). */
export class FamilyNotFoundError extends Error {
  override readonly name = 'FamilyNotFoundError'
  constructor(readonly family: string) {
    super(`generic netlink family '${family}' is not available in this kernel`)
  }
}

export async function resolveFamily(sock: NetlinkSocket, name: string): Promise<GenericFamily> {
  const req = encodeRequest(
    ctrlMessage,
    GENL_ID_CTRL,
    0,
    { cmd: CTRL_CMD.GETFAMILY, version: 2 },
    { familyName: name },
  )
  let replies: Awaited<ReturnType<NetlinkSocket['request']>>
  try {
    replies = await sock.request(req, `nlctrl.getfamily(${name})`)
  } catch (e) {
    if (e instanceof NetlinkError && e.errno === Errno.ENOENT) throw new FamilyNotFoundError(name)
    throw e
  }
  const reply = replies[0]
  if (!reply) throw new FamilyNotFoundError(name)
  const { attrs } = decodeMessage(ctrlMessage, reply)
  const ops = new Map<number, { doit: boolean; dumpit: boolean; adminPerm: boolean }>()
  for (const op of attrs.ops ?? []) {
    if (op.id === undefined) continue
    const flags = op.flags ?? []
    ops.set(op.id, {
      doit: flags.includes('cmdCapDo'),
      dumpit: flags.includes('cmdCapDump'),
      adminPerm: flags.includes('adminPerm') || flags.includes('unsAdminPerm'),
    })
  }
  const groups = new Map<string, number>()
  for (const g of attrs.mcastGroups ?? []) if (g.name && g.id !== undefined) groups.set(g.name, g.id)
  return { name, id: attrs.familyId ?? 0, version: attrs.version ?? 1, ops, groups }
}

/**
 * A socket bound to one generic netlink family: commands by number, attributes by the family's
 * declared set, notifications by multicast group name.
 */
export class GenericSocket<D extends AttrDecls> {
  private constructor(
    readonly sock: NetlinkSocket,
    readonly family: GenericFamily,
    readonly attrs: AttrSet<D>,
  ) {}

  /** Opens a socket and resolves the family by name; FamilyNotFoundError when the kernel lacks it. */
  static async open<D extends AttrDecls>(
    name: string,
    attrs: AttrSet<D>,
    options: SocketOptions = {},
  ): Promise<GenericSocket<D>> {
    const sock = new NetlinkSocket(NETLINK_GENERIC, options)
    try {
      return new GenericSocket(sock, await resolveFamily(sock, name), attrs)
    } catch (e) {
      sock.close()
      throw e
    }
  }

  /** Whether the running kernel implements a command (for probing optional operations). */
  supports(cmd: number, how: 'do' | 'dump' = 'do'): boolean {
    const op = this.family.ops.get(cmd)
    return !!op && (how === 'do' ? op.doit : op.dumpit)
  }

  /** Sends one command and returns the decoded replies (after the ack). */
  async request(
    cmd: number,
    attrs: AttrValues<D>,
    operation: string,
    flags = 0,
  ): Promise<Array<AttrValues<D>>> {
    return this.requestAs(this.attrs, cmd, attrs, operation, flags)
  }

  /** Sends a dump request for a command and returns every decoded reply. */
  async dump(cmd: number, attrs: AttrValues<D>, operation: string): Promise<Array<AttrValues<D>>> {
    return this.dumpAs(this.attrs, cmd, attrs, operation)
  }

  /**
   * A request whose attributes follow another declared set than the socket's own. Families such
   * as ethtool give every message kind its own attribute space (channels, rings, RSS, …).
   */
  async requestAs<E extends AttrDecls>(
    set: AttrSet<E>,
    cmd: number,
    attrs: AttrValues<E>,
    operation: string,
    flags = 0,
  ): Promise<Array<AttrValues<E>>> {
    const spec = specFor(set)
    const req = encodeRequest(spec, this.family.id, flags, { cmd, version: this.family.version }, attrs)
    const replies = await this.sock.request(req, operation)
    // Some families answer a request in several parts closed by NLMSG_DONE (devlink's fmsg and
    // resource replies); only the family's own messages carry attributes.
    return replies.filter((m) => m.type === this.family.id).map((m) => decodeMessage(spec, m).attrs)
  }

  /** As `dump`, decoding the replies with another attribute set. */
  async dumpAs<E extends AttrDecls>(
    set: AttrSet<E>,
    cmd: number,
    attrs: AttrValues<E>,
    operation: string,
  ): Promise<Array<AttrValues<E>>> {
    const spec = specFor(set)
    const req = encodeRequest(spec, this.family.id, 0, { cmd, version: this.family.version }, attrs)
    const replies = await this.sock.dump(req, operation)
    return replies.map((m) => decodeMessage(spec, m).attrs)
  }

  /**
   * Notifications of the named groups as raw messages with their command, for families whose
   * messages are decoded by command (see `decodeGeneric`).
   */
  rawNotifications(groups: readonly string[]): Observable<RawGenericEvent> {
    const ids = groups.map((g) => {
      const id = this.family.groups.get(g)
      if (id === undefined) throw new Error(`family ${this.family.name} has no multicast group '${g}'`)
      return id
    })
    return this.sock.notifications(ids).pipe(
      filter((e: NetlinkEvent) => e.kind === 'overrun' || e.message.type === this.family.id),
      map((e): RawGenericEvent => {
        if (e.kind === 'overrun') return { kind: 'overrun' }
        return { kind: 'message', cmd: e.message.payload[0] ?? 0, message: e.message }
      }),
    )
  }

  /** Notifications of the named multicast groups, decoded; `overrun` when some were lost. */
  notifications(groups: readonly string[]): Observable<GenericEvent<D>> {
    return this.rawNotifications(groups).pipe(map((e) => decodeEvent(this.attrs, e)))
  }

  /** Closes the socket. */
  close(): void {
    this.sock.close()
  }

  /** Closes the socket (`using`). */
  [Symbol.dispose](): void {
    this.close()
  }
}

export type RawGenericEvent = { kind: 'message'; cmd: number; message: NetlinkMessage } | { kind: 'overrun' }

const specs = new WeakMap<object, MessageSpec<typeof genlmsghdr.fields, AttrDecls>>()
function specFor<E extends AttrDecls>(set: AttrSet<E>): MessageSpec<typeof genlmsghdr.fields, E> {
  let s = specs.get(set)
  if (!s) {
    s = messageSpec(genlmsghdr, set as unknown as AttrSet<AttrDecls>)
    specs.set(set, s)
  }
  return s as unknown as MessageSpec<typeof genlmsghdr.fields, E>
}

/** Decodes a generic netlink message's attributes (after the genlmsghdr) with a declared set. */
export function decodeGeneric<E extends AttrDecls>(set: AttrSet<E>, message: NetlinkMessage): AttrValues<E> {
  return decodeMessage(specFor(set), message).attrs
}

export type GenericEvent<D extends AttrDecls> =
  | { kind: 'message'; cmd: number; attrs: AttrValues<D> }
  | { kind: 'overrun' }

function decodeEvent<D extends AttrDecls>(attrs: AttrSet<D>, e: RawGenericEvent): GenericEvent<D> {
  return e.kind === 'overrun' ? e : { kind: 'message', cmd: e.cmd, attrs: decodeGeneric(attrs, e.message) }
}

/**
 * A cold Observable of a family's notifications on a socket of its own (opened on subscribe,
 * closed on unsubscribe), each raw message or overrun made into an event by `toEvent`.
 */
export function rawNotifications$<T>(
  name: string,
  groups: readonly string[],
  toEvent: (e: RawGenericEvent) => T,
  options: SocketOptions = {},
): Observable<T> {
  return new Observable<T>((subscriber) => {
    let gs: GenericSocket<Record<string, never>> | undefined
    let closed = false
    let inner: { unsubscribe(): void } | undefined
    GenericSocket.open(name, noAttrs, { receiveBuffer: 4 * 1024 * 1024, ...options }).then(
      (s) => {
        if (closed) return s.close()
        gs = s
        inner = s.rawNotifications(groups).pipe(map(toEvent)).subscribe(subscriber)
      },
      (e: unknown) => subscriber.error(e),
    )
    return () => {
      closed = true
      inner?.unsubscribe()
      gs?.close()
    }
  })
}

/** A cold Observable of a family's notifications, decoded with one attribute set. */
export function genericNotifications$<D extends AttrDecls>(
  name: string,
  attrs: AttrSet<D>,
  groups: readonly string[],
  options: SocketOptions = {},
): Observable<GenericEvent<D>> {
  return rawNotifications$(name, groups, (e) => decodeEvent(attrs, e), options)
}
