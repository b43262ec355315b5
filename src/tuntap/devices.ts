// The tun/tap device side of src/tuntap: devices and queues, their ioctls, fd passing, the
// AF_PACKET helper and the eBPF steering programs. (The pure hash code lives beside it.)
export {
  type CreateTapOptions,
  ifName,
  MAX_QUEUES,
  type OpenTapOptions,
  type ProgramRef,
  Tap,
  type TapInfo,
  type TapOptions,
} from './device.ts'
export {
  closeReceived,
  FdPassError,
  type FdPassErrorReason,
  MAX_FDS_PER_MESSAGE,
  type ReceivedFds,
  type ReceiveOptions,
  receiveFds,
  sendFds,
  tryReceiveFds,
} from './fd-passing.ts'
export { IffFlag, type IffFlagName, TunIoctl, TunOffload, type TunOffloadName } from './ioctls.ts'
export { PacketSocket, type PacketSocketOptions } from './packet-socket.ts'
export { TapQueue } from './queue.ts'
export { type ManagedTapRss, managedTapRss$ } from './rss-registry.ts'
export {
  decodeRssConfig,
  encodeRssConfig,
  MAX_PROGRAM_TABLE_CAPACITY,
  PROGRAM_HASH_TYPES,
  RSS_CONFIG_HEADER_SIZE,
  type RssConfigChange,
  RssConfigMap,
  type RssLastResult,
  type RssProgramOptions,
  RssSteering,
  type RssSteeringOptions,
  rssProgramInsns,
} from './rss-steering-program.ts'
export {
  constantQueueInsns,
  loadConstantSteering,
  SelectorSteering,
  selectorQueueInsns,
} from './steering-program.ts'
export { TapError, type TapErrorKind, type TapErrorReason, type TapInputIssue } from './tap-errors.ts'
export {
  KERNEL_MAX_TABLE_LENGTH,
  type KernelRssSupport,
  type ReportForOptions,
  TapRss,
  type TapRssApplyOptions,
  type TapRssBackend,
  type TapRssReporting,
  type TapRssStatus,
} from './tap-rss.ts'
