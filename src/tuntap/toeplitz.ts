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

/** A hash function bound to a snapshot of `key` (later changes to `key` do not affect it). */
export function toeplitzHasher(key: Uint8Array): ToeplitzHasher {
  const t = toeplitzTable(key)
  const table = t.table
  const max = t.maxInputLength
  return (input: Uint8Array, start = 0, end = input.length): number => {
    if (end - start > max) throw tooLong(end - start, max)
    let h = 0
    let base = 0
    for (let i = start; i < end; i++) {
      h ^= table[base + input[i]!]!
      base += 256
    }
    return h >>> 0
  }
}

function tooLong(n: number, max: number): RangeError {
  return new RangeError(`Toeplitz input of ${n} bytes is longer than the key allows (${max})`)
}

// Tables cached per key object. The cached copy is compared with the key on every use, so a key
// that was modified in place gets a new table rather than a stale one.
const cache = new WeakMap<Uint8Array, ToeplitzTable>()

/** The cached table for `key` (built on first use, rebuilt if the key's bytes have changed). */
export function cachedToeplitzTable(key: Uint8Array): ToeplitzTable {
  let t = cache.get(key)
  if (t !== undefined) {
    const k = t.key
    const n = k.length
    if (n === key.length) {
      let i = 0
      while (i < n && k[i] === key[i]) i++
      if (i === n) return t
    }
  }
  t = toeplitzTable(key)
  cache.set(key, t)
  return t
}

/** Toeplitz hash (u32) of `input` under `key`. Tables are built once per key and cached. */
export function toeplitz(key: Uint8Array, input: Uint8Array): number {
  const t = cachedToeplitzTable(key)
  const n = input.length
  if (n > t.maxInputLength) throw tooLong(n, t.maxInputLength)
  const table = t.table
  let h = 0
  let base = 0
  for (let i = 0; i < n; i++) {
    h ^= table[base + input[i]!]!
    base += 256
  }
  return h >>> 0
}
