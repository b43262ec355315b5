// RSS on a tap through the best back end the running kernel offers: the proposed native tun
// ioctls ('kernel') when TUNGETVNETHASHTYPES answers, else rxnetlink's eBPF steering program
// ('ebpf'). Reached as `tap.rss`. Every change is validated (zod) before anything is touched, and
// a failed change leaves the previous configuration in force.
import { z } from 'zod'
import { Errno, errnoName, ioctl, SysError, tryIoctl } from '../netlink/sys/index.ts'
import type { Tap } from './device.ts'
import {
  DEFAULT_MAX_TABLE_LENGTH,
  parseRssConfig,
  type RssConfig,
  type RssConfigInput,
  type RssLimits,
} from './rss-config.ts'
import { type RssHashReport, type RssSteering as RssSteeringFn, rssSteering } from './rss-hash.ts'
import { HASH_REPORT_VALUE, HASH_TYPES, type HashType, hashReportName } from './rss-hash-types.ts'
import { publishTapRss } from './rss-registry.ts'
import { MAX_PROGRAM_TABLE_CAPACITY, type RssConfigChange, RssSteering } from './rss-steering-program.ts'
import { parseTapInput, TapError, tapFailure } from './tap-errors.ts'
import {
  decodeHashTypesArg,
  encodeHashTypesArg,
  encodeTunVnetRss,
  TUNGETVNETHASHTYPES,
  TUNSETVNETREPORTINGAUTOMQ,
  TUNSETVNETREPORTINGRSS,
  TUNSETVNETRSS,
} from './tun-rss-ioctls.ts'
import { decodeVnetHeader, VNET_HEADER_SIZE } from './vnet-header.ts'

/** How RSS is done for a tap: the kernel's own ioctls, or rxnetlink's eBPF steering program. */
export type TapRssBackend = 'kernel' | 'ebpf'

/** Where a reader gets each frame's hash: from the vnet header (kernel reporting) or `reportFor`. */
export type TapRssReporting = 'header' | 'software'

/** Options of `tap.rss.apply`. */
export interface TapRssApplyOptions {
  /** 'auto' (default: kernel when the kernel has it and supports the hash types, else ebpf) or a forced back end. */
  backend?: 'auto' | TapRssBackend
  /**
   * Kernel back end: also report hashes in the vnet header (TUNSETVNETREPORTINGRSS; the header
   * must be `virtio_net_hdr_v1_hash`, TUNSETVNETHDRSZ ≥ 20). Default false. The eBPF back end
   * cannot write the header: use `reportFor` (software) instead.
   */
  reporting?: boolean
  /**
   * eBPF back end: the longest indirection table the program's map holds (a power of two, default
   * 128). Live changes may use any table up to it.
   */
  tableCapacity?: number
}

/** What the kernel offers for native tun RSS. */
export interface KernelRssSupport {
  /** TUNGETVNETHASHTYPES answered. */
  readonly available: boolean
  /** Hash types it can compute (empty when unavailable). */
  readonly hashTypes: readonly HashType[]
  /** The probe's errno name when unavailable (EINVAL on kernels without the ioctls). */
  readonly errno?: string
}

/** The RSS in force on a tap. */
export interface TapRssStatus {
  readonly backend: TapRssBackend
  readonly config: RssConfig
  readonly reporting: TapRssReporting
  /** Longest table this back end accepts now (the program's capacity, or the kernel's limit). */
  readonly maxTableLength: number
  /** Hash types this back end computes. */
  readonly supportedHashTypes: readonly HashType[]
  /** Why 'auto' did not pick the kernel back end (absent when it did, or when a back end was forced). */
  readonly fallbackReason?: string
}

/** Options of `reportFor`. */
export interface ReportForOptions {
  /** Bytes of virtio-net header in front of the frame (as read from a queue of a vnet-header tap). */
  vnetHeader?: number
}

/** Longest table given to the kernel ioctls (virtio-net drivers use at most 128). */
export const KERNEL_MAX_TABLE_LENGTH = DEFAULT_MAX_TABLE_LENGTH

const applyOptionsSchema = z.strictObject({
  backend: z.enum(['auto', 'kernel', 'ebpf']).default('auto'),
  reporting: z.boolean().default(false),
  tableCapacity: z
    .number()
    .int()
    .min(1)
    .max(MAX_PROGRAM_TABLE_CAPACITY)
    .refine((n) => (n & (n - 1)) === 0, 'must be a power of two')
    .optional(),
})

const reportOptionsSchema = z.strictObject({
  vnetHeader: z.number().int().min(0).max(64).default(0),
})

const frameSchema = z.instanceof(Uint8Array, { error: 'must be a Uint8Array or Buffer' })

interface State {
  backend: TapRssBackend
  config: RssConfig
  reporting: TapRssReporting
  maxTableLength: number
  supportedHashTypes: readonly HashType[]
  fallbackReason: string | undefined
  steering: RssSteering | undefined
}

/**
 * RSS for one tap (`tap.rss`). `apply` picks and reports the back end; `update` changes the
 * table, key, hash types or default queue live (one map update for ebpf, no reattach); `detach`
 * returns the tap to the kernel's automatic queue choice; `reportFor` gives the hash report a
 * VMM writes into `virtio_net_hdr_v1_hash`.
 */
export class TapRss implements Disposable {
  readonly #tap: Tap
  #state: State | undefined
  #compiled: { config: RssConfig; steering: RssSteeringFn } | undefined
  #ifindex: number | undefined

  /** @internal Reached as `tap.rss`. */
  constructor(tap: Tap) {
    this.#tap = tap
  }

  /** The back end in use, or undefined when no RSS is applied. */
  get backend(): TapRssBackend | undefined {
    return this.#state?.backend
  }

  /** The configuration in force, or undefined. */
  get config(): RssConfig | undefined {
    return this.#state?.config
  }

  /** Everything about the RSS in force, or undefined. */
  get status(): TapRssStatus | undefined {
    const s = this.#state
    if (!s) return undefined
    return {
      backend: s.backend,
      config: s.config,
      reporting: s.reporting,
      maxTableLength: s.maxTableLength,
      supportedHashTypes: s.supportedHashTypes,
      ...(s.fallbackReason === undefined ? {} : { fallbackReason: s.fallbackReason }),
    }
  }

  /**
   * The eBPF back end's steering program and maps (undefined for the kernel back end). Hand
   * `steering.config.fd` to a process that should change RSS with no privileges
   * (`RssConfigMap.fromFd` on its side).
   */
  get steering(): RssSteering | undefined {
    return this.#state?.steering
  }

  /**
   * Re-reads the configuration from the eBPF back end's map, for when another holder of the map
   * fd changed it; returns the status (undefined when no RSS is applied).
   */
  refresh(): TapRssStatus | undefined {
    const s = this.#state
    if (s?.steering) {
      s.config = s.steering.read()
      this.#publish()
    }
    return this.status
  }

  /** Asks the kernel (TUNGETVNETHASHTYPES on a queue fd) whether it has native tun RSS. */
  probe(): KernelRssSupport {
    const fd = this.#fd('rss probe')
    const buf = Buffer.alloc(4)
    const r = tryIoctl(fd, TUNGETVNETHASHTYPES, buf)
    if (r < 0) {
      if (-r === Errno.EBADF || -r === Errno.EBADFD) throw tapFailure('rss probe', new SysError('ioctl', -r))
      return { available: false, hashTypes: [], errno: errnoName(-r) }
    }
    return { available: true, hashTypes: decodeHashTypesArg(buf).hashTypes }
  }

  /**
   * Applies `input` (validated first: RssConfigError names each bad field; TapError for bad
   * options, a closed tap or a forced back end that is unavailable). Nothing changes on failure.
   * Applying again with the eBPF back end in place is a live map update.
   */
  async apply(input: RssConfigInput, options: TapRssApplyOptions = {}): Promise<TapRssStatus> {
    return this.applySync(input, options)
  }

  /** As `apply`, synchronously. */
  applySync(input: RssConfigInput, options: TapRssApplyOptions = {}): TapRssStatus {
    this.#fd('rss apply')
    const o = parseTapInput(applyOptionsSchema, options, 'rss apply')
    const queues = this.#tap.attachedQueues.length
    const current = this.#state

    // Choose the back end and its limits; validate; only then touch anything.
    let backend: TapRssBackend
    let fallbackReason: string | undefined
    let kernelTypes: readonly HashType[] = []
    if (o.backend === 'ebpf') backend = 'ebpf'
    else {
      const k = this.probe()
      kernelTypes = k.hashTypes
      if (k.available) {
        const wanted = requestedHashTypes(input)
        const missing = wanted.filter((t) => !k.hashTypes.includes(t))
        if (missing.length === 0 || o.backend === 'kernel') backend = 'kernel'
        else {
          backend = 'ebpf'
          fallbackReason = `the kernel cannot compute ${missing.join(', ')}`
        }
      } else if (o.backend === 'kernel') {
        throw new TapError({
          kind: 'unsupported',
          operation: 'rss apply (kernel)',
          errno: k.errno ?? 'EINVAL',
        })
      } else {
        backend = 'ebpf'
        fallbackReason = `the kernel has no tun RSS ioctls (TUNGETVNETHASHTYPES: ${k.errno})`
      }
    }

    if (backend === 'kernel') {
      const limits: RssLimits = {
        queues,
        maxTableLength: KERNEL_MAX_TABLE_LENGTH,
        supportedHashTypes: kernelTypes,
      }
      const config = parseRssConfig(input, limits)
      const request = o.reporting ? TUNSETVNETREPORTINGRSS : TUNSETVNETRSS
      this.#ioctl('rss apply (kernel)', request, encodeTunVnetRss(config))
      // An attached steering program takes precedence over the kernel's RSS: remove ours.
      if (current?.steering) this.#dropSteering(current.steering)
      this.#setState({
        backend,
        config,
        reporting: o.reporting ? 'header' : 'software',
        maxTableLength: KERNEL_MAX_TABLE_LENGTH,
        supportedHashTypes: kernelTypes,
        fallbackReason: undefined,
        steering: undefined,
      })
      return this.status as TapRssStatus
    }

    if (o.reporting)
      throw new TapError({
        kind: 'invalid-input',
        operation: 'rss apply',
        issues: [
          {
            path: 'reporting',
            message: 'the ebpf back end cannot write hashes into the vnet header (use reportFor)',
          },
        ],
      })
    const reuse =
      current?.steering !== undefined &&
      (o.tableCapacity === undefined || o.tableCapacity === current.steering.tableCapacity)
    const capacity = reuse
      ? (current?.steering?.tableCapacity as number)
      : (o.tableCapacity ?? DEFAULT_MAX_TABLE_LENGTH)
    const config = parseRssConfig(input, { queues, maxTableLength: capacity })
    let steering: RssSteering
    if (reuse) {
      steering = current?.steering as RssSteering
      steering.config.write(config, queues) // one map update: live, no reattach
    } else {
      steering = RssSteering.create({ tableCapacity: capacity, queues }, config)
      try {
        this.#tap.setSteeringProgram(steering)
      } catch (e) {
        steering.close()
        throw e
      }
      if (current?.steering) current.steering.close()
      if (current?.backend === 'kernel') this.#disableKernel()
    }
    this.#setState({
      backend,
      config,
      reporting: 'software',
      maxTableLength: capacity,
      supportedHashTypes: HASH_TYPES,
      fallbackReason,
      steering,
    })
    return this.status as TapRssStatus
  }

  /**
   * Changes part of the configuration in force (e.g. `{ table }`, `{ key }`), through the same
   * back end, live. Validated first; on failure the previous configuration stays.
   */
  async update(change: RssConfigChange): Promise<TapRssStatus> {
    return this.updateSync(change)
  }

  /** As `update`, synchronously. */
  updateSync(change: RssConfigChange): TapRssStatus {
    const s = this.#state
    if (!s)
      throw new TapError({
        kind: 'invalid-input',
        operation: 'rss update',
        issues: [{ path: '', message: 'no RSS applied: use apply first' }],
      })
    const merged = { ...s.config, ...change } as RssConfigInput
    return this.applySync(merged, { backend: s.backend, reporting: s.reporting === 'header' })
  }

  /** Removes RSS: the tap goes back to tun's automatic queue choice. */
  async detach(): Promise<void> {
    this.detachSync()
  }

  /** As `detach`, synchronously. */
  detachSync(): void {
    const s = this.#state
    if (!s) return
    if (s.steering) this.#dropSteering(s.steering)
    else this.#disableKernel(true)
    this.#setState(undefined)
  }

  /**
   * The hash report and queue for a frame under the configuration in force: what a VMM writes
   * into `virtio_net_hdr_v1_hash` (`hashValue`, `hashReport`). With the kernel back end and
   * reporting on, a frame read with its header (`vnetHeader` ≥ 20) gives the kernel's values.
   */
  reportFor(frame: Uint8Array, options: ReportForOptions = {}): RssHashReport {
    const s = this.#state
    if (!s)
      throw new TapError({
        kind: 'invalid-input',
        operation: 'rss report',
        issues: [{ path: '', message: 'no RSS applied' }],
      })
    const f = parseTapInput(frameSchema, frame, 'rss report')
    const o = parseTapInput(reportOptionsSchema, options, 'rss report')
    const steering = this.#steeringFn(s.config)
    if (s.reporting === 'header' && o.vnetHeader >= VNET_HEADER_SIZE.v1_hash) {
      const h = decodeVnetHeader(f, 'v1_hash')
      const reportType = hashReportName(h.hashReport) ?? 'none'
      const t = s.config.table
      return {
        hashValue: h.hashValue,
        hashReport: h.hashReport,
        reportType,
        queue: reportType === 'none' ? s.config.defaultQueue : (t[h.hashValue & (t.length - 1)] as number),
      }
    }
    const body = f.subarray(o.vnetHeader)
    const r = steering.hash(body)
    const t = s.config.table
    return {
      hashValue: r.hash,
      hashReport: HASH_REPORT_VALUE[r.reportType],
      reportType: r.reportType,
      queue: r.reportType === 'none' ? s.config.defaultQueue : (t[r.hash & (t.length - 1)] as number),
    }
  }

  /** @internal Releases the eBPF objects (the tap is closing; the device goes with its queues). */
  close(): void {
    this.#state?.steering?.close()
    this.#setState(undefined)
  }

  [Symbol.dispose](): void {
    this.close()
  }

  #setState(state: State | undefined): void {
    const had = this.#state !== undefined
    this.#state = state
    if (state || had) this.#publish()
  }

  /** Tells the process-wide registry (and so `deviceState$`) what is in force now. */
  #publish(): void {
    if (this.#ifindex === undefined) {
      try {
        this.#ifindex = this.#tap.ifindex
      } catch {
        return // the device is unreachable from here: nothing to show in a state
      }
    }
    publishTapRss({ netns: this.#tap.netns, index: this.#ifindex, name: this.#tap.name, status: this.status })
  }

  #steeringFn(config: RssConfig): RssSteeringFn {
    if (this.#compiled?.config !== config) this.#compiled = { config, steering: rssSteering(config) }
    return this.#compiled.steering
  }

  #dropSteering(steering: RssSteering): void {
    this.#tap.setSteeringProgram(null)
    steering.close()
  }

  /** TUNSETVNETREPORTINGAUTOMQ 0: automatic queue choice, no reporting. */
  #disableKernel(strict = false): void {
    try {
      this.#ioctl('rss detach (kernel)', TUNSETVNETREPORTINGAUTOMQ, encodeHashTypesArg(0))
    } catch (e) {
      if (strict) throw e
    }
  }

  #ioctl(operation: string, request: number, arg: Buffer): void {
    const fd = this.#fd(operation)
    try {
      ioctl(fd, request, arg)
    } catch (e) {
      if (e instanceof SysError && (e.errno === Errno.EINVAL || e.errno === Errno.ENOTTY))
        throw new TapError({ kind: 'unsupported', operation, errno: e.code })
      throw tapFailure(operation, e)
    }
  }

  /** A queue fd for device-wide ioctls (TapError 'closed' or 'queue-detached' when there is none). */
  #fd(operation: string): number {
    const q = this.#tap.attachedQueues[0]
    if (q) return q.fd
    if (this.#tap.queues.length === 0) throw new TapError({ kind: 'closed', operation })
    throw new TapError({ kind: 'queue-detached', operation })
  }
}

/** The hash types named in unvalidated input (unknown names are left to the schema). */
function requestedHashTypes(input: unknown): HashType[] {
  const types = (input as { hashTypes?: unknown } | null)?.hashTypes
  if (!Array.isArray(types)) return []
  return types.filter((t): t is HashType => (HASH_TYPES as readonly unknown[]).includes(t))
}
