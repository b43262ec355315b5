import type { RawAttr, SetValue } from '../netlink/codec/index.ts'
import type {
  DevlinkAttrs,
  ESWITCH_ENCAP_MODES,
  ESWITCH_INLINE_MODES,
  ESWITCH_MODES,
  HEALTH_STATES,
  HealthReporterAttrs,
  PARAM_CMODES,
  PORT_FLAVOURS,
  PORT_FN_OPSTATES,
  PORT_FN_STATES,
  PORT_TYPES,
  PortFunctionAttrs,
  RATE_TYPES,
  RELOAD_ACTIONS,
  RELOAD_LIMITS,
  reloadStatsAttrs,
  resourceAttrs,
  resourceListAttrs,
  TRAP_ACTIONS,
  TRAP_TYPES,
} from './attrs.ts'
import { joinHandle } from './handles.ts'
import { type ParamType, type ParamValue, readTyped } from './values.ts'

/** Every typed result keeps the attributes this library does not know yet, raw. */
interface Extensible {
  unknownAttrs?: RawAttr[]
}

type Named<T> = keyof T | number

/** What a reload does: `driver_reinit` or `fw_activate` (or a number this library cannot name). */
export type ReloadAction = Named<typeof RELOAD_ACTIONS>
export type ReloadLimit = Named<typeof RELOAD_LIMITS> | 'unspec'

export interface ReloadStat {
  action: ReloadAction
  limit: ReloadLimit
  count: number
}

/** A devlink instance (`devlink dev show`). */
export interface DevlinkDevice extends Extensible {
  handle: string
  bus: string
  device: string
  reloadFailed: boolean
  /** Reloads performed, by action and limit (`devlink -s dev show`); local and caused remotely. */
  reloadStats?: { local: ReloadStat[]; remote: ReloadStat[] }
  /** Devlink instances nested in this one (e.g. of a line card or SF). */
  nested: string[]
}

/** `devlink dev info`: driver, serial numbers and versions by kind. */
export interface DevlinkInfo extends Extensible {
  handle: string
  driver: string
  serialNumber?: string
  boardSerialNumber?: string
  versions: {
    fixed: Record<string, string>
    running: Record<string, string>
    stored: Record<string, string>
  }
}

/** When a parameter value applies: `runtime`, `driverinit` (after a reload) or `permanent` (stored on the device). */
export type ParamCmode = Named<typeof PARAM_CMODES>

/** A parameter (`devlink dev param show`) with its value in each configuration mode it has. */
export interface DevlinkParam extends Extensible {
  handle: string
  name: string
  /** Generic (documented for all drivers) or driver-specific. */
  generic: boolean
  type: ParamType | number
  values: Array<{ cmode: ParamCmode; value: ParamValue | Uint8Array }>
}

/** The function behind a port (a VF or SF): its MAC address, state and capabilities. */
export interface PortFunction extends Extensible {
  /** MAC address as aa:bb:cc:dd:ee:ff (other lengths as colon-separated hex). */
  hwAddr?: string
  state?: Named<typeof PORT_FN_STATES>
  opstate?: Named<typeof PORT_FN_OPSTATES>
  caps?: { value: number; selector: number }
  maxIoEqs?: number
}

/** A devlink port (`devlink port show`). */
export interface DevlinkPort extends Extensible {
  /** bus/device/index */
  handle: string
  device: string
  index: number
  type?: Named<typeof PORT_TYPES>
  desiredType?: Named<typeof PORT_TYPES>
  netdev?: { ifindex?: number; name?: string }
  ibdev?: string
  flavour?: Named<typeof PORT_FLAVOURS>
  /** The physical port number (`port` in devlink's output). */
  number?: number
  splitGroup?: number
  splitSubportNumber?: number
  splittable?: boolean
  lanes?: number
  external?: boolean
  controller?: number
  pfnum?: number
  vfnum?: number
  sfnum?: number
  function?: PortFunction
}

/** A device's eswitch (`devlink dev eswitch show`): mode, inline mode and encapsulation. */
export interface Eswitch extends Extensible {
  handle: string
  mode?: Named<typeof ESWITCH_MODES>
  inlineMode?: Named<typeof ESWITCH_INLINE_MODES>
  encapMode?: Named<typeof ESWITCH_ENCAP_MODES>
}

/** A health reporter (`devlink health show`). Periods are in milliseconds. */
export interface HealthReporter extends Extensible {
  handle: string
  /** Set for reporters of a port. */
  port?: number
  name: string
  state: Named<typeof HEALTH_STATES>
  errorCount: number
  recoverCount: number
  gracefulPeriod?: number
  autoRecover?: boolean
  autoDump?: boolean
  burstPeriod?: number
  /** When the last dump was taken: jiffies-based ms and, on newer kernels, CLOCK_REALTIME ns. */
  lastDump?: { ms: number; ns?: bigint }
}

/** A rate object (`devlink port function rate show`). Rates are in bytes per second. */
export interface RateObject extends Extensible {
  /** bus/device/port-index for leaves, bus/device/node-name for nodes. */
  handle: string
  device: string
  type: Named<typeof RATE_TYPES>
  port?: number
  node?: string
  txShare: number
  txMax: number
  txPriority?: number
  txWeight?: number
  parent?: string
  /** Per-traffic-class bandwidth shares (index → share), where the kernel reports them. */
  tcBandwidth?: number[]
}

/** A resource size; the largest u64 means no limit (`unlimited`, as devlink prints it). */
export type ResourceSize = number | 'unlimited'

/** A device resource (`devlink resource show`): its size, limits, occupancy and nested resources. */
export interface Resource extends Extensible {
  name: string
  id: number
  size: ResourceSize
  sizeNew?: ResourceSize
  sizeValid: boolean
  min: ResourceSize
  max: ResourceSize
  granularity: number
  unit: 'entry' | number
  occupancy?: number
  children: Resource[]
}

/** A packet trap (`devlink trap show`): what it catches, what it does with it, and its counters. */
export interface Trap extends Extensible {
  handle: string
  name: string
  type: Named<typeof TRAP_TYPES>
  action: Named<typeof TRAP_ACTIONS>
  generic: boolean
  group?: string
  metadata: string[]
  stats?: { rxPackets: number; rxBytes: number; rxDropped?: number }
}

const n = (v: bigint | number | undefined): number => (v === undefined ? 0 : Number(v))
const U64_MAX = 0xffffffffffffffffn
const size = (v: bigint | undefined): ResourceSize => (v === U64_MAX ? 'unlimited' : n(v))

function keep<T extends Extensible>(out: T, a: { unknownAttrs?: RawAttr[] }): T {
  if (a.unknownAttrs) out.unknownAttrs = a.unknownAttrs
  return out
}

function reloadStats(s: SetValue<typeof reloadStatsAttrs> | undefined): ReloadStat[] {
  const out: ReloadStat[] = []
  for (const info of s?.actionInfo ?? [])
    for (const st of info.stats ?? [])
      for (const e of st.entry ?? [])
        out.push({ action: info.action ?? 0, limit: e.limit ?? 'unspec', count: e.value ?? 0 })
  return out
}

export function toDevice(a: DevlinkAttrs): DevlinkDevice {
  const out: DevlinkDevice = {
    handle: joinHandle(a),
    bus: a.busName ?? '',
    device: a.devName ?? '',
    reloadFailed: !!a.reloadFailed,
    nested: (a.nestedDevlink ?? []).map((x) => joinHandle(x)),
  }
  if (a.devStats)
    out.reloadStats = {
      local: reloadStats(a.devStats.reloadStats),
      remote: reloadStats(a.devStats.remoteReloadStats),
    }
  return keep(out, a)
}

export function toInfo(a: DevlinkAttrs): DevlinkInfo {
  const table = (list: Array<{ name?: string; value?: string }> | undefined) =>
    Object.fromEntries((list ?? []).map((v) => [v.name ?? '', v.value ?? '']))
  const out: DevlinkInfo = {
    handle: joinHandle(a),
    driver: a.infoDriverName ?? '',
    versions: {
      fixed: table(a.infoVersionFixed),
      running: table(a.infoVersionRunning),
      stored: table(a.infoVersionStored),
    },
  }
  if (a.infoSerialNumber !== undefined) out.serialNumber = a.infoSerialNumber
  if (a.infoBoardSerialNumber !== undefined) out.boardSerialNumber = a.infoBoardSerialNumber
  return keep(out, a)
}

export function toParam(a: DevlinkAttrs): DevlinkParam {
  const p = a.param ?? {}
  const type = p.type ?? 0
  const out: DevlinkParam = {
    handle: joinHandle(a),
    name: p.name ?? '',
    generic: !!p.generic,
    type,
    values: (p.valuesList?.value ?? []).map((v, i) => ({
      cmode: v.cmode ?? 0,
      value: readTyped(typeof type === 'number' ? type : type, v.data, `param.valuesList.value[${i}].data`),
    })),
  }
  return keep(out, p)
}

function toFunction(f: PortFunctionAttrs): PortFunction {
  const out: PortFunction = {}
  if (f.hwAddr !== undefined) out.hwAddr = f.hwAddr
  if (f.state !== undefined) out.state = f.state
  if (f.opstate !== undefined) out.opstate = f.opstate
  if (f.caps !== undefined) out.caps = f.caps
  if (f.maxIoEqs !== undefined) out.maxIoEqs = f.maxIoEqs
  return keep(out, f)
}

export function toPort(a: DevlinkAttrs): DevlinkPort {
  const index = a.portIndex ?? 0
  const out: DevlinkPort = { handle: `${joinHandle(a)}/${index}`, device: joinHandle(a), index }
  if (a.portType !== undefined) out.type = a.portType
  if (a.portDesiredType !== undefined) out.desiredType = a.portDesiredType
  if (a.portNetdevIfindex !== undefined || a.portNetdevName !== undefined) {
    out.netdev = {}
    if (a.portNetdevIfindex !== undefined) out.netdev.ifindex = a.portNetdevIfindex
    if (a.portNetdevName !== undefined) out.netdev.name = a.portNetdevName
  }
  if (a.portIbdevName !== undefined) out.ibdev = a.portIbdevName
  if (a.portFlavour !== undefined) out.flavour = a.portFlavour
  if (a.portNumber !== undefined) out.number = a.portNumber
  if (a.portSplitGroup !== undefined) out.splitGroup = a.portSplitGroup
  if (a.portSplitSubportNumber !== undefined) out.splitSubportNumber = a.portSplitSubportNumber
  if (a.portSplittable !== undefined) out.splittable = !!a.portSplittable
  if (a.portLanes !== undefined) out.lanes = a.portLanes
  if (a.portExternal !== undefined) out.external = !!a.portExternal
  if (a.portControllerNumber !== undefined) out.controller = a.portControllerNumber
  if (a.portPciPfNumber !== undefined) out.pfnum = a.portPciPfNumber
  if (a.portPciVfNumber !== undefined) out.vfnum = a.portPciVfNumber
  if (a.portPciSfNumber !== undefined) out.sfnum = a.portPciSfNumber
  if (a.portFunction !== undefined) out.function = toFunction(a.portFunction)
  return keep(out, a)
}

export function toEswitch(a: DevlinkAttrs): Eswitch {
  const out: Eswitch = { handle: joinHandle(a) }
  if (a.eswitchMode !== undefined) out.mode = a.eswitchMode
  if (a.eswitchInlineMode !== undefined) out.inlineMode = a.eswitchInlineMode
  if (a.eswitchEncapMode !== undefined) out.encapMode = a.eswitchEncapMode
  return keep(out, a)
}

export function toHealthReporter(a: DevlinkAttrs): HealthReporter {
  const r: HealthReporterAttrs = a.healthReporter ?? {}
  const out: HealthReporter = {
    handle: joinHandle(a) + (a.portIndex !== undefined ? `/${a.portIndex}` : ''),
    name: r.name ?? '',
    state: r.state ?? 0,
    errorCount: n(r.errCount),
    recoverCount: n(r.recoverCount),
  }
  if (a.portIndex !== undefined) out.port = a.portIndex
  if (r.gracefulPeriod !== undefined) out.gracefulPeriod = n(r.gracefulPeriod)
  if (r.autoRecover !== undefined) out.autoRecover = !!r.autoRecover
  if (r.autoDump !== undefined) out.autoDump = !!r.autoDump
  if (r.burstPeriod !== undefined) out.burstPeriod = n(r.burstPeriod)
  if (r.dumpTs !== undefined) {
    out.lastDump = { ms: n(r.dumpTs) }
    if (r.dumpTsNs !== undefined) out.lastDump.ns = r.dumpTsNs
  }
  return keep(out, r)
}

export function toRate(a: DevlinkAttrs): RateObject {
  const dev = joinHandle(a)
  const isNode = a.rateNodeName !== undefined
  const out: RateObject = {
    handle: isNode ? `${dev}/${a.rateNodeName}` : `${dev}/${a.portIndex ?? 0}`,
    device: dev,
    type: a.rateType ?? (isNode ? 'node' : 'leaf'),
    txShare: n(a.rateTxShare),
    txMax: n(a.rateTxMax),
  }
  if (isNode) out.node = a.rateNodeName as string
  else if (a.portIndex !== undefined) out.port = a.portIndex
  if (a.rateTxPriority !== undefined) out.txPriority = a.rateTxPriority
  if (a.rateTxWeight !== undefined) out.txWeight = a.rateTxWeight
  if (a.rateParentNodeName !== undefined) out.parent = a.rateParentNodeName
  if (a.rateTcBws !== undefined) {
    const bw: number[] = []
    for (const e of a.rateTcBws) bw[e.index ?? 0] = e.bw ?? 0
    out.tcBandwidth = Array.from(bw, (x) => x ?? 0)
  }
  return keep(out, a)
}

type ResourceValue = SetValue<typeof resourceAttrs>
type ResourceListValue = SetValue<typeof resourceListAttrs>

export function toResources(list: ResourceListValue | undefined): Resource[] {
  return (list?.resource ?? []).map((r: ResourceValue) => {
    const out: Resource = {
      name: r.name ?? '',
      id: n(r.id),
      size: size(r.size),
      sizeValid: r.sizeValid === undefined ? true : !!r.sizeValid,
      min: size(r.sizeMin),
      max: size(r.sizeMax),
      granularity: n(r.sizeGran),
      unit: r.unit === 0 || r.unit === undefined ? 'entry' : r.unit,
      children: toResources(r.children as ResourceListValue | undefined),
    }
    if (r.sizeNew !== undefined) out.sizeNew = size(r.sizeNew)
    if (r.occ !== undefined) out.occupancy = n(r.occ)
    return keep(out, r)
  })
}

export function toTrap(a: DevlinkAttrs): Trap {
  const out: Trap = {
    handle: joinHandle(a),
    name: a.trapName ?? '',
    type: a.trapType ?? 0,
    action: a.trapAction ?? 0,
    generic: !!a.trapGeneric,
    metadata: Object.entries(a.trapMetadata ?? {})
      .filter(([k, v]) => k !== 'unknownAttrs' && v === true)
      .map(([k]) => (k === 'inPort' ? 'input_port' : k === 'faCookie' ? 'flow_action_cookie' : k)),
  }
  if (a.trapGroupName !== undefined) out.group = a.trapGroupName
  if (a.stats) {
    out.stats = { rxPackets: n(a.stats.rxPackets), rxBytes: n(a.stats.rxBytes) }
    if (a.stats.rxDropped !== undefined) out.stats.rxDropped = n(a.stats.rxDropped)
  }
  return keep(out, a)
}
