import { describe, expect, it } from 'vitest'
import {
  cachedToeplitzTable,
  MICROSOFT_RSS_KEY_HEX,
  microsoftRssKey,
  toeplitz,
  toeplitzHasher,
  toeplitzPart,
  toeplitzTable,
} from '../src/tuntap/toeplitz.ts'
import { hashInput } from './helpers/frames.ts'
import { Prng } from './helpers/prng.ts'
import { toeplitzReference } from './helpers/toeplitz-reference.ts'

// The standard verification suite: [destination, dst port, source, src port, IP only, IP + ports].
const VECTORS: [string, number, string, number, number, number][] = [
  ['161.142.100.80', 1766, '66.9.149.187', 2794, 0x323e8fc2, 0x51ccc178],
  ['65.69.140.83', 4739, '199.92.111.2', 14230, 0xd718262a, 0xc626b0ea],
  ['12.22.207.184', 38024, '24.19.198.95', 12898, 0xd2d0a5de, 0x5c2b394a],
  ['209.142.163.6', 2217, '38.27.205.30', 48228, 0x82989176, 0xafc7327f],
  ['202.188.127.2', 1303, '153.39.163.191', 44251, 0x5d1809c5, 0x10e828a2],
  ['3ffe:2501:200:3::1', 1766, '3ffe:2501:200:1fff::7', 2794, 0x2cc18cd5, 0x40207d3d],
  ['ff02::1', 4739, '3ffe:501:8::260:97ff:fe40:efab', 14230, 0x0f0c461c, 0xdde51bbf],
  ['fe80::200:f8ff:fe21:67cf', 38024, '3ffe:1900:4545:3:200:f8ff:fe21:67cf', 44251, 0x4b61e985, 0x02d1feef],
]

describe('toeplitz: the 16 standard vectors', () => {
  const key = microsoftRssKey()
  for (const [dst, dport, src, sport, ipOnly, withPorts] of VECTORS) {
    it(`${src}:${sport} -> ${dst}:${dport}`, () => {
      const ip = hashInput(src, dst)
      const full = hashInput(src, dst, { srcPort: sport, dstPort: dport })
      expect(ip.length).toBe(src.includes(':') ? 32 : 8)
      expect(full.length).toBe(ip.length + 4)
      expect(toeplitz(key, ip)).toBe(ipOnly)
      expect(toeplitz(key, full)).toBe(withPorts)
      expect(toeplitzReference(key, ip)).toBe(ipOnly)
      expect(toeplitzReference(key, full)).toBe(withPorts)
      const h = toeplitzHasher(key)
      expect(h(ip)).toBe(ipOnly)
      expect(h(full)).toBe(withPorts)
    })
  }
})

describe('toeplitz: against the bitwise reference', () => {
  it('agrees on 12,000 seeded random keys and inputs (0..36 bytes)', () => {
    const rng = new Prng(0x7e57)
    for (let n = 0; n < 12_000; n++) {
      const key = rng.bytes(40)
      const input = rng.bytes(rng.int(37))
      const expected = toeplitzReference(key, input)
      expect(toeplitz(key, input)).toBe(expected)
    }
  })

  it('agrees for other key lengths (5..64 bytes) and full-length inputs', () => {
    const rng = new Prng(99)
    for (let n = 0; n < 600; n++) {
      const key = rng.bytes(5 + rng.int(60))
      const input = rng.bytes(key.length - 4)
      expect(toeplitzHasher(key)(input)).toBe(toeplitzReference(key, input))
    }
  })

  it('many inputs under one cached key', () => {
    const rng = new Prng(4242)
    const key = rng.bytes(40)
    for (let n = 0; n < 2_000; n++) {
      const input = rng.bytes(rng.int(37))
      expect(toeplitz(key, input)).toBe(toeplitzReference(key, input))
    }
  })
})

describe('toeplitz: API details', () => {
  it('the default key is the Microsoft key and each call returns a copy', () => {
    const a = microsoftRssKey()
    expect(Buffer.from(a).toString('hex')).toBe(MICROSOFT_RSS_KEY_HEX)
    a[0] = 0
    expect(microsoftRssKey()[0]).toBe(0x6d)
  })

  it('returns unsigned 32-bit values', () => {
    const h = toeplitz(
      microsoftRssKey(),
      hashInput('66.9.149.187', '161.142.100.80', { srcPort: 2794, dstPort: 1766 }),
    )
    expect(h).toBeGreaterThanOrEqual(0)
    expect(Number.isInteger(h)).toBe(true)
  })

  it('the empty input hashes to 0', () => {
    expect(toeplitz(microsoftRssKey(), new Uint8Array(0))).toBe(0)
  })

  it('refuses inputs longer than key.length - 4', () => {
    expect(() => toeplitz(microsoftRssKey(), new Uint8Array(37))).toThrow(RangeError)
    expect(() => toeplitzHasher(microsoftRssKey())(new Uint8Array(37))).toThrow(RangeError)
    expect(() => toeplitzTable(new Uint8Array(4))).toThrow(RangeError)
  })

  it('notices a key modified in place (the cache compares bytes)', () => {
    const rng = new Prng(5)
    const key = rng.bytes(40)
    const input = rng.bytes(36)
    expect(toeplitz(key, input)).toBe(toeplitzReference(key, input))
    const before = cachedToeplitzTable(key)
    key[17] = key[17]! ^ 0xff
    expect(toeplitz(key, input)).toBe(toeplitzReference(key, input))
    expect(cachedToeplitzTable(key)).not.toBe(before)
  })

  it('also for unaligned keys (checked byte by byte)', () => {
    const rng = new Prng(8)
    const backing = rng.bytes(41)
    const key = backing.subarray(1)
    const input = rng.bytes(36)
    const before = toeplitz(key, input)
    expect(before).toBe(toeplitzReference(key, input))
    const table = cachedToeplitzTable(key)
    backing[20] = backing[20]! ^ 0x80
    expect(toeplitz(key, input)).toBe(toeplitzReference(key, input))
    expect(toeplitz(key, input)).not.toBe(before)
    expect(cachedToeplitzTable(key)).not.toBe(table)
  })

  it('a hasher snapshots its key', () => {
    const rng = new Prng(6)
    const key = rng.bytes(40)
    const input = rng.bytes(12)
    const h = toeplitzHasher(key)
    const expected = toeplitzReference(key, input)
    key.fill(0)
    expect(h(input)).toBe(expected)
  })

  it('hashes a sub-range, and parts compose by XOR at their positions', () => {
    const rng = new Prng(7)
    const key = rng.bytes(40)
    const input = rng.bytes(36)
    const framed = new Uint8Array(50)
    framed.set(input, 9)
    expect(toeplitzHasher(key)(framed, 9, 45)).toBe(toeplitzReference(key, input))
    const t = toeplitzTable(key)
    const parts =
      toeplitzPart(t, input, 0, 16, 0) ^
      toeplitzPart(t, input, 16, 32, 16) ^
      toeplitzPart(t, input, 32, 36, 32)
    expect(parts >>> 0).toBe(toeplitzReference(key, input))
  })
})
