import { z } from 'zod'
import {
  attr,
  attrSet,
  intArray,
  messageCodec,
  messageSpec,
  type SetValue,
  struct,
  structCodec,
} from '../../codec/index.ts'
import { minor, parseClassid } from './handles.ts'
import {
  linklayerName,
  linklayerSchema,
  needs64,
  rate32,
  rateSchema,
  sizeSchema,
  timeSchema,
  U32_MAX,
} from './rates.ts'
import { tcaAttrs, tcRatespec } from './tcmsg.ts'
import {
  LINKLAYER,
  type Linklayer,
  type PschedClock,
  pschedClock,
  rateTable,
  TIME_UNITS_PER_SEC,
  xmitsize,
  xmittime,
} from './units.ts'

// ---- declarations -----------------------------------------------------------------------------

/** struct tc_htb_glob (TCA_HTB_INIT) */
export const tcHtbGlob = struct('tc_htb_glob', {
  version: 'u32',
  rate2quantum: 'u32',
  defcls: 'u32',
  debug: 'u32',
  directPkts: 'u32',
})
/** struct tc_htb_opt (TCA_HTB_PARMS) */
export const tcHtbOpt = struct('tc_htb_opt', {
  rate: tcRatespec,
  ceil: tcRatespec,
  buffer: 'u32',
  cbuffer: 'u32',
  quantum: 'u32',
  level: 'u32',
  prio: 'u32',
})
export const tcHtbXstats = struct('tc_htb_xstats', {
  lends: 'u32',
  borrows: 'u32',
  giants: 'u32',
  tokens: 's32',
  ctokens: 's32',
})

/** TCA_HTB_*: the options of an htb qdisc (init) and of its classes (parms + rate tables). */
export const htbAttrs = attrSet('htb', {
  rate64: attr.u64(6),
  ceil64: attr.u64(7),
  parms: attr.struct(1, tcHtbOpt),
  init: attr.struct(2, tcHtbGlob),
  rtab: attr.array(4, 'u32'),
  ctab: attr.array(3, 'u32'),
  directQlen: attr.u32(5),
  pad: attr.binary(8),
  offload: attr.flag(9),
})

/** struct tc_tbf_qopt */
export const tcTbfQopt = struct('tc_tbf_qopt', {
  rate: tcRatespec,
  peakrate: tcRatespec,
  limit: 'u32',
  buffer: 'u32',
  mtu: 'u32',
})
/** TCA_TBF_* */
export const tbfAttrs = attrSet('tbf', {
  parms: attr.struct(1, tcTbfQopt),
  burst: attr.u32(6),
  rate64: attr.u64(4),
  rtab: attr.array(2, 'u32'),
  prate64: attr.u64(5),
  pburst: attr.u32(7),
  ptab: attr.array(3, 'u32'),
  pad: attr.binary(8),
})

/** struct tc_prio_qopt (prio, and pfifo_fast's whole TCA_OPTIONS) */
export const tcPrioQopt = struct('tc_prio_qopt', { bands: 's32', priomap: intArray('u8', 16) })
/**
 * prio's TCA_OPTIONS: the struct, then (as iproute2 sends it) an empty TCA_OPTIONS-typed nest the
 * kernel skips over.
 */
export const prioOptions = messageCodec(
  'prio',
  messageSpec(tcPrioQopt, attrSet('prio_compat', { compat: attr.binary(2) })),
)

/** struct tc_multiq_qopt */
export const tcMultiqQopt = struct('tc_multiq_qopt', { bands: 'u16', maxBands: 'u16' })

/** struct tc_mqprio_qopt (82 bytes; attributes follow it at the next 4-byte boundary). */
export const tcMqprioQopt = struct('tc_mqprio_qopt', {
  numTc: 'u8',
  prioTcMap: intArray('u8', 16),
  hw: 'u8',
  count: intArray('u16', 16),
  offset: intArray('u16', 16),
})
const mqprioMinRates = attrSet('mqprio_min_rate64', { rate: attr.multi(attr.u64(3)) })
const mqprioMaxRates = attrSet('mqprio_max_rate64', { rate: attr.multi(attr.u64(4)) })
/** TCA_MQPRIO_* */
export const mqprioAttrs = attrSet('mqprio', {
  mode: attr.u16(1),
  shaper: attr.u16(2),
  minRate64: attr.nest(3, () => mqprioMinRates),
  maxRate64: attr.nest(4, () => mqprioMaxRates),
})
/** mqprio's TCA_OPTIONS: struct tc_mqprio_qopt followed by TCA_MQPRIO_* attributes. */
export const mqprioOptions = messageCodec('mqprio', messageSpec(tcMqprioQopt, mqprioAttrs))

/** struct tc_fifo_qopt */
export const tcFifoQopt = struct('tc_fifo_qopt', { limit: 'u32' })

/** TCA_FQ_CODEL_* */
export const fqCodelAttrs = attrSet('fq_codel', {
  target: attr.u32(1),
  limit: attr.u32(2),
  interval: attr.u32(3),
  ecn: attr.u32(4),
  flows: attr.u32(5),
  quantum: attr.u32(6),
  ceThreshold: attr.u32(7),
  dropBatchSize: attr.u32(8),
  memoryLimit: attr.u32(9),
  ceThresholdSelector: attr.u8(10),
  ceThresholdMask: attr.u8(11),
})

/** TCA_* of qdisc messages, with TCA_OPTIONS read per kind. */
export const qdiscAttrs = tcaAttrs(
  'qdisc',
  {
    htb: () => htbAttrs,
    tbf: () => tbfAttrs,
    prio: () => prioOptions,
    pfifo_fast: () => structCodec(tcPrioQopt),
    multiq: () => structCodec(tcMultiqQopt),
    mqprio: () => mqprioOptions,
    pfifo: () => structCodec(tcFifoQopt),
    bfifo: () => structCodec(tcFifoQopt),
    fq_codel: () => fqCodelAttrs,
  },
  {},
)
export type QdiscAttrs = SetValue<typeof qdiscAttrs>

/** TCA_* of class messages (htb classes). */
export const classAttrs = tcaAttrs('class', { htb: () => htbAttrs }, { htb: () => structCodec(tcHtbXstats) })
export type ClassAttrs = SetValue<typeof classAttrs>

// ---- input ------------------------------------------------------------------------------------

const common = {
  dev: z.union([z.string().min(1).max(15), z.number().int().positive()]),
}
const handle = z
  .string()
  .regex(/^([0-9a-fA-F]{1,4}:?|none)$/, 'a qdisc handle is a hex major number such as "1:"')
  .optional()
const parent = z
  .string()
  .refine(
    (s) => s === 'root' || s === 'ingress' || s === 'clsact' || parseClassid(s) !== undefined,
    'a parent is "root" or a class such as "1:10"',
  )
  .optional()
const u32n = z.number().int().min(0).max(U32_MAX)
const queueSpec = z.union([
  z.string().regex(/^\d+@\d+$/, 'a queue range is COUNT@OFFSET, e.g. "2@0"'),
  z
    .object({ count: z.number().int().min(1).max(0xffff), offset: z.number().int().min(0).max(0xffff) })
    .strict(),
])

const plain = { ...common, handle, parent }
export const qdiscSpecSchema = z.discriminatedUnion('kind', [
  z.object({ ...common, kind: z.literal('clsact'), handle }).strict(),
  z.object({ ...common, kind: z.literal('ingress'), handle }).strict(),
  z
    .object({
      ...plain,
      kind: z.literal('htb'),
      /** The class unclassified traffic goes to: its minor (number), or tc's hex (`'10'`, `'1:10'`). */
      defaultClass: z
        .union([
          z.number().int().min(0).max(0xffff),
          z
            .string()
            .refine((s) => parseClassid(s.includes(':') ? s : `:${s}`) !== undefined, 'a hex class minor'),
        ])
        .optional(),
      r2q: z.number().int().min(1).max(U32_MAX).optional(),
      directQlen: u32n.optional(),
    })
    .strict(),
  z
    .object({
      ...plain,
      kind: z.literal('tbf'),
      rate: rateSchema,
      burst: sizeSchema,
      limit: sizeSchema.optional(),
      latency: timeSchema.optional(),
      peakrate: rateSchema.optional(),
      mtu: sizeSchema.optional(),
      mpu: z.number().int().min(0).max(0xffff).optional(),
      overhead: z.number().int().min(0).max(0xffff).optional(),
      linklayer: linklayerSchema.optional(),
    })
    .strict()
    .refine((s) => s.limit !== undefined || s.latency !== undefined, {
      message: 'tbf needs limit or latency',
      path: ['limit'],
    })
    .refine((s) => s.peakrate === undefined || !!s.mtu, { message: 'a peakrate needs mtu', path: ['mtu'] }),
  z
    .object({
      ...plain,
      kind: z.literal('prio'),
      bands: z.number().int().min(2).max(16).optional(),
      priomap: z.array(z.number().int().min(0).max(15)).min(1).max(16).optional(),
    })
    .strict()
    .refine((s) => (s.priomap ?? []).every((b) => b < (s.bands ?? 3)), {
      message: 'every priomap entry must name an existing band',
      path: ['priomap'],
    }),
  z.object({ ...plain, kind: z.literal('mq') }).strict(),
  z.object({ ...plain, kind: z.literal('multiq') }).strict(),
  z
    .object({
      ...plain,
      kind: z.literal('mqprio'),
      numTc: z.number().int().min(1).max(16),
      /** Priority → traffic class, for priorities 0…15 (missing ones map to 0). */
      map: z.array(z.number().int().min(0).max(15)).max(16).optional(),
      /** Per traffic class: its queue count and first queue. */
      queues: z.array(queueSpec).max(16).optional(),
      /** Offload to hardware (tc's `hw`); default off. */
      hw: z.union([z.boolean(), z.number().int().min(0).max(255)]).optional(),
      mode: z.enum(['dcb', 'channel']).optional(),
      shaper: z.enum(['dcb', 'bw_rlimit']).optional(),
      minRate: z.array(rateSchema).max(16).optional(),
      maxRate: z.array(rateSchema).max(16).optional(),
    })
    .strict()
    .refine((s) => (s.map ?? []).every((tc) => tc < s.numTc), {
      message: 'every map entry must be a traffic class below numTc',
      path: ['map'],
    })
    .refine((s) => !s.queues || s.queues.length === s.numTc, {
      message: 'give one queue range per traffic class',
      path: ['queues'],
    }),
  z.object({ ...plain, kind: z.literal('pfifo'), limit: u32n.optional() }).strict(),
  z.object({ ...plain, kind: z.literal('bfifo'), limit: sizeSchema.optional() }).strict(),
])
/** A qdisc to add, replace or change (`tc qdisc add`): device, place, handle, kind and options. */
export type QdiscSpec = z.input<typeof qdiscSpecSchema>
export type QdiscSpecParsed = z.output<typeof qdiscSpecSchema>

export const classSpecSchema = z.discriminatedUnion('kind', [
  z
    .object({
      ...common,
      kind: z.literal('htb'),
      /** The class's id, e.g. `1:10`. */
      classid: z.string().refine((s) => {
        const h = parseClassid(s)
        return h !== undefined && minor(h) !== 0 && s !== 'root' && s !== 'none'
      }, 'a classid is MAJ:MIN with a nonzero minor, e.g. "1:10"'),
      /** The qdisc (`1:`) or parent class (`1:1`). */
      parent: z
        .string()
        .refine((s) => parseClassid(s) !== undefined, 'a parent is a handle such as "1:" or "1:1"'),
      rate: rateSchema,
      ceil: rateSchema.optional(),
      burst: sizeSchema.optional(),
      cburst: sizeSchema.optional(),
      prio: z.number().int().min(0).max(7).optional(),
      quantum: u32n.optional(),
      mtu: z.number().int().min(1).max(0xffff).optional(),
      mpu: z.number().int().min(0).max(0xffff).optional(),
      overhead: z.number().int().min(0).max(0xffff).optional(),
      linklayer: linklayerSchema.optional(),
    })
    .strict()
    .refine((s) => s.rate > 0, { message: 'a class needs a nonzero rate', path: ['rate'] }),
])
/** A class to add, replace or change (`tc class add`): device, classid, parent, kind and options. */
export type ClassSpec = z.input<typeof classSpecSchema>
export type ClassSpecParsed = z.output<typeof classSpecSchema>

// ---- encoding ---------------------------------------------------------------------------------

export class RangeInputError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message)
  }
}

function ticks(rate: number, size: number, field: string, c: PschedClock): number {
  const t = xmittime(rate, size, c)
  if (t > U32_MAX) throw new RangeInputError(field, `${size} bytes at this rate take too long to be a burst`)
  return t
}

function ratespec(
  rate: number,
  o: { mtu?: number; mpu?: number; overhead?: number; linklayer?: Linklayer },
  c: PschedClock,
) {
  const r = rate32(rate)
  const t = rateTable(r, o, c)
  return {
    spec: {
      cellLog: t.cellLog,
      linklayer: LINKLAYER[o.linklayer ?? 'ethernet'],
      overhead: o.overhead ?? 0,
      cellAlign: -1,
      mpu: o.mpu ?? 0,
      rate: r,
    },
    table: t.table,
  }
}

const DEFAULT_PRIOMAP = [1, 2, 2, 2, 1, 2, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1]

/** The TCA_OPTIONS value tc would send for a qdisc, or undefined for kinds that take none. */
export function encodeQdiscOptions(s: QdiscSpecParsed, c: PschedClock = pschedClock()): unknown {
  switch (s.kind) {
    case 'clsact':
    case 'ingress':
    case 'mq':
      return undefined
    case 'htb': {
      const d = s.defaultClass
      const defcls =
        d === undefined
          ? 0
          : typeof d === 'number'
            ? d
            : minor(parseClassid(d.includes(':') ? d : `:${d}`) ?? 0)
      const o: SetValue<typeof htbAttrs> = {
        init: { version: 3, rate2quantum: s.r2q ?? 10, defcls, debug: 0, directPkts: 0 },
      }
      if (s.directQlen !== undefined) o.directQlen = s.directQlen
      return o
    }
    case 'tbf': {
      const mtu = s.mtu ?? 0
      let limit = s.limit
      if (limit === undefined) {
        const latency = s.latency as number
        let lim = (s.rate * latency) / TIME_UNITS_PER_SEC + s.burst
        if (s.peakrate) {
          const lim2 = (s.peakrate * latency) / TIME_UNITS_PER_SEC + mtu
          if (lim2 < lim) lim = lim2
        }
        if (lim > U32_MAX)
          throw new RangeInputError('latency', 'the limit this latency implies exceeds 32 bits')
        limit = Math.trunc(lim)
      }
      const shape = { mtu, mpu: s.mpu, overhead: s.overhead, linklayer: s.linklayer }
      const rate = ratespec(s.rate, shape, c)
      const peak = s.peakrate ? ratespec(s.peakrate, shape, c) : undefined
      const o: SetValue<typeof tbfAttrs> = {
        parms: {
          rate: rate.spec,
          peakrate: peak?.spec ?? { cellLog: 0, linklayer: 0, overhead: 0, cellAlign: 0, mpu: 0, rate: 0 },
          limit,
          // tbf times its buckets with the 32-bit rate fields (as tc does).
          buffer: ticks(rate.spec.rate, s.burst, 'burst', c),
          mtu: peak ? ticks(peak.spec.rate, mtu, 'mtu', c) : 0,
        },
        burst: s.burst,
      }
      if (needs64(s.rate)) o.rate64 = BigInt(s.rate)
      o.rtab = rate.table
      if (peak && s.peakrate) {
        if (needs64(s.peakrate)) o.prate64 = BigInt(s.peakrate)
        o.pburst = mtu
        o.ptab = peak.table
      }
      return o
    }
    case 'prio': {
      const priomap = [...DEFAULT_PRIOMAP]
      if (s.priomap) for (let i = 0; i < 16; i++) priomap[i] = s.priomap[i] ?? 0
      return { header: { bands: s.bands ?? 3, priomap }, attrs: { compat: new Uint8Array(0) } }
    }
    case 'multiq':
      return { bands: 0, maxBands: 0 }
    case 'mqprio': {
      const count = new Array<number>(16).fill(0)
      const offset = new Array<number>(16).fill(0)
      s.queues?.forEach((q, i) => {
        const [n, at] = typeof q === 'string' ? q.split('@').map(Number) : [q.count, q.offset]
        count[i] = n as number
        offset[i] = at as number
      })
      const map = new Array<number>(16).fill(0)
      s.map?.forEach((tc, i) => {
        map[i] = tc
      })
      const hw = s.hw === undefined ? 0 : typeof s.hw === 'boolean' ? Number(s.hw) : s.hw
      const attrs: SetValue<typeof mqprioAttrs> = {}
      if (s.mode) attrs.mode = s.mode === 'channel' ? 1 : 0
      if (s.shaper) attrs.shaper = s.shaper === 'bw_rlimit' ? 1 : 0
      const list = (rates: number[]) => Array.from({ length: 16 }, (_, i) => BigInt(rates[i] ?? 0))
      if (s.minRate) attrs.minRate64 = { rate: list(s.minRate) }
      if (s.maxRate) attrs.maxRate64 = { rate: list(s.maxRate) }
      return { header: { numTc: s.numTc, prioTcMap: map, hw, count, offset }, attrs }
    }
    case 'pfifo':
    case 'bfifo':
      return s.limit === undefined ? undefined : { limit: s.limit }
  }
}

/** TCA_OPTIONS for an htb class, with the rate tables, as tc computes them. */
export function encodeClassOptions(
  s: ClassSpecParsed,
  c: PschedClock = pschedClock(),
): SetValue<typeof htbAttrs> {
  const mtu = s.mtu ?? 1600
  const shape = { mtu, mpu: s.mpu, overhead: s.overhead, linklayer: s.linklayer }
  const ceil = s.ceil ?? s.rate
  const buffer = s.burst ?? Math.floor(s.rate / c.hz) + mtu
  const cbuffer = s.cburst ?? Math.floor(ceil / c.hz) + mtu
  const rate = ratespec(s.rate, shape, c)
  const crate = ratespec(ceil, shape, c)
  const o: SetValue<typeof htbAttrs> = {}
  if (needs64(s.rate)) o.rate64 = BigInt(s.rate)
  if (needs64(ceil)) o.ceil64 = BigInt(ceil)
  o.parms = {
    rate: rate.spec,
    ceil: crate.spec,
    buffer: ticks(s.rate, buffer, 'burst', c),
    cbuffer: ticks(ceil, cbuffer, 'cburst', c),
    quantum: s.quantum ?? 0,
    level: 0,
    prio: s.prio ?? 0,
  }
  o.rtab = rate.table
  o.ctab = crate.table
  return o
}

// ---- output -----------------------------------------------------------------------------------

export interface HtbQdiscOptions {
  kind: 'htb'
  version: number
  r2q: number
  /** Minor of the default class (tc prints it in hex: 0x10 for `default 10`). */
  defaultClass: number
  directPacketsStat: number
  directQlen?: number
  offload?: boolean
}
export interface TbfOptions {
  kind: 'tbf'
  /** Bits per second. */
  rate: number
  /** Bytes. */
  burst: number
  limit: number
  peakrate?: number
  /** Peak-rate bucket, bytes. */
  mtu?: number
  mpu: number
  overhead: number
  linklayer: Linklayer | number
}
export interface PrioOptions {
  kind: 'prio' | 'pfifo_fast'
  bands: number
  priomap: number[]
}
export interface MultiqOptions {
  kind: 'multiq'
  bands: number
  maxBands: number
}
export interface MqprioOptions {
  kind: 'mqprio'
  numTc: number
  map: number[]
  hw: number
  queues: Array<{ count: number; offset: number }>
  mode?: 'dcb' | 'channel' | number
  shaper?: 'dcb' | 'bw_rlimit' | number
  /** Bits per second, per traffic class. */
  minRate?: number[]
  maxRate?: number[]
}
export interface FifoOptions {
  kind: 'pfifo' | 'bfifo'
  limit: number
}
export interface FqCodelOptions {
  kind: 'fq_codel'
  /** Microseconds. */
  target?: number
  limit?: number
  interval?: number
  ecn?: boolean
  flows?: number
  quantum?: number
  ceThreshold?: number
  dropBatchSize?: number
  memoryLimit?: number
}
/** Kinds that have no options. */
export interface NoOptions {
  kind: 'clsact' | 'ingress' | 'mq' | 'noqueue'
}
/** A kind rxnetlink does not model: TCA_OPTIONS as the kernel sent it. */
export interface UnknownOptions {
  kind: 'unknown'
  data?: Uint8Array
}
/** A qdisc's kind-specific settings as read back (htb, tbf, prio, mqprio, …, or raw for others). */
export type QdiscOptions =
  | HtbQdiscOptions
  | TbfOptions
  | PrioOptions
  | MultiqOptions
  | MqprioOptions
  | FifoOptions
  | FqCodelOptions
  | NoOptions
  | UnknownOptions

export interface HtbClassOptions {
  kind: 'htb'
  /** Bits per second. */
  rate: number
  ceil: number
  /** Bytes, as tc prints them back from the kernel's ticks. */
  burst: number
  cburst: number
  prio: number
  quantum: number
  level: number
  mpu: number
  overhead: number
  linklayer: Linklayer | number
}
/** A class's kind-specific settings as read back (htb, or raw for others). */
export type ClassOptions = HtbClassOptions | UnknownOptions

export interface HtbClassXstats {
  lends: number
  borrows: number
  giants: number
  tokens: number
  ctokens: number
}

const NO_OPTIONS = new Set(['clsact', 'ingress', 'mq', 'noqueue'])

function unknown(data: unknown): UnknownOptions {
  return data instanceof Uint8Array ? { kind: 'unknown', data } : { kind: 'unknown' }
}

type Decoded<F> = F extends () => { decodeFrom(...a: never[]): infer V } ? V : never
type QdiscFormats = typeof qdiscAttrs.decls.options.codecs

/** The typed options of a decoded qdisc message. */
export function toQdiscOptions(kind: string, raw: unknown, c: PschedClock = pschedClock()): QdiscOptions {
  if (NO_OPTIONS.has(kind)) return { kind: kind as NoOptions['kind'] }
  if (raw === undefined || raw instanceof Uint8Array) return unknown(raw)
  switch (kind) {
    case 'htb': {
      const o = raw as Decoded<QdiscFormats['htb']>
      const out: HtbQdiscOptions = {
        kind,
        version: o.init?.version ?? 0,
        r2q: o.init?.rate2quantum ?? 0,
        defaultClass: o.init?.defcls ?? 0,
        directPacketsStat: o.init?.directPkts ?? 0,
      }
      if (o.directQlen !== undefined) out.directQlen = o.directQlen
      if (o.offload) out.offload = true
      return out
    }
    case 'tbf': {
      const o = raw as Decoded<QdiscFormats['tbf']>
      const p = o.parms
      if (!p) return unknown(undefined)
      const rate = o.rate64 !== undefined ? Number(o.rate64) : p.rate.rate
      const out: TbfOptions = {
        kind,
        rate: rate * 8,
        burst: xmitsize(p.rate.rate, p.buffer, c),
        limit: p.limit,
        mpu: p.rate.mpu,
        overhead: p.rate.overhead,
        linklayer: linklayerName(p.rate.linklayer),
      }
      const prate = o.prate64 !== undefined ? Number(o.prate64) : p.peakrate.rate
      if (prate) {
        out.peakrate = prate * 8
        out.mtu = xmitsize(p.peakrate.rate, p.mtu, c)
      }
      return out
    }
    case 'prio': {
      const o = raw as Decoded<QdiscFormats['prio']>
      return { kind, bands: o.header.bands ?? 0, priomap: o.header.priomap ?? [] }
    }
    case 'pfifo_fast': {
      const o = raw as Decoded<QdiscFormats['pfifo_fast']>
      return { kind, bands: o.bands, priomap: o.priomap }
    }
    case 'multiq': {
      const o = raw as Decoded<QdiscFormats['multiq']>
      return { kind, bands: o.bands, maxBands: o.maxBands }
    }
    case 'mqprio': {
      const o = raw as Decoded<QdiscFormats['mqprio']>
      const h = o.header
      const n = h.numTc ?? 0
      const out: MqprioOptions = {
        kind,
        numTc: n,
        map: h.prioTcMap ?? [],
        hw: h.hw ?? 0,
        queues: Array.from({ length: n }, (_, i) => ({
          count: h.count?.[i] ?? 0,
          offset: h.offset?.[i] ?? 0,
        })),
      }
      const a = o.attrs
      if (a.mode !== undefined) out.mode = a.mode === 1 ? 'channel' : a.mode === 0 ? 'dcb' : a.mode
      if (a.shaper !== undefined)
        out.shaper = a.shaper === 1 ? 'bw_rlimit' : a.shaper === 0 ? 'dcb' : a.shaper
      if (a.minRate64?.rate) out.minRate = a.minRate64.rate.slice(0, n).map((r) => Number(r) * 8)
      if (a.maxRate64?.rate) out.maxRate = a.maxRate64.rate.slice(0, n).map((r) => Number(r) * 8)
      return out
    }
    case 'pfifo':
    case 'bfifo': {
      const o = raw as Decoded<QdiscFormats['pfifo']>
      return { kind, limit: o.limit }
    }
    case 'fq_codel': {
      const o = raw as Decoded<QdiscFormats['fq_codel']>
      const out: FqCodelOptions = { kind }
      if (o.target !== undefined) out.target = o.target
      if (o.limit !== undefined) out.limit = o.limit
      if (o.interval !== undefined) out.interval = o.interval
      if (o.ecn !== undefined) out.ecn = o.ecn !== 0
      if (o.flows !== undefined) out.flows = o.flows
      if (o.quantum !== undefined) out.quantum = o.quantum
      if (o.ceThreshold !== undefined) out.ceThreshold = o.ceThreshold
      if (o.dropBatchSize !== undefined) out.dropBatchSize = o.dropBatchSize
      if (o.memoryLimit !== undefined) out.memoryLimit = o.memoryLimit
      return out
    }
    default:
      return unknown(raw)
  }
}

export function toClassOptions(kind: string, raw: unknown, c: PschedClock = pschedClock()): ClassOptions {
  if (kind !== 'htb' || raw === undefined || raw instanceof Uint8Array) return unknown(raw)
  const o = raw as SetValue<typeof htbAttrs>
  const p = o.parms
  if (!p) return unknown(undefined)
  const rate = o.rate64 !== undefined ? Number(o.rate64) : p.rate.rate
  const ceil = o.ceil64 !== undefined ? Number(o.ceil64) : p.ceil.rate
  return {
    kind,
    rate: rate * 8,
    ceil: ceil * 8,
    burst: xmitsize(rate, p.buffer, c),
    cburst: xmitsize(ceil, p.cbuffer, c),
    prio: p.prio,
    quantum: p.quantum,
    level: p.level,
    mpu: p.rate.mpu,
    overhead: p.rate.overhead,
    linklayer: linklayerName(p.rate.linklayer),
  }
}
