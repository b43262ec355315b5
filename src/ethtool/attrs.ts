import { attr, attrSet, type SetValue } from '../netlink/codec/index.ts'

/**
 * The ethtool generic netlink family, declared as data (numbers from the kernel's UAPI,
 * `ethtool_netlink_generated.h` of 6.17+; older kernels simply lack the later ones).
 */

/** ETHTOOL_MSG_* sent by user space. */
export const ETHTOOL_MSG = {
  STRSET_GET: 1,
  LINKINFO_GET: 2,
  RINGS_GET: 15,
  RINGS_SET: 16,
  CHANNELS_GET: 17,
  CHANNELS_SET: 18,
  RSS_GET: 38,
  RSS_SET: 48,
  RSS_CREATE_ACT: 49,
  RSS_DELETE_ACT: 50,
} as const

/** ETHTOOL_MSG_* sent by the kernel (replies and notifications). */
export const ETHTOOL_KMSG = {
  RINGS_GET_REPLY: 16,
  RINGS_NTF: 17,
  CHANNELS_GET_REPLY: 18,
  CHANNELS_NTF: 19,
  RSS_GET_REPLY: 38,
  RSS_NTF: 50,
  RSS_CREATE_ACT_REPLY: 51,
  RSS_CREATE_NTF: 52,
  RSS_DELETE_NTF: 53,
} as const

export const ETHTOOL_MCGRP_MONITOR = 'monitor'

/** ETHTOOL_FLAG_* in the request header. */
export const HEADER_FLAGS = { compactBitsets: 1, omitReply: 2, stats: 4 } as const

/** ETHTOOL_A_HEADER_*: which device a message is about. */
export const headerAttrs = attrSet('header', {
  devIndex: attr.u32(1),
  devName: attr.string(2),
  flags: attr.flags(3, 'u32', HEADER_FLAGS),
  phyIndex: attr.u32(4),
})
export type Header = SetValue<typeof headerAttrs>

const header = attr.nest(1, () => headerAttrs)

/** ETHTOOL_A_CHANNELS_* */
export const channelsAttrs = attrSet('channels', {
  header,
  rxMax: attr.u32(2),
  txMax: attr.u32(3),
  otherMax: attr.u32(4),
  combinedMax: attr.u32(5),
  rxCount: attr.u32(6),
  txCount: attr.u32(7),
  otherCount: attr.u32(8),
  combinedCount: attr.u32(9),
})

export const TCP_DATA_SPLIT = { unknown: 0, disabled: 1, enabled: 2 } as const

/** ETHTOOL_A_RINGS_* */
export const ringsAttrs = attrSet('rings', {
  header,
  rxMax: attr.u32(2),
  rxMiniMax: attr.u32(3),
  rxJumboMax: attr.u32(4),
  txMax: attr.u32(5),
  rx: attr.u32(6),
  rxMini: attr.u32(7),
  rxJumbo: attr.u32(8),
  tx: attr.u32(9),
  rxBufLen: attr.u32(10),
  tcpDataSplit: attr.enum(11, 'u8', TCP_DATA_SPLIT),
  cqeSize: attr.u32(12),
  txPush: attr.u8(13),
  rxPush: attr.u8(14),
  txPushBufLen: attr.u32(15),
  txPushBufLenMax: attr.u32(16),
  hdsThresh: attr.u32(17),
  hdsThreshMax: attr.u32(18),
})

/** ETHTOOL_A_FLOW_*: which header fields (RXH_* bits) feed the hash, per flow type. */
export const flowHashAttrs = attrSet('flow_hash', {
  ether: attr.u32(1),
  ip4: attr.u32(2),
  ip6: attr.u32(3),
  tcp4: attr.u32(4),
  tcp6: attr.u32(5),
  udp4: attr.u32(6),
  udp6: attr.u32(7),
  sctp4: attr.u32(8),
  sctp6: attr.u32(9),
  ah4: attr.u32(10),
  ah6: attr.u32(11),
  esp4: attr.u32(12),
  esp6: attr.u32(13),
  ahEsp4: attr.u32(14),
  ahEsp6: attr.u32(15),
  gtpu4: attr.u32(16),
  gtpu6: attr.u32(17),
  gtpc4: attr.u32(18),
  gtpc6: attr.u32(19),
  gtpcTeid4: attr.u32(20),
  gtpcTeid6: attr.u32(21),
  gtpuEh4: attr.u32(22),
  gtpuEh6: attr.u32(23),
  gtpuUl4: attr.u32(24),
  gtpuUl6: attr.u32(25),
  gtpuDl4: attr.u32(26),
  gtpuDl6: attr.u32(27),
})

/** ETHTOOL_A_RSS_* */
export const rssAttrs = attrSet('rss', {
  header,
  context: attr.u32(2),
  /** ETH_RSS_HASH_* bit of the hash function in use (bit 0 toeplitz, 1 xor, 2 crc32). */
  hfunc: attr.u32(3),
  /** The indirection table: one u32 queue number per entry. */
  indir: attr.array(4, 'u32'),
  hkey: attr.binary(5),
  /** RXH_XFRM_* bits: 1 symmetric-xor, 2 symmetric-or-xor. */
  inputXfrm: attr.u32(6),
  startContext: attr.u32(7),
  flowHash: attr.nest(8, () => flowHashAttrs),
})

export type ChannelsAttrs = SetValue<typeof channelsAttrs>
export type RingsAttrs = SetValue<typeof ringsAttrs>
export type RssAttrs = SetValue<typeof rssAttrs>

/** RXH_* bits of a flow-hash value, with the names ethtool uses. */
export const RXH = {
  l2da: 1 << 1,
  vlan: 1 << 2,
  l3Proto: 1 << 3,
  ipSrc: 1 << 4,
  ipDst: 1 << 5,
  l4b01: 1 << 6,
  l4b23: 1 << 7,
  discard: 2 ** 31,
} as const
