import type { Observable } from 'rxjs'
import { z } from 'zod'
import { noAttrs } from '../netlink/codec/index.ts'
import {
  decodeGeneric,
  FamilyNotFoundError,
  GenericSocket,
  rawNotifications$,
} from '../netlink/generic/index.ts'
import { netnsSchema } from '../netlink/route/link-schema.ts'
import type { NetnsRef } from '../netlink/sys/index.ts'
import { InvalidInputError, parseInput } from '../netlink/validate.ts'
import {
  type ChannelsAttrs,
  channelsAttrs,
  ETHTOOL_KMSG,
  ETHTOOL_MCGRP_MONITOR,
  ETHTOOL_MSG,
  type Header,
  type RingsAttrs,
  type RssAttrs,
  ringsAttrs,
  rssAttrs,
} from './attrs.ts'
import { NoSuchDeviceError, NotSupportedError, translateError } from './errors.ts'
import { ETH_RXFH_CONTEXT_ALLOC, EthtoolIoctl, type RxfhValue } from './ioctl.ts'
import {
  type Channels,
  type DeviceId,
  deviceId,
  hashFunctionBits,
  hashFunctionName,
  inputXfrmBits,
  inputXfrmNames,
  type Rings,
  type Rss,
  toChannels,
  toRings,
  toRss,
} from './model.ts'
import {
  type ChannelsChange,
  channelsChangeSchema,
  contextSchema,
  type DeviceRef,
  deviceSchema,
  type RingsChange,
  type RssCreate,
  type RssSet,
  ringsChangeSchema,
  rssCreateSchema,
  rssSetSchema,
} from './schema.ts'

/** How an ethtool operation reaches the kernel: the ethtool genetlink family or the SIOCETHTOOL ioctl. */
export type EthtoolBackend = 'netlink' | 'ioctl'

/** Where an ethtool client opens and which back end it uses. */
export interface EthtoolOptions {
  /** The network namespace whose devices to work on (default: the caller's). */
  netns?: NetnsRef
  /**
   * 'auto' (default) uses each netlink operation the running kernel has and the SIOCETHTOOL
   * ioctl for the rest; 'ioctl' forces the ioctl everywhere; 'netlink' never falls back.
   */
  backend?: 'auto' | EthtoolBackend
}

/** Which way each operation goes on this kernel. */
export interface EthtoolBackends {
  channels: EthtoolBackend
  rings: EthtoolBackend
  rssGet: EthtoolBackend
  rssSet: EthtoolBackend
  rssContexts: EthtoolBackend
  /** Listing contexts needs the RSS_GET dump (kernel 6.11+); the ioctl cannot list them. */
  rssContextList: EthtoolBackend | 'none'
  /** Whether the kernel announces RSS changes on the monitor group (RSS_NTF, kernel 6.17+). */
  rssNotifications: boolean
}

/** An ethtool monitor notification: channels, rings or RSS changed, a context created or deleted, something untyped, or lost events. */
export type EthtoolEvent =
  | { type: 'channels'; channels: Channels }
  | { type: 'rings'; rings: Rings }
  | { type: 'rss'; rss: Rss }
  | { type: 'rss-context-created'; rss: Rss }
  | ({ type: 'rss-context-deleted'; context: number } & DeviceId)
  /** A monitor message of a kind this library does not type (link modes, features, …). */
  | { type: 'other'; cmd: number }
  /** Notifications were lost (receive buffer overrun): re-read what you track. */
  | { type: 'overrun' }

const optionsSchema = z
  .object({ netns: netnsSchema.optional(), backend: z.enum(['auto', 'netlink', 'ioctl']).optional() })
  .strict()

function header(dev: string | number): Header {
  return typeof dev === 'number' ? { devIndex: dev } : { devName: dev }
}

/**
 * ethtool for one network namespace: channels, rings, RSS (default and additional contexts) and
 * the monitor notifications. Every input is validated before anything reaches the kernel.
 */
export class EthtoolClient {
  readonly backends: EthtoolBackends

  private constructor(
    private readonly nl: GenericSocket<Record<string, never>> | undefined,
    private readonly io: EthtoolIoctl,
    readonly netns: NetnsRef | undefined,
    forced: 'auto' | EthtoolBackend,
  ) {
    const has = (cmd: number, how: 'do' | 'dump' = 'do') => forced !== 'ioctl' && !!nl?.supports(cmd, how)
    const pick = (cmd: number): EthtoolBackend => (has(cmd) || forced === 'netlink' ? 'netlink' : 'ioctl')
    this.backends = {
      channels: pick(ETHTOOL_MSG.CHANNELS_GET),
      rings: pick(ETHTOOL_MSG.RINGS_GET),
      rssGet: pick(ETHTOOL_MSG.RSS_GET),
      rssSet: pick(ETHTOOL_MSG.RSS_SET),
      rssContexts: pick(ETHTOOL_MSG.RSS_CREATE_ACT),
      rssContextList: has(ETHTOOL_MSG.RSS_GET, 'dump') ? 'netlink' : 'none',
      rssNotifications: !!nl?.supports(ETHTOOL_MSG.RSS_SET),
    }
  }

  /** Opens a client; see `openEthtool`. */
  static async open(options: EthtoolOptions = {}): Promise<EthtoolClient> {
    const o = parseInput(optionsSchema, options, 'openEthtool')
    const forced = o.backend ?? 'auto'
    let nl: GenericSocket<Record<string, never>> | undefined
    if (forced !== 'ioctl') {
      try {
        nl = await GenericSocket.open('ethtool', noAttrs, { netns: o.netns })
      } catch (e) {
        if (!(e instanceof FamilyNotFoundError) || forced === 'netlink') throw e
      }
    }
    let io: EthtoolIoctl
    try {
      io = new EthtoolIoctl(o.netns)
    } catch (e) {
      nl?.close()
      throw e
    }
    return new EthtoolClient(nl, io, o.netns, forced)
  }

  // ---- channels -------------------------------------------------------------------------------

  readonly channels = {
    /** Channel counts and maxima (`ethtool -l DEV`). */
    get: async (device: DeviceRef): Promise<Channels> => {
      const dev = parseInput(deviceSchema, device, 'channels.get')
      return this.run('channels.get', dev, async () => {
        if (this.backends.channels === 'netlink') {
          const [r] = await this.netlink().requestAs(
            channelsAttrs,
            ETHTOOL_MSG.CHANNELS_GET,
            { header: header(dev) },
            `channels.get(${dev})`,
          )
          return toChannels(r ?? {})
        }
        const id = this.ioDevice(dev)
        return stripCmd({ ...id, ...this.io.getChannels(id.ifname) }) as Channels
      })
    },

    /** Channels of every device that has them, in one dump (netlink only; the ioctl asks per device). */
    list: async (): Promise<Channels[]> => {
      if (this.backends.channels !== 'netlink')
        throw new NotSupportedError(
          'channels.list',
          undefined,
          'the ethtool ioctl has no dump: ask each device',
        )
      const all = await this.netlink().dumpAs(
        channelsAttrs,
        ETHTOOL_MSG.CHANNELS_GET,
        { header: {} },
        'channels.list',
      )
      return all.map((a) => toChannels(a))
    },

    /** Changes the counts named (`ethtool -L DEV combined N …`); returns the new counts. */
    set: async (device: DeviceRef, change: ChannelsChange): Promise<Channels> => {
      const dev = parseInput(deviceSchema, device, 'channels.set')
      const c = parseInput(channelsChangeSchema, change, 'channels.set')
      await this.run('channels.set', dev, async () => {
        if (this.backends.channels === 'netlink') {
          const attrs: ChannelsAttrs = { header: header(dev) }
          if (c.rx !== undefined) attrs.rxCount = c.rx
          if (c.tx !== undefined) attrs.txCount = c.tx
          if (c.other !== undefined) attrs.otherCount = c.other
          if (c.combined !== undefined) attrs.combinedCount = c.combined
          await this.netlink().requestAs(
            channelsAttrs,
            ETHTOOL_MSG.CHANNELS_SET,
            attrs,
            `channels.set(${dev})`,
          )
          return
        }
        const id = this.ioDevice(dev)
        const cur = this.io.getChannels(id.ifname)
        // The ioctl answers a bad count with a bare EINVAL: say which count and why first.
        const limits = { rx: cur.maxRx, tx: cur.maxTx, other: cur.maxOther, combined: cur.maxCombined }
        const issues = (['rx', 'tx', 'other', 'combined'] as const)
          .filter((k) => c[k] !== undefined && (c[k] as number) > limits[k])
          .map((k) => ({ path: k, message: `${id.ifname} allows at most ${limits[k]} ${k} channels` }))
        if (issues.length) throw new InvalidInputError('channels.set', issues)
        this.io.setChannels(id.ifname, {
          rx: c.rx ?? cur.rx,
          tx: c.tx ?? cur.tx,
          other: c.other ?? cur.other,
          combined: c.combined ?? cur.combined,
        })
      })
      return this.channels.get(dev)
    },
  }

  // ---- rings ----------------------------------------------------------------------------------

  readonly rings = {
    /** Ring sizes and maxima (`ethtool -g DEV`). */
    get: async (device: DeviceRef): Promise<Rings> => {
      const dev = parseInput(deviceSchema, device, 'rings.get')
      return this.run('rings.get', dev, async () => {
        if (this.backends.rings === 'netlink') {
          const [r] = await this.netlink().requestAs(
            ringsAttrs,
            ETHTOOL_MSG.RINGS_GET,
            { header: header(dev) },
            `rings.get(${dev})`,
          )
          return toRings(r ?? {})
        }
        const id = this.ioDevice(dev)
        return stripCmd({ ...id, ...this.io.getRings(id.ifname) }) as Rings
      })
    },

    /** Changes the ring settings named (`ethtool -G DEV rx N …`); returns the new settings. */
    set: async (device: DeviceRef, change: RingsChange): Promise<Rings> => {
      const dev = parseInput(deviceSchema, device, 'rings.set')
      const c = parseInput(ringsChangeSchema, change, 'rings.set')
      await this.run('rings.set', dev, async () => {
        if (this.backends.rings === 'netlink') {
          const attrs: RingsAttrs = { header: header(dev) }
          if (c.rx !== undefined) attrs.rx = c.rx
          if (c.rxMini !== undefined) attrs.rxMini = c.rxMini
          if (c.rxJumbo !== undefined) attrs.rxJumbo = c.rxJumbo
          if (c.tx !== undefined) attrs.tx = c.tx
          if (c.rxBufLen !== undefined) attrs.rxBufLen = c.rxBufLen
          if (c.cqeSize !== undefined) attrs.cqeSize = c.cqeSize
          if (c.txPush !== undefined) attrs.txPush = c.txPush ? 1 : 0
          if (c.rxPush !== undefined) attrs.rxPush = c.rxPush ? 1 : 0
          if (c.txPushBufLen !== undefined) attrs.txPushBufLen = c.txPushBufLen
          if (c.hdsThresh !== undefined) attrs.hdsThresh = c.hdsThresh
          if (c.tcpDataSplit !== undefined) attrs.tcpDataSplit = c.tcpDataSplit
          await this.netlink().requestAs(ringsAttrs, ETHTOOL_MSG.RINGS_SET, attrs, `rings.set(${dev})`)
          return
        }
        const extra = Object.keys(c).filter((k) => !['rx', 'rxMini', 'rxJumbo', 'tx'].includes(k))
        if (extra.length)
          throw new NotSupportedError('rings.set', dev, `the ioctl cannot set ${extra.join(', ')}`)
        const id = this.ioDevice(dev)
        const cur = this.io.getRings(id.ifname)
        this.io.setRings(id.ifname, {
          rx: c.rx ?? cur.rx,
          rxMini: c.rxMini ?? cur.rxMini,
          rxJumbo: c.rxJumbo ?? cur.rxJumbo,
          tx: c.tx ?? cur.tx,
        })
      })
      return this.rings.get(dev)
    },
  }

  // ---- RSS ------------------------------------------------------------------------------------

  readonly rss = {
    /** A context's indirection table, key, hash function and input transform (`ethtool -x`). */
    get: async (device: DeviceRef, options: { context?: number } = {}): Promise<Rss> => {
      const dev = parseInput(deviceSchema, device, 'rss.get')
      const context = parseInput(contextSchema, options.context ?? 0, 'rss.get')
      return this.run('rss.get', dev, () => this.getRss(dev, context))
    },

    /**
     * Changes a context's RSS settings. The device is read first: table entries naming a queue
     * it does not have, tables it cannot take and keys of the wrong length are refused before
     * anything is changed.
     */
    set: async (device: DeviceRef, config: RssSet): Promise<Rss> => {
      const dev = parseInput(deviceSchema, device, 'rss.set')
      const c = parseInput(rssSetSchema, config, 'rss.set')
      const context = c.context ?? 0
      const via = this.backends.rssSet
      await this.run('rss.set', dev, async () => {
        const cur = await this.getRss(dev, context)
        await this.checkRss('rss.set', dev, cur, c, via)
        if (via === 'netlink') {
          await this.netlink().requestAs(
            rssAttrs,
            ETHTOOL_MSG.RSS_SET,
            rssRequest(dev, context, c),
            `rss.set(${dev})`,
          )
          return
        }
        this.io.setRss(this.ioDevice(dev).ifname, {
          context,
          ...(c.table !== undefined ? { table: c.table } : {}),
          ...(c.key !== undefined ? { key: c.key } : {}),
          ...(c.hfunc !== undefined ? { hfunc: hashFunctionBits(c.hfunc) } : {}),
          ...(c.inputXfrm !== undefined ? { inputXfrm: inputXfrmBits(c.inputXfrm) } : {}),
        })
      })
      return this.rss.get(dev, { context })
    },

    /** The default RSS context of every device that has RSS, in one dump (kernel 6.11+). */
    list: async (): Promise<Rss[]> => {
      if (this.backends.rssContextList === 'none')
        throw new NotSupportedError(
          'rss.list',
          undefined,
          'dumping RSS needs the ETHTOOL_MSG_RSS_GET dump (kernel 6.11+)',
        )
      const all = await this.netlink().dumpAs(rssAttrs, ETHTOOL_MSG.RSS_GET, { header: {} }, 'rss.list')
      return all.map((a) => toRss(a)).filter((r) => r.context === 0)
    },

    /** Additional RSS contexts (RSS over a subset of queues, targeted by flow rules). */
    contexts: {
      /** Every context of the device, the default one (0) first. Needs kernel 6.11+. */
      list: async (device: DeviceRef): Promise<Rss[]> => {
        const dev = parseInput(deviceSchema, device, 'rss.contexts.list')
        if (this.backends.rssContextList === 'none')
          throw new NotSupportedError(
            'rss.contexts.list',
            dev,
            'listing RSS contexts needs the ETHTOOL_MSG_RSS_GET dump (kernel 6.11+)',
          )
        return this.run('rss.contexts.list', dev, async () => {
          const id = await this.resolve(dev)
          const all = await this.netlink().dumpAs(
            rssAttrs,
            ETHTOOL_MSG.RSS_GET,
            { header: { devIndex: id.ifindex } },
            `rss.contexts.list(${dev})`,
          )
          const mine = all
            .map((a) => toRss(a))
            .filter((r) => r.ifindex === id.ifindex)
            .sort((a, b) => a.context - b.context)
          // The dump skips devices without RSS; ask the device itself to hear why.
          if (mine.length === 0) return [await this.getRss(id.ifindex, 0)]
          return mine
        })
      },

      /** Creates a context (with the settings given, the device's defaults otherwise). */
      create: async (device: DeviceRef, config: RssCreate = {}): Promise<Rss> => {
        const dev = parseInput(deviceSchema, device, 'rss.contexts.create')
        const c = parseInput(rssCreateSchema, config, 'rss.contexts.create')
        const context = await this.run('rss.contexts.create', dev, async () => {
          const main = await this.getRss(dev, 0)
          await this.checkRss('rss.contexts.create', dev, main, c, this.backends.rssContexts)
          if (this.backends.rssContexts === 'netlink') {
            const [reply] = await this.netlink().requestAs(
              rssAttrs,
              ETHTOOL_MSG.RSS_CREATE_ACT,
              rssRequest(dev, c.context ?? 0, c),
              `rss.contexts.create(${dev})`,
            )
            if (reply?.context === undefined)
              throw new Error('rss.contexts.create: the kernel named no context')
            return reply.context
          }
          if (c.context !== undefined)
            throw new NotSupportedError(
              'rss.contexts.create',
              dev,
              'choosing the context number needs ETHTOOL_MSG_RSS_CREATE_ACT (kernel 6.17+)',
            )
          const table = c.table ?? (await this.defaultTable(dev, main.table.length))
          return this.io.setRss(this.ioDevice(dev).ifname, {
            context: ETH_RXFH_CONTEXT_ALLOC,
            table,
            ...(c.key !== undefined ? { key: c.key } : {}),
            ...(c.hfunc !== undefined ? { hfunc: hashFunctionBits(c.hfunc) } : {}),
            ...(c.inputXfrm !== undefined ? { inputXfrm: inputXfrmBits(c.inputXfrm) } : {}),
          })
        })
        return this.rss.get(dev, { context })
      },

      /** Deletes an additional RSS context (never context 0). */
      delete: async (device: DeviceRef, context: number): Promise<void> => {
        const dev = parseInput(deviceSchema, device, 'rss.contexts.delete')
        const ctx = parseInput(
          z.number().int().min(1, 'context 0 is the default context and cannot be deleted').max(0xfffffffe),
          context,
          'rss.contexts.delete',
        )
        await this.run('rss.contexts.delete', dev, async () => {
          if (this.backends.rssContexts === 'netlink') {
            await this.netlink().requestAs(
              rssAttrs,
              ETHTOOL_MSG.RSS_DELETE_ACT,
              { header: header(dev), context: ctx },
              `rss.contexts.delete(${dev}, ${ctx})`,
            )
            return
          }
          this.io.setRss(this.ioDevice(dev).ifname, { context: ctx, table: [] })
        })
      },
    },
  }

  /**
   * The monitor group's notifications for this namespace: channel and ring changes, and RSS
   * changes on kernels that announce them (`backends.rssNotifications`). Cold: each subscription
   * opens a socket of its own.
   */
  get events$(): Observable<EthtoolEvent> {
    return ethtoolEvents$({ netns: this.netns })
  }

  /** Closes the client's sockets. */
  close(): void {
    this.nl?.close()
    this.io.close()
  }

  /** Closes the client (`using et = await openEthtool()`). */
  [Symbol.dispose](): void {
    this.close()
  }

  // ---- internals ------------------------------------------------------------------------------

  private netlink(): GenericSocket<Record<string, never>> {
    if (!this.nl) throw new NotSupportedError('ethtool', undefined, 'the ethtool netlink family is missing')
    return this.nl
  }

  /** Runs an operation, turning ENODEV / EOPNOTSUPP from either back end into typed errors. */
  private async run<T>(operation: string, dev: string | number, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn()
    } catch (e) {
      throw translateError(e, operation, dev)
    }
  }

  private ioDevice(dev: string | number): DeviceId {
    return typeof dev === 'number'
      ? { ifindex: dev, ifname: this.io.nameOf(dev) }
      : { ifindex: this.io.indexOf(dev), ifname: dev }
  }

  /** The device's index and name (and a clear error when there is no such device). */
  private async resolve(dev: string | number): Promise<DeviceId> {
    try {
      return this.ioDevice(dev)
    } catch (e) {
      const t = translateError(e, 'resolve', dev)
      if (t instanceof NoSuchDeviceError) throw t
      throw e
    }
  }

  private async getRss(dev: string | number, context: number): Promise<Rss> {
    if (this.backends.rssGet === 'netlink') {
      const attrs: RssAttrs = { header: header(dev) }
      if (context) attrs.context = context
      const [r] = await this.netlink().requestAs(rssAttrs, ETHTOOL_MSG.RSS_GET, attrs, `rss.get(${dev})`)
      return toRss(r ?? {}, context)
    }
    const id = this.ioDevice(dev)
    return fromRxfh(id, this.io.getRss(id.ifname, context))
  }

  /** Receive queues a table may name: combined + rx channels, when the driver reports them. */
  private async rxQueues(dev: string | number): Promise<number | undefined> {
    try {
      const c = await this.channels.get(dev)
      const n = c.combined + c.rx
      return n > 0 ? n : undefined
    } catch (e) {
      if (e instanceof NotSupportedError) return undefined
      throw e
    }
  }

  private async defaultTable(dev: string | number, size: number): Promise<number[]> {
    const n = (await this.rxQueues(dev)) ?? 1
    return Array.from({ length: size }, (_, i) => i % n)
  }

  private async checkRss(
    operation: string,
    dev: string | number,
    cur: Rss,
    c: { table?: number[] | undefined; key?: Uint8Array | undefined },
    via: EthtoolBackend,
  ): Promise<void> {
    const issues: Array<{ path: string; message: string }> = []
    if (c.table !== undefined && c.table.length > 0) {
      const size = cur.table.length
      if (size > 0) {
        if (via === 'ioctl' && c.table.length !== size)
          issues.push({ path: 'table', message: `${cur.ifname} takes a table of exactly ${size} entries` })
        else if (c.table.length > size || size % c.table.length !== 0)
          issues.push({
            path: 'table',
            message: `${cur.ifname} has a ${size}-entry table: give ${size} entries or a divisor of ${size}`,
          })
      }
      const queues = await this.rxQueues(dev)
      if (queues !== undefined) {
        const bad = c.table.findIndex((q) => q >= queues)
        if (bad >= 0)
          issues.push({
            path: `table[${bad}]`,
            message: `queue ${c.table[bad]} does not exist: ${cur.ifname} has ${queues} receive queues (0–${queues - 1})`,
          })
      }
    }
    if (c.key !== undefined && cur.key.length > 0 && c.key.length !== cur.key.length)
      issues.push({
        path: 'key',
        message: `${cur.ifname} takes a ${cur.key.length}-byte key, not ${c.key.length} bytes`,
      })
    if (issues.length) throw new InvalidInputError(operation, issues)
  }
}

function stripCmd<T extends object>(v: T): T {
  const { cmd: _cmd, ...rest } = v as T & { cmd?: unknown }
  return rest as T
}

function fromRxfh(id: DeviceId, v: RxfhValue): Rss {
  return {
    ...id,
    context: v.context,
    hfunc: hashFunctionName(v.hfunc),
    key: v.key,
    table: v.table,
    inputXfrm: inputXfrmNames(v.inputXfrm),
  }
}

/** The RSS_SET / RSS_CREATE_ACT attributes for a configuration (exported for byte tests). */
export function rssRequest(
  dev: string | number,
  context: number,
  c: {
    table?: number[] | undefined
    key?: Uint8Array | undefined
    hfunc?: string | number | undefined
    inputXfrm?: Array<string | number> | undefined
  },
): RssAttrs {
  const attrs: RssAttrs = { header: header(dev) }
  if (context) attrs.context = context
  if (c.table !== undefined) attrs.indir = c.table
  if (c.key !== undefined) attrs.hkey = c.key
  if (c.hfunc !== undefined) attrs.hfunc = hashFunctionBits(c.hfunc as Parameters<typeof hashFunctionBits>[0])
  if (c.inputXfrm !== undefined)
    attrs.inputXfrm = inputXfrmBits(c.inputXfrm as Parameters<typeof inputXfrmBits>[0])
  return attrs
}

/** Opens an ethtool client in a namespace (default: the caller's). */
export function openEthtool(options: EthtoolOptions = {}): Promise<EthtoolClient> {
  return EthtoolClient.open(options)
}

/** The ethtool monitor group of a namespace as typed events. Cold: subscribing opens a socket. */
export function ethtoolEvents$(options: { netns?: NetnsRef } = {}): Observable<EthtoolEvent> {
  return rawNotifications$(
    'ethtool',
    [ETHTOOL_MCGRP_MONITOR],
    (e): EthtoolEvent => (e.kind === 'overrun' ? { type: 'overrun' } : toEvent(e.cmd, e.message)),
    { netns: options.netns },
  )
}

function toEvent(cmd: number, message: Parameters<typeof decodeGeneric>[1]): EthtoolEvent {
  try {
    switch (cmd) {
      case ETHTOOL_KMSG.CHANNELS_NTF:
        return { type: 'channels', channels: toChannels(decodeGeneric(channelsAttrs, message)) }
      case ETHTOOL_KMSG.RINGS_NTF:
        return { type: 'rings', rings: toRings(decodeGeneric(ringsAttrs, message)) }
      case ETHTOOL_KMSG.RSS_NTF:
        return { type: 'rss', rss: toRss(decodeGeneric(rssAttrs, message)) }
      case ETHTOOL_KMSG.RSS_CREATE_NTF:
        return { type: 'rss-context-created', rss: toRss(decodeGeneric(rssAttrs, message)) }
      case ETHTOOL_KMSG.RSS_DELETE_NTF: {
        const a = decodeGeneric(rssAttrs, message)
        return { type: 'rss-context-deleted', ...deviceId(a.header), context: a.context ?? 0 }
      }
    }
  } catch {
    // A notification this version cannot decode is reported by kind, never as a stream error.
  }
  return { type: 'other', cmd }
}
