import { type AttrSet, attr, attrSet, type SetValue, sequenceCodec, struct } from '../netlink/codec/index.ts'

/**
 * The devlink generic netlink family, declared as data. devlink has one attribute space for all
 * its messages (DEVLINK_ATTR_*); nests reuse the same numbers, so each nest below is a subset of
 * that space. Numbers are from the kernel UAPI (`linux/devlink.h`, 6.1 headers on this machine,
 * later additions from the kernel's devlink.yaml spec); whatever a newer kernel adds is kept raw
 * in `unknownAttrs`.
 */

export const DEVLINK_GENL_NAME = 'devlink'
export const DEVLINK_MCGRP_CONFIG = 'config'

/** DEVLINK_CMD_* */
export const DEVLINK_CMD = {
  GET: 1,
  SET: 2,
  NEW: 3,
  DEL: 4,
  PORT_GET: 5,
  PORT_SET: 6,
  PORT_NEW: 7,
  PORT_DEL: 8,
  PORT_SPLIT: 9,
  PORT_UNSPLIT: 10,
  SB_GET: 11,
  ESWITCH_GET: 29,
  ESWITCH_SET: 30,
  RESOURCE_SET: 35,
  RESOURCE_DUMP: 36,
  RELOAD: 37,
  PARAM_GET: 38,
  PARAM_SET: 39,
  PARAM_NEW: 40,
  PARAM_DEL: 41,
  REGION_GET: 42,
  REGION_NEW: 44,
  REGION_DEL: 45,
  PORT_PARAM_GET: 47,
  INFO_GET: 51,
  HEALTH_REPORTER_GET: 52,
  HEALTH_REPORTER_SET: 53,
  HEALTH_REPORTER_RECOVER: 54,
  HEALTH_REPORTER_DIAGNOSE: 55,
  HEALTH_REPORTER_DUMP_GET: 56,
  HEALTH_REPORTER_DUMP_CLEAR: 57,
  FLASH_UPDATE: 58,
  FLASH_UPDATE_END: 59,
  FLASH_UPDATE_STATUS: 60,
  TRAP_GET: 61,
  TRAP_SET: 62,
  TRAP_NEW: 63,
  TRAP_DEL: 64,
  TRAP_GROUP_GET: 65,
  TRAP_GROUP_NEW: 67,
  TRAP_GROUP_DEL: 68,
  TRAP_POLICER_GET: 69,
  TRAP_POLICER_NEW: 71,
  TRAP_POLICER_DEL: 72,
  HEALTH_REPORTER_TEST: 73,
  RATE_GET: 74,
  RATE_SET: 75,
  RATE_NEW: 76,
  RATE_DEL: 77,
  LINECARD_GET: 78,
  LINECARD_NEW: 80,
  LINECARD_DEL: 81,
  SELFTESTS_GET: 82,
  SELFTESTS_RUN: 83,
} as const

export const PORT_TYPES = { notset: 0, auto: 1, eth: 2, ib: 3 } as const
export const PORT_FLAVOURS = {
  physical: 0,
  cpu: 1,
  dsa: 2,
  pcipf: 3,
  pcivf: 4,
  virtual: 5,
  unused: 6,
  pcisf: 7,
} as const
export const ESWITCH_MODES = { legacy: 0, switchdev: 1, switchdev_inactive: 2 } as const
export const ESWITCH_INLINE_MODES = { none: 0, link: 1, network: 2, transport: 3 } as const
export const ESWITCH_ENCAP_MODES = { none: 0, basic: 1 } as const
/** Parameter value types: the kernel uses the NLA_* numbers. */
export const PARAM_TYPES = { u8: 1, u16: 2, u32: 3, u64: 4, string: 5, bool: 6 } as const
export const PARAM_CMODES = { runtime: 0, driverinit: 1, permanent: 2 } as const
export const HEALTH_STATES = { healthy: 0, error: 1 } as const
export const TRAP_ACTIONS = { drop: 0, trap: 1, mirror: 2 } as const
export const TRAP_TYPES = { drop: 0, exception: 1, control: 2 } as const
export const RELOAD_ACTIONS = { driver_reinit: 1, fw_activate: 2 } as const
export const RELOAD_LIMITS = { no_reset: 1 } as const
export const RATE_TYPES = { leaf: 0, node: 1 } as const
export const PORT_FN_STATES = { inactive: 0, active: 1 } as const
export const PORT_FN_OPSTATES = { detached: 0, attached: 1 } as const
/** fmsg value types (NLA_* numbers again). */
export const FMSG_TYPES = {
  u8: 1,
  u16: 2,
  u32: 3,
  u64: 4,
  string: 5,
  flag: 6,
  nulString: 10,
  binary: 11,
} as const

/** struct nla_bitfield32: which bits (selector) are meant, and their values. */
export const bitfield32 = struct('nla_bitfield32', { value: 'u32', selector: 'u32' })

/** A nested devlink handle (DEVLINK_ATTR_NESTED_DEVLINK, port function's devlink). */
export const nestedHandleAttrs = attrSet('nested_devlink', {
  busName: attr.string(1),
  devName: attr.string(2),
  netnsId: attr.s32(140),
})

/** DEVLINK_ATTR_INFO_VERSION_* */
export const infoVersionAttrs = attrSet('info_version', {
  name: attr.string(103),
  value: attr.string(104),
})

/** One value of a parameter in one configuration mode. Its data's type is the parameter's. */
export const paramValueAttrs = attrSet('param_value', {
  data: attr.binary(86),
  cmode: attr.enum(87, 'u8', PARAM_CMODES),
})

export const paramValuesListAttrs = attrSet('param_values_list', {
  value: attr.multi(attr.nest(85, () => paramValueAttrs)),
})

/** DEVLINK_ATTR_PARAM */
export const paramAttrs = attrSet('param', {
  name: attr.string(81),
  generic: attr.flag(82),
  type: attr.enum(83, 'u8', PARAM_TYPES),
  valuesList: attr.nest(84, () => paramValuesListAttrs),
})

/** One item of a formatted message (fmsg): structure markers, names, typed values, in order. */
export const fmsgItemAttrs = attrSet('fmsg_item', {
  objNestStart: attr.flag(107),
  pairNestStart: attr.flag(108),
  arrNestStart: attr.flag(109),
  nestEnd: attr.flag(110),
  objName: attr.string(111),
  valueType: attr.enum(112, 'u8', FMSG_TYPES),
  valueData: attr.binary(113),
})
export type FmsgItem = SetValue<typeof fmsgItemAttrs>

/** DEVLINK_ATTR_FMSG: the items in the order the driver put them. */
export const fmsgCodec = sequenceCodec('fmsg', fmsgItemAttrs)

/** DEVLINK_ATTR_HEALTH_REPORTER */
export const healthReporterAttrs = attrSet('health_reporter', {
  name: attr.string(115),
  state: attr.enum(116, 'u8', HEALTH_STATES),
  errCount: attr.u64(117),
  recoverCount: attr.u64(118),
  dumpTs: attr.u64(119),
  gracefulPeriod: attr.u64(120),
  autoRecover: attr.u8(121),
  dumpTsNs: attr.u64(137),
  autoDump: attr.u8(141),
  burstPeriod: attr.u64(181),
})

/** DEVLINK_ATTR_PORT_FUNCTION (DEVLINK_PORT_FN_ATTR_*: a numbering of its own). */
export const portFunctionAttrs = attrSet('port_function', {
  hwAddr: attr.mac(1),
  state: attr.enum(2, 'u8', PORT_FN_STATES),
  opstate: attr.enum(3, 'u8', PORT_FN_OPSTATES),
  caps: attr.struct(4, bitfield32),
  devlink: attr.nest(5, () => nestedHandleAttrs),
  maxIoEqs: attr.u32(6),
})

/** DEVLINK_ATTR_STATS (trap counters; DEVLINK_ATTR_STATS_* numbering starts at 0). */
export const statsAttrs = attrSet('stats', {
  rxPackets: attr.u64(0),
  rxBytes: attr.u64(1),
  rxDropped: attr.u64(2),
})

/** DEVLINK_ATTR_TRAP_METADATA: flags named by type. */
export const trapMetadataAttrs = attrSet('trap_metadata', {
  inPort: attr.flag(0),
  faCookie: attr.flag(1),
})

/**
 * DEVLINK_ATTR_RESOURCE; a resource's children are another resource list (typed loosely here to
 * break the type cycle: the model reads them with `resourceListAttrs`' type).
 */
export const resourceAttrs = attrSet('resource', {
  name: attr.string(65),
  id: attr.u64(66),
  size: attr.u64(67),
  sizeNew: attr.u64(68),
  sizeValid: attr.u8(69),
  sizeMin: attr.u64(70),
  sizeMax: attr.u64(71),
  sizeGran: attr.u64(72),
  unit: attr.u8(73),
  occ: attr.u64(74),
  children: attr.nest(63, (): AttrSet => resourceListAttrs),
})

export const resourceListAttrs = attrSet('resource_list', {
  resource: attr.multi(attr.nest(64, () => resourceAttrs)),
})

export const reloadStatsEntryAttrs = attrSet('reload_stats_entry', {
  limit: attr.enum(159, 'u8', { unspec: 0, ...RELOAD_LIMITS }),
  value: attr.u32(160),
})
export const reloadActionStatsAttrs = attrSet('reload_action_stats', {
  entry: attr.multi(attr.nest(158, () => reloadStatsEntryAttrs)),
})
export const reloadActionInfoAttrs = attrSet('reload_action_info', {
  action: attr.enum(153, 'u8', RELOAD_ACTIONS),
  stats: attr.multi(attr.nest(163, () => reloadActionStatsAttrs)),
})
export const reloadStatsAttrs = attrSet('reload_stats', {
  actionInfo: attr.multi(attr.nest(162, () => reloadActionInfoAttrs)),
})
export const devStatsAttrs = attrSet('dev_stats', {
  reloadStats: attr.nest(157, () => reloadStatsAttrs),
  remoteReloadStats: attr.nest(161, () => reloadStatsAttrs),
})

/** DEVLINK_ATTR_RATE_TC_BWS entries (DEVLINK_RATE_TC_ATTR_*). */
export const rateTcBwAttrs = attrSet('rate_tc_bw', {
  index: attr.u8(1),
  bw: attr.u32(2),
})

/** DEVLINK_ATTR_*: every attribute of every devlink message. */
export const devlinkAttrs = attrSet('devlink', {
  busName: attr.string(1),
  devName: attr.string(2),
  portIndex: attr.u32(3),
  portType: attr.enum(4, 'u16', PORT_TYPES),
  portDesiredType: attr.enum(5, 'u16', PORT_TYPES),
  portNetdevIfindex: attr.u32(6),
  portNetdevName: attr.string(7),
  portIbdevName: attr.string(8),
  portSplitCount: attr.u32(9),
  portSplitGroup: attr.u32(10),
  eswitchMode: attr.enum(25, 'u16', ESWITCH_MODES),
  eswitchInlineMode: attr.enum(26, 'u8', ESWITCH_INLINE_MODES),
  eswitchEncapMode: attr.enum(62, 'u8', ESWITCH_ENCAP_MODES),
  resourceList: attr.nest(63, () => resourceListAttrs),
  resourceId: attr.u64(66),
  resourceSize: attr.u64(67),
  portFlavour: attr.enum(77, 'u16', PORT_FLAVOURS),
  portNumber: attr.u32(78),
  portSplitSubportNumber: attr.u32(79),
  param: attr.nest(80, () => paramAttrs),
  paramName: attr.string(81),
  paramType: attr.enum(83, 'u8', PARAM_TYPES),
  paramValueData: attr.binary(86),
  paramValueCmode: attr.enum(87, 'u8', PARAM_CMODES),
  infoDriverName: attr.string(98),
  infoSerialNumber: attr.string(99),
  infoVersionFixed: attr.multi(attr.nest(100, () => infoVersionAttrs)),
  infoVersionRunning: attr.multi(attr.nest(101, () => infoVersionAttrs)),
  infoVersionStored: attr.multi(attr.nest(102, () => infoVersionAttrs)),
  fmsg: attr.nest(106, () => fmsgCodec),
  healthReporter: attr.nest(114, () => healthReporterAttrs),
  healthReporterName: attr.string(115),
  healthReporterGracefulPeriod: attr.u64(120),
  healthReporterAutoRecover: attr.u8(121),
  portPciPfNumber: attr.u16(127),
  portPciVfNumber: attr.u16(128),
  stats: attr.nest(129, () => statsAttrs),
  trapName: attr.string(130),
  trapAction: attr.enum(131, 'u8', TRAP_ACTIONS),
  trapType: attr.enum(132, 'u8', TRAP_TYPES),
  trapGeneric: attr.flag(133),
  trapMetadata: attr.nest(134, () => trapMetadataAttrs),
  trapGroupName: attr.string(135),
  reloadFailed: attr.u8(136),
  netnsFd: attr.u32(138),
  netnsPid: attr.u32(139),
  netnsId: attr.u32(140),
  healthReporterAutoDump: attr.u8(141),
  trapPolicerId: attr.u32(142),
  portFunction: attr.nest(145, () => portFunctionAttrs),
  infoBoardSerialNumber: attr.string(146),
  portLanes: attr.u32(147),
  portSplittable: attr.u8(148),
  portExternal: attr.u8(149),
  portControllerNumber: attr.u32(150),
  reloadAction: attr.enum(153, 'u8', RELOAD_ACTIONS),
  reloadActionsPerformed: attr.struct(154, bitfield32),
  reloadLimits: attr.struct(155, bitfield32),
  devStats: attr.nest(156, () => devStatsAttrs),
  portPciSfNumber: attr.u32(164),
  rateType: attr.enum(165, 'u16', RATE_TYPES),
  rateTxShare: attr.u64(166),
  rateTxMax: attr.u64(167),
  rateNodeName: attr.string(168),
  rateParentNodeName: attr.string(169),
  nestedDevlink: attr.multi(attr.nest(175, () => nestedHandleAttrs)),
  rateTxPriority: attr.u32(177),
  rateTxWeight: attr.u32(178),
  rateTcBws: attr.multi(attr.nest(180, () => rateTcBwAttrs)),
  healthReporterBurstPeriod: attr.u64(181),
})

export type DevlinkAttrs = SetValue<typeof devlinkAttrs>
export type ParamAttrs = SetValue<typeof paramAttrs>
export type HealthReporterAttrs = SetValue<typeof healthReporterAttrs>
export type PortFunctionAttrs = SetValue<typeof portFunctionAttrs>
