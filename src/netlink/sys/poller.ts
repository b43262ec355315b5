import { closeFd, eventFd, readFd, writeFd } from './fd.ts'
import { libcFunction, libcFunctionThreaded, T } from './libc.ts'

const POLLIN = 0x1
export const POLLERR = 0x8
export const POLLHUP = 0x10
const POLLNVAL = 0x20

const pollWait = libcFunctionThreaded('poll', T.I32, [T.U8Array, T.U64, T.I32])
const pollNow = libcFunction('poll', T.I32, [T.U8Array, T.U64, T.I32])

/**
 * Waits for readability of many non-blocking fds with a single helper thread.
 *
 * Blocking reads parked in libuv's pool starve it and cannot be interrupted on close, so all
 * waiting happens in one poll() over [eventfd, ...watched fds] on a thread of its own. Changing
 * the watched set writes the eventfd, which wakes that poll at once so it can be re-armed. When
 * nothing is watched the thread is not running and the eventfd is closed, so the process can exit.
 */
class Poller {
  private readonly watches = new Map<number, (revents: number) => void>()
  private wakeFd = -1
  private running = false
  private exitHooked = false
  private readonly one = Buffer.alloc(8)

  constructor() {
    this.one.writeBigUInt64LE(1n)
  }

  /**
   * Calls `onReady(revents)` on the JS thread each time `fd` is readable or in error (level
   * triggered: the owner must drain it or unwatch). Returns the unwatch function. Never calls back
   * before it has returned, and after a call the event loop runs (promise continuations, timers)
   * before `fd` is polled again.
   */
  watch(fd: number, onReady: (revents: number) => void): () => void {
    this.watches.set(fd, onReady)
    this.kick()
    return () => {
      if (this.watches.get(fd) === onReady) {
        this.watches.delete(fd)
        this.kick()
      }
    }
  }

  private kick(): void {
    if (this.running) {
      writeFd(this.wakeFd, this.one)
      return
    }
    if (this.watches.size === 0) return
    this.running = true
    this.wakeFd = eventFd()
    if (!this.exitHooked) {
      this.exitHooked = true
      // process.exit() waits for the thread parked in poll(): end the wait, whoever still watches.
      process.once('exit', () => {
        this.watches.clear()
        if (this.running) writeFd(this.wakeFd, this.one)
      })
    }
    void this.loop()
  }

  private async loop(): Promise<void> {
    const drain = Buffer.alloc(8)
    try {
      // An owner must hold its unwatch function before its callback can run.
      await Promise.resolve()
      while (this.watches.size > 0) {
        const fds = [this.wakeFd, ...this.watches.keys()]
        // Who each fd was armed for: by the time the poll returns, an fd may have been unwatched,
        // closed and its number reused by a new watch; the old revents (POLLNVAL) are not its.
        const armed = fds.map((fd) => this.watches.get(fd))
        const set = Buffer.alloc(fds.length * 8)
        fds.forEach((fd, i) => {
          set.writeInt32LE(fd, i * 8)
          set.writeInt16LE(POLLIN, i * 8 + 4)
        })
        // Before parking a thread, check without waiting: most wakes are already due.
        let n = pollNow.tryCall(set, fds.length, 0)
        if (n === 0) n = await pollWait(set, fds.length, -1)
        if (n < 0) continue // EINTR: re-arm
        readFd(this.wakeFd, drain)
        let called = false
        for (let i = 1; i < fds.length; i++) {
          const revents = set.readInt16LE(i * 8 + 6)
          if (revents === 0) continue
          const cb = this.watches.get(fds[i] as number)
          if (!cb || cb !== armed[i]) continue
          // A closed fd would wake us forever: drop it (its owner closed it without unwatching).
          if (revents & POLLNVAL) this.watches.delete(fds[i] as number)
          called = true
          try {
            cb(revents)
          } catch (err) {
            queueMicrotask(() => {
              throw err
            })
          }
        }
        // What the callbacks settled runs before the next poll: a waiter that has what it wanted
        // gets to unwatch, and a busy fd cannot keep the rest of the process waiting.
        if (called) await new Promise<void>((resolve) => setImmediate(resolve))
      }
    } finally {
      closeFd(this.wakeFd)
      this.wakeFd = -1
      this.running = false
      if (this.watches.size > 0) this.kick()
    }
  }
}

export const poller = new Poller()
