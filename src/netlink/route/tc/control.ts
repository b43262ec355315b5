import { z } from 'zod'

/** TC_ACT_*: what happens to a packet after an action (or a classifier's verdict). */
export const TC_ACT = {
  continue: -1,
  pass: 0,
  reclassify: 1,
  drop: 2,
  pipe: 3,
  stolen: 4,
  queued: 5,
  repeat: 6,
  redirect: 7,
  trap: 8,
} as const
const TC_ACT_JUMP = 0x10000000
const TC_ACT_GOTO_CHAIN = 0x20000000
const TC_ACT_EXT_MASK = 0x0fffffff
const TC_ACT_OPCODE_MASK = ~TC_ACT_EXT_MASK

export type ControlName = keyof typeof TC_ACT
/** A control action as rxnetlink reports it: tc's name, or a jump / goto chain. */
export type ControlAction = ControlName | { goto: number } | { jump: number } | { unknown: number }

/** Aliases tc accepts on input. */
const ALIASES: Readonly<Record<string, ControlName>> = { ok: 'pass', shot: 'drop', unspec: 'continue' }

export const controlSchema = z.union([
  z.enum([...(Object.keys(TC_ACT) as ControlName[]), 'ok', 'shot']),
  z.object({ goto: z.number().int().min(0).max(TC_ACT_EXT_MASK) }).strict(),
  z.object({ jump: z.number().int().min(1).max(TC_ACT_EXT_MASK) }).strict(),
])
export type ControlInput = z.input<typeof controlSchema>

export function encodeControl(c: ControlInput): number {
  if (typeof c === 'string') return TC_ACT[ALIASES[c] ?? (c as ControlName)]
  if ('goto' in c) return TC_ACT_GOTO_CHAIN | c.goto
  return TC_ACT_JUMP | c.jump
}

const names = new Map<number, ControlName>(Object.entries(TC_ACT).map(([k, v]) => [v, k as ControlName]))

export function decodeControl(v: number): ControlAction {
  const named = names.get(v)
  if (named) return named
  const op = v & TC_ACT_OPCODE_MASK
  if (op === TC_ACT_GOTO_CHAIN) return { goto: v & TC_ACT_EXT_MASK }
  if (op === TC_ACT_JUMP) return { jump: v & TC_ACT_EXT_MASK }
  return { unknown: v }
}
