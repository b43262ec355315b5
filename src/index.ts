// rxnetlink's public API.
export {
  DecodeError,
  EncodeError,
  NetlinkError,
} from './netlink/codec/index.ts'
export {
  FamilyNotFoundError,
  type GenericFamily,
  GenericSocket,
} from './netlink/generic/index.ts'
export { NETNS_DIR, namespaces } from './netlink/netns.ts'
export {
  type Address,
  AddressApi,
  type AddressFlag,
  type AddressScope,
  type AddressSpec,
  type BridgeInfo,
  type DeviceRef,
  type Link,
  LinkApi,
  type LinkChange,
  type LinkCreate,
  type LinkEvent,
  type LinkFlag,
  type LinkInfo,
  type LinkStats,
  type MacvlanInfo,
  type OtherInfo,
  openRoute,
  type PlainInfo,
  RouteClient,
  type RouteOptions,
  type TunInfo,
  type VethInfo,
  type VlanInfo,
  type VxlanInfo,
} from './netlink/route/index.ts'
export {
  type Action,
  type ActionOptions,
  type ActionSpec,
  BulkError,
  type ClassOptions,
  type ClassSpec,
  type ControlAction,
  type Filter,
  type FilterOptions,
  type FilterSelect,
  type FilterSpec,
  type Qdisc,
  type QdiscDelete,
  type QdiscOptions,
  type QdiscSpec,
  TcApi,
  type TcClass,
  type TcEvent,
  type TcStats,
} from './netlink/route/tc/index.ts'
export {
  DumpInterruptedError,
  multicast$,
  NETLINK_GENERIC,
  NETLINK_ROUTE,
  type NetlinkEvent,
  NetlinkSocket,
  OverrunError,
  SocketClosedError,
  type SocketOptions,
} from './netlink/socket/index.ts'
export { type NetnsRef, SysError } from './netlink/sys/index.ts'
export { InvalidInputError } from './netlink/validate.ts'
export {
  type DeviceState,
  type DeviceStateOptions,
  deviceState$,
  link$,
  type StateChange,
  type StateUpdate,
} from './state/index.ts'
