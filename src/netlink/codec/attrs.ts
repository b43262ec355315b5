import { compile } from '../../util/codegen.ts'
import { DecodeError, EncodeError } from './errors.ts'
import {
  type BigKind,
  INT_WIDTH,
  type IntKind,
  intReadExpr,
  intWriter,
  readInt,
  readU64,
  type StructSpec,
  writeBig,
} from './struct.ts'
import { Writer } from './writer.ts'

/**
 * Netlink attribute sets declared as data. One declaration per set drives encoding, decoding,
 * the TypeScript value type and the attribute names used in error paths. Unknown attributes
 * survive decoding in `unknownAttrs`; nothing the kernel adds later can make decoding throw.
 */

export const NLA_F_NESTED = 0x8000
const NLA_TYPE_MASK = 0x3fff

/** Anything that encodes into and decodes from a stretch of attribute payload. */
export interface Codec<V> {
  readonly name: string
  /**
   * False for payloads that are not attribute streams (C structs): their attribute is sent
   * without NLA_F_NESTED. Default true.
   */
  readonly nested?: boolean
  encodeInto(w: Writer, value: V, path: string): void
  decodeFrom(buf: Buffer, start: number, end: number, path: string): V
}

/**
 * An attribute kept as bytes: one rxnetlink does not model, or declared opaque. Its bytes are
 * a view into the received datagram, made only when asked for.
 */
export class RawAttr {
  constructor(
    readonly type: number,
    private readonly buf: Uint8Array,
    private readonly start = 0,
    private readonly end = buf.length,
  ) {}
  get data(): Uint8Array {
    return this.buf.subarray(this.start, this.end)
  }
  get length(): number {
    return this.end - this.start
  }
  toJSON(): { type: number; data: string } {
    return { type: this.type, data: Buffer.from(this.data).toString('hex') }
  }
}

type Kind =
  | { kind: 'int'; width: IntKind }
  | { kind: 'big'; width: BigKind }
  | { kind: 'string' }
  | { kind: 'binary' }
  | { kind: 'opaque' }
  | { kind: 'mac' }
  | { kind: 'flag' }
  | { kind: 'enum'; width: IntKind; names: Readonly<Record<string, number>> }
  | { kind: 'bitflags'; width: IntKind; bits: Readonly<Record<string, number>> }
  | { kind: 'array'; width: IntKind }
  | { kind: 'codec'; get: () => Codec<unknown> }
  | { kind: 'indexed'; item: AttrDecl; base: number }
  | { kind: 'submsg'; selector: string; codecs: Readonly<Record<string, () => Codec<unknown>>> }

export type AttrDecl = Kind & {
  id: number
  multi?: boolean
  /** Send this nest without NLA_F_NESTED, as iproute2 does for TCA_OPTIONS and action lists. */
  unflagged?: boolean
}

type Single<D> = D extends { kind: 'int' }
  ? number
  : D extends { kind: 'big' }
    ? bigint
    : D extends { kind: 'string' }
      ? string
      : D extends { kind: 'binary' }
        ? Uint8Array
        : D extends { kind: 'opaque' }
          ? RawAttr
          : D extends { kind: 'mac' }
            ? string
            : D extends { kind: 'flag' }
              ? boolean
              : D extends { kind: 'enum'; names: infer N }
                ? (keyof N & string) | number
                : D extends { kind: 'bitflags'; bits: infer N }
                  ? Array<(keyof N & string) | number>
                  : D extends { kind: 'array' }
                    ? number[]
                    : D extends { kind: 'codec'; get: () => Codec<infer V> }
                      ? V
                      : D extends { kind: 'indexed'; item: infer I }
                        ? Array<Single<I>>
                        : D extends { kind: 'submsg'; codecs: infer C }
                          ? SubmsgValue<C>
                          : never

type SubmsgValue<C> = { [K in keyof C]: C[K] extends () => Codec<infer V> ? V : never }[keyof C] | Uint8Array

export type DeclValue<D> = D extends { multi: true } ? Array<Single<D>> : Single<D>

export type AttrDecls = Record<string, AttrDecl>

/** The decoded (and encodable) value of an attribute set. */
export type AttrValues<D extends AttrDecls> = { -readonly [K in keyof D]?: DeclValue<D[K]> } & {
  unknownAttrs?: RawAttr[]
}

export interface AttrSet<D extends AttrDecls = AttrDecls> extends Codec<AttrValues<D>> {
  readonly decls: D
  /** Encodes a value as a standalone attribute stream (no header). */
  encode(value: AttrValues<D>): Buffer
  decode(buf: Buffer, start?: number, end?: number): AttrValues<D>
  /**
   * A decoder of only these attributes, for hot paths that read a few of many: each result has
   * exactly these keys (undefined when absent) and `unknownAttrs`, so all share one shape; the
   * set's other attributes are skipped undecoded. A sub-message needs its selector picked too.
   */
  picker<const K extends keyof D & string>(keys: readonly K[]): Picker<D, K>
}

/** Picked attributes of a set: each key present, undefined when the kernel did not send it. */
export type Picked<D extends AttrDecls, K extends keyof D> = { [P in K]: DeclValue<D[P]> | undefined } & {
  unknownAttrs: RawAttr[] | undefined
}
export type Picker<D extends AttrDecls, K extends keyof D> = (
  buf: Buffer,
  start: number,
  end: number,
  path: string,
) => Picked<D, K>

export type SetValue<S> = S extends AttrSet<infer D> ? AttrValues<D> : never

/** Declaration helpers: `attr.u32(4)`, `attr.nest(18, () => linkInfo)`, `attr.multi(attr.string(2))`. */
export const attr = {
  u8: (id: number) => ({ id, kind: 'int', width: 'u8' }) as const,
  u16: (id: number) => ({ id, kind: 'int', width: 'u16' }) as const,
  u32: (id: number) => ({ id, kind: 'int', width: 'u32' }) as const,
  s8: (id: number) => ({ id, kind: 'int', width: 's8' }) as const,
  s16: (id: number) => ({ id, kind: 'int', width: 's16' }) as const,
  s32: (id: number) => ({ id, kind: 'int', width: 's32' }) as const,
  be16: (id: number) => ({ id, kind: 'int', width: 'be16' }) as const,
  be32: (id: number) => ({ id, kind: 'int', width: 'be32' }) as const,
  u64: (id: number) => ({ id, kind: 'big', width: 'u64' }) as const,
  s64: (id: number) => ({ id, kind: 'big', width: 's64' }) as const,
  string: (id: number) => ({ id, kind: 'string' }) as const,
  binary: (id: number) => ({ id, kind: 'binary' }) as const,
  /** Bytes rxnetlink does not interpret, decoded lazily (no copy, no view until asked). */
  opaque: (id: number) => ({ id, kind: 'opaque' }) as const,
  /** A link-layer address, as `aa:bb:cc:dd:ee:ff`. */
  mac: (id: number) => ({ id, kind: 'mac' }) as const,
  flag: (id: number) => ({ id, kind: 'flag' }) as const,
  enum: <const N extends Record<string, number>>(id: number, width: IntKind, names: N) =>
    ({ id, kind: 'enum', width, names }) as const,
  flags: <const N extends Record<string, number>>(id: number, width: IntKind, bits: N) =>
    ({ id, kind: 'bitflags', width, bits }) as const,
  /** Packed host-endian integers filling the attribute (e.g. an RSS indirection table). */
  array: (id: number, width: IntKind) => ({ id, kind: 'array', width }) as const,
  nest: <C extends Codec<unknown>>(id: number, get: () => C) => ({ id, kind: 'codec', get }) as const,
  struct: <C extends StructSpec>(id: number, spec: C) =>
    ({ id, kind: 'codec', get: () => structCodec(spec) }) as {
      id: number
      kind: 'codec'
      get: () => Codec<ReturnType<C['decode']>>
    },
  /** A nest whose children are numbered entries of one kind (type = base, base+1, …). */
  indexed: <const I extends Kind>(id: number, item: I, base = 1) =>
    ({ id, kind: 'indexed', item: { ...item, id: 0 }, base }) as const,
  /** A nest whose format depends on a sibling attribute's value (e.g. linkinfo.data by kind). */
  submsg: <const C extends Record<string, () => Codec<unknown>>>(id: number, selector: string, codecs: C) =>
    ({ id, kind: 'submsg', selector, codecs }) as const,
  /** The attribute may repeat; its value is the array of occurrences. */
  multi: <const D extends AttrDecl>(d: D) => ({ ...d, multi: true }) as D & { multi: true },
  /**
   * A nest sent without NLA_F_NESTED. Older kernel families (tc's TCA_OPTIONS, action lists)
   * parse either way; iproute2 leaves the flag off, and so does this, byte for byte.
   */
  unflagged: <const D extends AttrDecl>(d: D) => ({ ...d, unflagged: true }) as D & { unflagged: true },
}

const structCodecs = new WeakMap<StructSpec, Codec<unknown>>()

/** A C structure as the payload of an attribute. */
export function structCodec<S extends StructSpec>(spec: S): Codec<ReturnType<S['decode']>> {
  let c = structCodecs.get(spec)
  if (!c) {
    c = {
      name: spec.name,
      nested: false,
      encodeInto(w, value, path) {
        const at = w.reserve(spec.size)
        try {
          spec.encode(value as Parameters<S['encode']>[0], w.buf, at)
        } catch (e) {
          if (e instanceof EncodeError) throw new EncodeError(e.message, `${path}.${e.path}`)
          throw e
        }
      },
      decodeFrom(buf, start, end, path) {
        return spec.decode(buf, start, path, end)
      },
    }
    structCodecs.set(spec, c)
  }
  return c as Codec<ReturnType<S['decode']>>
}

const writeU16 = intWriter('u16')

/** Fills in the header of the attribute that starts at `start` and ends at the writer's end. */
function writeHeader(w: Writer, start: number, type: number, path: string): void {
  writeU16(w.buf, start, w.len - start, path)
  writeU16(w.buf, start + 2, type, path)
}

/** A NUL-terminated string; ASCII (kinds, names) is copied by character, without a native call. */
function writeCString(w: Writer, v: string): void {
  const n = v.length
  let ascii = true
  for (let i = 0; i < n && ascii; i++) ascii = v.charCodeAt(i) < 0x80
  if (!ascii) {
    const bytes = Buffer.byteLength(v)
    const at = w.reserve(bytes + 1)
    w.buf.write(v, at, 'utf8')
    w.buf[at + bytes] = 0
    return
  }
  const at = w.reserve(n + 1)
  const b = w.buf
  for (let i = 0; i < n; i++) b[at + i] = v.charCodeAt(i)
  b[at + n] = 0
}

/** Writes one attribute's payload and returns the flag bits its header's type takes. */
type PayloadEncoder = (w: Writer, v: unknown, path: string, siblings: object) => number
/** Writes one whole attribute (header, payload) of the given type id. */
type SingleEncoder = (w: Writer, id: number, v: unknown, path: string, siblings: object) => void

/**
 * The encoder of an attribute declaration, made once per declaration: the kind is looked at here,
 * not for every attribute of every message.
 */
function singleEncoder(d: Kind & { unflagged?: boolean }): SingleEncoder {
  const payload = payloadEncoder(d, d.unflagged ? 0 : NLA_F_NESTED)
  return (w, id, v, path, siblings) => {
    const start = w.reserve(4)
    w.mark(start, path)
    const type = id | payload(w, v, path, siblings)
    writeHeader(w, start, type, path)
  }
}

function payloadEncoder(d: Kind, flag: number): PayloadEncoder {
  switch (d.kind) {
    case 'int': {
      const write = intWriter(d.width)
      const n = INT_WIDTH[d.width]
      return (w, v, path) => {
        if (typeof v !== 'number') throw new EncodeError(`expected a number, got ${typeof v}`, path)
        const at = w.reserve(n)
        write(w.buf, at, v, path)
        return 0
      }
    }
    case 'big': {
      const width = d.width
      return (w, v, path) => {
        if (typeof v !== 'bigint' && typeof v !== 'number') throw new EncodeError('expected a bigint', path)
        const at = w.reserve(8)
        writeBig(w.buf, at, width, v, path)
        return 0
      }
    }
    case 'string':
      return (w, v, path) => {
        if (typeof v !== 'string') throw new EncodeError(`expected a string, got ${typeof v}`, path)
        writeCString(w, v)
        return 0
      }
    case 'binary':
      return (w, v, path) => {
        if (!(v instanceof Uint8Array)) throw new EncodeError('expected bytes (Uint8Array)', path)
        const at = w.reserve(v.length)
        w.buf.set(v, at)
        return 0
      }
    case 'opaque':
      return (w, v, path) => {
        if (!(v instanceof RawAttr)) throw new EncodeError('expected a RawAttr', path)
        const at = w.reserve(v.length)
        w.buf.set(v.data, at)
        return 0
      }
    case 'mac':
      return (w, v, path) => {
        if (typeof v !== 'string' || !/^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2})*$/.test(v))
          throw new EncodeError('expected a link-layer address like aa:bb:cc:dd:ee:ff', path)
        const bytes = v.split(':')
        const at = w.reserve(bytes.length)
        bytes.forEach((x, i) => {
          w.buf[at + i] = Number.parseInt(x, 16)
        })
        return 0
      }
    case 'flag':
      return (_w, v, path) => {
        if (v !== true) throw new EncodeError('a flag is either true or absent', path)
        return 0
      }
    case 'enum': {
      const names = d.names
      const write = intWriter(d.width)
      const n = INT_WIDTH[d.width]
      return (w, v, path) => {
        const x = typeof v === 'string' ? names[v] : v
        if (typeof x !== 'number') throw new EncodeError(`unknown value ${String(v)}`, path)
        const at = w.reserve(n)
        write(w.buf, at, x, path)
        return 0
      }
    }
    case 'bitflags': {
      const bits = d.bits
      const write = intWriter(d.width)
      const n = INT_WIDTH[d.width]
      return (w, v, path) => {
        let x = 0
        for (const f of v as Array<string | number>) {
          const bit = typeof f === 'string' ? bits[f] : f
          if (typeof bit !== 'number') throw new EncodeError(`unknown flag ${String(f)}`, path)
          x = (x | bit) >>> 0
        }
        const at = w.reserve(n)
        write(w.buf, at, x, path)
        return 0
      }
    }
    case 'array': {
      const width = d.width
      const write = intWriter(width)
      const n = INT_WIDTH[width]
      return (w, v, path) => {
        const arr = v as number[]
        const at = w.reserve(arr.length * n)
        let i = 0
        try {
          for (; i < arr.length; i++) write(w.buf, at + i * n, arr[i] as number, path)
        } catch (e) {
          // The element's path is built only when it is wrong.
          if (e instanceof EncodeError)
            throw new EncodeError(`${arr[i]} does not fit ${width}`, `${path}[${i}]`)
          throw e
        }
        return 0
      }
    }
    case 'codec': {
      // Nests may refer to sets declared later: the codec is fetched on first use.
      let codec: Codec<unknown> | undefined
      return (w, v, path) => {
        codec ??= d.get()
        codec.encodeInto(w, v, path)
        return codec.nested !== false ? flag : 0
      }
    }
    case 'indexed': {
      const item = singleEncoder(d.item)
      const base = d.base
      return (w, v, path, siblings) => {
        const items = v as unknown[]
        for (let i = 0; i < items.length; i++) {
          item(w, base + i, items[i], w.namesPaths ? `${path}[${i}]` : '', siblings)
          w.align()
        }
        return flag
      }
    }
    case 'submsg': {
      const { selector, codecs } = d
      return (w, v, path, siblings) => {
        if (v instanceof Uint8Array) {
          const at = w.reserve(v.length)
          w.buf.set(v, at)
          return 0
        }
        const sel = (siblings as Record<string, unknown>)[selector]
        const get = typeof sel === 'string' ? codecs[sel] : undefined
        if (!get) throw new EncodeError(`no format for ${selector} ${String(sel)}`, path)
        const codec = get()
        codec.encodeInto(w, v, path)
        return codec.nested !== false ? flag : 0
      }
    }
  }
}

/** Where a string attribute's text ends: NUL padding at the end is not part of it. */
function textEnd(buf: Buffer, s: number, e: number): number {
  let x = e
  while (x > s && buf[x - 1] === 0) x--
  return x
}

function cString(buf: Buffer, s: number, e: number): string {
  return buf.toString('utf8', s, textEnd(buf, s, e))
}

/** The last ASCII string one attribute decoded to, and its length in bytes. */
interface LastString {
  value: string
  length: number
}

/**
 * A string attribute through a one-entry cache: attributes such as kinds and qdisc names repeat
 * from message to message, and a dump then keeps one string for all of them instead of one each.
 * Only ASCII strings are cached, so that byte i is character i.
 */
function repeatedString(buf: Buffer, s: number, e: number, last: LastString): string {
  const x = textEnd(buf, s, e)
  const n = x - s
  if (n === last.length) {
    const v = last.value
    let i = 0
    while (i < n && buf[s + i] === v.charCodeAt(i)) i++
    if (i === n) return v
  }
  const v = buf.toString('utf8', s, x)
  if (v.length === n) {
    last.value = v
    last.length = n
  }
  return v
}

/** Character codes of each byte's two hex digits, high then low. */
const HEX_HI = Array.from({ length: 256 }, (_, i) => '0123456789abcdef'.charCodeAt(i >> 4))
const HEX_LO = Array.from({ length: 256 }, (_, i) => '0123456789abcdef'.charCodeAt(i & 15))
const COLON = 0x3a

/** The last 6-byte address one attribute decoded (as a 48-bit number) and its string. */
interface LastMac {
  key: number
  value: string
}

/**
 * A link-layer address as `aa:bb:cc:dd:ee:ff`, built in one step: concatenating its pieces would
 * make a tree of a dozen string fragments per address, each of them kept alive with it. With
 * `last`, an address equal to the previous one (every broadcast address) shares its string.
 */
function macString(buf: Buffer, s: number, e: number, last?: LastMac): string {
  if (e - s === 6) {
    const b0 = buf[s] as number
    const b1 = buf[s + 1] as number
    const b2 = buf[s + 2] as number
    const b3 = buf[s + 3] as number
    const b4 = buf[s + 4] as number
    const b5 = buf[s + 5] as number
    const key = (b0 * 0x10000 + ((b1 << 8) | b2)) * 0x1000000 + ((b3 << 16) | (b4 << 8) | b5)
    if (last !== undefined && last.key === key) return last.value
    const value = String.fromCharCode(
      HEX_HI[b0] as number,
      HEX_LO[b0] as number,
      COLON,
      HEX_HI[b1] as number,
      HEX_LO[b1] as number,
      COLON,
      HEX_HI[b2] as number,
      HEX_LO[b2] as number,
      COLON,
      HEX_HI[b3] as number,
      HEX_LO[b3] as number,
      COLON,
      HEX_HI[b4] as number,
      HEX_LO[b4] as number,
      COLON,
      HEX_HI[b5] as number,
      HEX_LO[b5] as number,
    )
    if (last !== undefined) {
      last.key = key
      last.value = value
    }
    return value
  }
  const codes: number[] = []
  for (let i = s; i < e; i++) {
    if (i > s) codes.push(COLON)
    codes.push(HEX_HI[buf[i] as number] as number, HEX_LO[buf[i] as number] as number)
  }
  return String.fromCharCode(...codes)
}

type Decoder = (buf: Buffer, start: number, end: number, parent: string, name: string) => unknown

const join = (parent: string, name: string) => (parent ? `${parent}.${name}` : name)

function tooShort(
  kind: string,
  need: number,
  s: number,
  e: number,
  parent: string,
  name: string,
): DecodeError {
  return new DecodeError(`${kind} needs ${need} bytes, has ${e - s}`, join(parent, name), s)
}

/**
 * Builds the decoder for one declaration once: what compiled set decoders call for the kinds they
 * do not read inline (flag lists, arrays, indexed nests and their items).
 */
function makeDecoder(d: Kind, id = 0): Decoder {
  switch (d.kind) {
    case 'int': {
      const width = INT_WIDTH[d.width]
      const kind = d.width
      return (buf, s, e, p, n) => {
        if (e - s < width) throw tooShort(kind, width, s, e, p, n)
        return readInt(buf, s, kind)
      }
    }
    case 'big':
      return d.width === 'u64'
        ? (buf, s, e, p, n) => {
            if (e - s < 8) throw tooShort('u64', 8, s, e, p, n)
            return readU64(buf, s)
          }
        : (buf, s, e, p, n) => {
            if (e - s < 8) throw tooShort('s64', 8, s, e, p, n)
            return buf.readBigInt64LE(s)
          }
    case 'string':
      return cString
    case 'binary':
      // A view into the received datagram: no copy per attribute.
      return (buf, s, e) => buf.subarray(s, e)
    case 'opaque':
      return (buf, s, e) => new RawAttr(id, buf, s, e)
    case 'mac':
      return (buf, s, e) => macString(buf, s, e)
    case 'flag':
      return () => true
    case 'enum': {
      const int = makeDecoder({ kind: 'int', width: d.width })
      const names = reverse(d.names)
      return (buf, s, e, p, n) => {
        const v = int(buf, s, e, p, n) as number
        return names.get(v) ?? v
      }
    }
    case 'bitflags': {
      const int = makeDecoder({ kind: 'int', width: d.width })
      const bits = Object.entries(d.bits)
      return (buf, s, e, p, n) => {
        let v = int(buf, s, e, p, n) as number
        const out: Array<string | number> = []
        for (const [name, bit] of bits) {
          if (bit && (v & bit) === bit) {
            out.push(name)
            v = (v & ~bit) >>> 0
          }
        }
        if (v) out.push(v)
        return out
      }
    }
    case 'array': {
      const width = INT_WIDTH[d.width]
      const kind = d.width
      return (buf, s, e, p, n) => {
        if ((e - s) % width)
          throw new DecodeError(`length ${e - s} is not a multiple of ${width}`, join(p, n), s)
        const out = new Array<number>((e - s) / width)
        for (let i = 0; i < out.length; i++) out[i] = readInt(buf, s + i * width, kind)
        return out
      }
    }
    case 'codec':
      return (buf, s, e, p, n) => d.get().decodeFrom(buf, s, e, join(p, n))
    case 'indexed': {
      const item = makeDecoder(d.item)
      return (buf, s, e, p, n) => {
        const out: unknown[] = []
        const path = join(p, n)
        forEachAttr(buf, s, e, path, (_type, is, ie) => {
          out.push(item(buf, is, ie, path, `[${out.length}]`))
        })
        return out
      }
    }
    case 'submsg':
      // Resolved by the enclosing set once the selector sibling is known.
      return () => undefined
  }
}

type SetDecoder = (buf: Buffer, start: number, end: number, path: string) => Record<string, unknown>

/** The named property `key` of `out`, as generated code writes it (a named store keeps objects fast). */
const prop = (key: string) => `out[${JSON.stringify(key)}]`
/** join(path, key) as generated code computes it: one concatenation with a constant (~7% of a filter dump's decoding). */
const childPath = (key: string) =>
  `(path === '' ? ${JSON.stringify(key)} : path + ${JSON.stringify(`.${key}`)})`

/** A reverse lookup of enum names: a dense array when the values are small, else a Map. */
function enumTable(names: Readonly<Record<string, number>>): Array<string | undefined> | Map<number, string> {
  const m = reverse(names)
  let max = 0
  for (const v of m.keys())
    if (Number.isInteger(v) && v >= 0 && v < 4096) max = Math.max(max, v)
    else return m
  const table = new Array<string | undefined>(max + 1).fill(undefined)
  for (const [v, k] of m) table[v] = k
  return table
}

/**
 * Compiles the decoder of an attribute set from its declaration, once: one function with a
 * `switch` on the attribute type, integers and strings read inline, results stored as named
 * properties (so decoded objects keep fast, shared shapes), and no path string built unless
 * something is wrong or a nested codec needs one.
 */
function compileSetDecoder(entries: Array<[string, AttrDecl]>, picked?: ReadonlySet<string>): SetDecoder {
  return compile<SetDecoder>((ref) => setDecoderSource(entries, ref, picked), {
    DecodeError,
    RawAttr,
    tooShort,
    readU64,
    repeatedString,
    macString,
  })
}

function setDecoderSource(
  entries: Array<[string, AttrDecl]>,
  ref: (value: unknown) => string,
  picked: ReadonlySet<string> | undefined,
): string {
  const cases: string[] = []
  const submsgs: string[] = []
  const locals: string[] = []
  const slots: string[] = []
  for (const [key, d] of entries) {
    if (picked && !picked.has(key)) {
      // Known, so not an unknown attribute; not asked for, so not decoded at all.
      cases.push(`case ${d.id}: break`)
      continue
    }
    const store = (v: string) => (d.multi ? `(${prop(key)} ??= []).push(${v})` : `${prop(key)} = ${v}`)
    const need = (n: number, kind: string) =>
      `if (e - s < ${n}) throw tooShort(${JSON.stringify(kind)}, ${n}, s, e, path, ${JSON.stringify(key)});`
    let body: string
    switch (d.kind) {
      case 'int':
        body = `${need(INT_WIDTH[d.width], d.width)} ${store(intReadExpr(d.width, 's'))}`
        break
      case 'big':
        body = `${need(8, d.width)} ${store(d.width === 'u64' ? 'readU64(buf, s)' : 'buf.readBigInt64LE(s)')}`
        break
      case 'string':
        body = store(`repeatedString(buf, s, e, ${ref({ value: '', length: -1 })})`)
        break
      case 'binary':
        // A view into the received datagram: no copy per attribute.
        body = store('buf.subarray(s, e)')
        break
      case 'opaque':
        body = store(`new RawAttr(${d.id}, buf, s, e)`)
        break
      case 'mac':
        body = store(`macString(buf, s, e, ${ref({ key: -1, value: '' })})`)
        break
      case 'flag':
        body = store('true')
        break
      case 'enum': {
        const t = enumTable(d.names)
        const lookup = Array.isArray(t) ? `${ref(t)}[v]` : `${ref(t)}.get(v)`
        body = `{ ${need(INT_WIDTH[d.width], d.width)} const v = ${intReadExpr(d.width, 's')}; ${store(`${lookup} ?? v`)} }`
        break
      }
      case 'codec': {
        // Resolved on first use: declarations may refer to sets declared after them.
        const slot = `codec${slots.length}`
        slots.push(slot)
        const get = ref(d.get)
        body = store(`(${slot} ??= ${get}()).decodeFrom(buf, s, e, ${childPath(key)})`)
        break
      }
      case 'submsg': {
        // Decoded once the whole set is read: the selector may come after it.
        const i = submsgs.length
        locals.push(`let m${i}s = -1, m${i}e = 0`)
        body = `m${i}s = s; m${i}e = e`
        const codecs = ref(new Map(Object.entries(d.codecs)))
        const cache = ref(new Map<string, Codec<unknown>>())
        submsgs.push(`if (m${i}s >= 0) {
  const sel = ${prop(d.selector)}
  let c = typeof sel === 'string' ? ${cache}.get(sel) : undefined
  if (c === undefined && typeof sel === 'string') { const get = ${codecs}.get(sel); if (get !== undefined) ${cache}.set(sel, (c = get())) }
  ${prop(key)} = c === undefined ? buf.subarray(m${i}s, m${i}e) : c.decodeFrom(buf, m${i}s, m${i}e, ${childPath(key)})
}`)
        break
      }
      default:
        body = store(`${ref(makeDecoder(d, d.id))}(buf, s, e, path, ${JSON.stringify(key)})`)
    }
    cases.push(`case ${d.id}: ${body}; break`)
  }
  // A picked view has every key from the start, so all views share one shape with no growth.
  const init = picked ? [...picked, 'unknownAttrs'].map((k) => `this[${JSON.stringify(k)}] = undefined`) : []
  return `${slots.length ? `let ${slots.join(', ')}` : ''}
function View() { ${init.join('; ')} }
return function decodeAttrs(buf, start, end, path) {
  if (end > buf.length) throw new DecodeError('attributes run past the buffer', path, start)
  const out = ${picked ? 'new View()' : '{}'}
  ${locals.join('\n')}
  let off = start
  while (off < end) {
    if (end - off < 4) throw new DecodeError(\`truncated attribute header (\${end - off} bytes)\`, path, off)
    const len = buf[off] | (buf[off + 1] << 8)
    if (len < 4 || off + len > end)
      throw new DecodeError(\`attribute length \${len} does not fit (\${end - off} bytes left)\`, path, off)
    const type = (buf[off + 2] | (buf[off + 3] << 8)) & ${NLA_TYPE_MASK}
    const s = off + 4
    const e = off + len
    switch (type) {
      ${cases.join('\n      ')}
      default: (out.unknownAttrs ??= []).push(new RawAttr(type, buf, s, e))
    }
    off += (len + 3) & ~3
  }
  ${submsgs.join('\n')}
  return out
}`
}

const reverseCache = new WeakMap<object, Map<number, string>>()
function reverse(names: Readonly<Record<string, number>>): Map<number, string> {
  let m = reverseCache.get(names)
  if (!m) {
    m = new Map()
    for (const [k, v] of Object.entries(names)) if (!m.has(v)) m.set(v, k)
    reverseCache.set(names, m)
  }
  return m
}

/** Walks a stream of attributes; `fn` gets each one's type (flags stripped) and payload bounds. */
export function forEachAttr(
  buf: Buffer,
  start: number,
  end: number,
  path: string,
  fn: (type: number, payloadStart: number, payloadEnd: number) => void,
): void {
  if (end > buf.length) throw new DecodeError('attributes run past the buffer', path, start)
  let off = start
  while (off < end) {
    if (end - off < 4) throw new DecodeError(`truncated attribute header (${end - off} bytes)`, path, off)
    const len = buf.readUInt16LE(off)
    if (len < 4 || off + len > end)
      throw new DecodeError(`attribute length ${len} does not fit (${end - off} bytes left)`, path, off)
    fn(buf.readUInt16LE(off + 2) & NLA_TYPE_MASK, off + 4, off + len)
    off += (len + 3) & ~3
  }
}

/** Declares an attribute set. */
export function attrSet<const D extends AttrDecls>(name: string, decls: D): AttrSet<D> {
  const entries: Array<[string, AttrDecl]> = []
  const encoders: Record<string, { id: number; multi: boolean; encode: SingleEncoder } | undefined> =
    Object.create(null)
  for (const [key, decl] of Object.entries(decls)) {
    if (key === 'unknownAttrs') throw new Error(`${name}: 'unknownAttrs' is reserved`)
    // Decoding: a later declaration of the same id wins, as it always has.
    const dup = entries.findIndex(([, d]) => d.id === decl.id)
    if (dup >= 0) entries.splice(dup, 1)
    entries.push([key, decl])
    encoders[key] = { id: decl.id, multi: decl.multi === true, encode: singleEncoder(decl) }
  }
  const set: AttrSet<D> = {
    name,
    decls,
    encodeInto(w, value, path) {
      const v = value as Record<string, unknown>
      for (const key in v) {
        const x = v[key]
        if (x === undefined) continue
        if (key === 'unknownAttrs') {
          for (const raw of x as RawAttr[]) {
            const at = w.reserve(4)
            const dataAt = w.reserve(raw.length)
            w.buf.set(raw.data, dataAt)
            writeHeader(w, at, raw.type, w.child(path, 'unknownAttrs'))
            w.align()
          }
          continue
        }
        const e = encoders[key]
        if (!e) throw new EncodeError(`'${key}' is not an attribute of ${name}`, path)
        const p = w.child(path, key)
        if (e.multi) {
          for (const item of x as unknown[]) {
            e.encode(w, e.id, item, p, v)
            w.align()
          }
        } else {
          e.encode(w, e.id, x, p, v)
          w.align()
        }
      }
    },
    decodeFrom: compileSetDecoder(entries) as AttrSet<D>['decodeFrom'],
    encode(value) {
      const w = new Writer(256, 'name')
      set.encodeInto(w, value, '')
      return Buffer.from(w.bytes())
    },
    decode(buf, start = 0, end = buf.length) {
      return set.decodeFrom(buf, start, end, '')
    },
    picker(keys) {
      const picked = new Set<string>(keys)
      for (const k of keys) {
        const d = decls[k]
        if (d?.kind === 'submsg' && !picked.has(d.selector))
          throw new Error(`${name}.${k}: pick its selector '${d.selector}' too`)
      }
      return compileSetDecoder(entries, picked) as Picker<D, (typeof keys)[number]>
    },
  }
  return set
}

/** The attribute set with no attributes (a kind with no data, a family read only as raw messages). */
export const noAttrs: AttrSet<Record<string, never>> = attrSet('none', {})
