import type { Action, Filter, Qdisc, RouteClient, TcClass, TcEvent } from '../index.ts'
import { toJson, UsageError, type Words } from './args.ts'

/** camelCase → snake_case, the way iproute2 spells its keywords. */
const snake = (k: string) => k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)

/** An options object as iproute2-style `key value` words (flags as bare words, false omitted). */
export function optionWords(o: object | undefined, skip: readonly string[] = ['kind']): string {
  if (!o) return ''
  const words: string[] = []
  for (const [k, v] of Object.entries(o)) {
    if (skip.includes(k) || v === undefined || v === false) continue
    if (v === true) words.push(snake(k))
    else if (typeof v === 'number' || typeof v === 'string' || typeof v === 'bigint')
      words.push(`${snake(k)} ${v}`)
    else if (v instanceof Uint8Array) words.push(`${snake(k)} ${Buffer.from(v).toString('hex')}`)
    else if (Array.isArray(v)) {
      if (v.length && v.every((x) => typeof x !== 'object')) words.push(`${snake(k)} ${v.join(',')}`)
    }
  }
  return words.join(' ')
}

/** `qdisc htb 1: dev v0 root refcnt 3 r2q 10 ...`, as `tc qdisc show` prints it. */
export function formatQdisc(q: Qdisc): string {
  const where = q.parent === 'root' ? 'root' : `parent ${q.parent === 'ingress' ? 'ffff:fff1' : q.parent}`
  const parts = [`qdisc ${q.kind} ${q.handle} dev ${q.dev || `if${q.index}`} ${where}`]
  if (q.refcnt !== undefined) parts.push(`refcnt ${q.refcnt}`)
  const opts = optionWords(q.options, ['kind', 'version'])
  if (opts) parts.push(opts)
  if (q.offloaded) parts.push('offloaded')
  return parts.join(' ')
}

export function formatClass(c: TcClass): string {
  const where = c.parent === 'root' ? 'root' : `parent ${c.parent}`
  const leaf = c.leaf ? ` leaf ${c.leaf}` : ''
  const opts = optionWords(c.options)
  return `class ${c.kind} ${c.handle} dev ${c.dev || `if${c.index}`} ${where}${leaf}${opts ? ` ${opts}` : ''}`
}

function formatAction(a: Action, i: number): string {
  const opts = optionWords(a.options, ['kind', 'ifindex'])
  return (
    `\taction order ${a.order ?? i + 1}: ${a.kind}${opts ? ` ${opts}` : ''} ${a.control}\n` +
    `\tindex ${a.index} ref ${a.refcnt ?? 0} bind ${a.bindcnt ?? 0}`
  )
}

/** A filter as `tc filter show` prints it: a header line, u32 keys, then the actions. */
export function formatFilter(f: Filter): string {
  const parts = [`filter parent ${f.parent} protocol ${f.protocol} pref ${f.pref} ${f.kind} chain ${f.chain}`]
  if (f.handle !== undefined) parts.push(`fh ${f.handle}`)
  const o = f.options as (Record<string, unknown> & { keys?: unknown }) | undefined
  const opts = optionWords(o, ['kind', 'keys'])
  if (opts) parts.push(opts)
  let out = parts.join(' ')
  if (o && Array.isArray(o.keys))
    for (const k of o.keys as Array<{ value: number; mask: number; offset: number }>)
      out += `\n  match ${hex8(k.value)}/${hex8(k.mask)} at ${k.offset}`
  for (const [i, a] of (f.actions ?? []).entries()) out += `\n${formatAction(a, i)}`
  return out
}

const hex8 = (n: number) => (n >>> 0).toString(16).padStart(8, '0')

/** One tc event as a line of `rxnl monitor tc`. */
export function formatTcEvent(e: TcEvent): string {
  if (e.type === 'overrun') return '[tc] events lost (overrun): re-read with "tc qdisc show"'
  const del = e.type === 'del' ? ' Deleted' : ''
  switch (e.object) {
    case 'qdisc':
      return `[tc]${del} ${formatQdisc(e.qdisc)}`
    case 'class':
      return `[tc]${del} ${formatClass(e.class)}`
    case 'filter':
      return `[tc]${del} ${formatFilter(e.filter).replace(/^filter /, `filter dev ${e.filter.dev} `)}`
    case 'action':
      return `[tc]${del} action\n${e.actions.map(formatAction).join('\n')}`
  }
}

/** `tc qdisc show [dev DEV]`, `tc filter show dev DEV [ingress|egress|root|parent P]`. */
export async function tcCommand(
  rt: RouteClient,
  w: Words,
  json: boolean,
  out: (s: string) => void,
): Promise<void> {
  const object = w.next('tc object (qdisc, filter)')
  const cmd = w.optional() ?? 'show'
  if (cmd !== 'show' && cmd !== 'list' && cmd !== 'ls')
    throw new UsageError(`unknown tc ${object} command '${cmd}' (show)`)
  switch (object) {
    case 'qdisc': {
      let dev: string | undefined
      while (!w.done) {
        const k = w.next('option')
        if (k === 'dev') dev = w.next('device')
        else throw new UsageError(`unknown option '${k}' for tc qdisc show (dev DEV)`)
      }
      const qdiscs = await rt.tc.qdiscs.list(dev === undefined ? undefined : device(dev))
      out(json ? toJson(qdiscs) : qdiscs.map(formatQdisc).join('\n'))
      return
    }
    case 'filter': {
      let dev: string | undefined
      let parent = 'none'
      let chain: number | undefined
      while (!w.done) {
        const k = w.next('option')
        if (k === 'dev') dev = w.next('device')
        else if (k === 'ingress' || k === 'egress' || k === 'root') parent = k
        else if (k === 'parent') parent = w.next('parent')
        else if (k === 'chain') chain = w.number('chain')
        else
          throw new UsageError(`unknown option '${k}' for tc filter show (dev DEV [ingress|egress|parent P])`)
      }
      if (dev === undefined) throw new UsageError('tc filter show needs "dev DEV"')
      const filters = await rt.tc.filters.list({
        dev: device(dev),
        parent,
        ...(chain === undefined ? {} : { chain }),
      })
      out(json ? toJson(filters) : filters.map(formatFilter).join('\n'))
      return
    }
    default:
      throw new UsageError(`unknown tc object '${object}' (qdisc, filter)`)
  }
}

function device(s: string): string | number {
  return /^\d+$/.test(s) ? Number(s) : s
}
