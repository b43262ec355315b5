import {
  type AttrSet,
  attr,
  attrSet,
  type Codec,
  messageCodec,
  messageSpec,
  pad,
  struct,
} from '../codec/index.ts'

/** struct ifinfomsg */
export const ifinfomsg = struct('ifinfomsg', {
  family: 'u8',
  _pad: pad(1),
  type: 'u16',
  index: 's32',
  flags: 'u32',
  change: 'u32',
})

/** Interface flags (IFF_*), as `ip` names them. */
export const IFF = {
  UP: 0x1,
  BROADCAST: 0x2,
  DEBUG: 0x4,
  LOOPBACK: 0x8,
  POINTOPOINT: 0x10,
  NOTRAILERS: 0x20,
  RUNNING: 0x40,
  NOARP: 0x80,
  PROMISC: 0x100,
  ALLMULTI: 0x200,
  MASTER: 0x400,
  SLAVE: 0x800,
  MULTICAST: 0x1000,
  PORTSEL: 0x2000,
  AUTOMEDIA: 0x4000,
  DYNAMIC: 0x8000,
  LOWER_UP: 0x10000,
  DORMANT: 0x20000,
  ECHO: 0x40000,
} as const

/** struct rtnl_link_stats64 (25 counters on current kernels, 23 on old ones). */
export const linkStats64 = struct(
  'rtnl_link_stats64',
  {
    rxPackets: 'u64',
    txPackets: 'u64',
    rxBytes: 'u64',
    txBytes: 'u64',
    rxErrors: 'u64',
    txErrors: 'u64',
    rxDropped: 'u64',
    txDropped: 'u64',
    multicast: 'u64',
    collisions: 'u64',
    rxLengthErrors: 'u64',
    rxOverErrors: 'u64',
    rxCrcErrors: 'u64',
    rxFrameErrors: 'u64',
    rxFifoErrors: 'u64',
    rxMissedErrors: 'u64',
    txAbortedErrors: 'u64',
    txCarrierErrors: 'u64',
    txFifoErrors: 'u64',
    txHeartbeatErrors: 'u64',
    txWindowErrors: 'u64',
    rxCompressed: 'u64',
    txCompressed: 'u64',
    rxNohandler: 'u64',
    rxOtherhostDropped: 'u64',
  },
  { minSize: 23 * 8 },
)

export const OPERSTATES = {
  unknown: 0,
  notpresent: 1,
  down: 2,
  lowerlayerdown: 3,
  testing: 4,
  dormant: 5,
  up: 6,
} as const

export const MACVLAN_MODES = { private: 1, vepa: 2, bridge: 4, passthru: 8, source: 16 } as const

const vethData = attrSet('veth', {
  peer: attr.nest(1, (): Codec<PeerValue> => peerCodec),
})

const bridgeData = attrSet('bridge', {
  forwardDelay: attr.u32(1),
  helloTime: attr.u32(2),
  maxAge: attr.u32(3),
  ageingTime: attr.u32(4),
  stpState: attr.u32(5),
  priority: attr.u16(6),
  vlanFiltering: attr.u8(7),
  vlanProtocol: attr.be16(8),
  groupFwdMask: attr.u16(9),
  rootId: attr.binary(10),
  bridgeId: attr.binary(11),
  rootPort: attr.u16(12),
  rootPathCost: attr.u32(13),
  topologyChange: attr.u8(14),
  topologyChangeDetected: attr.u8(15),
  helloTimer: attr.u64(16),
  tcnTimer: attr.u64(17),
  topologyChangeTimer: attr.u64(18),
  gcTimer: attr.u64(19),
  groupAddr: attr.binary(20),
  mcastRouter: attr.u8(22),
  mcastSnooping: attr.u8(23),
  mcastQueryUseIfaddr: attr.u8(24),
  mcastQuerier: attr.u8(25),
  mcastHashElasticity: attr.u32(26),
  mcastHashMax: attr.u32(27),
  mcastLastMemberCnt: attr.u32(28),
  mcastStartupQueryCnt: attr.u32(29),
  mcastLastMemberIntvl: attr.u64(30),
  mcastMembershipIntvl: attr.u64(31),
  mcastQuerierIntvl: attr.u64(32),
  mcastQueryIntvl: attr.u64(33),
  mcastQueryResponseIntvl: attr.u64(34),
  mcastStartupQueryIntvl: attr.u64(35),
  nfCallIptables: attr.u8(36),
  nfCallIp6tables: attr.u8(37),
  nfCallArptables: attr.u8(38),
  vlanDefaultPvid: attr.u16(39),
  vlanStatsEnabled: attr.u8(41),
  mcastStatsEnabled: attr.u8(42),
  mcastIgmpVersion: attr.u8(43),
  mcastMldVersion: attr.u8(44),
  vlanStatsPerPort: attr.u8(45),
})

const macvlanData = attrSet('macvlan', {
  mode: attr.enum(1, 'u32', MACVLAN_MODES),
  flags: attr.u16(2),
  macaddrMode: attr.u32(3),
  macaddr: attr.binary(4),
  macaddrCount: attr.u32(6),
  bcQueueLen: attr.u32(7),
  bcQueueLenUsed: attr.u32(8),
  bcCutoff: attr.s32(9),
})

const vxlanData = attrSet('vxlan', {
  id: attr.u32(1),
  group: attr.binary(2),
  link: attr.u32(3),
  local: attr.binary(4),
  ttl: attr.u8(5),
  tos: attr.u8(6),
  learning: attr.u8(7),
  ageing: attr.u32(8),
  limit: attr.u32(9),
  portRange: attr.struct(10, struct('ifla_vxlan_port_range', { low: 'be16', high: 'be16' })),
  proxy: attr.u8(11),
  rsc: attr.u8(12),
  l2miss: attr.u8(13),
  l3miss: attr.u8(14),
  port: attr.be16(15),
  group6: attr.binary(16),
  local6: attr.binary(17),
  udpCsum: attr.u8(18),
  udpZeroCsum6Tx: attr.u8(19),
  udpZeroCsum6Rx: attr.u8(20),
  remcsumTx: attr.u8(21),
  remcsumRx: attr.u8(22),
  gbp: attr.flag(23),
  remcsumNopartial: attr.flag(24),
  collectMetadata: attr.u8(25),
  label: attr.be32(26),
  gpe: attr.flag(27),
  ttlInherit: attr.flag(28),
  df: attr.u8(29),
  vnifilter: attr.u8(30),
})

const vlanData = attrSet('vlan', {
  id: attr.u16(1),
  flags: attr.struct(2, struct('ifla_vlan_flags', { flags: 'u32', mask: 'u32' })),
  egressQos: attr.binary(3),
  ingressQos: attr.binary(4),
  protocol: attr.be16(5),
})

const tunData = attrSet('tun', {
  owner: attr.u32(1),
  group: attr.u32(2),
  type: attr.enum(3, 'u8', { tun: 1, tap: 2 }),
  pi: attr.u8(4),
  vnetHdr: attr.u8(5),
  persist: attr.u8(6),
  multiQueue: attr.u8(7),
  numQueues: attr.u32(8),
  numDisabledQueues: attr.u32(9),
})

const emptyData = attrSet('none', {})

/** IFLA_INFO_*: what kind of link this is, and the kind's own data. */
export const linkInfoAttrs = attrSet('linkinfo', {
  kind: attr.string(1),
  data: attr.submsg(2, 'kind', {
    veth: () => vethData,
    bridge: () => bridgeData,
    macvlan: () => macvlanData,
    macvtap: () => macvlanData,
    vxlan: () => vxlanData,
    vlan: () => vlanData,
    tun: () => tunData,
    dummy: () => emptyData,
    ifb: () => emptyData,
  }),
  xstats: attr.opaque(3),
  slaveKind: attr.string(4),
  slaveData: attr.opaque(5),
})

/** IFLA_*: the attributes of RTM_{NEW,DEL,GET,SET}LINK. */
export const linkAttrs = attrSet('link', {
  address: attr.mac(1),
  broadcast: attr.mac(2),
  ifname: attr.string(3),
  mtu: attr.u32(4),
  link: attr.u32(5),
  qdisc: attr.string(6),
  stats: attr.opaque(7),
  master: attr.u32(10),
  txqlen: attr.u32(13),
  map: attr.struct(
    14,
    struct('rtnl_link_ifmap', {
      memStart: 'u64',
      memEnd: 'u64',
      baseAddr: 'u64',
      irq: 'u16',
      dma: 'u8',
      port: 'u8',
      _pad: pad(4),
    }),
  ),
  operstate: attr.enum(16, 'u8', OPERSTATES),
  linkmode: attr.u8(17),
  linkinfo: attr.nest(18, () => linkInfoAttrs),
  netnsPid: attr.u32(19),
  ifalias: attr.string(20),
  numVf: attr.u32(21),
  vfinfoList: attr.opaque(22),
  stats64: attr.struct(23, linkStats64),
  afSpec: attr.opaque(26),
  group: attr.u32(27),
  netnsFd: attr.u32(28),
  extMask: attr.u32(29),
  promiscuity: attr.u32(30),
  numTxQueues: attr.u32(31),
  numRxQueues: attr.u32(32),
  carrier: attr.u8(33),
  physPortId: attr.opaque(34),
  carrierChanges: attr.u32(35),
  physSwitchId: attr.opaque(36),
  linkNetnsid: attr.s32(37),
  physPortName: attr.string(38),
  protoDown: attr.u8(39),
  gsoMaxSegs: attr.u32(40),
  gsoMaxSize: attr.u32(41),
  xdp: attr.opaque(43),
  event: attr.u32(44),
  newNetnsid: attr.s32(45),
  targetNetnsid: attr.s32(46),
  carrierUpCount: attr.u32(47),
  carrierDownCount: attr.u32(48),
  newIfindex: attr.s32(49),
  minMtu: attr.u32(50),
  maxMtu: attr.u32(51),
  propList: attr.nest(52, () => propListAttrs),
  altIfname: attr.string(53),
  permAddress: attr.mac(54),
  protoDownReason: attr.opaque(55),
  parentDevName: attr.string(56),
  parentDevBusName: attr.string(57),
  groMaxSize: attr.u32(58),
  tsoMaxSize: attr.u32(59),
  tsoMaxSegs: attr.u32(60),
  allmulti: attr.u32(61),
  devlinkPort: attr.opaque(62),
  gsoIpv4MaxSize: attr.u32(63),
  groIpv4MaxSize: attr.u32(64),
  dpllPin: attr.opaque(65),
  maxPacingOffloadHorizon: attr.u32(66),
  netnsImmutable: attr.u8(67),
  headroom: attr.u16(68),
  tailroom: attr.u16(69),
})

const propListAttrs = attrSet('prop_list', {
  altIfname: attr.multi(attr.string(53)),
})

export const linkMessage = messageSpec(ifinfomsg, linkAttrs)

type PeerValue = {
  header: Partial<ReturnType<typeof ifinfomsg.decode>>
  attrs: typeof linkAttrs extends AttrSet<infer D> ? import('../codec/index.ts').AttrValues<D> : never
}
const peerCodec: Codec<PeerValue> = messageCodec('veth.peer', linkMessage)
