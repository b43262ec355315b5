import { Observable, Subject } from 'rxjs'
import {
  ackError,
  DecodeError,
  type EncodedRequest,
  type NetlinkMessage,
  NLM_F_ACK,
  NLM_F_DUMP,
  NLM_F_DUMP_INTR,
  NLM_F_REQUEST,
  NLMSG_DONE,
  NLMSG_ERROR,
  NLMSG_NOOP,
  NLMSG_OVERRUN,
  parseAck,
  parseMessages,
  stampRequest,
} from '../codec/index.ts'
import {
  AF_NETLINK,
  bind,
  closeFd,
  Errno,
  getsockname,
  getsockoptInt,
  inNetns,
  MSG_TRUNC,
  type NetnsRef,
  poller,
  recv,
  SO_RCVBUF,
  SO_RCVBUFFORCE,
  SO_SNDBUF,
  SO_SNDBUFFORCE,
  SOCK_CLOEXEC,
  SOCK_NONBLOCK,
  SOCK_RAW,
  SOL_NETLINK,
  SOL_SOCKET,
  SysError,
  sendInThread,
  sendTo,
  setsockoptInt,
  socket,
  trySetsockoptInt,
} from '../sys/index.ts'

/** The rtnetlink protocol (links, addresses, routes, tc). */
export const NETLINK_ROUTE = 0
/** The generic netlink protocol (ethtool, devlink, … resolved by family name). */
export const NETLINK_GENERIC = 16

const NETLINK_ADD_MEMBERSHIP = 1
const NETLINK_DROP_MEMBERSHIP = 2
const NETLINK_CAP_ACK = 10
const NETLINK_EXT_ACK = 11
const NETLINK_GET_STRICT_CHK = 12

const DUMP_RETRIES = 5
const RX_SIZE = 256 * 1024

/** How a NetlinkSocket is opened: namespace, buffer sizes, strict checking. */
export interface SocketOptions {
  /** Network namespace to open the socket in (default: the caller's). */
  netns?: NetnsRef
  /** Receive buffer in bytes (set with SO_RCVBUFFORCE when permitted). */
  receiveBuffer?: number
  sendBuffer?: number
  /** Ask the kernel to check requests strictly (NETLINK_GET_STRICT_CHK). Default true. */
  strict?: boolean
}

/** What a socket's multicast subscribers see. */
export type NetlinkEvent =
  | { kind: 'message'; message: NetlinkMessage }
  /** The receive buffer overflowed (ENOBUFS): notifications were lost; re-dump to resync. */
  | { kind: 'overrun' }

/** The socket was closed while a request was waiting. */
export class SocketClosedError extends Error {
  override readonly name = 'SocketClosedError'
  constructor(readonly operation: string) {
    super(`${operation}: the netlink socket was closed`)
  }
}

/** A dump stayed inconsistent (NLM_F_DUMP_INTR) through every retry. */
export class DumpInterruptedError extends Error {
  override readonly name = 'DumpInterruptedError'
  constructor(
    readonly operation: string,
    readonly attempts: number,
  ) {
    super(`${operation}: the dump was interrupted by concurrent changes ${attempts} times in a row`)
  }
}

/** Replies were lost because the receive buffer overflowed. */
export class OverrunError extends Error {
  override readonly name = 'OverrunError'
  constructor(readonly operation: string) {
    super(`${operation}: replies were lost (receive buffer overrun, ENOBUFS)`)
  }
}

/**
 * A batch's first datagram is this small, and each next one twice the last up to the largest: the
 * kernel starts on the first requests at once instead of idling while a whole datagram is encoded,
 * and each datagram it works on covers the encoding of the next, twice as large.
 */
const FIRST_DATAGRAM = 16 * 1024

/** One request of a batch: the kernel answers it only if it fails, or if it ends its datagram. */
interface BatchPart {
  op: string
  req: EncodedRequest
  chunk: BatchChunk
  index: number
  last: boolean
}
interface BatchChunk {
  seqs: number[]
  results: Array<Error | undefined>
  offset: number
  done(err?: Error): void
}

interface Pending {
  op: string
  req: EncodedRequest
  dump: boolean
  /** The replies, or what `decode` made of them. */
  replies: unknown[]
  decode: ((m: NetlinkMessage) => unknown) | undefined
  /** `decode` threw: reported when the dump ends, so its remaining replies are not strays. */
  error: Error | undefined
  interrupted: boolean
  acceptInterrupted: boolean
  attempts: number
  resolve(replies: unknown[]): void
  reject(err: Error): void
}

/** How a dump is run. */
export interface DumpOptions<T> {
  /**
   * Keep an interrupted dump (NLM_F_DUMP_INTR) instead of retrying it: a caller that also
   * listens to the family's notifications can repair the dump with them.
   */
  acceptInterrupted?: boolean
  /**
   * Decodes each reply as it arrives, while its datagram is still in the CPU's cache, instead of
   * all of them after the dump: the dump resolves to the decoded values, undefined ones dropped.
   * If it throws, the dump rejects with that error once the kernel has finished it.
   */
  decode?: (m: NetlinkMessage) => T | undefined
}

/**
 * A netlink socket. Requests and dumps are Promises matched to replies by sequence number, many
 * may be in flight; multicast notifications are an Observable. Knows nothing of families: it
 * moves encoded requests and raw messages.
 */
export class NetlinkSocket {
  readonly fd: number
  readonly portId: number
  private seq = 0
  private readonly pending = new Map<number, Pending>()
  private readonly batchParts = new Map<number, BatchPart>()
  private readonly events = new Subject<NetlinkEvent>()
  private listeners = 0
  private readonly groupRefs = new Map<number, number>()
  private unwatch: (() => void) | undefined
  private dumpQueue: Promise<unknown> = Promise.resolve()
  private closed = false
  /** Datagrams being sent from helper threads (batch). */
  private sending = 0
  /** The largest batch datagram, read on the first batch: the send buffer does not change after. */
  private maxDatagram: number | undefined
  private readonly rx = Buffer.allocUnsafe(RX_SIZE)

  constructor(
    readonly protocol: number,
    options: SocketOptions = {},
  ) {
    const fd = inNetns(options.netns, () =>
      socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol),
    )
    try {
      if (options.receiveBuffer) setBuffer(fd, SO_RCVBUFFORCE, SO_RCVBUF, options.receiveBuffer)
      if (options.sendBuffer) setBuffer(fd, SO_SNDBUFFORCE, SO_SNDBUF, options.sendBuffer)
      const addr = Buffer.alloc(12)
      addr.writeUInt16LE(AF_NETLINK, 0)
      bind(fd, addr)
      this.portId = getsockname(fd).readUInt32LE(4)
      trySetsockoptInt(fd, SOL_NETLINK, NETLINK_EXT_ACK, 1)
      trySetsockoptInt(fd, SOL_NETLINK, NETLINK_CAP_ACK, 1)
      if (options.strict !== false) trySetsockoptInt(fd, SOL_NETLINK, NETLINK_GET_STRICT_CHK, 1)
    } catch (e) {
      closeFd(fd)
      throw e
    }
    this.fd = fd
  }

  /** Sends a request with NLM_F_ACK; resolves to the replies that came before the ack. */
  request(req: EncodedRequest, operation: string): Promise<NetlinkMessage[]> {
    return this.start(req, operation, false) as Promise<NetlinkMessage[]>
  }

  /**
   * Sends a dump request; resolves to every message of the dump, or to what `options.decode`
   * makes of each. A dump the kernel flags as inconsistent (NLM_F_DUMP_INTR) is retried, unless
   * `acceptInterrupted` is set.
   */
  dump(
    req: EncodedRequest,
    operation: string,
    options?: { acceptInterrupted?: boolean; decode?: undefined },
  ): Promise<NetlinkMessage[]>
  dump<T>(
    req: EncodedRequest,
    operation: string,
    options: DumpOptions<T> & { decode: (m: NetlinkMessage) => T | undefined },
  ): Promise<T[]>
  dump<T>(req: EncodedRequest, operation: string, options: DumpOptions<T> = {}): Promise<unknown[]> {
    // The kernel runs one dump per socket at a time; later ones wait their turn here.
    const run = this.dumpQueue.then(() =>
      this.start(req, operation, true, options.acceptInterrupted, options.decode),
    )
    this.dumpQueue = run.catch(() => undefined)
    return run
  }

  /**
   * Sends many requests with few system calls: as many as fit in `datagramBytes` go out in one
   * datagram (by default as much as the socket's send buffer takes, up to 128 KiB: fewer, larger
   * datagrams cost fewer trips to the helper thread; the first ones are smaller, FIRST_DATAGRAM
   * and doubling), and only its last asks for an ack (the kernel runs them in order and answers
   * every failure anyway). Resolves, in order, to undefined for each request that succeeded and
   * to its NetlinkError otherwise. Replies other than errors (echoes) are dropped.
   *
   * Datagrams are sent from a helper thread, one at a time and in order, and `reqs` is read as
   * they are filled: a caller that encodes its requests lazily (a generator) encodes the next
   * datagram while the kernel carries out the previous one. Such a caller must have validated
   * every request first, since an exception from `reqs` stops the batch half-way.
   */
  async batch(
    reqs: Iterable<EncodedRequest>,
    operation: string,
    datagramBytes = this.largestDatagram(),
  ): Promise<Array<Error | undefined>> {
    if (this.closed) throw new SocketClosedError(operation)
    const results: Array<Error | undefined> = []
    const acks: Array<Promise<void>> = []
    let sent: Promise<void> = Promise.resolve()
    // Allocated for the first request that goes in, as large as the datagram may grow (or as that
    // request, sent on its own).
    let datagram: Buffer | undefined
    let parts: EncodedRequest[] = []
    let size = 0
    let limit = Math.min(datagramBytes, FIRST_DATAGRAM)
    const flush = async () => {
      const chunk = parts
      const bytes = (datagram as Buffer).subarray(0, size)
      parts = []
      size = 0
      limit = Math.min(datagramBytes, limit * 2)
      datagram = undefined
      // The previous datagram must be in before this one goes, so that the kernel keeps the order.
      await sent
      sent = this.sendChunk(chunk, results.length - chunk.length, bytes, results, operation, acks)
      // Awaited by the next flush or at the end; until then its failure must not count as unhandled.
      sent.catch(() => undefined)
    }
    try {
      for (const req of reqs) {
        const n = req.bytes.length
        if (size > 0 && size + n > limit) await flush()
        datagram ??= Buffer.allocUnsafe(Math.max(limit, n))
        req.bytes.copy(datagram, size)
        size += n
        parts.push(req)
        results.push(undefined)
      }
      if (parts.length > 0) await flush()
      await sent
    } finally {
      // Whatever went out is answered, even when reading `reqs` or sending failed.
      await Promise.allSettled(acks)
    }
    await Promise.all(acks)
    return results
  }

  /** The kernel refuses a datagram longer than the send buffer less its own 32 bytes (EMSGSIZE). */
  private largestDatagram(): number {
    if (this.closed) return 0
    this.maxDatagram ??= Math.min(128 * 1024, getsockoptInt(this.fd, SOL_SOCKET, SO_SNDBUF) - 64)
    return this.maxDatagram
  }

  /**
   * Numbers the requests already copied into `datagram`, sends it from a helper thread, and adds
   * the promise of its acks to `acks`. Resolves once the kernel has taken the datagram.
   */
  private async sendChunk(
    reqs: EncodedRequest[],
    offset: number,
    datagram: Buffer,
    results: Array<Error | undefined>,
    op: string,
    acks: Array<Promise<void>>,
  ): Promise<void> {
    if (this.closed) throw new SocketClosedError(op)
    let settle: (err?: Error) => void = () => {}
    const acked = new Promise<void>((resolve, reject) => {
      settle = (err) => (err ? reject(err) : resolve())
    })
    acked.catch(() => undefined)
    acks.push(acked)
    const chunk: BatchChunk = {
      seqs: [],
      results,
      offset,
      done: (err) => {
        for (const seq of chunk.seqs) this.batchParts.delete(seq)
        settle(err)
      },
    }
    let at = 0
    reqs.forEach((req, i) => {
      const seq = this.nextSeq()
      const last = i === reqs.length - 1
      stampRequest(datagram, at, NLM_F_REQUEST | (last ? NLM_F_ACK : 0), NLM_F_ACK, seq)
      at += req.bytes.length
      chunk.seqs.push(seq)
      this.batchParts.set(seq, { op, req, chunk, index: offset + i, last })
    })
    this.updateWatch()
    this.sending++
    try {
      if ((await sendInThread(this.fd, datagram)) === null) throw new SysError('sendto', Errno.EAGAIN)
    } catch (e) {
      chunk.done(e as Error)
      throw e
    } finally {
      this.sending--
      if (this.closed && this.sending === 0) closeFd(this.fd)
    }
    this.drain()
    this.updateWatch()
  }

  /**
   * Multicast notifications for `groups`, joined on subscribe and left on unsubscribe. Messages
   * that answer none of this socket's requests (seq 0 or unknown) are delivered here.
   */
  notifications(groups: readonly number[]): Observable<NetlinkEvent> {
    return new Observable<NetlinkEvent>((subscriber) => {
      if (this.closed) {
        subscriber.error(new SocketClosedError('notifications'))
        return
      }
      for (const g of groups) this.join(g)
      const sub = this.events.subscribe(subscriber)
      this.listeners++
      this.updateWatch()
      return () => {
        sub.unsubscribe()
        this.listeners--
        if (!this.closed) for (const g of groups) this.leave(g)
        this.updateWatch()
      }
    })
  }

  /**
   * Reads and dispatches everything already queued on the socket, without waiting. Lets a
   * caller deal with old notifications before it sends a request whose answer supersedes them.
   */
  flush(): void {
    this.drain()
  }

  /** Closes the socket; requests still waiting fail with SocketClosedError. */
  close(): void {
    if (this.closed) return
    this.closed = true
    this.unwatch?.()
    this.unwatch = undefined
    for (const p of this.pending.values()) p.reject(new SocketClosedError(p.op))
    this.pending.clear()
    for (const part of [...this.batchParts.values()])
      if (part.last) part.chunk.done(new SocketClosedError(part.op))
    this.events.complete()
    // A helper thread may still be sending on the fd: closing it now could hand its number to
    // another file before the send runs.
    if (this.sending === 0) closeFd(this.fd)
  }

  /** Closes the socket (`using`). */
  [Symbol.dispose](): void {
    this.close()
  }

  private start(
    req: EncodedRequest,
    op: string,
    dump: boolean,
    acceptInterrupted = false,
    decode?: (m: NetlinkMessage) => unknown,
  ): Promise<unknown[]> {
    if (this.closed) return Promise.reject(new SocketClosedError(op))
    return new Promise((resolve, reject) => {
      const p: Pending = {
        op,
        req,
        dump,
        replies: [],
        decode,
        error: undefined,
        interrupted: false,
        acceptInterrupted,
        attempts: 0,
        resolve,
        reject,
      }
      this.send(p)
    })
  }

  private send(p: Pending): void {
    const seq = this.nextSeq()
    const bytes = p.req.bytes
    stampRequest(bytes, 0, NLM_F_REQUEST | NLM_F_ACK | (p.dump ? NLM_F_DUMP : 0), 0, seq)
    p.attempts++
    this.pending.set(seq, p)
    try {
      if (sendTo(this.fd, bytes) === null) throw new SysError('sendto', Errno.EAGAIN)
    } catch (e) {
      this.pending.delete(seq)
      p.reject(e as Error)
      return
    }
    // Most replies are queued by the time sendto returns: collect them without waiting.
    this.drain()
    this.updateWatch()
  }

  private nextSeq(): number {
    do this.seq = (this.seq + 1) >>> 0
    while (this.seq === 0 || this.pending.has(this.seq) || this.batchParts.has(this.seq))
    return this.seq
  }

  private drain(): void {
    while (!this.closed) {
      let n: number | null
      try {
        n = recv(this.fd, this.rx, MSG_TRUNC)
      } catch (e) {
        if (e instanceof SysError && e.errno === Errno.ENOBUFS) {
          this.overrun()
          continue
        }
        throw e
      }
      if (n === null) return
      if (n > this.rx.length) {
        this.failAll(
          new DecodeError(`a ${n}-byte datagram exceeded the ${RX_SIZE}-byte receive buffer`, 'recv', 0),
        )
        continue
      }
      let messages: NetlinkMessage[]
      try {
        messages = parseMessages(Buffer.from(this.rx.subarray(0, n)))
      } catch (e) {
        this.failAll(e as Error)
        continue
      }
      for (const m of messages) this.dispatch(m)
    }
  }

  private dispatch(m: NetlinkMessage): void {
    const part = m.pid === this.portId ? this.batchParts.get(m.seq) : undefined
    if (part) {
      if (m.type !== NLMSG_ERROR) return
      try {
        const ack = parseAck(m)
        if (ack.errno) part.chunk.results[part.index] = ackError(part.op, ack, part.req)
        if (part.last) part.chunk.done()
      } catch (e) {
        part.chunk.done(e as Error)
      }
      return
    }
    const p = m.pid === this.portId ? this.pending.get(m.seq) : undefined
    if (!p) {
      if (m.type === NLMSG_NOOP || m.type === NLMSG_OVERRUN) return
      if (this.listeners > 0) this.events.next({ kind: 'message', message: m })
      return
    }
    try {
      if (m.flags & NLM_F_DUMP_INTR) p.interrupted = true
      if (m.type === NLMSG_ERROR) {
        const ack = parseAck(m)
        this.pending.delete(m.seq)
        if (ack.errno !== 0) p.reject(ackError(p.op, ack, p.req))
        else if (p.error) p.reject(p.error)
        else p.resolve(p.replies)
      } else if (m.type === NLMSG_DONE && p.dump) {
        const ack = parseAck(m, true)
        this.pending.delete(m.seq)
        if (ack.errno !== 0) p.reject(ackError(p.op, ack, p.req))
        else if (p.error) p.reject(p.error)
        else if (!p.interrupted || p.acceptInterrupted) p.resolve(p.replies)
        else if (p.attempts >= DUMP_RETRIES) p.reject(new DumpInterruptedError(p.op, p.attempts))
        else {
          p.replies = []
          p.interrupted = false
          this.send(p)
        }
      } else if (p.decode === undefined) {
        p.replies.push(m)
      } else if (p.error === undefined) {
        try {
          const v = p.decode(m)
          if (v !== undefined) p.replies.push(v)
        } catch (e) {
          p.error = e as Error
        }
      }
    } catch (e) {
      this.pending.delete(m.seq)
      p.reject(e as Error)
    }
  }

  private overrun(): void {
    if (this.listeners > 0) this.events.next({ kind: 'overrun' })
    // Unicast replies may have been dropped with the notifications; nobody would answer these.
    this.failAll(null)
  }

  private failAll(err: Error | null): void {
    for (const p of this.pending.values()) p.reject(err ?? new OverrunError(p.op))
    this.pending.clear()
    for (const part of [...this.batchParts.values()])
      if (part.last) part.chunk.done(err ?? new OverrunError(part.op))
  }

  private updateWatch(): void {
    const want = !this.closed && (this.pending.size > 0 || this.batchParts.size > 0 || this.listeners > 0)
    if (want && !this.unwatch) {
      this.unwatch = poller.watch(this.fd, () => {
        this.drain()
        this.updateWatch()
      })
    } else if (!want && this.unwatch) {
      this.unwatch()
      this.unwatch = undefined
    }
  }

  private join(group: number): void {
    const n = this.groupRefs.get(group) ?? 0
    if (n === 0) setsockoptInt(this.fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, group)
    this.groupRefs.set(group, n + 1)
  }

  private leave(group: number): void {
    const n = this.groupRefs.get(group) ?? 0
    if (n <= 1) {
      this.groupRefs.delete(group)
      setsockoptInt(this.fd, SOL_NETLINK, NETLINK_DROP_MEMBERSHIP, group)
    } else this.groupRefs.set(group, n - 1)
  }
}

function setBuffer(fd: number, force: number, plain: number, bytes: number): void {
  try {
    setsockoptInt(fd, SOL_SOCKET, force, bytes)
  } catch {
    setsockoptInt(fd, SOL_SOCKET, plain, bytes)
  }
}
