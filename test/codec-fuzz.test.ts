import { readFileSync } from 'node:fs'
import { expect, test } from 'vitest'
import { DecodeError, decodeMessage, parseAck, parseMessages } from '../src/netlink/codec/index.ts'
import { linkMessage } from '../src/netlink/route/link-attrs.ts'

const seeds = readFileSync(new URL('./fixtures/link-dump.hex', import.meta.url), 'utf8')
  .trim()
  .split('\n')
  .map((h) => Buffer.from(h, 'hex'))

/** xorshift32: deterministic, so a failure reproduces from its iteration number. */
function rng(seed: number) {
  let s = seed >>> 0 || 1
  return (n: number) => {
    s ^= s << 13
    s >>>= 0
    s ^= s >>> 17
    s ^= s << 5
    s >>>= 0
    return s % n
  }
}

function mutate(src: Buffer, r: (n: number) => number): Buffer {
  const b = Buffer.from(src)
  const edits = 1 + r(4)
  for (let i = 0; i < edits; i++) {
    switch (r(6)) {
      case 0: // flip a bit
        b[r(b.length)]! ^= 1 << r(8)
        break
      case 1: // random byte
        b[r(b.length)] = r(256)
        break
      case 2: // corrupt an attribute or header length field (little-endian u16 at an even offset)
        b.writeUInt16LE(r(0x10000), r(b.length >> 1) << 1 || 0)
        break
      case 3: // truncate
        return b.subarray(0, r(b.length))
      case 4: // zero a run
        b.fill(0, r(b.length), r(b.length))
        break
      default: // small length values, the usual off-by-one suspects
        b.writeUInt16LE(r(9), Math.min(b.length - 2, (r(b.length >> 2) << 2) + 16))
    }
  }
  return b
}

test('100,000 mutated messages decode to values or DecodeError, nothing else', () => {
  const r = rng(0x5eed)
  let decoded = 0
  let rejected = 0
  for (let i = 0; i < 100_000; i++) {
    const input =
      i % 10 === 9
        ? Buffer.from(Array.from({ length: r(200) }, () => r(256)))
        : mutate(seeds[r(seeds.length)]!, r)
    try {
      for (const m of parseMessages(input)) {
        if (m.type === 2) parseAck(m)
        else decodeMessage(linkMessage, m)
      }
      decoded++
    } catch (e) {
      if (!(e instanceof DecodeError))
        throw new Error(`iteration ${i}: ${String(e)} for ${input.toString('hex')}`)
      rejected++
    }
  }
  expect(decoded + rejected).toBe(100_000)
  // Both outcomes must be common, or the mutations are not exercising the decoder.
  expect(decoded).toBeGreaterThan(10_000)
  expect(rejected).toBeGreaterThan(10_000)
})
