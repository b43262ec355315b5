import { compile } from '../../util/codegen.ts'
import { DecodeError, EncodeError } from './errors.ts'

/**
 * Fixed-layout C structures (ifinfomsg, tc_ratespec, tun_vnet_rss, …) declared as data.
 * Fields are laid out in declaration order with no implicit padding: declare it with `pad(n)`.
 * Integers are host (little) endian unless named `be16`/`be32`.
 */
export type IntKind = 'u8' | 'u16' | 'u32' | 's8' | 's16' | 's32' | 'be16' | 'be32'
export type BigKind = 'u64' | 's64'
export interface Pad {
  readonly pad: number
}
export interface Bytes {
  readonly bytes: number
}
export interface CString {
  readonly cstring: number
}
export interface IntArray {
  readonly array: IntKind
  readonly count: number
}
/** A C struct embedded in another (tc_htb_opt holds two tc_ratespec). */
export type Embedded = StructSpec<StructFields>
export type FieldKind = IntKind | BigKind | Pad | Bytes | CString | IntArray | Embedded

export const pad = (n: number): Pad => ({ pad: n })
export const bytes = (n: number): Bytes => ({ bytes: n })
export const cstring = (n: number): CString => ({ cstring: n })
export const intArray = (kind: IntKind, count: number): IntArray => ({ array: kind, count })

type FieldValue<K> = K extends IntKind
  ? number
  : K extends BigKind
    ? bigint
    : K extends Bytes
      ? Uint8Array
      : K extends CString
        ? string
        : K extends IntArray
          ? number[]
          : K extends StructSpec<infer F>
            ? StructValue<F>
            : never

export type StructFields = Record<string, FieldKind>
export type StructValue<F extends StructFields> = {
  [K in keyof F as F[K] extends Pad ? never : K]: FieldValue<F[K]>
}

export const INT_WIDTH: Record<IntKind | BigKind, number> = {
  u8: 1,
  s8: 1,
  u16: 2,
  s16: 2,
  be16: 2,
  u32: 4,
  s32: 4,
  be32: 4,
  u64: 8,
  s64: 8,
}

const INT_RANGE: Record<IntKind, [number, number]> = {
  u8: [0, 0xff],
  s8: [-0x80, 0x7f],
  u16: [0, 0xffff],
  s16: [-0x8000, 0x7fff],
  be16: [0, 0xffff],
  u32: [0, 0xffffffff],
  s32: [-0x80000000, 0x7fffffff],
  be32: [0, 0xffffffff],
}

// Integers are read and written byte by byte: Buffer#readUInt32LE and friends validate their
// offset through a wrapper that costs more than the access, and codecs have checked the bounds.
// Each kind's layout is written once, as code (intReadExpr, INT_BYTES): readInt, writeInt and the
// generated struct and attribute-set codecs are all made from it.

/**
 * How generated decoders (structs here, attribute sets in attrs.ts) read an integer of `kind`
 * from `buf` at the offset expression `at`, inline; the bounds are checked already.
 */
export function intReadExpr(kind: IntKind, at: string): string {
  const b = (i: number) => (i === 0 ? `buf[${at}]` : `buf[${at} + ${i}]`)
  switch (kind) {
    case 'u8':
      return b(0)
    case 's8':
      return `((${b(0)} << 24) >> 24)`
    case 'u16':
      return `(${b(0)} | (${b(1)} << 8))`
    case 's16':
      return `(((${b(0)} | (${b(1)} << 8)) << 16) >> 16)`
    case 'be16':
      return `((${b(0)} << 8) | ${b(1)})`
    case 'u32':
      return `((${b(0)} | (${b(1)} << 8) | (${b(2)} << 16) | (${b(3)} << 24)) >>> 0)`
    case 's32':
      return `(${b(0)} | (${b(1)} << 8) | (${b(2)} << 16) | (${b(3)} << 24))`
    case 'be32':
      return `(((${b(0)} << 24) | (${b(1)} << 16) | (${b(2)} << 8) | ${b(3)}) >>> 0)`
  }
}

/** The bytes that store `x` as each kind, lowest address first (a typed array keeps the low 8 bits). */
const INT_BYTES: Record<IntKind, string[]> = {
  u8: ['x'],
  s8: ['x'],
  u16: ['x', 'x >> 8'],
  s16: ['x', 'x >> 8'],
  be16: ['x >> 8', 'x'],
  u32: ['x', 'x >> 8', 'x >> 16', 'x >>> 24'],
  s32: ['x', 'x >> 8', 'x >> 16', 'x >>> 24'],
  be32: ['x >>> 24', 'x >> 16', 'x >> 8', 'x'],
}

/**
 * How generated code writes `x` as `kind` at the offset expression `at`: out of range, it calls
 * `fail(x, kind, <path>)` (outOfRange) with the path expression `path`.
 */
function intWriteStmts(kind: IntKind, at: string, path: string): string {
  const [lo, hi] = INT_RANGE[kind]
  const stores = INT_BYTES[kind].map((e, i) => `buf[${at} + ${i}] = ${e}`).join('; ')
  return `if (!(x >= ${lo} && x <= ${hi} && Number.isInteger(x))) fail(x, ${JSON.stringify(kind)}, ${path}); ${stores}`
}

function outOfRange(x: unknown, kind: IntKind, path: string): never {
  throw new EncodeError(`${x} does not fit ${kind}`, path)
}

/** Reads one integer kind at `off`. */
export type IntReader = (buf: Uint8Array, off: number) => number
/** Writes `x` as one integer kind at `off` (the room reserved); EncodeError naming `path` if it does not fit. */
export type IntWriter = (buf: Uint8Array, off: number, x: number, path: string) => void

const INT_KINDS = Object.keys(INT_RANGE) as IntKind[]
const INT_READERS = Object.fromEntries(
  INT_KINDS.map((k) => [k, compile<IntReader>(() => `return (buf, off) => ${intReadExpr(k, 'off')}`)]),
) as Record<IntKind, IntReader>
const INT_WRITERS = Object.fromEntries(
  INT_KINDS.map((k) => [
    k,
    compile<IntWriter>(() => `return function (buf, off, x, path) { ${intWriteStmts(k, 'off', 'path')} }`, {
      fail: outOfRange,
    }),
  ]),
) as Record<IntKind, IntWriter>

/** The reader of one kind, for code that reads the same kind again and again. */
export function intReader(kind: IntKind): IntReader {
  return INT_READERS[kind]
}
/** The writer of one kind, for code that writes the same kind again and again. */
export function intWriter(kind: IntKind): IntWriter {
  return INT_WRITERS[kind]
}

/** Host-endian u32 at `off`. */
export const u32At = intReader('u32')

/** u64 with as few BigInt operations as the value needs (counters are mostly small). */
export function readU64(buf: Uint8Array, off: number): bigint {
  const lo = u32At(buf, off)
  const hi = u32At(buf, off + 4)
  if (hi === 0) return lo === 0 ? 0n : BigInt(lo)
  // Below 2^53 the value is exact as a double: one conversion instead of three BigInt steps.
  if (hi < 0x200000) return BigInt(hi * 0x100000000 + lo)
  return (BigInt(hi) << 32n) | BigInt(lo)
}

export function readInt(buf: Uint8Array, off: number, kind: IntKind): number {
  return INT_READERS[kind](buf, off)
}

export function writeInt(buf: Uint8Array, off: number, kind: IntKind, v: number, path: string): void {
  INT_WRITERS[kind](buf, off, v, path)
}

export function writeBig(buf: Buffer, off: number, kind: BigKind, v: bigint | number, path: string): void {
  const b = typeof v === 'bigint' ? v : BigInt(v)
  if (kind === 'u64') {
    if (b < 0n || b > 0xffffffffffffffffn) throw new EncodeError(`${b} does not fit u64`, path)
    buf.writeBigUInt64LE(b, off)
  } else {
    if (b < -(2n ** 63n) || b >= 2n ** 63n) throw new EncodeError(`${b} does not fit s64`, path)
    buf.writeBigInt64LE(b, off)
  }
}

function fieldSize(k: FieldKind): number {
  if (typeof k === 'string') return INT_WIDTH[k]
  if ('pad' in k) return k.pad
  if ('bytes' in k) return k.bytes
  if ('cstring' in k) return k.cstring
  if ('fields' in k) return k.size
  return INT_WIDTH[k.array] * k.count
}

export interface StructSpec<F extends StructFields = StructFields> {
  readonly name: string
  readonly fields: F
  readonly size: number
  /** Where a field starts, in bytes from the struct's start. */
  offsetOf(field: keyof F & string): number
  encode(value: Partial<StructValue<F>>, into?: Buffer, at?: number): Buffer
  /** Reads the struct at `at`; bytes from `end` (default: the buffer's end) on are not its own. */
  decode(buf: Buffer, at?: number, path?: string, end?: number): StructValue<F>
}

type FieldReader = (b: Buffer, o: number, path: string) => unknown
type FieldWriter = (b: Buffer, o: number, x: unknown) => void

/** One writer per field, chosen once when the struct is declared; `p` names the field in errors. */
function fieldWriter(p: string, kind: FieldKind): FieldWriter | undefined {
  if (typeof kind === 'string') {
    if (kind === 'u64' || kind === 's64') return (b, o, x) => writeBig(b, o, kind, x as bigint, p)
    return (b, o, x) => writeInt(b, o, kind, x as number, p)
  }
  if ('pad' in kind) return undefined
  if ('bytes' in kind)
    return (b, o, x) => {
      const src = x as Uint8Array
      if (src.length > kind.bytes) throw new EncodeError(`${src.length} bytes exceed ${kind.bytes}`, p)
      b.set(src, o)
    }
  if ('cstring' in kind)
    return (b, o, x) => {
      if (Buffer.byteLength(x as string) > kind.cstring - 1)
        throw new EncodeError(`longer than ${kind.cstring - 1} bytes`, p)
      const n = b.write(x as string, o, kind.cstring - 1, 'utf8')
      b[o + n] = 0
    }
  if ('fields' in kind)
    return (b, o, x) => {
      try {
        kind.encode(x as Partial<StructValue<StructFields>>, b, o)
      } catch (e) {
        if (e instanceof EncodeError)
          throw new EncodeError(e.message, `${p.slice(0, p.indexOf('.'))}.${e.path}`)
        throw e
      }
    }
  const w = INT_WIDTH[kind.array]
  return (b, o, x) => {
    const arr = x as number[]
    if (arr.length > kind.count) throw new EncodeError(`${arr.length} entries exceed ${kind.count}`, p)
    let i = 0
    try {
      for (; i < arr.length; i++) writeInt(b, o + i * w, kind.array, arr[i] as number, p)
    } catch (e) {
      if (e instanceof EncodeError)
        throw new EncodeError(`${arr[i]} does not fit ${kind.array}`, `${p}[${i}]`)
      throw e
    }
  }
}

/** One reader per field, chosen once when the struct is declared (decoding runs per message). */
function fieldReader(key: string, kind: FieldKind): FieldReader | undefined {
  if (typeof kind === 'string') {
    if (kind === 'u64') return readU64
    if (kind === 's64') return (b, o) => b.readBigInt64LE(o)
    return (b, o) => readInt(b, o, kind)
  }
  if ('pad' in kind) return undefined
  if ('bytes' in kind) return (b, o) => Uint8Array.prototype.slice.call(b, o, o + kind.bytes)
  if ('fields' in kind) return (b, o, path) => kind.decode(b, o, `${path}.${key}`, o + kind.size)
  if ('cstring' in kind)
    return (b, o) => {
      const end = b.indexOf(0, o)
      return b.toString('utf8', o, end < 0 || end > o + kind.cstring ? o + kind.cstring : end)
    }
  const item = kind.array
  const w = INT_WIDTH[item]
  return (b, o) => {
    const out = new Array<number>(kind.count)
    for (let i = 0; i < kind.count; i++) out[i] = readInt(b, o + i * w, item)
    return out
  }
}

/** How the generated struct decoder reads a scalar field at `at + off`, or undefined for others. */
function scalarExpr(kind: FieldKind, off: number): string | undefined {
  if (typeof kind !== 'string' || kind === 's64') return undefined
  if (kind === 'u64') return `readU64(buf, at + ${off})`
  return intReadExpr(kind, `at + ${off}`)
}

/**
 * A decoder for the whole struct that builds its result as one object literal: generated once
 * per declaration, it gives every result the same shape instead of growing it field by field,
 * and reads integers inline.
 */
function compileDecoder(layout: Array<{ key: string; kind: FieldKind; off: number }>) {
  return compile<(buf: Buffer, at: number, path: string) => Record<string, unknown>>(
    (ref) => {
      const fields: string[] = []
      for (const { key, kind, off } of layout) {
        const inline = scalarExpr(kind, off)
        const read = inline === undefined ? fieldReader(key, kind) : undefined
        if (inline !== undefined) fields.push(`${JSON.stringify(key)}: ${inline}`)
        else if (read) fields.push(`${JSON.stringify(key)}: ${ref(read)}(buf, at + ${off}, path)`)
      }
      return `return function decodeStruct(buf, at, path) { return { ${fields.join(', ')} } }`
    },
    { readU64 },
  )
}

/**
 * An encoder for the whole struct, generated once per declaration like its decoder: it clears the
 * struct's bytes and writes integer fields inline, and other fields through their writers.
 */
function compileEncoder(
  name: string,
  layout: Array<{ key: string; kind: FieldKind; off: number }>,
  size: number,
) {
  return compile<(v: Record<string, unknown>, buf: Buffer, at: number) => void>(
    (ref) => {
      const lines: string[] = []
      for (const { key, kind, off } of layout) {
        const path = `${name}.${key}`
        const scalar = typeof kind === 'string' && kind !== 'u64' && kind !== 's64'
        const write = scalar ? undefined : fieldWriter(path, kind)
        if (!scalar && !write) continue
        const body = scalar
          ? intWriteStmts(kind, `at + ${off}`, JSON.stringify(path))
          : `${ref(write)}(buf, at + ${off}, x)`
        lines.push(`x = v[${JSON.stringify(key)}]; if (x !== undefined) { ${body} }`)
      }
      const clear =
        size <= 64 ? `for (let j = at; j < at + ${size}; j++) buf[j] = 0` : `buf.fill(0, at, at + ${size})`
      return `return function encodeStruct(v, buf, at) { ${clear}; let x; ${lines.join('\n')} }`
    },
    { fail: outOfRange },
  )
}

/** Declares a C structure; the declaration drives encode, decode and the value type. */
export function struct<const F extends StructFields>(
  name: string,
  fields: F,
  options: {
    /** Older kernels send shorter versions of growing structs: missing trailing fields read as 0. */
    minSize?: number
  } = {},
): StructSpec<F> {
  const layout: Array<{ key: string; kind: FieldKind; off: number }> = []
  let size = 0
  for (const [key, kind] of Object.entries(fields)) {
    layout.push({ key, kind, off: size })
    size += fieldSize(kind)
  }
  const total = size
  const minSize = options.minSize ?? total
  const encodeWhole = compileEncoder(name, layout, total)
  const readers = layout.flatMap((f) => {
    const read = fieldReader(f.key, f.kind)
    return read ? [{ ...f, read }] : []
  })
  const whole = compileDecoder(layout)
  return {
    name,
    fields,
    size: total,
    offsetOf(field) {
      const f = layout.find((l) => l.key === field)
      if (!f) throw new Error(`${name} has no field ${field}`)
      return f.off
    },
    encode(value, into, at = 0) {
      // The generated encoder clears every byte of the struct first.
      const buf = into ?? Buffer.allocUnsafe(total)
      encodeWhole(value as Record<string, unknown>, buf, at)
      return buf
    },
    decode(buf, at = 0, path = name, end = buf.length) {
      const have = Math.min(end, buf.length) - at
      if (have < minSize) throw new DecodeError(`${name} needs ${minSize} bytes, has ${have}`, path, at)
      if (have >= total) return whole(buf, at, path) as StructValue<F>
      const out: Record<string, unknown> = {}
      // A shorter (older) version of the struct: fields past the end read as 0 or stay absent.
      for (const { key, kind, off, read } of readers) {
        if (off + fieldSize(kind) <= have) out[key] = read(buf, at + off, path)
        else if (typeof kind === 'string') out[key] = kind === 'u64' || kind === 's64' ? 0n : 0
      }
      return out as StructValue<F>
    },
  }
}
