import { readFileSync } from 'node:fs'

/**
 * Rates, sizes and times the way tc reads them, and the packet-scheduler clock arithmetic tc
 * uses to turn bursts into ticks and rates into rate tables (tc_core), so what rxnetlink sends
 * is what `tc` would send for the same command.
 */

export const TIME_UNITS_PER_SEC = 1_000_000

// Rate suffixes in bits per second (tc_util's table; matched case-insensitively).
const RATE_SUFFIXES: ReadonlyArray<[string, number]> = [
  ['bit', 1],
  ['kibit', 1024],
  ['kbit', 1000],
  ['mibit', 1024 * 1024],
  ['mbit', 1_000_000],
  ['gibit', 1024 * 1024 * 1024],
  ['gbit', 1_000_000_000],
  ['tibit', 1024 * 1024 * 1024 * 1024],
  ['tbit', 1_000_000_000_000],
  ['bps', 8],
  ['kibps', 8 * 1024],
  ['kbps', 8000],
  ['mibps', 8 * 1024 * 1024],
  ['mbps', 8_000_000],
  ['gibps', 8 * 1024 * 1024 * 1024],
  ['gbps', 8_000_000_000],
  ['tibps', 8 * 1024 * 1024 * 1024 * 1024],
  ['tbps', 8_000_000_000_000],
]

const NUMBER = /^\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)(.*)$/

/** A rate in bits per second: a number, or a string such as `100mbit`, `1.5gbit`, `125kbps`. */
export type RateInput = number | string

/** Parses a rate into bytes per second as tc does (bits scaled by the suffix, then / 8). */
export function parseRate(r: RateInput): number | undefined {
  let bits: number
  if (typeof r === 'number') bits = r
  else {
    const m = NUMBER.exec(r)
    if (!m) return undefined
    const suffix = (m[2] ?? '').toLowerCase()
    const scale = suffix === '' ? 1 : RATE_SUFFIXES.find(([s]) => s === suffix)?.[1]
    if (scale === undefined) return undefined
    bits = Number(m[1]) * scale
  }
  if (!Number.isFinite(bits) || bits < 0) return undefined
  return Math.floor(bits / 8)
}

/** A size in bytes: a number, or `15k`, `1mb`, `32kbit`, `1500b` (k = 1024, as tc). */
export type SizeInput = number | string

const SIZE_SUFFIXES: Readonly<Record<string, number>> = {
  '': 1,
  b: 1,
  k: 1024,
  kb: 1024,
  kbit: 1024 / 8,
  m: 1024 * 1024,
  mb: 1024 * 1024,
  mbit: (1024 * 1024) / 8,
  g: 1024 * 1024 * 1024,
  gb: 1024 * 1024 * 1024,
  gbit: (1024 * 1024 * 1024) / 8,
}

export function parseSize(s: SizeInput): number | undefined {
  let n: number
  if (typeof s === 'number') n = s
  else {
    const m = NUMBER.exec(s)
    const scale = m ? SIZE_SUFFIXES[(m[2] ?? '').toLowerCase()] : undefined
    if (!m || scale === undefined) return undefined
    n = Number(m[1]) * scale
  }
  if (!Number.isFinite(n) || n < 0 || n > 0xffffffff) return undefined
  return Math.floor(n)
}

/** A duration in microseconds: a number, or `400ms`, `1s`, `50us`. */
export type TimeInput = number | string

const TIME_SUFFIXES: Readonly<Record<string, number>> = {
  '': 1,
  s: TIME_UNITS_PER_SEC,
  sec: TIME_UNITS_PER_SEC,
  secs: TIME_UNITS_PER_SEC,
  ms: TIME_UNITS_PER_SEC / 1000,
  msec: TIME_UNITS_PER_SEC / 1000,
  msecs: TIME_UNITS_PER_SEC / 1000,
  us: 1,
  usec: 1,
  usecs: 1,
}

export function parseTime(t: TimeInput): number | undefined {
  let n: number
  if (typeof t === 'number') n = t
  else {
    const m = NUMBER.exec(t)
    const scale = m ? TIME_SUFFIXES[(m[2] ?? '').toLowerCase()] : undefined
    if (!m || scale === undefined) return undefined
    n = Number(m[1]) * scale
  }
  if (!Number.isFinite(n) || n < 0 || n > 0xffffffff) return undefined
  return Math.floor(n)
}

/** The packet scheduler's clock, from /proc/net/psched (the same for every namespace). */
export interface PschedClock {
  /** Scheduler ticks per microsecond. */
  tickInUsec: number
  /** Timer frequency tc assumes for default bursts (get_hz). */
  hz: number
}

/** Reads the four hex words of /proc/net/psched the way tc_core_init and get_hz do. */
export function parsePsched(text: string): PschedClock {
  const words = text
    .trim()
    .split(/\s+/)
    .map((w) => Number.parseInt(w, 16))
  let [t2us = 1000, us2t = 64, clockRes = 1_000_000, hzWord = 1_000_000_000] = words
  if (clockRes === 1_000_000_000) t2us = us2t
  const clockFactor = clockRes / TIME_UNITS_PER_SEC
  const tickInUsec = (t2us / us2t) * clockFactor
  const hz = clockRes === 1_000_000 ? hzWord : 100
  return { tickInUsec, hz }
}

let clock: PschedClock | undefined
export function pschedClock(): PschedClock {
  if (!clock) {
    let text = '000003e8 00000040 000f4240 3b9aca00'
    try {
      text = readFileSync('/proc/net/psched', 'utf8')
    } catch {
      // keep the modern kernels' values
    }
    clock = parsePsched(text)
  }
  return clock
}

const u32 = (x: number): number => (x >= 0xffffffff ? 0xffffffff : Math.trunc(x) >>> 0)

/** Microseconds → scheduler ticks (tc_core_time2tick; the time is an unsigned int first). */
export function time2tick(us: number, c: PschedClock = pschedClock()): number {
  return Math.trunc(u32(us) * c.tickInUsec)
}

export function tick2time(ticks: number, c: PschedClock = pschedClock()): number {
  return Math.trunc(ticks / c.tickInUsec)
}

/** Ticks needed to send `size` bytes at `rate` bytes/s (tc_calc_xmittime). */
export function xmittime(rate: number, size: number, c: PschedClock = pschedClock()): number {
  if (rate === 0) return 0
  return time2tick(Math.trunc(TIME_UNITS_PER_SEC * (size / rate)), c)
}

/** Bytes sent at `rate` bytes/s in `ticks` (tc_calc_xmitsize): how tc prints bursts back. */
export function xmitsize(rate: number, ticks: number, c: PschedClock = pschedClock()): number {
  return Math.trunc((rate * tick2time(ticks, c)) / TIME_UNITS_PER_SEC)
}

export const LINKLAYER = { unaware: 0, ethernet: 1, atm: 2 } as const
export type Linklayer = keyof typeof LINKLAYER

function adjustSize(size: number, mpu: number, linklayer: Linklayer): number {
  const sz = Math.max(size, mpu)
  if (linklayer !== 'atm') return sz
  const cells = Math.ceil(sz / 48)
  return cells * 53
}

export interface RateTable {
  cellLog: number
  /** 256 transmit times in ticks, for sizes (i + 1) << cellLog. */
  table: number[]
}

/**
 * The rate table a rate-based qdisc wants next to a rate (tc_calc_rtable): the cell size is
 * chosen so 255 cells cover the MTU (2047 when none is given).
 */
export function rateTable(
  rate: number,
  opts: { mtu?: number; mpu?: number; linklayer?: Linklayer; cellLog?: number } = {},
  c: PschedClock = pschedClock(),
): RateTable {
  const mtu = opts.mtu || 2047
  let cellLog = opts.cellLog ?? -1
  if (cellLog < 0) {
    cellLog = 0
    while (mtu >> cellLog > 255) cellLog++
  }
  const bps = Math.min(rate, 0xffffffff)
  const table = new Array<number>(256)
  for (let i = 0; i < 256; i++) {
    const sz = adjustSize((i + 1) << cellLog, opts.mpu ?? 0, opts.linklayer ?? 'ethernet')
    table[i] = u32(xmittime(bps, sz, c))
  }
  return { cellLog, table }
}
