// Passing fds between processes over Unix sockets (SCM_RIGHTS): how a privileged process (which
// creates a tap, loads BPF programs and maps) hands them to one that only uses them.
//
// x86-64 layouts, built by hand:
//   struct msghdr  (56): void *name @0, u32 namelen @8, iovec *iov @16, u64 iovlen @24,
//                        void *control @32, u64 controllen @40, i32 flags @48
//   struct iovec   (16): void *base @0, u64 len @8
//   struct cmsghdr (16 + data): u64 len @0, i32 level @8, i32 type @12, data @16 (8-aligned)
import { z } from 'zod'
import { addressOf, closeFd, poller, recvMsg, SysError, sendMsg } from '../netlink/sys/index.ts'

const SOL_SOCKET = 1
const SCM_RIGHTS = 1
const MSG_CTRUNC = 0x8
const MSG_NOSIGNAL = 0x4000
const MSG_CMSG_CLOEXEC = 0x40000000
/** The kernel's limit of fds in one SCM_RIGHTS message (SCM_MAX_FD). */
export const MAX_FDS_PER_MESSAGE = 253

const CMSG_HDR = 16
const align8 = (n: number) => (n + 7) & ~7
const cmsgSpace = (n: number) => CMSG_HDR + align8(n)

/** Why passing fds failed (a tagged union; switch on `kind`). */
export type FdPassErrorReason =
  | { readonly kind: 'invalid-input'; readonly operation: string; readonly message: string }
  /** The peer closed its end before a message arrived. */
  | { readonly kind: 'peer-closed'; readonly operation: string }
  /** The socket buffer is full (non-blocking socket); try again later. */
  | { readonly kind: 'would-block'; readonly operation: string }
  | { readonly kind: 'system'; readonly operation: string; readonly errno: string; readonly cause: SysError }

/** Sending or receiving fds over a Unix socket (SCM_RIGHTS) failed; see `reason`. */
export class FdPassError extends Error {
  override readonly name = 'FdPassError'
  constructor(readonly reason: FdPassErrorReason) {
    super(
      reason.kind === 'system'
        ? `${reason.operation}: ${reason.cause.message}`
        : reason.kind === 'invalid-input'
          ? `${reason.operation}: ${reason.message}`
          : `${reason.operation}: ${reason.kind}`,
    )
  }
  get kind(): FdPassErrorReason['kind'] {
    return this.reason.kind
  }
}

const sendSchema = z.object({
  socketFd: z.number().int().min(0),
  fds: z.array(z.number().int().min(0)).max(MAX_FDS_PER_MESSAGE),
  data: z
    .instanceof(Buffer)
    .refine((b) => b.length <= 1 << 20, 'at most 1 MiB of data per message')
    .optional(),
})

function failure(operation: string, e: unknown): FdPassError {
  if (e instanceof FdPassError) return e
  if (e instanceof SysError) return new FdPassError({ kind: 'system', operation, errno: e.code, cause: e })
  throw e
}

/**
 * Sends `fds` (and `data`) as one message. On a stream socket at least one byte of data must go
 * with the fds, so empty data is sent as a single zero byte. The caller keeps its own fds open
 * (the receiver gets new fds for the same open files). Returns the data bytes sent.
 */
export function sendFds(socketFd: number, fds: readonly number[], data?: Buffer): number {
  const parsed = sendSchema.safeParse({ socketFd, fds, data })
  if (!parsed.success)
    throw new FdPassError({
      kind: 'invalid-input',
      operation: 'send fds',
      message: parsed.error.issues[0]!.message,
    })
  const payload = data && data.length > 0 ? data : Buffer.alloc(1)
  const iov = Buffer.alloc(16)
  iov.writeBigUInt64LE(addressOf(payload), 0)
  iov.writeBigUInt64LE(BigInt(payload.length), 8)

  const msg = Buffer.alloc(56)
  msg.writeBigUInt64LE(addressOf(iov), 16)
  msg.writeBigUInt64LE(1n, 24)
  let control: Buffer | undefined
  if (fds.length > 0) {
    control = Buffer.alloc(cmsgSpace(fds.length * 4))
    control.writeBigUInt64LE(BigInt(CMSG_HDR + fds.length * 4), 0)
    control.writeInt32LE(SOL_SOCKET, 8)
    control.writeInt32LE(SCM_RIGHTS, 12)
    for (let i = 0; i < fds.length; i++) control.writeInt32LE(fds[i] as number, CMSG_HDR + i * 4)
    msg.writeBigUInt64LE(addressOf(control), 32)
    msg.writeBigUInt64LE(BigInt(control.length), 40)
  }
  let n: number | null
  try {
    n = sendMsg(socketFd, msg, MSG_NOSIGNAL)
  } catch (e) {
    if (e instanceof SysError && e.errno === 32 /* EPIPE */)
      throw new FdPassError({ kind: 'peer-closed', operation: 'send fds' })
    throw failure('send fds', e)
  }
  // `payload`, `iov` and `control` were referenced up to here: their addresses stayed valid.
  if (n === null) throw new FdPassError({ kind: 'would-block', operation: 'send fds' })
  return n
}

/** What `receiveFds` got: the data bytes and the fds (now owned by the caller). */
export interface ReceivedFds {
  /** The new fds (close-on-exec), owned by the caller. */
  readonly fds: number[]
  readonly data: Buffer
  /** The kernel dropped fds that did not fit (MSG_CTRUNC); those in `fds` are still valid. */
  readonly truncated: boolean
}

/** Options of `receiveFds` / `tryReceiveFds`. */
export interface ReceiveOptions {
  /** Room for this many fds (default and maximum 253). */
  maxFds?: number
  /** Room for this many data bytes (default 64 KiB); the rest of a datagram is lost. */
  maxData?: number
}

/** Receives one message now, or null when none is queued. */
export function tryReceiveFds(socketFd: number, options: ReceiveOptions = {}): ReceivedFds | null {
  const maxFds = Math.min(Math.max(1, options.maxFds ?? MAX_FDS_PER_MESSAGE), MAX_FDS_PER_MESSAGE)
  const data = Buffer.alloc(Math.max(1, options.maxData ?? 65536))
  const iov = Buffer.alloc(16)
  iov.writeBigUInt64LE(addressOf(data), 0)
  iov.writeBigUInt64LE(BigInt(data.length), 8)
  // Exactly room for maxFds: the kernel counts (controllen - header) / 4.
  const control = Buffer.alloc(CMSG_HDR + maxFds * 4)
  const msg = Buffer.alloc(56)
  msg.writeBigUInt64LE(addressOf(iov), 16)
  msg.writeBigUInt64LE(1n, 24)
  msg.writeBigUInt64LE(addressOf(control), 32)
  msg.writeBigUInt64LE(BigInt(control.length), 40)
  let n: number | null
  try {
    n = recvMsg(socketFd, msg, MSG_CMSG_CLOEXEC)
  } catch (e) {
    throw failure('receive fds', e)
  }
  if (n === null) return null
  const controlLen = Number(msg.readBigUInt64LE(40))
  const flags = msg.readInt32LE(48)
  const fds: number[] = []
  let off = 0
  while (off + CMSG_HDR <= controlLen) {
    const len = Number(control.readBigUInt64LE(off))
    if (len < CMSG_HDR || off + len > controlLen) break
    if (control.readInt32LE(off + 8) === SOL_SOCKET && control.readInt32LE(off + 12) === SCM_RIGHTS) {
      for (let p = off + CMSG_HDR; p + 4 <= off + len; p += 4) fds.push(control.readInt32LE(p))
    }
    off += align8(len)
  }
  if (n === 0 && fds.length === 0) throw new FdPassError({ kind: 'peer-closed', operation: 'receive fds' })
  return { fds, data: Buffer.from(data.subarray(0, n)), truncated: (flags & MSG_CTRUNC) !== 0 }
}

/**
 * Waits (on the shared poller, never blocking a thread) for the next message and returns its fds
 * and data. Rejects with 'peer-closed' when the other end is closed.
 */
export function receiveFds(socketFd: number, options: ReceiveOptions = {}): Promise<ReceivedFds> {
  return new Promise<ReceivedFds>((resolve, reject) => {
    const attempt = (): boolean => {
      try {
        const r = tryReceiveFds(socketFd, options)
        if (r === null) return false
        resolve(r)
      } catch (e) {
        reject(e)
      }
      return true
    }
    if (attempt()) return
    const unwatch = poller.watch(socketFd, () => {
      if (attempt()) unwatch()
    })
  })
}

/** Closes every fd of a received message (for messages that are not wanted). */
export function closeReceived(r: ReceivedFds): void {
  for (const fd of r.fds) {
    try {
      closeFd(fd)
    } catch {
      // already closed
    }
  }
}
