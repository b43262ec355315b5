export {
  channelsAttrs,
  ETHTOOL_KMSG,
  ETHTOOL_MSG,
  flowHashAttrs,
  headerAttrs,
  ringsAttrs,
  rssAttrs,
} from './attrs.ts'
export {
  type EthtoolBackend,
  type EthtoolBackends,
  EthtoolClient,
  type EthtoolEvent,
  type EthtoolOptions,
  ethtoolEvents$,
  openEthtool,
} from './client.ts'
export { NoSuchDeviceError, NotSupportedError } from './errors.ts'
export type {
  Channels,
  DeviceId,
  FlowType,
  HashFunction,
  InputXfrm,
  Rings,
  Rss,
  RxhField,
} from './model.ts'
export type { ChannelsChange, RingsChange, RssConfig, RssCreate, RssSet } from './schema.ts'
