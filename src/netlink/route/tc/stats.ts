import type { SetValue } from '../../codec/index.ts'
import type { gnetStatsAttrs, tcStats } from './tcmsg.ts'

/** Queueing and throughput counters of a qdisc, class or action (tc -s). */
export interface TcStats {
  bytes: number
  packets: number
  drops: number
  overlimits: number
  requeues: number
  backlog: number
  qlen: number
  /** Rate estimator, when one is configured. */
  bps?: number
  pps?: number
  /** Counted by hardware (offloaded filters' actions). */
  hwBytes?: number
  hwPackets?: number
}

type Stats2 = SetValue<typeof gnetStatsAttrs>
type Legacy = ReturnType<typeof tcStats.decode>

/** The counters from TCA_STATS2 (preferred) or the legacy TCA_STATS block. */
export function toStats(stats2: Stats2 | undefined, legacy?: Legacy): TcStats | undefined {
  if (stats2?.basic || stats2?.queue) {
    const b = stats2.basic
    const q = stats2.queue
    const out: TcStats = {
      bytes: Number(b?.bytes ?? 0n),
      packets: stats2.pkt64 !== undefined ? Number(stats2.pkt64) : (b?.packets ?? 0),
      drops: q?.drops ?? 0,
      overlimits: q?.overlimits ?? 0,
      requeues: q?.requeues ?? 0,
      backlog: q?.backlog ?? 0,
      qlen: q?.qlen ?? 0,
    }
    const est = stats2.rateEst64 ?? stats2.rateEst
    if (est && (est.bps || est.pps)) {
      out.bps = Number(est.bps)
      out.pps = Number(est.pps)
    }
    if (stats2.basicHw && (stats2.basicHw.bytes || stats2.basicHw.packets)) {
      out.hwBytes = Number(stats2.basicHw.bytes)
      out.hwPackets = stats2.basicHw.packets
    }
    return out
  }
  if (legacy) {
    const out: TcStats = {
      bytes: Number(legacy.bytes),
      packets: legacy.packets,
      drops: legacy.drops,
      overlimits: legacy.overlimits,
      requeues: 0,
      backlog: legacy.backlog,
      qlen: legacy.qlen,
    }
    if (legacy.bps || legacy.pps) {
      out.bps = legacy.bps
      out.pps = legacy.pps
    }
    return out
  }
  return undefined
}
