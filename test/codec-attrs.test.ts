import { describe, expect, test } from 'vitest'
import {
  attr,
  attrSet,
  bytes,
  cstring,
  DecodeError,
  EncodeError,
  intArray,
  pad,
  type SetValue,
  struct,
} from '../src/netlink/codec/index.ts'

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex')

const inner = attrSet('inner', {
  a: attr.u8(1),
  b: attr.string(2),
})

const sample = attrSet('sample', {
  u8: attr.u8(1),
  u16: attr.u16(2),
  u32: attr.u32(3),
  u64: attr.u64(4),
  s32: attr.s32(5),
  s64: attr.s64(6),
  be16: attr.be16(7),
  be32: attr.be32(8),
  str: attr.string(9),
  bin: attr.binary(10),
  flag: attr.flag(11),
  color: attr.enum(12, 'u32', { red: 1, green: 2 }),
  bits: attr.flags(13, 'u32', { up: 1, running: 0x40 }),
  nest: attr.nest(14, () => inner),
  list: attr.indexed(15, { kind: 'codec', get: () => inner }),
  tags: attr.multi(attr.string(16)),
  table: attr.array(17, 'u32'),
  pair: attr.struct(18, struct('pair', { x: 'u16', y: 'be16' })),
  kind: attr.string(19),
  data: attr.submsg(20, 'kind', { inner: () => inner }),
})

describe('attribute encoding, byte for byte', () => {
  test('integers of every width, in host or network order', () => {
    expect(hex(sample.encode({ u8: 0xab }))).toBe('05000100ab000000')
    expect(hex(sample.encode({ u16: 0x1234 }))).toBe('0600020034120000')
    expect(hex(sample.encode({ u32: 0x12345678 }))).toBe('0800030078563412')
    expect(hex(sample.encode({ u64: 0x0102030405060708n }))).toBe('0c0004000807060504030201')
    expect(hex(sample.encode({ s32: -2 }))).toBe('08000500feffffff')
    expect(hex(sample.encode({ s64: -1n }))).toBe('0c000600ffffffffffffffff')
    expect(hex(sample.encode({ be16: 4789 }))).toBe('0600070012b50000')
    expect(hex(sample.encode({ be32: 0x0a000001 }))).toBe('080008000a000001')
  })

  test('strings are NUL-terminated and padded; binary is raw; flags have no payload', () => {
    expect(hex(sample.encode({ str: 'eth0' }))).toBe('090009006574683000000000')
    expect(hex(sample.encode({ bin: Uint8Array.of(1, 2, 3) }))).toBe('07000a0001020300')
    expect(hex(sample.encode({ flag: true }))).toBe('04000b00')
  })

  test('enums and bit flags take names or numbers', () => {
    expect(hex(sample.encode({ color: 'green' }))).toBe('08000c0002000000')
    expect(hex(sample.encode({ color: 7 }))).toBe('08000c0007000000')
    expect(hex(sample.encode({ bits: ['up', 'running'] }))).toBe('08000d0041000000')
  })

  test('nests carry NLA_F_NESTED; indexed entries are numbered from 1', () => {
    expect(hex(sample.encode({ nest: { a: 5 } }))).toBe('0c000e80' + '05000100' + '05000000')
    expect(hex(sample.encode({ list: [{ a: 1 }, { a: 2 }] }))).toBe(
      '1c000f80' + '0c000180' + '0500010001000000' + '0c000280' + '0500010002000000',
    )
  })

  test('repeated attributes, packed arrays and structs', () => {
    expect(hex(sample.encode({ tags: ['a', 'b'] }))).toBe('0600100061000000' + '0600100062000000')
    expect(hex(sample.encode({ table: [1, 2] }))).toBe('0c0011000100000002000000')
    expect(hex(sample.encode({ pair: { x: 1, y: 2 } }))).toBe('0800120001000002') // a struct is not a nest
  })

  test('a sub-message is encoded by the format its selector names', () => {
    const bytes = sample.encode({ kind: 'inner', data: { b: 'x' } })
    expect(hex(bytes)).toBe('0a001300' + '696e6e6572000000' + '0c001480' + '06000200' + '78000000')
  })
})

describe('buffer growth', () => {
  test('values written just as the buffer grows land in the grown buffer', () => {
    // The writer starts at 256 bytes; each attribute below straddles a growth point somewhere.
    for (let pad = 200; pad < 280; pad++) {
      const value = {
        bin: new Uint8Array(pad).fill(7),
        u32: 0x12345678,
        u64: 0x0102030405060708n,
        be16: 4789,
      }
      expect(sample.decode(sample.encode(value))).toEqual({ ...value, bin: Buffer.from(value.bin) })
    }
  })
})

describe('attribute decoding', () => {
  test('every kind round-trips', () => {
    const value: SetValue<typeof sample> = {
      u8: 1,
      u16: 2,
      u32: 3,
      u64: 4n,
      s32: -5,
      s64: -6n,
      be16: 7,
      be32: 8,
      str: 'nine',
      bin: Buffer.from([10]),
      flag: true,
      color: 'red',
      bits: ['up'],
      nest: { a: 1, b: 'z' },
      list: [{ a: 1 }, { b: 'q' }],
      tags: ['x', 'y', 'z'],
      table: [3, 2, 1, 0],
      pair: { x: 9, y: 4789 },
      kind: 'inner',
      data: { a: 3 },
    }
    const decoded = sample.decode(sample.encode(value))
    expect(decoded).toEqual(value)
  })

  test('unknown enum values and flag bits stay numbers', () => {
    const b = Buffer.from('08000c0009000000' + '08000d0003010000', 'hex')
    expect(sample.decode(b)).toEqual({ color: 9, bits: ['up', 0x102] })
  })

  test('unknown attributes are kept raw, and re-encode unchanged', () => {
    const b = Buffer.from('05000100ab000000' + '08006300deadbeef', 'hex')
    const v = sample.decode(b)
    expect(v.u8).toBe(0xab)
    expect(v.unknownAttrs?.map((a) => [a.type, hex(a.data)])).toEqual([[0x63, 'deadbeef']])
    expect(hex(sample.encode(v))).toBe(hex(b))
  })

  test('a sub-message with an unknown selector is kept as bytes', () => {
    const b = sample.encode({ kind: 'other', data: Buffer.from([1, 2, 3, 4]) })
    expect(sample.decode(b)).toEqual({ kind: 'other', data: Buffer.from([1, 2, 3, 4]) })
  })

  test('truncated or lying lengths give DecodeError with a path', () => {
    const good = sample.encode({ nest: { a: 1 } })
    expect(() => sample.decode(good.subarray(0, 6))).toThrow(DecodeError)
    const lying = Buffer.from(good)
    lying.writeUInt16LE(40, 0)
    expect(() => sample.decode(lying)).toThrow(/attribute length 40 does not fit/)
    const short = Buffer.from('0500030001000000', 'hex') // a u32 with one byte
    try {
      sample.decode(short)
      expect.unreachable()
    } catch (e) {
      expect(e).toBeInstanceOf(DecodeError)
      expect((e as DecodeError).path).toBe('u32')
    }
    const nestedShort = Buffer.from('0c000e80050001000' + '0000000', 'hex')
    nestedShort.writeUInt16LE(3, 4) // inner attribute length 3 < 4
    expect(() => sample.decode(nestedShort)).toThrow(/^nest: /)
  })

  test('an attribute length below 4 never loops', () => {
    expect(() => sample.decode(Buffer.from('0000010000000000', 'hex'))).toThrow(DecodeError)
  })

  test('a selector naming an Object.prototype member is not a format', () => {
    const b = sample.encode({ kind: 'constructor', data: Buffer.from([1, 2, 3, 4]) })
    expect(sample.decode(b)).toEqual({ kind: 'constructor', data: Buffer.from([1, 2, 3, 4]) })
  })
})

describe('repeated values', () => {
  const named = attrSet('named', { kind: attr.string(1), mac: attr.mac(2) })
  test('equal strings and addresses in successive messages decode to the same values', () => {
    const values = [
      { kind: 'noop', mac: 'ff:ff:ff:ff:ff:ff' },
      { kind: 'noop', mac: 'ff:ff:ff:ff:ff:ff' },
      { kind: 'noqueue', mac: 'ff:ff:ff:ff:ff:fe' },
      { kind: 'noo', mac: '00:00:00:00:00:00' },
      { kind: 'é', mac: '01:02:03:04:05:06:07:08' },
      { kind: 'é', mac: '80:00:00:00:00:01' },
      { kind: 'e', mac: '80:00:00:00:00:01' },
    ]
    for (const v of values) expect(named.decode(named.encode(v))).toEqual(v)
    const invalid = Buffer.from('06000100ff410000', 'hex') // 0xff 'A': not UTF-8, as many chars as bytes
    expect(named.decode(invalid).kind).toBe('\ufffdA')
    expect(named.decode(invalid).kind).toBe('\ufffdA')
  })
})

describe('pickers', () => {
  const b = sample.encode({ u8: 1, u32: 3, str: 'x', tags: ['a', 'b'], kind: 'inner', data: { a: 7 } })
  const withUnknown = Buffer.concat([b, Buffer.from('08006300deadbeef', 'hex')])

  test('decode only the picked attributes, every key present in one shape', () => {
    const pick = sample.picker(['u32', 'tags', 'kind', 'data', 'color'])
    const v = pick(withUnknown, 0, withUnknown.length, '')
    expect(Object.keys(v).sort()).toEqual(['color', 'data', 'kind', 'tags', 'u32', 'unknownAttrs'])
    expect({ ...v, unknownAttrs: v.unknownAttrs?.map((a) => a.type) }).toEqual({
      u32: 3,
      tags: ['a', 'b'],
      kind: 'inner',
      data: { a: 7 },
      color: undefined,
      unknownAttrs: [0x63],
    })
    expect(Object.getPrototypeOf(pick(b, 0, b.length, ''))).toBe(Object.getPrototypeOf(v))
  })

  test('skipped attributes are not decoded; picked ones check their length', () => {
    const short = Buffer.from('0500030001000000', 'hex') // a u32 with one byte
    expect(sample.picker(['u8'])(short, 0, short.length, '')).toEqual({ u8: undefined })
    expect(() => sample.picker(['u32'])(short, 0, short.length, '')).toThrow(/^u32: u32 needs 4 bytes/)
  })

  test('a sub-message needs its selector', () => {
    expect(() => sample.picker(['data'] as const)).toThrow(/pick its selector 'kind'/)
  })
})

describe('encoding errors', () => {
  test('values that do not fit their width name the attribute', () => {
    expect(() => sample.encode({ u8: 256 })).toThrow(new EncodeError('256 does not fit u8', 'u8'))
    expect(() => sample.encode({ nest: { a: -1 } })).toThrow(/nest\.a/)
    expect(() => sample.encode({ color: 'blue' as 'red' })).toThrow(/unknown value blue/)
    expect(() => sample.encode({ nope: 1 } as never)).toThrow(/'nope' is not an attribute of sample/)
  })

  test('an attribute longer than its 16-bit length can say is refused, not truncated', () => {
    const blobs = attrSet('blobs', { blob: attr.binary(1) })
    const outer = attrSet('outer', { inner: attr.nest(2, () => blobs) })
    const big = new Uint8Array(70_000)
    expect(() => blobs.encode({ blob: big })).toThrow(new EncodeError('70004 does not fit u16', 'blob'))
    expect(() => outer.encode({ inner: { blob: big } })).toThrow(/inner\.blob: 70004 does not fit u16/)
  })
})

describe('structs', () => {
  const rate = struct('rate', { cell: 'u8', rate: 'u32' })
  const full = struct(
    'full',
    {
      a: 'u16',
      b: 'be16',
      big: 'u64',
      gap: pad(2),
      tag: bytes(2),
      name: cstring(6),
      inner: rate,
      list: intArray('u16', 2),
      tail: 'u32',
    },
    { minSize: 4 },
  )
  const value = {
    a: 1,
    b: 0x203,
    big: 2n ** 40n,
    tag: Buffer.from([9, 8]),
    name: 'eth0',
    inner: { cell: 3, rate: 1000 },
    list: [5, 6],
    tail: 7,
  }

  test('round-trip, and an older, shorter version reads what it has: integers past its end as 0', () => {
    const b = full.encode(value)
    expect(b.length).toBe(full.size)
    expect(full.decode(b)).toEqual(value)
    // Cut inside `big`: the integers after the cut read 0, other fields are absent.
    expect(full.decode(b, 0, 'full', 8)).toEqual({ a: 1, b: 0x203, big: 0n, tail: 0 })
    // Cut after `name`: what came before is read as usual.
    const upToName = 2 + 2 + 8 + 2 + 2 + 6
    expect(full.decode(b, 0, 'full', upToName)).toEqual({
      ...value,
      inner: undefined,
      list: undefined,
      tail: 0,
    })
    expect(() => full.decode(b, 0, 'full', 3)).toThrow(/full needs 4 bytes, has 3/)
  })
})
