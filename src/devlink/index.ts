export {
  DEVLINK_CMD,
  devlinkAttrs,
  fmsgItemAttrs,
  healthReporterAttrs,
  paramAttrs,
  portFunctionAttrs,
} from './attrs.ts'
export {
  DevlinkClient,
  type DevlinkEvent,
  type DevlinkOptions,
  type DevlinkTransport,
  devlinkEvents$,
  type EswitchSet,
  type HealthSet,
  openDevlink,
  type PortSet,
  type RateSettings,
  type ReloadOptions,
  type ReporterOwner,
  toDevlinkEvent,
} from './client.ts'
export type { DeviceHandle, PortHandle, RateHandle } from './handles.ts'
export type {
  DevlinkDevice,
  DevlinkInfo,
  DevlinkParam,
  DevlinkPort,
  Eswitch,
  HealthReporter,
  ParamCmode,
  PortFunction,
  RateObject,
  ReloadAction,
  ReloadStat,
  Resource,
  ResourceSize,
  Trap,
} from './model.ts'
export { type FmsgObject, type FmsgValue, fmsgTree, type ParamType, type ParamValue } from './values.ts'
