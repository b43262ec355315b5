import { describe, expect, it } from 'vitest'
import { parseRssConfig, RssConfigError, rssConfigSchema } from '../src/tuntap/rss-config.ts'
import {
  ALL_HASH_TYPES_MASK,
  HASH_REPORT_VALUE,
  HASH_REPORTS,
  HASH_TYPE_BIT,
  HASH_TYPES,
  hashReportName,
  hashTypesToMask,
  maskToHashTypes,
  reportForHashType,
  unknownHashTypeBits,
} from '../src/tuntap/rss-hash-types.ts'
import { MICROSOFT_RSS_KEY_HEX } from '../src/tuntap/toeplitz.ts'

const base = { hashTypes: ['tcpv4', 'ipv4'] as const, table: [0, 1, 2, 3], defaultQueue: 0 }

function errorOf(fn: () => unknown): RssConfigError {
  try {
    fn()
  } catch (e) {
    if (e instanceof RssConfigError) return e
    throw e
  }
  throw new Error('expected an RssConfigError')
}

describe('hash type and report numbering', () => {
  it('bits follow virtio (IPv4 0 … UDP_EX 8)', () => {
    expect(HASH_TYPE_BIT).toEqual({
      ipv4: 0,
      tcpv4: 1,
      udpv4: 2,
      ipv6: 3,
      tcpv6: 4,
      udpv6: 5,
      ipv6_ex: 6,
      tcpv6_ex: 7,
      udpv6_ex: 8,
    })
    expect(hashTypesToMask(['ipv4', 'tcpv4', 'udpv4'])).toBe(0x7)
    expect(hashTypesToMask(['ipv6', 'tcpv6', 'udpv6'])).toBe(0x38)
    expect(hashTypesToMask(['ipv6_ex', 'tcpv6_ex', 'udpv6_ex'])).toBe(0x1c0)
    expect(hashTypesToMask(HASH_TYPES)).toBe(ALL_HASH_TYPES_MASK)
    expect(maskToHashTypes(0x3f)).toEqual(['ipv4', 'tcpv4', 'udpv4', 'ipv6', 'tcpv6', 'udpv6'])
    expect(maskToHashTypes(0x200 | 0x80)).toEqual(['tcpv6_ex'])
    expect(unknownHashTypeBits(0x3ff)).toBe(0x200)
  })

  it('report values follow virtio (NONE 0 … UDPv6_EX 9) and report = bit + 1', () => {
    expect(HASH_REPORT_VALUE).toEqual({
      none: 0,
      ipv4: 1,
      tcpv4: 2,
      udpv4: 3,
      ipv6: 4,
      tcpv6: 5,
      udpv6: 6,
      ipv6_ex: 7,
      tcpv6_ex: 8,
      udpv6_ex: 9,
    })
    expect(HASH_REPORTS).toHaveLength(10)
    for (const t of HASH_TYPES) expect(HASH_REPORT_VALUE[reportForHashType(t)]).toBe(HASH_TYPE_BIT[t] + 1)
    expect(hashReportName(7)).toBe('ipv6_ex')
    expect(hashReportName(0)).toBe('none')
    expect(hashReportName(10)).toBeUndefined()
  })
})

describe('parseRssConfig', () => {
  it('fills in the Microsoft key and normalizes hash types', () => {
    const c = parseRssConfig({ ...base, hashTypes: ['udpv6', 'ipv4', 'tcpv4', 'ipv4'] })
    expect(Buffer.from(c.key).toString('hex')).toBe(MICROSOFT_RSS_KEY_HEX)
    expect(c.hashTypes).toEqual(['ipv4', 'tcpv4', 'udpv6'])
    expect(c.table).toEqual([0, 1, 2, 3])
    expect(c.defaultQueue).toBe(0)
  })

  it('accepts the key as Uint8Array, Buffer, hex and colon-separated hex, and copies it', () => {
    const bytes = Buffer.from(MICROSOFT_RSS_KEY_HEX, 'hex')
    const colon = MICROSOFT_RSS_KEY_HEX.match(/../g)!.join(':')
    for (const key of [
      new Uint8Array(bytes),
      bytes,
      MICROSOFT_RSS_KEY_HEX,
      colon,
      MICROSOFT_RSS_KEY_HEX.toUpperCase(),
    ]) {
      const c = parseRssConfig({ ...base, key })
      expect(Buffer.from(c.key).toString('hex')).toBe(MICROSOFT_RSS_KEY_HEX)
      expect(c.key).not.toBe(key)
    }
    const mine = new Uint8Array(40).fill(1)
    const c = parseRssConfig({ ...base, key: mine })
    mine[0] = 9
    expect(c.key[0]).toBe(1)
  })

  it('rejects keys that are not exactly 40 bytes or not hex', () => {
    expect(errorOf(() => parseRssConfig({ ...base, key: new Uint8Array(16) })).message).toBe(
      'key: must be exactly 40 bytes, got 16',
    )
    expect(errorOf(() => parseRssConfig({ ...base, key: 'abc' })).field).toBe('key')
    expect(errorOf(() => parseRssConfig({ ...base, key: 'zz'.repeat(40) })).message).toMatch(
      /^key: is not a hex string/,
    )
    expect(errorOf(() => parseRssConfig({ ...base, key: 42 })).message).toBe(
      'key: must be a Uint8Array, a Buffer or a hex string',
    )
  })

  it('names the table entry beyond the device queues', () => {
    const e = errorOf(() => parseRssConfig({ ...base, table: [0, 1, 2, 3, 0, 9, 1, 2] }, { queues: 4 }))
    expect(e).toBeInstanceOf(RssConfigError)
    expect(e.name).toBe('RssConfigError')
    expect(e.field).toBe('table[5]')
    expect(e.message).toBe("table[5]: queue 9 is beyond the device's 4 queues")
    expect(e.issues).toEqual([{ field: 'table[5]', message: "queue 9 is beyond the device's 4 queues" }])
  })

  it('reports every problem, the default queue included', () => {
    const e = errorOf(() => parseRssConfig({ ...base, table: [1, 5], defaultQueue: 1 }, { queues: 1 }))
    expect(e.issues.map((i) => `${i.field}: ${i.message}`)).toEqual([
      "table[0]: queue 1 is beyond the device's 1 queue",
      "table[1]: queue 5 is beyond the device's 1 queue",
      "defaultQueue: queue 1 is beyond the device's 1 queue",
    ])
  })

  it('requires a power-of-two table within the back end maximum', () => {
    expect(errorOf(() => parseRssConfig({ ...base, table: [0, 1, 2] })).message).toBe(
      'table: length 3 is not a power of two',
    )
    expect(errorOf(() => parseRssConfig({ ...base, table: [] })).message).toBe(
      'table: must have at least one entry',
    )
    expect(errorOf(() => parseRssConfig({ ...base, table: new Array(256).fill(0) })).message).toBe(
      'table: 256 entries exceed the maximum of 128',
    )
    expect(
      parseRssConfig({ ...base, table: new Array(256).fill(0) }, { maxTableLength: 256 }).table,
    ).toHaveLength(256)
    expect(parseRssConfig({ ...base, table: [7] }).table).toEqual([7])
  })

  it('rejects bad queue numbers and unknown hash types by field', () => {
    expect(errorOf(() => parseRssConfig({ ...base, table: [0, -1] })).field).toBe('table[1]')
    expect(errorOf(() => parseRssConfig({ ...base, table: [0, 1.5] })).message).toBe(
      'table[1]: must be an integer queue number',
    )
    expect(errorOf(() => parseRssConfig({ ...base, table: [0, 65536] })).field).toBe('table[1]')
    expect(errorOf(() => parseRssConfig({ ...base, defaultQueue: '0' })).field).toBe('defaultQueue')
    const e = errorOf(() => parseRssConfig({ ...base, hashTypes: ['ipv4', 'tcp4'] }))
    expect(e.field).toBe('hashTypes[1]')
    expect(e.message).toMatch(/^hashTypes\[1\]: "tcp4" is not a hash type \(ipv4, tcpv4/)
  })

  it('rejects hash types the back end cannot compute', () => {
    const input = { ...base, hashTypes: ['ipv4', 'tcpv6_ex', 'ipv6_ex'] }
    const e = errorOf(() => parseRssConfig(input, { supportedHashTypes: 0x3f }))
    expect(e.issues.map((i) => i.field)).toEqual(['hashTypes[1]', 'hashTypes[2]'])
    expect(e.issues[0]!.message).toBe(
      "'tcpv6_ex' is not supported by this back end (supported: ipv4, tcpv4, udpv4, ipv6, tcpv6, udpv6)",
    )
    expect(parseRssConfig(input, { supportedHashTypes: HASH_TYPES }).hashTypes).toEqual([
      'ipv4',
      'ipv6_ex',
      'tcpv6_ex',
    ])
  })

  it('rejects unknown fields and missing ones', () => {
    expect(errorOf(() => parseRssConfig({ ...base, defaultqueue: 1 })).issues).toContainEqual({
      field: 'defaultqueue',
      message: 'is not an RSS configuration field',
    })
    expect(errorOf(() => parseRssConfig({ hashTypes: [], defaultQueue: 0 })).field).toBe('table')
    expect(errorOf(() => parseRssConfig(null)).field).toBe('(config)')
  })

  it('an empty hash type list is valid (everything goes to the default queue)', () => {
    expect(parseRssConfig({ ...base, hashTypes: [] }).hashTypes).toEqual([])
  })

  it('the schema is usable directly and a parsed config re-validates against a device', () => {
    const c = rssConfigSchema().parse(base)
    expect(parseRssConfig(c, { queues: 4 })).toEqual(c)
    expect(errorOf(() => parseRssConfig(c, { queues: 2 })).field).toBe('table[2]')
  })
})
