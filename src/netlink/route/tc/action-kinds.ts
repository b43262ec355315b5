import { z } from 'zod'
import { attr, attrSet, type SetValue, struct } from '../../codec/index.ts'
import {
  type BpfProgramRef,
  bpfProgramSchema,
  deviceSchema,
  type EncodeContext,
  type Refs,
} from './context.ts'
import { type ControlAction, controlSchema, decodeControl, encodeControl } from './control.ts'
import { formatClassid, parseClassid } from './handles.ts'
import { type TcStats, toStats } from './stats.ts'
import { bitfield32, gnetStatsAttrs } from './tcmsg.ts'

/** The fields every action's parameters start with (tc_gen). */
const tcGen = { index: 'u32', capab: 'u32', action: 's32', refcnt: 's32', bindcnt: 's32' } as const

/** struct tcf_t: install/last-use times, in clock ticks (USER_HZ) before the dump. */
export const tcfT = struct(
  'tcf_t',
  { install: 'u64', lastuse: 'u64', expires: 'u64', firstuse: 'u64' },
  {
    minSize: 24,
  },
)

export const tcGact = struct('tc_gact', tcGen)
export const tcGactP = struct('tc_gact_p', { ptype: 'u16', pval: 'u16', paction: 's32' })
export const tcMirred = struct('tc_mirred', { ...tcGen, eaction: 's32', ifindex: 'u32' })
export const tcSkbedit = struct('tc_skbedit', tcGen)
export const tcActBpf = struct('tc_act_bpf', tcGen)

/** TCA_GACT_* */
export const gactAttrs = attrSet('gact', {
  tm: attr.struct(1, tcfT),
  parms: attr.struct(2, tcGact),
  prob: attr.struct(3, tcGactP),
  pad: attr.binary(4),
})

/** TCA_MIRRED_* */
export const mirredAttrs = attrSet('mirred', {
  tm: attr.struct(1, tcfT),
  parms: attr.struct(2, tcMirred),
  pad: attr.binary(3),
  blockid: attr.u32(4),
})

/** TCA_SKBEDIT_* */
export const skbeditAttrs = attrSet('skbedit', {
  tm: attr.struct(1, tcfT),
  parms: attr.struct(2, tcSkbedit),
  queueMapping: attr.u16(4),
  priority: attr.u32(3),
  mark: attr.u32(5),
  mask: attr.u32(8),
  ptype: attr.u16(7),
  pad: attr.binary(6),
  flags: attr.u64(9),
  queueMappingMax: attr.u16(10),
})

/** TCA_ACT_BPF_* */
export const actBpfAttrs = attrSet('act_bpf', {
  tm: attr.struct(1, tcfT),
  parms: attr.struct(2, tcActBpf),
  opsLen: attr.u16(3),
  ops: attr.binary(4),
  fd: attr.u32(5),
  name: attr.string(6),
  pad: attr.binary(7),
  tag: attr.binary(8),
  id: attr.u32(9),
})

/** TCA_ACT_*: one action; its options are read with the format TCA_ACT_KIND names. */
export const actionAttrs = attrSet('action', {
  kind: attr.string(1),
  options: attr.submsg(2, 'kind', {
    gact: () => gactAttrs,
    mirred: () => mirredAttrs,
    skbedit: () => skbeditAttrs,
    bpf: () => actBpfAttrs,
  }),
  index: attr.u32(3),
  stats: attr.nest(4, () => gnetStatsAttrs),
  pad: attr.binary(5),
  cookie: attr.binary(6),
  flags: attr.struct(7, bitfield32),
  hwStats: attr.struct(8, bitfield32),
  usedHwStats: attr.struct(9, bitfield32),
  inHwCount: attr.u32(10),
})
export type ActionAttrs = SetValue<typeof actionAttrs>

/** A classifier's list of actions: entries numbered 1…n, in order (sent without NLA_F_NESTED, as tc). */
export const actionList = (id: number) =>
  attr.unflagged(attr.indexed(id, attr.unflagged(attr.nest(0, () => actionAttrs))))

// ---- input ----------------------------------------------------------------------------------

const index = z.number().int().min(1).max(0xffffffff).optional()
const cookie = z
  .instanceof(Uint8Array)
  .refine((b) => b.length >= 1 && b.length <= 16, 'a cookie is 1 to 16 bytes')
  .optional()

export const actionSpecSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('gact'), action: controlSchema, index, cookie }).strict(),
  z
    .object({
      kind: z.literal('mirred'),
      direction: z.enum(['egress', 'ingress']),
      action: z.enum(['redirect', 'mirror']),
      dev: deviceSchema,
      /** After a redirect, default `stolen`; after a mirror, `pipe` (as tc). */
      control: controlSchema.optional(),
      index,
      cookie,
    })
    .strict(),
  z
    .object({
      kind: z.literal('skbedit'),
      queueMapping: z.number().int().min(0).max(0xffff).optional(),
      mark: z.number().int().min(0).max(0xffffffff).optional(),
      mask: z.number().int().min(0).max(0xffffffff).optional(),
      /** skb->priority, as a number or a classid (`1:2`). */
      priority: z
        .union([
          z.number().int().min(0).max(0xffffffff),
          z.string().refine((s) => parseClassid(s) !== undefined, 'a priority is a number or MAJ:MIN'),
        ])
        .optional(),
      ptype: z.enum(['host', 'otherhost', 'broadcast', 'multicast']).optional(),
      control: controlSchema.optional(),
      index,
      cookie,
    })
    .strict()
    .refine(
      (s) => s.queueMapping !== undefined || s.mark !== undefined || s.priority !== undefined || s.ptype,
      'skbedit needs at least one of queueMapping, mark, priority, ptype',
    )
    .refine((s) => s.mask === undefined || s.mark !== undefined, {
      message: 'mask needs mark',
      path: ['mask'],
    }),
  z
    .object({
      kind: z.literal('bpf'),
      program: bpfProgramSchema,
      name: z.string().min(1).max(255).optional(),
      control: controlSchema.optional(),
      index,
      cookie,
    })
    .strict(),
])
/** A tc action to attach to a filter or add standalone (`tc actions add`): kind and its options. */
export type ActionSpec = z.input<typeof actionSpecSchema>
type Spec = z.output<typeof actionSpecSchema>

const PTYPES = { host: 0, broadcast: 1, multicast: 2, otherhost: 3 } as const
const MIRRED_EACTION = { egress: { redirect: 1, mirror: 2 }, ingress: { redirect: 3, mirror: 4 } } as const

export function actionRefs(specs: readonly Spec[] | undefined, refs: Refs): void {
  for (const a of specs ?? []) {
    if (a.kind === 'mirred') refs.devices.push(a.dev)
    if (a.kind === 'bpf') refs.programs.push(a.program)
  }
}

/** tc_gen, the fields every action's parameters start with. */
const gen = (index: number, action: number) => ({ index, capab: 0, action, refcnt: 0, bindcnt: 0 })

/** The TCA_ACT_* value tc would send for an action. */
export function encodeAction(a: Spec, ctx: EncodeContext): ActionAttrs {
  const index = a.index ?? 0
  let out: ActionAttrs
  switch (a.kind) {
    case 'gact':
      out = { kind: 'gact', options: { parms: gen(index, encodeControl(a.action)) } }
      break
    case 'mirred': {
      const control = a.control ?? (a.action === 'redirect' ? 'stolen' : 'pipe')
      const parms = {
        index,
        capab: 0,
        action: encodeControl(control),
        refcnt: 0,
        bindcnt: 0,
        eaction: MIRRED_EACTION[a.direction][a.action],
        ifindex: ctx.ifindex(a.dev),
      }
      out = { kind: 'mirred', options: { parms } }
      break
    }
    case 'skbedit': {
      const o: SetValue<typeof skbeditAttrs> = {
        parms: gen(index, encodeControl(a.control ?? 'pipe')),
      }
      if (a.queueMapping !== undefined) o.queueMapping = a.queueMapping
      if (a.priority !== undefined)
        o.priority = typeof a.priority === 'number' ? a.priority : (parseClassid(a.priority) as number)
      if (a.mark !== undefined) o.mark = a.mark
      if (a.mask !== undefined) o.mask = a.mask
      if (a.ptype !== undefined) o.ptype = PTYPES[a.ptype]
      out = { kind: 'skbedit', options: o }
      break
    }
    case 'bpf': {
      const o: SetValue<typeof actBpfAttrs> = { fd: ctx.programFd(a.program) }
      const name = a.name ?? programName(a.program)
      if (name) o.name = name
      o.parms = gen(index, encodeControl(a.control ?? 'pipe'))
      out = { kind: 'bpf', options: o }
      break
    }
  }
  if (a.cookie) out.cookie = a.cookie
  return out
}

/** The name tc gives a pinned program (`NAME:[*fsobj]`); programs given by fd get none. */
export function programName(p: BpfProgramRef): string | undefined {
  return 'pinned' in p ? `${p.pinned.split('/').pop() ?? p.pinned}:[*fsobj]` : undefined
}

// ---- output ---------------------------------------------------------------------------------

export interface GactOptions {
  kind: 'gact'
  /** With a random verdict (gact `random`): its type, value and the other verdict. */
  random?: { type: 'netrand' | 'determ' | number; value: number; action: ControlAction }
}
export interface MirredOptions {
  kind: 'mirred'
  direction: 'egress' | 'ingress'
  action: 'redirect' | 'mirror'
  ifindex: number
  /** The target device's name, when it is in the same namespace. */
  dev?: string
}
export interface SkbeditOptions {
  kind: 'skbedit'
  queueMapping?: number
  priority?: string
  mark?: number
  mask?: number
  ptype?: 'host' | 'otherhost' | 'broadcast' | 'multicast' | number
}
export interface BpfActionOptions {
  kind: 'bpf'
  /** eBPF: the program's id, tag (hex) and name. */
  id?: number
  tag?: string
  name?: string
  /** Classic BPF: the instructions. */
  ops?: Array<{ code: number; jt: number; jf: number; k: number }>
}
/** An action kind rxnetlink does not model: its options nest as the kernel sent it. */
export interface UnknownActionOptions {
  kind: 'unknown'
  data?: Uint8Array
}
/** A tc action's kind-specific settings as read back (gact, mirred, skbedit, bpf, or raw for others). */
export type ActionOptions =
  | GactOptions
  | MirredOptions
  | SkbeditOptions
  | BpfActionOptions
  | UnknownActionOptions

/** An action, attached to a filter or standing alone. */
export interface Action {
  kind: string
  /** Its position in the filter's action list (1-based). */
  order?: number
  index: number
  /** What happens to the packet next (gact: its verdict). */
  control: ControlAction
  options: ActionOptions
  refcnt?: number
  bindcnt?: number
  /** Seconds since installed / last used. */
  installed?: number
  lastUsed?: number
  stats?: TcStats
  cookie?: Uint8Array
  hwCount?: number
}

const USER_HZ = 100
const ptypeNames = new Map(
  Object.entries(PTYPES).map(([k, v]) => [v as number, k as SkbeditOptions['ptype']]),
)

function decodeOps(ops: Uint8Array | undefined): BpfActionOptions['ops'] {
  if (!ops) return undefined
  const b = Buffer.from(ops)
  const out: NonNullable<BpfActionOptions['ops']> = []
  for (let i = 0; i + 8 <= b.length; i += 8)
    out.push({
      code: b.readUInt16LE(i),
      jt: b[i + 2] as number,
      jf: b[i + 3] as number,
      k: b.readUInt32LE(i + 4),
    })
  return out
}

/** The typed view of a decoded TCA_ACT_* nest. */
export function toAction(a: ActionAttrs, order?: number): Action {
  const kind = a.kind ?? ''
  const raw = a.options
  const opts = raw instanceof Uint8Array || raw === undefined ? undefined : (raw as Record<string, unknown>)
  const parms = opts?.parms as { index: number; action: number; refcnt: number; bindcnt: number } | undefined
  const tm = opts?.tm as ReturnType<typeof tcfT.decode> | undefined
  let options: ActionOptions
  switch (kind) {
    case 'gact': {
      const o = opts as SetValue<typeof gactAttrs>
      options = { kind }
      if (o.prob?.ptype)
        options.random = {
          type: o.prob.ptype === 1 ? 'netrand' : o.prob.ptype === 2 ? 'determ' : o.prob.ptype,
          value: o.prob.pval,
          action: decodeControl(o.prob.paction),
        }
      break
    }
    case 'mirred': {
      const p = (opts as SetValue<typeof mirredAttrs>).parms
      const e = p?.eaction ?? 1
      options = {
        kind,
        direction: e === 3 || e === 4 ? 'ingress' : 'egress',
        action: e === 1 || e === 3 ? 'redirect' : 'mirror',
        ifindex: p?.ifindex ?? 0,
      }
      break
    }
    case 'skbedit': {
      const o = opts as SetValue<typeof skbeditAttrs>
      options = { kind }
      if (o.queueMapping !== undefined) options.queueMapping = o.queueMapping
      if (o.priority !== undefined) options.priority = formatClassid(o.priority)
      if (o.mark !== undefined) options.mark = o.mark
      if (o.mask !== undefined) options.mask = o.mask
      if (o.ptype !== undefined) options.ptype = ptypeNames.get(o.ptype) ?? o.ptype
      break
    }
    case 'bpf': {
      const o = opts as SetValue<typeof actBpfAttrs>
      options = { kind }
      if (o.id !== undefined) options.id = o.id
      if (o.tag) options.tag = Buffer.from(o.tag).toString('hex')
      if (o.name !== undefined) options.name = o.name
      if (o.ops) options.ops = decodeOps(o.ops)
      break
    }
    default:
      options = raw instanceof Uint8Array ? { kind: 'unknown', data: raw } : { kind: 'unknown' }
  }
  const out: Action = {
    kind,
    index: parms?.index ?? a.index ?? 0,
    control: decodeControl(parms?.action ?? 0),
    options,
  }
  if (order !== undefined) out.order = order
  if (parms) {
    out.refcnt = parms.refcnt
    out.bindcnt = parms.bindcnt
  }
  if (tm) {
    out.installed = Math.floor(Number(tm.install) / USER_HZ)
    out.lastUsed = Math.floor(Number(tm.lastuse) / USER_HZ)
  }
  const stats = toStats(a.stats)
  if (stats) out.stats = stats
  if (a.cookie) out.cookie = a.cookie
  if (a.inHwCount !== undefined) out.hwCount = a.inHwCount
  return out
}

/** Decoded action lists are arrays in kernel order; give each its 1-based position. */
export function toActions(list: ActionAttrs[] | undefined): Action[] | undefined {
  if (list === undefined) return undefined
  const out = new Array<Action>(list.length)
  for (let i = 0; i < list.length; i++) out[i] = toAction(list[i] as ActionAttrs, i + 1)
  return out
}
