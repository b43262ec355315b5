import { attr, attrSet, type Codec, pad, struct } from '../../codec/index.ts'

/** struct tcmsg: the fixed header of every qdisc, class and filter message. */
export const tcmsg = struct('tcmsg', {
  family: 'u8',
  _pad1: pad(3),
  ifindex: 's32',
  handle: 'u32',
  parent: 'u32',
  /** Filters: pref << 16 | protocol (network order); classes: the leaf qdisc's handle. */
  info: 'u32',
})

/** struct tcamsg: the header of action messages (RTM_*ACTION). */
export const tcamsg = struct('tcamsg', { family: 'u8', _pad1: pad(1), _pad2: pad(2) })

/** struct gnet_stats_basic (16 bytes with its alignment padding). */
export const gnetStatsBasic = struct(
  'gnet_stats_basic',
  { bytes: 'u64', packets: 'u32', _pad: pad(4) },
  {
    minSize: 12,
  },
)
export const gnetStatsRateEst = struct('gnet_stats_rate_est', { bps: 'u32', pps: 'u32' })
export const gnetStatsRateEst64 = struct('gnet_stats_rate_est64', { bps: 'u64', pps: 'u64' })
export const gnetStatsQueue = struct('gnet_stats_queue', {
  qlen: 'u32',
  backlog: 'u32',
  drops: 'u32',
  requeues: 'u32',
  overlimits: 'u32',
})

/** TCA_STATS_*: the statistics nest (TCA_STATS2, TCA_ACT_STATS). */
export const gnetStatsAttrs = attrSet('stats', {
  basic: attr.struct(1, gnetStatsBasic),
  rateEst: attr.struct(2, gnetStatsRateEst),
  queue: attr.struct(3, gnetStatsQueue),
  app: attr.binary(4),
  rateEst64: attr.struct(5, gnetStatsRateEst64),
  pad: attr.binary(6),
  basicHw: attr.struct(7, gnetStatsBasic),
  pkt64: attr.u64(8),
})

/** struct tc_stats: the legacy TCA_STATS block. */
export const tcStats = struct(
  'tc_stats',
  {
    bytes: 'u64',
    packets: 'u32',
    drops: 'u32',
    overlimits: 'u32',
    bps: 'u32',
    pps: 'u32',
    qlen: 'u32',
    backlog: 'u32',
    _pad: pad(4),
  },
  { minSize: 36 },
)

/** struct tc_estimator (TCA_RATE). */
export const tcEstimator = struct('tc_estimator', { interval: 's8', ewmaLog: 'u8' })

/** struct nla_bitfield32 */
export const bitfield32 = struct('nla_bitfield32', { value: 'u32', selector: 'u32' })

/** struct tc_ratespec */
export const tcRatespec = struct('tc_ratespec', {
  cellLog: 'u8',
  linklayer: 'u8',
  overhead: 'u16',
  cellAlign: 's16',
  mpu: 'u16',
  rate: 'u32',
})

type Formats = Record<string, () => Codec<unknown>>

/**
 * TCA_*: the attributes of qdisc, class and filter messages. TCA_OPTIONS and TCA_XSTATS are
 * read with the format that TCA_KIND names; kinds without one stay bytes.
 */
export function tcaAttrs<const O extends Formats, const X extends Formats>(
  name: string,
  options: O,
  xstats: X,
) {
  return attrSet(name, {
    kind: attr.string(1),
    options: attr.unflagged(attr.submsg(2, 'kind', options)),
    stats: attr.struct(3, tcStats),
    xstats: attr.submsg(4, 'kind', xstats),
    rate: attr.struct(5, tcEstimator),
    fcnt: attr.u32(6),
    stats2: attr.nest(7, () => gnetStatsAttrs),
    stab: attr.binary(8),
    pad: attr.binary(9),
    dumpInvisible: attr.flag(10),
    chain: attr.u32(11),
    hwOffload: attr.u8(12),
    ingressBlock: attr.u32(13),
    egressBlock: attr.u32(14),
    dumpFlags: attr.struct(15, bitfield32),
    extWarnMsg: attr.string(16),
  })
}
