import { z } from 'zod'
import {
  closeFd,
  Errno,
  ifNameToIndex,
  inNetns,
  type NetnsRef,
  O_CLOEXEC,
  O_NONBLOCK,
  O_RDWR,
  openPath,
  SysError,
  setNonBlocking,
} from '../netlink/sys/index.ts'
import {
  flagNames,
  IffFlag,
  type IffFlagName,
  TunOffload,
  type TunOffloadName,
  tunGetDevNetns,
  tunGetFeatures,
  tunGetIff,
  tunGetSndbuf,
  tunGetVnetBe,
  tunGetVnetHdrSz,
  tunGetVnetLe,
  tunSetCarrier,
  tunSetFilterEbpf,
  tunSetGroup,
  tunSetIff,
  tunSetOffload,
  tunSetOwner,
  tunSetPersist,
  tunSetSndbuf,
  tunSetSteeringEbpf,
  tunSetVnetBe,
  tunSetVnetHdrSz,
  tunSetVnetLe,
} from './ioctls.ts'
import { type QueueHost, TapQueue } from './queue.ts'
import { parseTapInput, TapError, tapFailure } from './tap-errors.ts'
import { TapRss } from './tap-rss.ts'

const TUN_PATH = '/dev/net/tun'
const NOT_TUN_ERRNOS = new Set<number>([Errno.EBADFD, Errno.EBADF, Errno.ENOTTY, Errno.EINVAL])
/** Most queues a tun/tap device can have (the kernel's MAX_TAP_QUEUES). */
export const MAX_QUEUES = 256

/** An interface name: 1..15 bytes, no "/", ":" or whitespace; "%d" lets the kernel number it. */
export const ifName = z
  .string()
  .min(1)
  .refine((s) => Buffer.byteLength(s, 'utf8') <= 15, 'at most 15 bytes')
  .refine((s) => !/[\s/:]/.test(s), 'no whitespace, "/" or ":"')
  .refine((s) => s !== '.' && s !== '..', 'not "." or ".."')
  .refine((s) => (s.match(/%/g) ?? []).length === (s.match(/%d/g) ?? []).length && !/%d.*%d/.test(s), {
    message: 'at most one "%d" and no other "%"',
  })

const netnsRef = z.union([
  z
    .string()
    .min(1)
    .max(255)
    .regex(/^[^/]+$/, 'a name under /run/netns'),
  z.object({ path: z.string().min(1) }),
  z.object({ fd: z.number().int().min(0) }),
])

const idSchema = z
  .number()
  .int()
  .min(0)
  .max(2 ** 32 - 2)

const deviceOptions = {
  mode: z.enum(['tap', 'tun']).default('tap'),
  queues: z.number().int().min(1).max(MAX_QUEUES).default(1),
  multiQueue: z.boolean().optional(),
  /** IFF_VNET_HDR: each frame starts with a virtio-net header. */
  vnetHdr: z.boolean().default(false),
  /** Keep tun's 4-byte packet-information prefix (IFF_NO_PI unset). Default: no prefix. */
  packetInfo: z.boolean().default(false),
  napi: z.boolean().default(false),
  netns: netnsRef.optional(),
}

const createSchema = z
  .object({
    name: ifName.default('tap%d'),
    ...deviceOptions,
    persist: z.boolean().default(false),
    owner: idSchema.optional(),
    group: idSchema.optional(),
  })
  .refine((o) => o.multiQueue !== false || o.queues === 1, {
    message: 'a single-queue device has exactly one queue',
    path: ['queues'],
  })

const openSchema = z
  .object({ name: ifName.refine((s) => !s.includes('%'), 'an existing device name'), ...deviceOptions })
  .refine((o) => o.multiQueue !== false || o.queues === 1, {
    message: 'a single-queue device has exactly one queue',
    path: ['queues'],
  })

/** Options common to `Tap.create` and `Tap.open`. */
export interface TapOptions {
  mode?: 'tap' | 'tun'
  /** Queue fds to open (1..256). */
  queues?: number
  /** IFF_MULTI_QUEUE; default: true when `queues` > 1. */
  multiQueue?: boolean
  vnetHdr?: boolean
  packetInfo?: boolean
  napi?: boolean
  /** Network namespace to create the device in (and open its queues in). Default: the caller's. */
  netns?: NetnsRef
}

/** Options of `Tap.create`. */
export interface CreateTapOptions extends TapOptions {
  /** A name, or a template such as "tap%d" (the default). */
  name?: string
  persist?: boolean
  owner?: number
  group?: number
}

/** Options of `Tap.open` (an existing device). */
export interface OpenTapOptions extends TapOptions {
  name: string
}

/** A device's name and flags (TUNGETIFF). */
export interface TapInfo {
  readonly name: string
  readonly flags: readonly IffFlagName[]
}

const offloadSchema = z.array(z.enum(Object.keys(TunOffload) as [TunOffloadName, ...TunOffloadName[]]))
const vnetHdrSizeSchema = z
  .number()
  .int()
  .min(10)
  .max(2 ** 16)
const sndbufSchema = z
  .number()
  .int()
  .min(1)
  .max(2 ** 31 - 1)

/** A program's fd, or -1 (detach) for null. */
const programFd = z
  .object({ fd: z.number().int().min(0) })
  .nullable()
  .transform((p) => (p === null ? -1 : p.fd))

/** Anything with a program fd (a BpfProgram). */
export interface ProgramRef {
  readonly fd: number
}

/**
 * A tun or tap device seen through its queue fds. The Tap owns those fds: `close()` (or `using`)
 * closes them, and a device that is not persistent disappears with its last queue.
 */
export class Tap implements Disposable {
  readonly name: string
  readonly mode: 'tap' | 'tun'
  readonly multiQueue: boolean
  readonly vnetHdr: boolean
  readonly netns: NetnsRef | undefined
  /** The TUNSETIFF flags used for every queue of this device. */
  readonly #flags: number
  readonly #queues: TapQueue[] = []
  /** Mirror of the kernel's tfiles[] order: index i is queue i for queue selection. */
  readonly #order: TapQueue[] = []
  readonly #host: QueueHost
  #rss: TapRss | undefined

  private constructor(name: string, flags: number, netns: NetnsRef | undefined) {
    this.name = name
    this.#flags = flags
    this.mode = flags & IffFlag.tun ? 'tun' : 'tap'
    this.multiQueue = (flags & IffFlag.multiQueue) !== 0
    this.vnetHdr = (flags & IffFlag.vnetHdr) !== 0
    this.netns = netns
    const order = this.#order
    const all = this.#queues
    this.#host = {
      name,
      multiQueue: this.multiQueue,
      indexOf: (q) => {
        const i = order.indexOf(q)
        return i < 0 ? undefined : i
      },
      queueDetached: (q) => removeLikeKernel(order, q),
      queueAttached: (q) => {
        order.push(q)
      },
      queueClosed: (q, wasAttached) => {
        if (wasAttached) removeLikeKernel(order, q)
        const i = all.indexOf(q)
        if (i >= 0) all.splice(i, 1)
      },
    }
  }

  /** Creates a new device (IFF_TUN_EXCL: fails with 'exists' if the name is taken). */
  static create(options: CreateTapOptions = {}): Tap {
    const o = parseTapInput(createSchema, options, 'create tap')
    const flags = tunFlags(o)
    const tap = Tap.#openQueues('create tap', o.name, flags, o.queues, o.netns, true)
    try {
      const fd = tap.#controlFd('create tap')
      if (o.owner !== undefined) tunSetOwner(fd, o.owner)
      if (o.group !== undefined) tunSetGroup(fd, o.group)
      if (o.persist) tunSetPersist(fd, true)
    } catch (e) {
      tap.close()
      throw tapFailure('create tap', e)
    }
    return tap
  }

  /**
   * Opens queues on an existing (typically persistent) device. The options must match how the
   * device was made (tun/tap, multi-queue), else 'mismatch'; a missing device is 'not-found'.
   */
  static open(options: OpenTapOptions): Tap {
    const o = parseTapInput(openSchema, options, 'open tap')
    try {
      inNetns(o.netns, () => ifNameToIndex(o.name))
    } catch (e) {
      if (e instanceof SysError && e.errno === Errno.ENODEV)
        throw new TapError({ kind: 'not-found', operation: 'open tap', name: o.name })
      throw tapFailure('open tap', e)
    }
    return Tap.#openQueues('open tap', o.name, tunFlags(o), o.queues, o.netns, false)
  }

  /**
   * Takes ownership of queue fds received from another process (all of one device). They are set
   * non-blocking, which is shared with every other holder of the same open file.
   */
  static fromFds(fds: readonly number[], options: { netns?: NetnsRef } = {}): Tap {
    const o = parseTapInput(
      z.object({ fds: z.array(z.number().int().min(0)).min(1).max(MAX_QUEUES), netns: netnsRef.optional() }),
      { fds, ...options },
      'adopt tap fds',
    )
    // Check every fd before touching any: on failure the caller still owns them unchanged.
    const iffs = o.fds.map((fd) => {
      try {
        return tunGetIff(fd)
      } catch (e) {
        if (e instanceof SysError && NOT_TUN_ERRNOS.has(e.errno))
          throw new TapError({ kind: 'not-a-tun-fd', operation: 'adopt tap fds', fd })
        throw tapFailure('adopt tap fds', e)
      }
    })
    const first = iffs[0] as { name: string; flags: number }
    const other = iffs.find((i) => i.name !== first.name)
    if (other)
      throw new TapError({
        kind: 'invalid-input',
        operation: 'adopt tap fds',
        issues: [{ path: 'fds', message: `fds belong to different devices (${first.name}, ${other.name})` }],
      })
    try {
      for (const fd of o.fds) setNonBlocking(fd)
    } catch (e) {
      throw tapFailure('adopt tap fds', e)
    }
    const tap = new Tap(first.name, first.flags & ~IffFlag.persist, o.netns)
    for (const fd of o.fds) tap.#adopt(fd)
    return tap
  }

  /** IFF_* flags this kernel accepts in TUNSETIFF (TUNGETFEATURES). */
  static features(netns?: NetnsRef): IffFlagName[] {
    return inNetns(netns, () => {
      const fd = openPath(TUN_PATH, O_RDWR | O_CLOEXEC)
      try {
        return flagNames(tunGetFeatures(fd))
      } finally {
        closeFd(fd)
      }
    })
  }

  /** Every queue this Tap holds, attached or not, in the order they were opened. */
  get queues(): readonly TapQueue[] {
    return [...this.#queues]
  }

  /** Attached queues in the kernel's order: `attachedQueues[i]` is queue i for steering. */
  get attachedQueues(): readonly TapQueue[] {
    return [...this.#order]
  }

  /**
   * The device's ifindex in its namespace. Looked up by name inside the device's own namespace
   * (TUNGETDEVNETNS) when the caller may open it, else in `netns` (or the caller's): the same
   * name in another namespace is another device.
   */
  get ifindex(): number {
    let nsFd: number | undefined
    try {
      nsFd = tunGetDevNetns(this.#controlFd('ifindex'))
    } catch {
      nsFd = undefined // no CAP_NET_ADMIN over the device's namespace: trust `netns`
    }
    try {
      return inNetns(nsFd === undefined ? this.netns : { fd: nsFd }, () => ifNameToIndex(this.name))
    } catch (e) {
      throw tapFailure('ifindex', e)
    } finally {
      if (nsFd !== undefined) closeFd(nsFd)
    }
  }

  /** Opens one more queue (multi-queue devices); it is attached and becomes the last queue. */
  addQueue(): TapQueue {
    if (!this.multiQueue) throw new TapError({ kind: 'busy', operation: 'add queue', name: this.name })
    if (this.#queues.length >= MAX_QUEUES)
      throw new TapError({ kind: 'too-many-queues', operation: 'add queue', name: this.name })
    const fd = openQueueFd('add queue', this.name, this.#flags, this.netns)
    return this.#adopt(fd)
  }

  /** TUNGETIFF: the device's name and flags (including `persist`). */
  info(): TapInfo {
    const { name, flags } = this.#ioctl('info', tunGetIff)
    return { name, flags: flagNames(flags) }
  }

  setPersist(on: boolean): void {
    const v = parseTapInput(z.boolean(), on, 'set persist')
    this.#ioctl('set persist', (fd) => tunSetPersist(fd, v))
  }

  /**
   * TUNSETOWNER: a user who may attach queues without CAP_NET_ADMIN. The kernel has no way to
   * clear it again (it rejects uid -1 with EINVAL).
   */
  setOwner(uid: number): void {
    const v = parseTapInput(idSchema, uid, 'set owner')
    this.#ioctl('set owner', (fd) => tunSetOwner(fd, v))
  }

  /** TUNSETGROUP: a group whose members may attach queues; cannot be cleared either. */
  setGroup(gid: number): void {
    const v = parseTapInput(idSchema, gid, 'set group')
    this.#ioctl('set group', (fd) => tunSetGroup(fd, v))
  }

  /** Size of the virtio-net header in front of each frame (IFF_VNET_HDR devices); 10, 12 or 20... */
  get vnetHdrSize(): number {
    return this.#ioctl('get vnet header size', tunGetVnetHdrSz)
  }

  set vnetHdrSize(bytes: number) {
    const v = parseTapInput(vnetHdrSizeSchema, bytes, 'set vnet header size')
    this.#ioctl('set vnet header size', (fd) => tunSetVnetHdrSz(fd, v))
  }

  /** TUNGETVNETLE: the virtio-net header is little endian (virtio 1.0). */
  get vnetLittleEndian(): boolean {
    return this.#ioctl('get vnet le', tunGetVnetLe)
  }

  set vnetLittleEndian(on: boolean) {
    const v = parseTapInput(z.boolean(), on, 'set vnet le')
    this.#ioctl('set vnet le', (fd) => tunSetVnetLe(fd, v))
  }

  /** TUNGETVNETBE (cross-endian legacy virtio); 'unsupported' on kernels built without it. */
  get vnetBigEndian(): boolean {
    return this.#ioctl('get vnet be', tunGetVnetBe, true)
  }

  set vnetBigEndian(on: boolean) {
    const v = parseTapInput(z.boolean(), on, 'set vnet be')
    this.#ioctl('set vnet be', (fd) => tunSetVnetBe(fd, v), true)
  }

  /** TUNSETOFFLOAD: what the reader accepts (checksum offload, TSO, USO...). */
  setOffload(offloads: readonly TunOffloadName[]): void {
    const v = parseTapInput(offloadSchema, offloads, 'set offload')
    const bits = v.reduce((acc, k) => acc | TunOffload[k], 0)
    this.#ioctl('set offload', (fd) => tunSetOffload(fd, bits), true)
  }

  /** The socket send buffer of the queues (bytes). */
  get sndbuf(): number {
    return this.#ioctl('get sndbuf', tunGetSndbuf)
  }

  set sndbuf(bytes: number) {
    const v = parseTapInput(sndbufSchema, bytes, 'set sndbuf')
    this.#ioctl('set sndbuf', (fd) => tunSetSndbuf(fd, v))
  }

  /** TUNSETCARRIER: the link's carrier as the host sees it. */
  setCarrier(on: boolean): void {
    const v = parseTapInput(z.boolean(), on, 'set carrier')
    this.#ioctl('set carrier', (fd) => tunSetCarrier(fd, v))
  }

  /**
   * TUNSETSTEERINGEBPF: a BPF_PROG_TYPE_SOCKET_FILTER program picks the queue of each frame the
   * host sends (`return value % attached queues`); null detaches. The device keeps its own
   * reference: the caller may close its BpfProgram afterwards.
   */
  setSteeringProgram(program: ProgramRef | null): void {
    const fd = parseTapInput(programFd, program, 'set steering program')
    this.#ioctl('set steering program', (q) => tunSetSteeringEbpf(q, fd))
  }

  /** TUNSETFILTEREBPF: a socket filter that drops (returns 0) or trims frames; null detaches. */
  setFilterProgram(program: ProgramRef | null): void {
    const fd = parseTapInput(programFd, program, 'set filter program')
    this.#ioctl('set filter program', (q) => tunSetFilterEbpf(q, fd))
  }

  /** TUNGETDEVNETNS: a new fd for the device's network namespace; the caller owns (closes) it. */
  openNetnsFd(): number {
    return this.#ioctl('get device netns', tunGetDevNetns)
  }

  /**
   * RSS for this device through the best back end (kernel ioctls when present, else the eBPF
   * steering program): `await tap.rss.apply({ hashTypes, key, table, defaultQueue })`.
   */
  get rss(): TapRss {
    this.#rss ??= new TapRss(this)
    return this.#rss
  }

  /** Closes every queue fd this Tap holds (and the RSS steering program and maps it made). */
  close(): void {
    this.#rss?.close()
    for (const q of [...this.#queues]) q.close()
  }

  [Symbol.dispose](): void {
    this.close()
  }

  /** Opens `count` queues; on any failure closes those already opened (the device goes with them). */
  static #openQueues(
    operation: string,
    name: string,
    flags: number,
    count: number,
    netns: NetnsRef | undefined,
    create: boolean,
  ): Tap {
    const first = openQueueFdNamed(operation, name, flags, netns, create)
    const tap = new Tap(first.name, flags, netns)
    tap.#adopt(first.fd)
    try {
      for (let i = 1; i < count; i++) tap.#adopt(openQueueFd(operation, first.name, flags, netns))
    } catch (e) {
      tap.close()
      throw e
    }
    return tap
  }

  #adopt(fd: number): TapQueue {
    const q = new TapQueue(fd, this.#host)
    this.#queues.push(q)
    this.#order.push(q)
    return q
  }

  /** Device-wide ioctls go through any attached queue (a detached one answers EBADFD). */
  #controlFd(operation: string): number {
    const q = this.#order[0]
    if (q) return q.fd
    if (this.#queues.length === 0) throw new TapError({ kind: 'closed', operation })
    throw new TapError({ kind: 'queue-detached', operation })
  }

  #ioctl<R>(operation: string, f: (fd: number) => R, einvalUnsupported = false): R {
    const fd = this.#controlFd(operation)
    try {
      return f(fd)
    } catch (e) {
      if (einvalUnsupported && e instanceof SysError && e.errno === Errno.EINVAL)
        throw new TapError({ kind: 'unsupported', operation, errno: e.code })
      throw tapFailure(operation, e)
    }
  }
}

/** tun's __tun_detach: the last queue moves into the freed slot. */
function removeLikeKernel(order: TapQueue[], q: TapQueue): void {
  const i = order.indexOf(q)
  if (i < 0) return
  const last = order.pop() as TapQueue
  if (last !== q) order[i] = last
}

function tunFlags(o: {
  mode: 'tap' | 'tun'
  queues: number
  multiQueue?: boolean | undefined
  vnetHdr: boolean
  packetInfo: boolean
  napi: boolean
}): number {
  let f = o.mode === 'tap' ? IffFlag.tap : IffFlag.tun
  if (o.multiQueue ?? o.queues > 1) f |= IffFlag.multiQueue
  if (o.vnetHdr) f |= IffFlag.vnetHdr
  if (!o.packetInfo) f |= IffFlag.noPi
  if (o.napi) f |= IffFlag.napi
  return f
}

/** Opens /dev/net/tun in `netns` and attaches it to `name`; returns the fd (and the real name). */
function openQueueFd(
  operation: string,
  name: string,
  flags: number,
  netns: NetnsRef | undefined,
  exclusive = false,
): number {
  return openQueueFdNamed(operation, name, flags, netns, exclusive).fd
}

function openQueueFdNamed(
  operation: string,
  name: string,
  flags: number,
  netns: NetnsRef | undefined,
  exclusive: boolean,
): { fd: number; name: string } {
  return inNetns(netns, () => {
    let fd: number
    try {
      fd = openPath(TUN_PATH, O_RDWR | O_NONBLOCK | O_CLOEXEC)
    } catch (e) {
      if (e instanceof SysError && (e.errno === Errno.ENOENT || e.errno === Errno.ENODEV))
        throw new TapError({ kind: 'not-found', operation, name: TUN_PATH })
      throw tapFailure(operation, e)
    }
    try {
      return { fd, name: tunSetIff(fd, name, flags | (exclusive ? IffFlag.tunExcl : 0)) }
    } catch (e) {
      try {
        closeFd(fd)
      } catch {
        // nothing to do
      }
      if (e instanceof SysError) {
        if (e.errno === Errno.EBUSY)
          throw new TapError({ kind: exclusive ? 'exists' : 'busy', operation, name })
        if (e.errno === Errno.EINVAL) throw new TapError({ kind: 'mismatch', operation, name })
        if (e.errno === Errno.E2BIG) throw new TapError({ kind: 'too-many-queues', operation, name })
      }
      throw tapFailure(operation, e)
    }
  })
}
