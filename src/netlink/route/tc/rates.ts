import { z } from 'zod'
import { LINKLAYER, type Linklayer, parseRate, parseSize, parseTime } from './units.ts'

/** A rate in bits per second, or a tc-style string (`100mbit`, `1gbit`, `125kbps`). */
export const rateSchema = z
  .union([z.number().nonnegative(), z.string()])
  .refine((r) => parseRate(r) !== undefined, 'a rate is bits/s (number) or e.g. "100mbit", "1.5gbit"')
  .transform((r) => parseRate(r) as number)

/** A size in bytes, or a tc-style string (`15k`, `1mb`, `32kbit`). */
export const sizeSchema = z
  .union([z.number().int().nonnegative(), z.string()])
  .refine((s) => parseSize(s) !== undefined, 'a size is bytes (number) or e.g. "15k", "1mb"')
  .transform((s) => parseSize(s) as number)

/** A duration in microseconds, or a tc-style string (`400ms`, `1s`). */
export const timeSchema = z
  .union([z.number().int().nonnegative(), z.string()])
  .refine((t) => parseTime(t) !== undefined, 'a time is microseconds (number) or e.g. "400ms", "1s"')
  .transform((t) => parseTime(t) as number)

export const linklayerSchema = z.enum(['ethernet', 'atm'])

const linklayerNames = new Map(Object.entries(LINKLAYER).map(([k, v]) => [v as number, k as Linklayer]))
export function linklayerName(v: number): Linklayer | number {
  return linklayerNames.get(v & 0x0f) ?? v
}

export const U32_MAX = 0xffffffff
/** The 32-bit rate field of a tc_ratespec: rates that do not fit go in a 64-bit attribute instead. */
export const rate32 = (bytesPerSec: number): number => Math.min(bytesPerSec, U32_MAX)
export const needs64 = (bytesPerSec: number): boolean => bytesPerSec >= 2 ** 32
