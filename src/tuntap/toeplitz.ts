// The Toeplitz hash used by RSS (virtio-net, NDIS, most NICs), computed with per-key lookup
// tables. No I/O.
//
// Definition: for every input bit i (most significant bit of byte 0 first) that is set, XOR into
// the result the 32 key bits that start at key bit i. An input of n bytes therefore needs a key of
// at least n + 4 bytes; the 40-byte RSS key covers inputs up to 36 bytes (IPv6 + ports).
//
// Speed-up: because the hash is linear in the input bits, the contribution of one input byte at
// one position depends only on (position, byte value). For each position we precompute a table of
// 256 such contributions, so a hash is one lookup and one XOR per input byte.

import { compile } from '../util/codegen.ts'

/** The key every RSS implementation ships as its default (the Microsoft verification key). */
export const MICROSOFT_RSS_KEY_HEX =
  '6d5a56da255b0ec24167253d43a38fb0d0ca2bcbae7b30b477cb2da38030f20c6a42b73bbeac01fa'

/** RSS key length used by virtio-net and the proposed tun ioctls. */
export const RSS_KEY_LENGTH = 40

/** A fresh copy of the standard 40-byte key. */
export function microsoftRssKey(): Uint8Array {
  return Uint8Array.from(Buffer.from(MICROSOFT_RSS_KEY_HEX, 'hex'))
}

/** Hashes `input[start, end)` as if it began at hash-input position 0. Returns a u32. */
export type ToeplitzHasher = (input: Uint8Array, start?: number, end?: number) => number

/**
 * Per-key precomputed tables: `table[p * 256 + b]` is the contribution (as int32) of byte value
 * `b` at input position `p`. Positions run 0 .. key.length - 5.
 */
export interface ToeplitzTable {
  /** The key the table was built from (a private copy). */
  readonly key: Uint8Array
  /** Longest input the key can hash: key.length - 4. */
  readonly maxInputLength: number
  readonly table: Int32Array
}

/** Builds the lookup tables for one key. Keys shorter than 5 bytes hash nothing and are refused. */
export function toeplitzTable(key: Uint8Array): ToeplitzTable {
  if (key.length < 5) throw new RangeError(`Toeplitz key must be at least 5 bytes, got ${key.length}`)
  const copy = Uint8Array.from(key)
  const positions = copy.length - 4
  const table = new Int32Array(positions * 256)
  const windows = new Int32Array(8)
  for (let p = 0; p < positions; p++) {
    // 40 key bits starting at byte p; the 32-bit window for bit j of this byte starts j bits in.
    const hi = (copy[p]! << 24) | (copy[p + 1]! << 16) | (copy[p + 2]! << 8) | copy[p + 3]!
    const lo = copy[p + 4]!
    windows[0] = hi
    for (let j = 1; j < 8; j++) windows[j] = (hi << j) | (lo >>> (8 - j))
    const base = p * 256
    // Byte bit 7 (0x80) is input bit 8p, i.e. window 0; bit 0 (0x01) is window 7.
    for (let b = 1; b < 256; b++) {
      const low = b & -b // lowest set bit
      const j = 7 - (31 - Math.clz32(low))
      table[base + b] = table[base + (b ^ low)]! ^ windows[j]!
    }
  }
  return { key: copy, maxInputLength: positions, table }
}

/**
 * XOR of the contributions of `input[start, end)` placed at hash-input positions `pos`,
 * `pos + 1`, ... Callers make sure pos + (end - start) <= maxInputLength. Composable: the hash of a
 * concatenation is the XOR of the parts hashed at their own positions.
 */
export function toeplitzPart(
  t: ToeplitzTable,
  input: Uint8Array,
  start: number,
  end: number,
  pos: number,
): number {
  const table = t.table
  let h = 0
  let base = pos << 8
  for (let i = start; i < end; i++) {
    h ^= table[base + input[i]!]!
    base += 256
  }
  return h
}

// The common input lengths (IPv4 8/12 bytes, IPv6 32/36 bytes, without/with ports) are unrolled
// with constant indices: V8 does not unroll loops, and this is about twice as fast as the loop.
// Each is generated once from its length, as the codec's decoders are.
type Hasher = (t: Int32Array, x: Uint8Array) => number
function unrolled(n: number): Hasher {
  const terms = Array.from({ length: n }, (_, i) => `t[${i << 8} | x[${i}]]`)
  return compile<Hasher>(() => `return (t, x) => ${terms.join(' ^ ')}`)
}
const hash8 = unrolled(8)
const hash12 = unrolled(12)
const hash32 = unrolled(32)
const hash36 = unrolled(36)

/**
 * Hash of `x[0, n)` (int32; callers apply `>>> 0`). `x` must hold at least `n` bytes and `n` must
 * not exceed the table's positions; nothing is checked here.
 */
export function toeplitzUnchecked(t: Int32Array, x: Uint8Array, n: number): number {
  switch (n) {
    case 12:
      return hash12(t, x)
    case 36:
      return hash36(t, x)
    case 8:
      return hash8(t, x)
    case 32:
      return hash32(t, x)
  }
  let h = 0
  for (let i = 0; i < n; i++) h ^= t[(i << 8) | x[i]!]!
  return h
}

/** A hash function bound to a snapshot of `key` (later changes to `key` do not affect it). */
export function toeplitzHasher(key: Uint8Array): ToeplitzHasher {
  const t = toeplitzTable(key)
  const table = t.table
  const max = t.maxInputLength
  return (input: Uint8Array, start = 0, end = input.length): number => {
    const n = end - start
    if (n > max || start < 0 || end > input.length) throw badRange(start, end, input.length, max)
    return toeplitzUnchecked(table, start === 0 ? input : input.subarray(start, end), n) >>> 0
  }
}

function tooLong(n: number, max: number): RangeError {
  return new RangeError(`Toeplitz input of ${n} bytes is longer than the key allows (${max})`)
}

function badRange(start: number, end: number, length: number, max: number): RangeError {
  if (end - start > max) return tooLong(end - start, max)
  return new RangeError(`Toeplitz input range [${start}, ${end}) is outside the ${length}-byte input`)
}

// Tables cached per key object. The cached copy is compared with the key on every use, so a key
// that was modified in place gets a new table rather than a stale one. The comparison reads 32-bit
// words when the key is 4-byte aligned (the usual case), which costs less than the hash itself.
interface CacheEntry {
  readonly table: ToeplitzTable
  /** Word views of the caller's key and of the private copy, or null for unaligned keys. */
  readonly keyWords: Int32Array | null
  readonly copyWords: Int32Array | null
}

const cache = new WeakMap<Uint8Array, CacheEntry>()
let lastKey: Uint8Array | null = null
let lastEntry: CacheEntry | null = null

function wordView(a: Uint8Array): Int32Array | null {
  return a.byteOffset % 4 === 0 && a.length % 4 === 0
    ? new Int32Array(a.buffer, a.byteOffset, a.length / 4)
    : null
}

function newEntry(key: Uint8Array): CacheEntry {
  const table = toeplitzTable(key)
  const keyWords = wordView(key)
  return { table, keyWords, copyWords: keyWords === null ? null : wordView(table.key) }
}

function unchanged(e: CacheEntry, key: Uint8Array): boolean {
  const w = e.keyWords
  const c = e.copyWords
  if (w !== null && c !== null) {
    const n = c.length
    if (w.length !== n) return false
    if (n === 10) {
      // The 40-byte RSS key, unrolled.
      return (
        w[0] === c[0] &&
        w[1] === c[1] &&
        w[2] === c[2] &&
        w[3] === c[3] &&
        w[4] === c[4] &&
        w[5] === c[5] &&
        w[6] === c[6] &&
        w[7] === c[7] &&
        w[8] === c[8] &&
        w[9] === c[9]
      )
    }
    for (let i = 0; i < n; i++) if (w[i] !== c[i]) return false
    return true
  }
  const k = e.table.key
  const n = k.length
  if (key.length !== n) return false
  for (let i = 0; i < n; i++) if (k[i] !== key[i]) return false
  return true
}

/** The cached table for `key` (built on first use, rebuilt if the key's bytes have changed). */
export function cachedToeplitzTable(key: Uint8Array): ToeplitzTable {
  let e = key === lastKey ? lastEntry : (cache.get(key) ?? null)
  if (e === null || !unchanged(e, key)) {
    e = newEntry(key)
    cache.set(key, e)
  }
  lastKey = key
  lastEntry = e
  return e.table
}

/**
 * Toeplitz hash (u32) of `input` under `key`. Tables are built once per key object and cached
 * (checked against the key's bytes on each call); for hot loops `toeplitzHasher` skips the check.
 */
export function toeplitz(key: Uint8Array, input: Uint8Array): number {
  const e = lastEntry
  const t = key === lastKey && e !== null && unchanged(e, key) ? e.table : cachedToeplitzTable(key)
  const n = input.length
  if (n > t.maxInputLength) throw tooLong(n, t.maxInputLength)
  return toeplitzUnchecked(t.table, input, n) >>> 0
}
