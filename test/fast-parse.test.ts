// The fast parser must answer exactly as zod does: the same output (keys, order, values) for
// every input zod accepts, and NO_MATCH for every input zod rejects. Checked on the library's own
// schemas over valid inputs and thousands of variants of them, and on a schema built to use the
// zod features the fast parser models or hands back to zod.
import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { channelsChangeSchema, ringsChangeSchema, rssSetSchema } from '../src/ethtool/schema.ts'
import { fastParse, NO_MATCH } from '../src/netlink/fast-parse.ts'
import { linkChangeSchema, linkCreateSchema } from '../src/netlink/route/link-schema.ts'
import { actionSpecSchema } from '../src/netlink/route/tc/action-kinds.ts'
import { filterSpecSchema } from '../src/netlink/route/tc/filter-kinds.ts'
import { classSpecSchema, qdiscSpecSchema } from '../src/netlink/route/tc/qdisc-kinds.ts'
import { rssConfigSchema } from '../src/tuntap/rss-config.ts'

/** A value with its key order, undefined members and byte arrays made visible to toEqual. */
function visible(v: unknown): unknown {
  if (v === undefined) return '<undefined>'
  if (v instanceof Uint8Array) return ['<bytes>', ...v]
  if (Array.isArray(v)) return v.map(visible)
  if (typeof v === 'object' && v !== null) return Object.entries(v).map(([k, x]) => [k, visible(x)])
  if (typeof v === 'number' && Number.isNaN(v)) return '<NaN>'
  return v
}

const show = (v: unknown) => JSON.stringify(v, (_, x) => (typeof x === 'bigint' ? `${x}n` : x))

/** Compares the two parsers on one input; returns whether zod accepted it. */
function agree(schema: z.ZodType, input: unknown): boolean {
  const expected = schema.safeParse(input)
  const got = fastParse(schema, input)
  if (!expected.success) {
    expect(got, `zod rejects ${show(input)}`).toBe(NO_MATCH)
    return false
  }
  expect(got, `zod accepts ${show(input)}`).not.toBe(NO_MATCH)
  expect(visible(got)).toEqual(visible(expected.data))
  if (typeof input === 'object' && input !== null) expect(got).not.toBe(input)
  return true
}

const PALETTE: unknown[] = [
  undefined,
  null,
  0,
  -1,
  1,
  1.5,
  7,
  255,
  65535,
  65536,
  2 ** 32,
  -(2 ** 31) - 1,
  Number.NaN,
  Number.POSITIVE_INFINITY,
  '',
  'x',
  'eth0',
  'a'.repeat(15),
  'a'.repeat(16),
  '😀'.repeat(8),
  '1:10',
  '1:',
  'ingress',
  'ip',
  'tcp',
  '10.0.0.1/24',
  'aa:bb',
  true,
  false,
  [],
  [1],
  {},
  new Uint8Array(4),
]

/** Variants of a value: each member removed, replaced from the palette or varied in turn, a key added. */
function* variants(v: unknown, depth = 0): Generator<unknown> {
  for (const p of PALETTE) yield p
  if (depth > 3) return
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      yield [...v.slice(0, i), ...v.slice(i + 1)]
      for (const x of variants(v[i], depth + 1)) yield v.map((e, j) => (j === i ? x : e))
    }
    for (const p of PALETTE.slice(0, 12)) yield [...v, p]
  } else if (typeof v === 'object' && v !== null && !(v instanceof Uint8Array)) {
    const o = v as Record<string, unknown>
    for (const k of Object.keys(o)) {
      const { [k]: _, ...rest } = o
      yield rest
      for (const x of variants(o[k], depth + 1)) yield { ...o, [k]: x }
    }
    yield { ...o, zz: 1 }
    yield Object.assign(Object.create({ inherited: 1 }), o)
  }
}

function fuzz(schema: z.ZodType, seeds: unknown[]): { accepted: number; rejected: number } {
  let accepted = 0
  let rejected = 0
  for (const seed of seeds) {
    expect(schema.safeParse(seed).success, `seed ${show(seed)}`).toBe(true)
    for (const v of [seed, ...variants(seed)]) {
      if (agree(schema, v)) accepted++
      else rejected++
    }
  }
  return { accepted, rejected }
}

describe('fastParse agrees with zod', () => {
  const cases: Array<[string, z.ZodType, unknown[]]> = [
    [
      'filter specs',
      z.array(filterSpecSchema),
      [
        [
          {
            dev: 5,
            parent: 'ingress',
            kind: 'u32',
            protocol: 'ip',
            pref: 3,
            match: { ip: { dst: '10.0.0.1', protocol: 'tcp', dport: 80 } },
            actions: [{ kind: 'mirred', direction: 'egress', action: 'redirect', dev: 'x1' }],
          },
        ],
        [
          {
            dev: 'eth0',
            parent: '1:',
            kind: 'u32',
            handle: '800::800',
            ht: '800:',
            classid: '1:10',
            hashkey: { mask: 0xff, at: 12 },
            match: { ip6: { src: '2001:db8::/32', sport: 53 }, keys: [{ value: 1, mask: 255, offset: 8 }] },
            skipHw: true,
          },
        ],
        [{ dev: 2, parent: 'egress', kind: 'bpf', program: { fd: 3 }, directAction: true, name: 'prog' }],
        [
          {
            dev: 2,
            parent: 'ingress',
            kind: 'matchall',
            chain: 1,
            actions: [{ kind: 'gact', action: 'drop' }],
          },
        ],
        [
          {
            dev: 'eth0',
            parent: 'ingress',
            kind: 'flower',
            protocol: 'ipv6',
            ipProto: 'udp',
            dstIp: '2001:db8::1',
            dstPort: 4096,
            dstPortMask: 0xf000,
            dstMac: '02:00:00:00:00:01',
            vlanId: 5,
            fragment: false,
            actions: [{ kind: 'skbedit', queueMapping: 1, mark: 5, mask: 255, priority: '1:2' }],
          },
        ],
      ],
    ],
    [
      'action specs',
      actionSpecSchema,
      [
        { kind: 'gact', action: 'pass', index: 3, cookie: new Uint8Array(4) },
        { kind: 'gact', action: { goto: 2 } },
        { kind: 'bpf', program: { pinned: '/sys/fs/bpf/p' }, control: 'pipe' },
      ],
    ],
    [
      'qdisc specs',
      qdiscSpecSchema,
      [
        { dev: 'eth0', kind: 'htb', handle: '1:', defaultClass: 10 },
        { dev: 2, kind: 'tbf', rate: '100mbit', burst: '15k', latency: '50ms' },
        {
          dev: 2,
          kind: 'mqprio',
          numTc: 2,
          map: [0, 1],
          queues: [
            { count: 1, offset: 0 },
            { count: 1, offset: 1 },
          ],
        },
        { dev: 2, kind: 'prio', bands: 3, priomap: [0, 1, 2] },
      ],
    ],
    [
      'class specs',
      classSpecSchema,
      [{ dev: 'eth0', kind: 'htb', classid: '1:10', parent: '1:', rate: 1e6, prio: 1 }],
    ],
    [
      'link specs',
      linkCreateSchema,
      [
        { kind: 'veth', name: 'v0', mtu: 1400, peer: { name: 'v1', netns: { fd: 3 } }, up: true },
        { kind: 'vxlan', name: 'vx0', id: 42, remote: '10.0.0.2', port: 4789 },
        { kind: 'macvtap', name: 'mt0', link: 'eth0', mode: 'bridge', numTxQueues: 4 },
      ],
    ],
    ['link changes', linkChangeSchema, [{ up: true, master: null, alias: 'é', netns: 'blue' }]],
    ['ethtool channels', channelsChangeSchema, [{ combined: 4, rx: 0 }]],
    ['ethtool rings', ringsChangeSchema, [{ rx: 512, txPush: true, tcpDataSplit: 'enabled' }]],
    ['ethtool RSS', rssSetSchema, [{ table: [0, 1, 2, 3], key: 'aa:bb', hfunc: 'toeplitz', context: 1 }]],
    [
      'tap RSS',
      rssConfigSchema({ queues: 4 }),
      [{ hashTypes: ['tcpv4', 'ipv4'], table: [0, 1, 2, 3], defaultQueue: 0 }],
    ],
  ]
  for (const [name, schema, seeds] of cases)
    it(name, () => {
      const { accepted, rejected } = fuzz(schema, seeds)
      // Both answers must have been exercised for the comparison to mean anything.
      expect(accepted).toBeGreaterThan(seeds.length)
      expect(rejected).toBeGreaterThan(seeds.length)
    })

  it('on the zod features it models and the ones it leaves to zod', () => {
    const tree: z.ZodType = z.lazy(() =>
      z.object({ name: z.string(), children: z.array(tree).optional() }).strict(),
    )
    const schema = z
      .object({
        s: z.string().min(2).max(4),
        trimmed: z.string().trim().optional(),
        re: z.string().regex(/^a+$/).optional(),
        email: z.email().optional(),
        n: z.number().int().positive().optional(),
        i32: z.int32().optional(),
        f: z.number().gt(0).lt(1).optional(),
        b: z.boolean().optional(),
        lit: z.literal(['a', 1]).optional(),
        e: z.enum(['x', 'y']).optional(),
        nul: z.string().nullable().optional(),
        exact: z.string().exactOptional(),
        defaulted: z.object({ d: z.number().default(3) }).optional(),
        coerced: z.coerce.number().optional(),
        bytes: z.instanceof(Uint8Array).optional(),
        big: z.bigint().optional(),
        leaves: z.union([z.string().max(3), z.number().int()]).optional(),
        mixed: z.union([z.object({ a: z.number() }), z.string()]).optional(),
        loose: z.object({ a: z.number().optional() }).optional(),
        empty: z.strictObject({}).optional(),
        passthrough: z.looseObject({ a: z.number().optional() }).optional(),
        tagged: z
          .discriminatedUnion('t', [
            z.object({ t: z.literal('a'), a: z.number() }),
            z.object({ t: z.literal('b') }),
          ])
          .optional(),
        untagged: z
          .discriminatedUnion('t', [
            z.object({ t: z.literal('a').optional(), a: z.number() }),
            z.object({ t: z.literal('b').optional(), b: z.string() }),
          ])
          .optional(),
        list: z.array(z.number()).min(1).max(3).optional(),
        pair: z.tuple([z.string(), z.number()]).optional(),
        record: z.record(z.string(), z.number()).optional(),
        piped: z
          .string()
          .transform((s) => s.length)
          .optional(),
        tree: tree.optional(),
      })
      .refine((o) => o.s !== 'zzz', { message: 'not zzz', path: ['s'] })
    const seeds = [
      {
        s: 'abc',
        trimmed: ' t ',
        re: 'aaa',
        email: 'a@b.cd',
        n: 3,
        i32: -5,
        f: 0.5,
        b: true,
        lit: 1,
        e: 'y',
        nul: null,
        exact: 'q',
        coerced: '12',
        defaulted: {},
        bytes: new Uint8Array(2),
        big: 5n,
        leaves: 'ab',
        mixed: { a: 1, extra: 2 },
        loose: { a: 1, extra: 2 },
        empty: {},
        passthrough: { a: 1, extra: 2 },
        tagged: { t: 'a', a: 2 },
        untagged: { t: 'b', b: 'x' },
        list: [1, 2],
        pair: ['a', 1],
        record: { k: 1 },
        piped: 'four',
        tree: { name: 'r', children: [{ name: 'c', children: [] }] },
      },
      { s: '😀😀' },
      { s: 'ab', leaves: 7, mixed: 'str', tagged: { t: 'b' } },
    ]
    const { accepted, rejected } = fuzz(schema, seeds)
    expect(accepted).toBeGreaterThan(100)
    expect(rejected).toBeGreaterThan(100)
  })
})
