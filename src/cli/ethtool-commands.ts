import type { Channels, ChannelsChange, EthtoolClient, EthtoolEvent, Rss } from '../index.ts'
import { toJson, UsageError, type Words } from './args.ts'

const na = (n: number) => (n === 0 ? 'n/a' : String(n))

/** Channels as `ethtool -l` prints them (0 reads "n/a"). */
export function formatChannels(c: Channels): string {
  return [
    `Channel parameters for ${c.ifname}:`,
    'Pre-set maximums:',
    `RX:\t\t${na(c.maxRx)}`,
    `TX:\t\t${na(c.maxTx)}`,
    `Other:\t\t${na(c.maxOther)}`,
    `Combined:\t${na(c.maxCombined)}`,
    'Current hardware settings:',
    `RX:\t\t${na(c.rx)}`,
    `TX:\t\t${na(c.tx)}`,
    `Other:\t\t${na(c.other)}`,
    `Combined:\t${na(c.combined)}`,
  ].join('\n')
}

const HASH_FUNCTIONS = ['toeplitz', 'xor', 'crc32'] as const
const INPUT_XFRMS = ['symmetric-xor', 'symmetric-or-xor'] as const

/** An RSS context as `ethtool -x` prints it: indirection table (8 a row), key, hash function. */
export function formatRss(r: Rss, rxRings?: number): string {
  const ctx = r.context ? ` context ${r.context}` : ''
  const rings = rxRings === undefined ? '' : ` with ${rxRings} RX ring(s)`
  const lines = [`RX flow hash indirection table for ${r.ifname}${ctx}${rings}:`]
  for (let i = 0; i < r.table.length; i += 8)
    lines.push(
      `${String(i).padStart(5)}: ${r.table
        .slice(i, i + 8)
        .map((q) => String(q).padStart(5))
        .join(' ')}`,
    )
  lines.push('RSS hash key:')
  lines.push(
    r.key.length
      ? [...r.key].map((b) => b.toString(16).padStart(2, '0')).join(':')
      : 'Operation not supported',
  )
  lines.push('RSS hash function:')
  for (const h of HASH_FUNCTIONS) lines.push(`    ${h}: ${r.hfunc === h ? 'on' : 'off'}`)
  if (typeof r.hfunc === 'number') lines.push(`    unknown (0x${r.hfunc.toString(16)}): on`)
  lines.push('RSS input transformation:')
  for (const x of INPUT_XFRMS) lines.push(`    ${x}: ${r.inputXfrm.includes(x) ? 'on' : 'off'}`)
  return lines.join('\n')
}

/** One ethtool notification as a line of `rxnl monitor ethtool`. */
export function formatEthtoolEvent(e: EthtoolEvent): string {
  switch (e.type) {
    case 'overrun':
      return '[ethtool] events lost (overrun): re-read with "ethtool channels|rss DEV"'
    case 'channels': {
      const c = e.channels
      return `[ethtool] channels ${c.ifname}: rx ${c.rx} tx ${c.tx} other ${c.other} combined ${c.combined}`
    }
    case 'rings':
      return `[ethtool] rings ${e.rings.ifname}: rx ${e.rings.rx} tx ${e.rings.tx}`
    case 'rss':
    case 'rss-context-created':
      return `[ethtool] ${e.type} ${e.rss.ifname} context ${e.rss.context}: table of ${e.rss.table.length}, hfunc ${e.rss.hfunc}`
    case 'rss-context-deleted':
      return `[ethtool] rss-context-deleted ${e.ifname} context ${e.context}`
    case 'other':
      return `[ethtool] message ${e.cmd}`
  }
}

/**
 * `ethtool channels DEV [set rx N tx N other N combined N]`, `ethtool rss DEV [context N]`.
 */
export async function ethtoolCommand(
  et: EthtoolClient,
  w: Words,
  json: boolean,
  out: (s: string) => void,
): Promise<void> {
  const what = w.next('ethtool object (channels, rss)')
  const dev = device(w.next('device'))
  switch (what) {
    case 'channels':
    case 'ch': {
      if (w.done || w.peek() === 'show') {
        w.optional()
        const c = await et.channels.get(dev)
        out(json ? toJson(c) : formatChannels(c))
        return
      }
      const cmd = w.next('command')
      if (cmd !== 'set') throw new UsageError(`unknown ethtool channels command '${cmd}' (show, set)`)
      const change: Record<string, number> = {}
      while (!w.done) {
        const k = w.next('channel')
        if (k !== 'rx' && k !== 'tx' && k !== 'other' && k !== 'combined')
          throw new UsageError(`unknown channel '${k}' (rx, tx, other, combined)`)
        change[k] = w.number(k)
      }
      if (!Object.keys(change).length)
        throw new UsageError('ethtool channels set needs rx|tx|other|combined N')
      const c = await et.channels.set(dev, change as ChannelsChange)
      if (json) out(toJson(c))
      return
    }
    case 'rss': {
      let context = 0
      while (!w.done) {
        const k = w.next('option')
        if (k === 'show') continue
        if (k === 'context') context = w.number('context')
        else throw new UsageError(`unknown option '${k}' for ethtool rss (context N)`)
      }
      const r = await et.rss.get(dev, context ? { context } : {})
      if (json) {
        out(toJson(r))
        return
      }
      const rings = await et.channels.get(dev).then(
        (c) => c.rx + c.combined,
        () => undefined,
      )
      out(formatRss(r, rings))
      return
    }
    default:
      throw new UsageError(`unknown ethtool object '${what}' (channels, rss)`)
  }
}

function device(s: string): string | number {
  return /^\d+$/.test(s) ? Number(s) : s
}
