import { Observable, type Subscriber } from 'rxjs'
import { z } from 'zod'
import { closeFd, Errno, poller, readFd, SysError, writeFd } from '../netlink/sys/index.ts'
import { tunSetQueue } from './ioctls.ts'
import { parseTapInput, TapError, tapFailure } from './tap-errors.ts'

/** What a queue needs from the device that owns it (kept abstract to avoid an import cycle). */
export interface QueueHost {
  readonly name: string
  readonly multiQueue: boolean
  /** Kernel queue index of `q` in the mirror of tun's queue order, or undefined when detached. */
  indexOf(q: TapQueue): number | undefined
  queueDetached(q: TapQueue): void
  queueAttached(q: TapQueue): void
  queueClosed(q: TapQueue, wasAttached: boolean): void
}

interface PendingRead {
  resolve: (frame: Buffer) => void
  reject: (err: Error) => void
}

const frameSchema = z
  .instanceof(Buffer)
  .refine((b) => b.length > 0 && b.length <= 65535 + 4096, 'a frame of 1..69631 bytes')

/** Largest frame read: 64 KiB of packet (GSO) plus a virtio-net header and some room. */
const READ_BUFFER = 65536 + 4096

/**
 * One queue of a tun/tap device: a non-blocking fd from /dev/net/tun. Frames are read without
 * blocking any thread of libuv's pool: when nothing is queued, the fd is handed to the shared
 * poller and reads resume when it is readable.
 *
 * Each frame is delivered once: to the oldest pending `read()`, otherwise to every current
 * subscriber of `frames$`. While the queue is detached, reads wait (the kernel sends it nothing);
 * they resume once it is attached again. Closing rejects pending reads and completes `frames$`.
 */
export class TapQueue implements Disposable {
  #fd: number
  #attached: boolean
  #unwatch: (() => void) | undefined
  readonly #pending: PendingRead[] = []
  readonly #sinks = new Set<Subscriber<Buffer>>()
  readonly #buf = Buffer.alloc(READ_BUFFER)
  readonly #host: QueueHost

  /** Frames arriving on this queue. Cold per subscription; unsubscribing stops the wait. */
  readonly frames$: Observable<Buffer>

  /** @internal Created by Tap; user code gets queues from a Tap. */
  constructor(fd: number, host: QueueHost, attached = true) {
    this.#fd = fd
    this.#host = host
    this.#attached = attached
    this.frames$ = new Observable<Buffer>((sub) => {
      if (this.#fd < 0) {
        sub.complete()
        return
      }
      this.#sinks.add(sub)
      this.#update()
      this.#drain()
      return () => {
        this.#sinks.delete(sub)
        this.#update()
      }
    })
  }

  get fd(): number {
    if (this.#fd < 0) throw new TapError({ kind: 'closed', operation: 'queue fd' })
    return this.#fd
  }

  get closed(): boolean {
    return this.#fd < 0
  }

  get attached(): boolean {
    return this.#fd >= 0 && this.#attached
  }

  /**
   * This queue's index in tun's queue order (what a steering program's result, modulo the count,
   * selects), or undefined when detached or closed. Detaching or closing queue k moves the last
   * queue into slot k; attaching appends. Exact when the Tap holds every queue of its device.
   */
  get index(): number | undefined {
    return this.attached ? this.#host.indexOf(this) : undefined
  }

  /** One frame if one is queued now, else null. */
  tryRead(): Buffer | null {
    const fd = this.fd
    if (!this.#attached) throw new TapError({ kind: 'queue-detached', operation: 'read' })
    let n: number | null
    try {
      n = readFd(fd, this.#buf)
    } catch (e) {
      throw tapFailure('read', e)
    }
    return n === null ? null : Buffer.from(this.#buf.subarray(0, n))
  }

  /** The next frame (with the virtio-net header first when the device has IFF_VNET_HDR). */
  read(): Promise<Buffer> {
    if (this.#fd < 0) return Promise.reject(new TapError({ kind: 'closed', operation: 'read' }))
    return new Promise<Buffer>((resolve, reject) => {
      this.#pending.push({ resolve, reject })
      this.#drain()
      this.#update()
    })
  }

  /**
   * Writes one frame towards the host (it arrives as received on the device). Returns false when
   * the kernel asked to retry (EAGAIN).
   */
  write(frame: Buffer): boolean {
    parseTapInput(frameSchema, frame, 'write')
    const fd = this.fd
    if (!this.#attached) throw new TapError({ kind: 'queue-detached', operation: 'write' })
    try {
      return writeFd(fd, frame) !== null
    } catch (e) {
      throw tapFailure('write', e)
    }
  }

  /** Disables this queue (TUNSETQUEUE IFF_DETACH_QUEUE); the fd stays open. Multi-queue only. */
  detach(): void {
    const fd = this.fd
    if (!this.#attached) return
    if (!this.#host.multiQueue)
      throw new TapError({ kind: 'unsupported', operation: 'detach queue', errno: 'EINVAL' })
    try {
      tunSetQueue(fd, false)
    } catch (e) {
      throw tapFailure('detach queue', e)
    }
    this.#attached = false
    this.#host.queueDetached(this)
    this.#update()
  }

  /**
   * Re-enables a detached queue (TUNSETQUEUE IFF_ATTACH_QUEUE); it becomes the last queue. Also
   * right for an adopted fd whose sender had detached it (the kernel cannot be asked whether a
   * queue is detached without changing it): an already attached queue is left as it is.
   */
  attach(): void {
    const fd = this.fd
    try {
      tunSetQueue(fd, true)
    } catch (e) {
      // EINVAL: the kernel has it attached already (or it is single-queue, hence attached).
      if (e instanceof SysError && e.errno === Errno.EINVAL && this.#attached) return
      if (e instanceof SysError && e.errno === Errno.E2BIG)
        throw new TapError({ kind: 'too-many-queues', operation: 'attach queue', name: this.#host.name })
      throw tapFailure('attach queue', e)
    }
    if (this.#attached) this.#host.queueDetached(this) // it was detached after all: fix the mirror
    this.#attached = true
    this.#host.queueAttached(this)
    this.#update()
    this.#drain()
  }

  /** Closes the fd: the kernel detaches the queue (a non-persistent device goes with its last queue). */
  close(): void {
    if (this.#fd < 0) return
    const fd = this.#fd
    const wasAttached = this.#attached
    this.#fd = -1
    this.#unwatch?.()
    this.#unwatch = undefined
    for (const p of this.#pending.splice(0)) p.reject(new TapError({ kind: 'closed', operation: 'read' }))
    for (const s of [...this.#sinks]) s.complete()
    this.#sinks.clear()
    try {
      closeFd(fd)
    } catch {
      // already closed by someone else: nothing more to release
    }
    this.#host.queueClosed(this, wasAttached)
  }

  /** Closes the queue fd (`using`). */
  [Symbol.dispose](): void {
    this.close()
  }

  /** Reads while someone wants frames and some are queued. */
  #drain(): void {
    while (this.#fd >= 0 && this.#attached && (this.#pending.length > 0 || this.#sinks.size > 0)) {
      let frame: Buffer | null
      try {
        frame = this.tryRead()
      } catch (e) {
        this.#fail(e instanceof Error ? e : new Error(String(e)))
        return
      }
      if (frame === null) break
      const p = this.#pending.shift()
      if (p) p.resolve(frame)
      else for (const s of [...this.#sinks]) s.next(frame)
    }
    this.#update()
  }

  /** Watches the fd exactly while someone waits on an attached, open queue. */
  #update(): void {
    const wants = this.#fd >= 0 && this.#attached && (this.#pending.length > 0 || this.#sinks.size > 0)
    if (wants && !this.#unwatch) this.#unwatch = poller.watch(this.#fd, () => this.#drain())
    else if (!wants && this.#unwatch) {
      this.#unwatch()
      this.#unwatch = undefined
    }
  }

  #fail(err: Error): void {
    for (const p of this.#pending.splice(0)) p.reject(err)
    for (const s of [...this.#sinks]) s.error(err)
    this.#sinks.clear()
    this.#update()
  }
}
