import type { Observable } from 'rxjs'
import { z } from 'zod'
import { EncodeError } from '../netlink/codec/index.ts'
import { decodeGeneric, GenericSocket, rawNotifications$ } from '../netlink/generic/index.ts'
import { macSchema, netnsSchema } from '../netlink/route/link-schema.ts'
import { closeFd, type NetnsRef, netnsPath, O_CLOEXEC, openPath } from '../netlink/sys/index.ts'
import { InvalidInputError, parseInput } from '../netlink/validate.ts'
import {
  DEVLINK_CMD,
  DEVLINK_GENL_NAME,
  DEVLINK_MCGRP_CONFIG,
  type DevlinkAttrs,
  devlinkAttrs,
  ESWITCH_ENCAP_MODES,
  ESWITCH_INLINE_MODES,
  PARAM_CMODES,
  PORT_FN_STATES,
  RELOAD_ACTIONS,
  RELOAD_LIMITS,
} from './attrs.ts'
import {
  type DeviceHandle,
  deviceHandleSchema,
  nodeNameSchema,
  type PortHandle,
  portHandleSchema,
  type RateHandle,
  rateHandleSchema,
  splitDevice,
  splitPort,
  splitRate,
} from './handles.ts'
import {
  type DevlinkDevice,
  type DevlinkInfo,
  type DevlinkParam,
  type DevlinkPort,
  type Eswitch,
  type HealthReporter,
  type ParamCmode,
  type RateObject,
  type ReloadAction,
  type Resource,
  type Trap,
  toDevice,
  toEswitch,
  toHealthReporter,
  toInfo,
  toParam,
  toPort,
  toRate,
  toResources,
  toTrap,
} from './model.ts'
import { type FmsgObject, fmsgTree, type ParamValue, writeParam } from './values.ts'

/** Where a devlink client or event stream opens its socket. */
export interface DevlinkOptions {
  /** The network namespace whose devlink instances to see (default: the caller's). */
  netns?: NetnsRef
}

/** A device or one of its ports: health reporters exist on both. */
const reporterOwnerSchema = z.union([deviceHandleSchema, portHandleSchema])
/** A device or one of its ports: health reporters exist on both. */
export type ReporterOwner = DeviceHandle | PortHandle

const u32 = z.number().int().min(0).max(0xffffffff)
/** Rates and periods go out as u64; numbers are exact up to 2^53. */
const u64 = z.union([
  z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  z
    .bigint()
    .min(0n)
    .max(2n ** 64n - 1n),
])

const paramValueSchema = z.union([z.number(), z.bigint(), z.string(), z.boolean()])

const portSetSchema = z
  .object({
    type: z.enum(['auto', 'eth', 'ib']).optional(),
    function: z
      .object({
        hwAddr: macSchema.optional(),
        state: z.enum(Object.keys(PORT_FN_STATES) as ['inactive', 'active']).optional(),
      })
      .strict()
      .optional(),
  })
  .strict()
  .refine((v) => v.type !== undefined || v.function !== undefined, 'name a type or a function setting')
/** What `ports.set` changes on a port: its type and its function (MAC address, state). */
export type PortSet = z.input<typeof portSetSchema>

const eswitchSetSchema = z
  .object({
    mode: z.enum(['legacy', 'switchdev', 'switchdev_inactive']).optional(),
    inlineMode: z
      .enum(Object.keys(ESWITCH_INLINE_MODES) as ['none', 'link', 'network', 'transport'])
      .optional(),
    encapMode: z.enum(Object.keys(ESWITCH_ENCAP_MODES) as ['none', 'basic']).optional(),
  })
  .strict()
  .refine((v) => Object.values(v).some((x) => x !== undefined), 'name mode, inlineMode or encapMode')
/** What `eswitch.set` changes: mode (`legacy`/`switchdev`), inline mode and encapsulation mode. */
export type EswitchSet = z.input<typeof eswitchSetSchema>

const healthSetSchema = z
  .object({
    gracefulPeriod: u64.optional(),
    autoRecover: z.boolean().optional(),
    autoDump: z.boolean().optional(),
    burstPeriod: u64.optional(),
  })
  .strict()
  .refine((v) => Object.values(v).some((x) => x !== undefined), 'name at least one reporter setting')
/** What `health.set` changes on a reporter: grace and burst periods, auto-recover and auto-dump. */
export type HealthSet = z.input<typeof healthSetSchema>

const rateSettingsSchema = z
  .object({
    txShare: u64.optional(),
    txMax: u64.optional(),
    txPriority: u32.optional(),
    txWeight: u32.optional(),
    /** A node's name; null detaches from the current parent. */
    parent: z.union([nodeNameSchema, z.null()]).optional(),
  })
  .strict()
/** Rate limits and scheduling of a rate object (bytes per second), and its parent node. */
export type RateSettings = z.input<typeof rateSettingsSchema>

const reloadSchema = z
  .object({
    action: z.enum(Object.keys(RELOAD_ACTIONS) as ['driver_reinit', 'fw_activate']).optional(),
    limit: z.enum(Object.keys(RELOAD_LIMITS) as ['no_reset']).optional(),
    /** Move the instance (and its ports) to this namespace while reloading. */
    netns: netnsSchema.optional(),
  })
  .strict()
/** How `reload` reloads an instance: the action (driver reinit or firmware activate), a limit, a target namespace. */
export type ReloadOptions = z.input<typeof reloadSchema>

/** A devlink notification: an object created or deleted, a health report, something untyped, or lost events. */
export type DevlinkEvent =
  | { type: 'dev'; action: 'new' | 'del'; device: DevlinkDevice }
  | { type: 'port'; action: 'new' | 'del'; port: DevlinkPort }
  | { type: 'param'; action: 'new' | 'del'; param: DevlinkParam }
  | { type: 'rate'; action: 'new' | 'del'; rate: RateObject }
  | { type: 'trap'; action: 'new' | 'del'; trap: Trap }
  | { type: 'health'; reporter: HealthReporter }
  /** Anything else devlink announces (regions, trap groups, line cards, flash progress, …). */
  | { type: 'other'; cmd: number; handle: string }
  | { type: 'overrun' }

type Attrs = DevlinkAttrs
type Sock = GenericSocket<typeof devlinkAttrs.decls>

/** What the client needs from a socket; tests give it a fake one that records requests. */
export type DevlinkTransport = Pick<Sock, 'request' | 'dump' | 'supports' | 'close'>

function bitsOf(names: readonly string[], table: Readonly<Record<string, number>>): number {
  return names.reduce((acc, k) => acc | (1 << (table[k] ?? 0)), 0) >>> 0
}

/**
 * devlink for one network namespace: devices, info, parameters, ports, eswitch, health
 * reporters, rate objects, reload, resources, traps and notifications.
 */
export class DevlinkClient {
  private constructor(
    private readonly sock: DevlinkTransport,
    readonly netns: NetnsRef | undefined,
  ) {}

  /** A client over any transport (a fake one in unit tests). */
  static overTransport(transport: DevlinkTransport, netns?: NetnsRef): DevlinkClient {
    return new DevlinkClient(transport, netns)
  }

  /** Opens a client; FamilyNotFoundError when the kernel has no devlink. */
  static async open(options: DevlinkOptions = {}): Promise<DevlinkClient> {
    const o = parseInput(z.object({ netns: netnsSchema.optional() }).strict(), options, 'openDevlink')
    return new DevlinkClient(
      await GenericSocket.open(DEVLINK_GENL_NAME, devlinkAttrs, { netns: o.netns }),
      o.netns,
    )
  }

  /** Whether the running kernel implements a devlink command (for optional operations). */
  supports(cmd: number, how: 'do' | 'dump' = 'do'): boolean {
    return this.sock.supports(cmd, how)
  }

  private req(cmd: number, attrs: Attrs, op: string): Promise<Attrs[]> {
    return this.sock.request(cmd, attrs, op)
  }

  private dump(cmd: number, attrs: Attrs, op: string): Promise<Attrs[]> {
    return this.sock.dump(cmd, attrs, op)
  }

  private async one(cmd: number, attrs: Attrs, op: string): Promise<Attrs> {
    const [r] = await this.req(cmd, attrs, op)
    if (!r) throw new Error(`${op}: the kernel sent no reply`)
    return r
  }

  // ---- devices and info -----------------------------------------------------------------------

  readonly devices = {
    /** Every devlink instance in the namespace (`devlink dev show`). */
    list: async (): Promise<DevlinkDevice[]> =>
      (await this.dump(DEVLINK_CMD.GET, {}, 'devices.list')).map(toDevice),
    /** One instance by its `bus/device` handle. */
    get: async (handle: DeviceHandle): Promise<DevlinkDevice> => {
      const h = parseInput(deviceHandleSchema, handle, 'devices.get')
      return toDevice(await this.one(DEVLINK_CMD.GET, splitDevice(h), `devices.get(${h})`))
    },
  }

  /** `devlink dev info`: driver, serial numbers, fixed/running/stored versions. */
  async info(handle: DeviceHandle): Promise<DevlinkInfo> {
    const h = parseInput(deviceHandleSchema, handle, 'info')
    return toInfo(await this.one(DEVLINK_CMD.INFO_GET, splitDevice(h), `info(${h})`))
  }

  /** `devlink dev info` for every instance. */
  async infoAll(): Promise<DevlinkInfo[]> {
    return (await this.dump(DEVLINK_CMD.INFO_GET, {}, 'infoAll')).map(toInfo)
  }

  // ---- parameters -----------------------------------------------------------------------------

  readonly params = {
    /** Every parameter, of one device or of all. */
    list: async (handle?: DeviceHandle): Promise<DevlinkParam[]> => {
      const h = handle === undefined ? undefined : parseInput(deviceHandleSchema, handle, 'params.list')
      const all = await this.dump(DEVLINK_CMD.PARAM_GET, h ? splitDevice(h) : {}, 'params.list')
      return all.map(toParam).filter((p) => h === undefined || p.handle === h)
    },

    /** One parameter of a device, by name (`devlink dev param show DEV name NAME`). */
    get: async (handle: DeviceHandle, name: string): Promise<DevlinkParam> => {
      const h = parseInput(deviceHandleSchema, handle, 'params.get')
      const nm = parseInput(z.string().min(1), name, 'params.get')
      return toParam(
        await this.one(
          DEVLINK_CMD.PARAM_GET,
          { ...splitDevice(h), paramName: nm },
          `params.get(${h}, ${nm})`,
        ),
      )
    },

    /**
     * Sets a parameter in a configuration mode (default: its only mode). The parameter is read
     * first: its type checks the value and its modes check `cmode`, before anything is set.
     * `driverinit` values take effect at the next `reload`.
     */
    set: async (
      handle: DeviceHandle,
      name: string,
      value: ParamValue,
      options: { cmode?: Extract<ParamCmode, string> } = {},
    ): Promise<DevlinkParam> => {
      const h = parseInput(deviceHandleSchema, handle, 'params.set')
      const v = parseInput(paramValueSchema, value, 'params.set')
      const cmodeIn = parseInput(
        z.object({
          cmode: z.enum(Object.keys(PARAM_CMODES) as ['runtime', 'driverinit', 'permanent']).optional(),
        }),
        options,
        'params.set',
      ).cmode
      const op = `params.set(${h}, ${name})`
      const cur = await this.params.get(h, name)
      const modes = cur.values.map((x) => x.cmode)
      const cmode = cmodeIn ?? (modes.length === 1 ? modes[0] : undefined)
      if (cmode === undefined)
        throw new InvalidInputError('params.set', [
          { path: 'cmode', message: `${name} has the modes ${modes.join(', ')}: say which to set` },
        ])
      if (!modes.includes(cmode))
        throw new InvalidInputError('params.set', [
          { path: 'cmode', message: `${name} has no ${String(cmode)} mode (it has ${modes.join(', ')})` },
        ])
      if (typeof cur.type === 'number')
        throw new InvalidInputError('params.set', [
          { path: 'value', message: `${name} has a type this library does not know (${cur.type})` },
        ])
      let data: Uint8Array | undefined
      try {
        data = writeParam(cur.type, v, 'value')
      } catch (e) {
        if (e instanceof EncodeError)
          throw new InvalidInputError('params.set', [
            { path: 'value', message: `${name} is ${cur.type}: ${e.message.replace(/^value: /, '')}` },
          ])
        throw e
      }
      // The order `devlink dev param set` uses: name, type, data (absent for false), cmode.
      const attrs: Attrs = { ...splitDevice(h), paramName: name, paramType: cur.type }
      if (data !== undefined) attrs.paramValueData = data
      attrs.paramValueCmode = cmode
      await this.req(DEVLINK_CMD.PARAM_SET, attrs, op)
      return this.params.get(h, name)
    },
  }

  // ---- ports ----------------------------------------------------------------------------------

  readonly ports = {
    /** Every port, of one device or of all (`devlink port show`). */
    list: async (handle?: DeviceHandle): Promise<DevlinkPort[]> => {
      const h = handle === undefined ? undefined : parseInput(deviceHandleSchema, handle, 'ports.list')
      const all = await this.dump(DEVLINK_CMD.PORT_GET, h ? splitDevice(h) : {}, 'ports.list')
      return all.map(toPort).filter((p) => h === undefined || p.device === h)
    },

    /** One port by its `bus/device/index` handle. */
    get: async (port: PortHandle): Promise<DevlinkPort> => {
      const p = parseInput(portHandleSchema, port, 'ports.get')
      return toPort(await this.one(DEVLINK_CMD.PORT_GET, splitPort(p), `ports.get(${p})`))
    },

    /** Port type (`devlink port set … type eth`) and port function (hw_addr, state). */
    set: async (port: PortHandle, settings: PortSet): Promise<DevlinkPort> => {
      const p = parseInput(portHandleSchema, port, 'ports.set')
      const s = parseInput(portSetSchema, settings, 'ports.set')
      const attrs: Attrs = splitPort(p)
      if (s.type !== undefined) attrs.portType = s.type
      if (s.function !== undefined) {
        attrs.portFunction = {}
        if (s.function.hwAddr !== undefined) attrs.portFunction.hwAddr = s.function.hwAddr
        if (s.function.state !== undefined) attrs.portFunction.state = s.function.state
      }
      await this.req(DEVLINK_CMD.PORT_SET, attrs, `ports.set(${p})`)
      return this.ports.get(p)
    },

    /** Splits a port into `count` ports (where the device allows it). */
    split: async (port: PortHandle, count: number): Promise<void> => {
      const p = parseInput(portHandleSchema, port, 'ports.split')
      const c = parseInput(
        z.number().int().min(2, 'a split makes at least 2 ports').max(0xffffffff),
        count,
        'ports.split',
      )
      await this.req(
        DEVLINK_CMD.PORT_SPLIT,
        { ...splitPort(p), portSplitCount: c },
        `ports.split(${p}, ${c})`,
      )
    },

    /** Undoes a split: the port's lanes become one port again. */
    unsplit: async (port: PortHandle): Promise<void> => {
      const p = parseInput(portHandleSchema, port, 'ports.unsplit')
      await this.req(DEVLINK_CMD.PORT_UNSPLIT, splitPort(p), `ports.unsplit(${p})`)
    },
  }

  // ---- eswitch --------------------------------------------------------------------------------

  readonly eswitch = {
    /** The device's eswitch settings (`devlink dev eswitch show`). */
    get: async (handle: DeviceHandle): Promise<Eswitch> => {
      const h = parseInput(deviceHandleSchema, handle, 'eswitch.get')
      return toEswitch(await this.one(DEVLINK_CMD.ESWITCH_GET, splitDevice(h), `eswitch.get(${h})`))
    },
    /** Changes the eswitch settings and returns them as read back. */
    set: async (handle: DeviceHandle, settings: EswitchSet): Promise<Eswitch> => {
      const h = parseInput(deviceHandleSchema, handle, 'eswitch.set')
      const s = parseInput(eswitchSetSchema, settings, 'eswitch.set')
      const attrs: Attrs = splitDevice(h)
      if (s.mode !== undefined) attrs.eswitchMode = s.mode
      if (s.inlineMode !== undefined) attrs.eswitchInlineMode = s.inlineMode
      if (s.encapMode !== undefined) attrs.eswitchEncapMode = s.encapMode
      await this.req(DEVLINK_CMD.ESWITCH_SET, attrs, `eswitch.set(${h})`)
      return this.eswitch.get(h)
    },
  }

  // ---- health ---------------------------------------------------------------------------------

  private reporter(owner: string, name: string, op: string): Attrs {
    const o = parseInput(reporterOwnerSchema, owner, op)
    const nm = parseInput(z.string().min(1, 'a reporter has a name'), name, op)
    return { ...(o.split('/').length === 3 ? splitPort(o) : splitDevice(o)), healthReporterName: nm }
  }

  readonly health = {
    /** Reporters of a device (with its ports' reporters), of a port, or of every device. */
    list: async (owner?: ReporterOwner): Promise<HealthReporter[]> => {
      const o = owner === undefined ? undefined : parseInput(reporterOwnerSchema, owner, 'health.list')
      const filter: Attrs = o === undefined ? {} : o.split('/').length === 3 ? splitPort(o) : splitDevice(o)
      const all = (await this.dump(DEVLINK_CMD.HEALTH_REPORTER_GET, filter, 'health.list')).map(
        toHealthReporter,
      )
      if (o === undefined) return all
      return all.filter((r) => r.handle === o || (o.split('/').length === 2 && r.handle.startsWith(`${o}/`)))
    },

    /** One health reporter of a device or port, by name. */
    get: async (owner: ReporterOwner, name: string): Promise<HealthReporter> => {
      const a = this.reporter(owner, name, 'health.get')
      return toHealthReporter(
        await this.one(DEVLINK_CMD.HEALTH_REPORTER_GET, a, `health.get(${owner}, ${name})`),
      )
    },

    /** Grace period and burst period (ms), auto-recover, auto-dump. */
    set: async (owner: ReporterOwner, name: string, settings: HealthSet): Promise<HealthReporter> => {
      const a = this.reporter(owner, name, 'health.set')
      const s = parseInput(healthSetSchema, settings, 'health.set')
      if (s.gracefulPeriod !== undefined) a.healthReporterGracefulPeriod = BigInt(s.gracefulPeriod)
      if (s.autoRecover !== undefined) a.healthReporterAutoRecover = s.autoRecover ? 1 : 0
      if (s.autoDump !== undefined) a.healthReporterAutoDump = s.autoDump ? 1 : 0
      if (s.burstPeriod !== undefined) a.healthReporterBurstPeriod = BigInt(s.burstPeriod)
      await this.req(DEVLINK_CMD.HEALTH_REPORTER_SET, a, `health.set(${owner}, ${name})`)
      return this.health.get(owner, name)
    },

    /** Asks the reporter to recover now (`devlink health recover`). */
    recover: async (owner: ReporterOwner, name: string): Promise<void> => {
      const a = this.reporter(owner, name, 'health.recover')
      await this.req(DEVLINK_CMD.HEALTH_REPORTER_RECOVER, a, `health.recover(${owner}, ${name})`)
    },

    /** The reporter's diagnosis as a JSON-like tree. */
    diagnose: async (owner: ReporterOwner, name: string): Promise<FmsgObject> => {
      const a = this.reporter(owner, name, 'health.diagnose')
      const replies = await this.req(
        DEVLINK_CMD.HEALTH_REPORTER_DIAGNOSE,
        a,
        `health.diagnose(${owner}, ${name})`,
      )
      return fmsgTree(replies.flatMap((r) => r.fmsg ?? []))
    },

    /** The stored dump (taken now if there is none) as a JSON-like tree; it may span messages. */
    dump: async (owner: ReporterOwner, name: string): Promise<FmsgObject> => {
      const a = this.reporter(owner, name, 'health.dump')
      const replies = await this.dump(
        DEVLINK_CMD.HEALTH_REPORTER_DUMP_GET,
        a,
        `health.dump(${owner}, ${name})`,
      )
      return fmsgTree(replies.flatMap((r) => r.fmsg ?? []))
    },

    /** Drops the reporter's stored dump (`devlink health dump clear`). */
    dumpClear: async (owner: ReporterOwner, name: string): Promise<void> => {
      const a = this.reporter(owner, name, 'health.dumpClear')
      await this.req(DEVLINK_CMD.HEALTH_REPORTER_DUMP_CLEAR, a, `health.dumpClear(${owner}, ${name})`)
    },

    /** Asks the driver to trigger a test error (reporters that implement it). */
    test: async (owner: ReporterOwner, name: string): Promise<void> => {
      const a = this.reporter(owner, name, 'health.test')
      await this.req(DEVLINK_CMD.HEALTH_REPORTER_TEST, a, `health.test(${owner}, ${name})`)
    },
  }

  // ---- rate objects ---------------------------------------------------------------------------

  private rateAttrs(s: z.output<typeof rateSettingsSchema>, attrs: Attrs): Attrs {
    if (s.txShare !== undefined) attrs.rateTxShare = BigInt(s.txShare)
    if (s.txMax !== undefined) attrs.rateTxMax = BigInt(s.txMax)
    if (s.txPriority !== undefined) attrs.rateTxPriority = s.txPriority
    if (s.txWeight !== undefined) attrs.rateTxWeight = s.txWeight
    // An empty parent name detaches (what `noparent` sends).
    if (s.parent !== undefined) attrs.rateParentNodeName = s.parent ?? ''
    return attrs
  }

  readonly rates = {
    /** Every rate object (leaves and nodes), of one device or of all. */
    list: async (handle?: DeviceHandle): Promise<RateObject[]> => {
      const h = handle === undefined ? undefined : parseInput(deviceHandleSchema, handle, 'rates.list')
      const all = await this.dump(DEVLINK_CMD.RATE_GET, h ? splitDevice(h) : {}, 'rates.list')
      return all.map(toRate).filter((r) => h === undefined || r.device === h)
    },

    /** One rate object by its handle. */
    get: async (rate: RateHandle): Promise<RateObject> => {
      const r = parseInput(rateHandleSchema, rate, 'rates.get')
      return toRate(await this.one(DEVLINK_CMD.RATE_GET, splitRate(r), `rates.get(${r})`))
    },

    /** Creates a rate node `bus/device/name` (a group that leaves and nodes can join). */
    createNode: async (node: RateHandle, settings: RateSettings = {}): Promise<RateObject> => {
      const r = parseInput(rateHandleSchema, node, 'rates.createNode')
      const target = splitRate(r)
      if (!('rateNodeName' in target))
        throw new InvalidInputError('rates.createNode', [
          { path: '', message: `${r} names a port's leaf; a node needs a name that is not a number` },
        ])
      parseInput(nodeNameSchema, target.rateNodeName, 'rates.createNode')
      const s = parseInput(rateSettingsSchema, settings, 'rates.createNode')
      await this.req(DEVLINK_CMD.RATE_NEW, this.rateAttrs(s, { ...target }), `rates.createNode(${r})`)
      return this.rates.get(r)
    },

    /** Deletes a rate node (its children must have left it first). */
    deleteNode: async (node: RateHandle): Promise<void> => {
      const r = parseInput(rateHandleSchema, node, 'rates.deleteNode')
      const target = splitRate(r)
      if (!('rateNodeName' in target))
        throw new InvalidInputError('rates.deleteNode', [
          { path: '', message: `${r} names a port's leaf, which goes away with its port` },
        ])
      await this.req(DEVLINK_CMD.RATE_DEL, target, `rates.deleteNode(${r})`)
    },

    /** Changes tx_share / tx_max (bytes/s), priority, weight or parent (null: none). */
    set: async (rate: RateHandle, settings: RateSettings): Promise<RateObject> => {
      const r = parseInput(rateHandleSchema, rate, 'rates.set')
      const s = parseInput(
        rateSettingsSchema.refine(
          (v) => Object.values(v).some((x) => x !== undefined),
          'name a rate setting',
        ),
        settings,
        'rates.set',
      )
      await this.req(DEVLINK_CMD.RATE_SET, this.rateAttrs(s, { ...splitRate(r) }), `rates.set(${r})`)
      return this.rates.get(r)
    },
  }

  // ---- reload, resources, traps ---------------------------------------------------------------

  /** `devlink dev reload` (default action driver_reinit); returns the actions performed. */
  async reload(
    handle: DeviceHandle,
    options: ReloadOptions = {},
  ): Promise<{ actionsPerformed: ReloadAction[] }> {
    const h = parseInput(deviceHandleSchema, handle, 'reload')
    const o = parseInput(reloadSchema, options, 'reload')
    const attrs: Attrs = splitDevice(h)
    if (o.action !== undefined) attrs.reloadAction = o.action
    if (o.limit !== undefined) {
      const bits = bitsOf([o.limit], RELOAD_LIMITS)
      attrs.reloadLimits = { value: bits, selector: bits }
    }
    // The kernel takes the target namespace as an fd, open for the duration of the request.
    const ns = o.netns
    const owned = ns !== undefined && !(typeof ns === 'object' && 'fd' in ns)
    const fd =
      ns === undefined
        ? undefined
        : typeof ns === 'object' && 'fd' in ns
          ? ns.fd
          : openPath(netnsPath(ns), O_CLOEXEC)
    try {
      if (fd !== undefined) attrs.netnsFd = fd
      const [r] = await this.req(DEVLINK_CMD.RELOAD, attrs, `reload(${h})`)
      const done = r?.reloadActionsPerformed?.value ?? 0
      const actionsPerformed: ReloadAction[] = []
      for (const [name, id] of Object.entries(RELOAD_ACTIONS))
        if (done & (1 << id)) actionsPerformed.push(name as ReloadAction)
      return { actionsPerformed }
    } finally {
      if (owned && fd !== undefined) closeFd(fd)
    }
  }

  /** `devlink resource show`: the resource tree with sizes and occupancy. */
  async resources(handle: DeviceHandle): Promise<Resource[]> {
    const h = parseInput(deviceHandleSchema, handle, 'resources')
    const r = await this.one(DEVLINK_CMD.RESOURCE_DUMP, splitDevice(h), `resources(${h})`)
    return toResources(r.resourceList)
  }

  readonly traps = {
    /** Every packet trap, of one device or of all (`devlink trap show`). */
    list: async (handle?: DeviceHandle): Promise<Trap[]> => {
      const h = handle === undefined ? undefined : parseInput(deviceHandleSchema, handle, 'traps.list')
      const all = await this.dump(DEVLINK_CMD.TRAP_GET, h ? splitDevice(h) : {}, 'traps.list')
      return all.map(toTrap).filter((t) => h === undefined || t.handle === h)
    },
    /** One trap of a device, by name. */
    get: async (handle: DeviceHandle, name: string): Promise<Trap> => {
      const h = parseInput(deviceHandleSchema, handle, 'traps.get')
      return toTrap(
        await this.one(
          DEVLINK_CMD.TRAP_GET,
          { ...splitDevice(h), trapName: name },
          `traps.get(${h}, ${name})`,
        ),
      )
    },
  }

  /** devlink's "config" notifications for this namespace as typed events (cold). */
  get events$(): Observable<DevlinkEvent> {
    return devlinkEvents$({ netns: this.netns })
  }

  /** Closes the client's socket. */
  close(): void {
    this.sock.close()
  }

  /** Closes the client (`using dl = await openDevlink()`). */
  [Symbol.dispose](): void {
    this.close()
  }
}

/** Opens a devlink client in a namespace (default: the caller's). */
export function openDevlink(options: DevlinkOptions = {}): Promise<DevlinkClient> {
  return DevlinkClient.open(options)
}

const NEW_DEL: Record<number, ['dev' | 'port' | 'param' | 'rate' | 'trap', 'new' | 'del']> = {
  [DEVLINK_CMD.NEW]: ['dev', 'new'],
  [DEVLINK_CMD.DEL]: ['dev', 'del'],
  [DEVLINK_CMD.PORT_NEW]: ['port', 'new'],
  [DEVLINK_CMD.PORT_DEL]: ['port', 'del'],
  [DEVLINK_CMD.PARAM_NEW]: ['param', 'new'],
  [DEVLINK_CMD.PARAM_DEL]: ['param', 'del'],
  [DEVLINK_CMD.RATE_NEW]: ['rate', 'new'],
  [DEVLINK_CMD.RATE_DEL]: ['rate', 'del'],
  [DEVLINK_CMD.TRAP_NEW]: ['trap', 'new'],
  [DEVLINK_CMD.TRAP_DEL]: ['trap', 'del'],
}

/** Maps one devlink notification to a typed event. */
export function toDevlinkEvent(cmd: number, a: Attrs): DevlinkEvent {
  const kind = NEW_DEL[cmd]
  if (kind) {
    const [type, action] = kind
    switch (type) {
      case 'dev':
        return { type, action, device: toDevice(a) }
      case 'port':
        return { type, action, port: toPort(a) }
      case 'param':
        return { type, action, param: toParam(a) }
      case 'rate':
        return { type, action, rate: toRate(a) }
      case 'trap':
        return { type, action, trap: toTrap(a) }
    }
  }
  if (cmd === DEVLINK_CMD.HEALTH_REPORTER_RECOVER && a.healthReporter)
    return { type: 'health', reporter: toHealthReporter(a) }
  return { type: 'other', cmd, handle: `${a.busName ?? ''}/${a.devName ?? ''}` }
}

/** devlink notifications of a namespace as typed events. Cold: subscribing opens a socket. */
export function devlinkEvents$(options: DevlinkOptions = {}): Observable<DevlinkEvent> {
  return rawNotifications$(
    DEVLINK_GENL_NAME,
    [DEVLINK_MCGRP_CONFIG],
    (e): DevlinkEvent => {
      if (e.kind === 'overrun') return { type: 'overrun' }
      try {
        return toDevlinkEvent(e.cmd, decodeGeneric(devlinkAttrs, e.message))
      } catch {
        return { type: 'other', cmd: e.cmd, handle: '' }
      }
    },
    { netns: options.netns },
  )
}
