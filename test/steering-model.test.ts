import { describe, expect, it } from 'vitest'
import { classifier, parseSteeringConfig, SteeringConfigError } from '../src/steering/index.ts'
import { parseRssConfig } from '../src/tuntap/rss-config.ts'
import { rssHash, rssQueue } from '../src/tuntap/rss-hash.ts'
import { buildFrame } from './helpers/rss-packets.ts'
import { mixedConfig } from './helpers/steering-frames.ts'

const issues = (input: unknown, limits = {}) => {
  try {
    parseSteeringConfig(input, limits)
  } catch (e) {
    expect(e).toBeInstanceOf(SteeringConfigError)
    return (e as SteeringConfigError).issues.map((i) => `${i.field}: ${i.message}`)
  }
  throw new Error('accepted')
}
const rss = { hashTypes: ['ipv4', 'tcpv4'], table: [0, 1, 2, 3], defaultQueue: 0 }
const tcp4 = (src: string, dst: string, sport: number, dport: number, vlan?: number) => {
  const f = buildFrame({
    ...(vlan !== undefined ? { vlan: [0x8100] } : {}),
    ip: { v: 4, src, dst, proto: 6 },
    ports: { src: sport, dst: dport },
  })
  if (vlan !== undefined) f.writeUInt16BE(vlan, 14)
  return f
}

describe('steering model validation', () => {
  it('names every offending field before anything is done', () => {
    expect(
      issues(
        {
          rss: { ...rss, table: [0, 1, 2] },
          contexts: [
            { id: 0, queues: [1] },
            { id: 2, queues: [9] },
            { id: 2, table: [1] },
            { id: 40, queues: [1] },
          ],
          rules: [
            { match: { srcPort: 80 }, action: { queue: 1 } },
            { match: { src: '10.0.0.0/8', dst: '2001:db8::/32' }, action: { context: 7 } },
            { match: { src: '10.0.0.300/8' }, action: { queue: 1 } },
            { match: {}, action: { context: 7 } },
            { match: { ipProto: 'tcp', etherType: 'arp' }, action: { queue: 1 }, extra: 1 },
          ],
        },
        { queues: 8 },
      ),
    ).toEqual([
      'rss.table: length 3 is not a power of two',
      'contexts[0].id: contexts are numbered from 1 (0 is the default RSS)',
      "contexts[1].queues[0]: queue 9 is beyond the device's 8 queues",
      'contexts[2].id: context 2 is defined twice',
      'contexts[3].id: context ids are at most 32',
      'rules[0].match.srcPort: ports need ipProto tcp, udp or sctp',
      'rules[1].match.dst: src and dst must be of the same IP version',
      'rules[2].match.src: "10.0.0.300/8" is not an IP address or prefix',
      'rules[3].action.context: context 7 is not defined',
      'rules[4].match.ipProto: ipProto needs etherType ipv4 or ipv6',
      'rules[4].extra: is not a known field',
    ])
    expect(
      issues({ rss, rules: Array.from({ length: 513 }, () => ({ match: {}, action: { queue: 0 } })) }),
    ).toEqual(['rules: 513 rules exceed the maximum of 512'])
  })

  it('accepts 256 rules and 16 contexts; sorts rules by priority, stable', () => {
    const c = parseSteeringConfig({
      rss,
      contexts: Array.from({ length: 16 }, (_, i) => ({ id: i + 1, queues: [i % 4] })),
      rules: Array.from({ length: 256 }, (_, i) => ({
        priority: i % 3,
        match: { vlanId: i },
        action: { context: (i % 16) + 1 },
      })),
    })
    expect(c.contexts.size).toBe(16)
    expect(c.rules.map((r) => r.index).slice(0, 4)).toEqual([0, 3, 6, 9])
    expect(c.contexts.get(3)?.table).toHaveLength(128)
  })
})

describe('explain()', () => {
  const c = classifier(mixedConfig())
  const cfg = c.config

  it('first match in priority order; overlapping prefixes; port ranges by mask; VLANs; ARP', () => {
    // 10.1/16 TCP to 4096..8191 → rule 1 (context 2); other ports of 10.1/16 → rule 2 ('ten', context 1)
    expect(c.explain(tcp4('10.1.2.3', '1.1.1.1', 999, 5000))).toMatchObject({
      rule: 1,
      context: 2,
      ruleName: 'ten-one-tcp-4k',
    })
    expect(c.explain(tcp4('10.1.2.3', '1.1.1.1', 999, 8192))).toMatchObject({ rule: 2, context: 1 })
    expect([0, 1]).toContain(c.explain(tcp4('10.1.2.3', '1.1.1.1', 999, 8192)).queue)
    // a VLAN 10 tag wins over everything (rule 0); VLAN 20 does not
    expect(c.explain(tcp4('10.1.2.3', '1.1.1.1', 999, 5000, 10))).toMatchObject({
      rule: 0,
      context: null,
      queue: 7,
    })
    expect(c.explain(tcp4('10.1.2.3', '1.1.1.1', 999, 5000, 20))).toMatchObject({ rule: 1 })
    // the priority-5 rule (8) is tried after every priority-0 rule: 'ten' (2) wins for 10/8
    expect(c.explain(tcp4('10.9.9.9', '192.168.2.2', 443, 80))).toMatchObject({ rule: 2, context: 1 })
    expect(c.explain(tcp4('8.8.8.8', '192.168.2.2', 444, 80))).toMatchObject({ rule: null, context: 0 })
    expect(c.explain(tcp4('8.8.8.8', '192.168.2.2', 443, 80))).toMatchObject({ rule: 8, queue: 3 })
    const arp = Buffer.concat([Buffer.from('ffffffffffff0200000000010806', 'hex'), Buffer.alloc(28)])
    expect(c.explain(arp)).toMatchObject({ rule: 5, queue: 6, hashType: 'none', hash: 0 })
  })

  it('RSS in a context is virtio RSS with the context table, key and hash types', () => {
    const f = tcp4('10.1.2.3', '1.1.1.1', 999, 5000)
    const ctx2 = cfg.contexts.get(2)!
    const e = c.explain(f)
    expect(e.hash).toBe(rssHash(f, ctx2).hash)
    expect(e.hashType).toBe('tcpv4')
    expect(e.queue).toBe(rssQueue(f, ctx2))
    // unmatched traffic: the default RSS
    const g = tcp4('1.2.3.4', '5.6.7.8', 1, 2)
    expect(c.explain(g)).toMatchObject({
      rule: null,
      context: 0,
      queue: rssQueue(g, cfg.rss),
      hash: rssHash(g, cfg.rss).hash,
    })
    // a { queue } rule reports the default configuration's hash
    const dns = buildFrame({
      ip: { v: 4, src: '1.2.3.4', dst: '5.6.7.8', proto: 17 },
      ports: { src: 1, dst: 53 },
    })
    expect(c.explain(dns)).toMatchObject({
      rule: 6,
      queue: 5,
      hashType: 'udpv4',
      hash: rssHash(dns, cfg.rss).hash,
    })
    // context 3 has its own key: same frame, different hash from the default
    const v6 = buildFrame({
      ip: { v: 6, src: 'fd00::1', dst: '2001:db8:1::9', proto: 17 },
      ports: { src: 7, dst: 9 },
    })
    const e3 = c.explain(v6)
    expect(e3).toMatchObject({ rule: 3, context: 3, hashType: 'udpv6' })
    expect(e3.hash).toBe(
      rssHash(
        v6,
        parseRssConfig({
          hashTypes: cfg.contexts.get(3)!.hashTypes,
          key: cfg.contexts.get(3)!.key,
          table: cfg.contexts.get(3)!.table,
          defaultQueue: 5,
        }),
      ).hash,
    )
    expect(e3.hash).not.toBe(rssHash(v6, cfg.rss).hash)
  })
})

describe('a parsed configuration', () => {
  it('parses again to itself, and is checked against new limits', () => {
    const parsed = parseSteeringConfig(mixedConfig())
    expect(parseSteeringConfig(parsed)).toEqual(parsed)
    // The same configuration on a device with fewer queues than it names is refused.
    const maxQueue = Math.max(...parsed.rss.table, ...[...parsed.contexts.values()].flatMap((c) => c.table))
    expect(() => parseSteeringConfig(parsed, { queues: maxQueue })).toThrow(SteeringConfigError)
  })
})
