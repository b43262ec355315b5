// The steering model: one declarative configuration of where a device puts received frames.
// A default RSS configuration (context 0), numbered RSS contexts over queue subsets, and ordered
// flow rules whose action is a fixed queue or a context. Validated with zod before anything
// touches a device; the normalized form is what every back end and the reference classifier use.
// No I/O.

import { z } from 'zod'
import { fieldPath, type RssConfig, type RssConfigInput, rssConfigSchema } from '../tuntap/rss-config.ts'
import { HASH_TYPES, type HashType } from '../tuntap/rss-hash-types.ts'
import { microsoftRssKey } from '../tuntap/toeplitz.ts'
import { parsePrefix } from '../util/ip.ts'

/** Most flow rules a configuration may hold (the eBPF program's map capacity). */
export const MAX_RULES = 512
/** Highest RSS context number (contexts are numbered 1..MAX_CONTEXT_ID; 0 is the default RSS). */
export const MAX_CONTEXT_ID = 32
/** Longest indirection table of a context (as virtio-net's, the spec's minimum maximum). */
export const MAX_TABLE_LENGTH = 128
/** Table length used when a context is given as a queue subset. */
export const SUBSET_TABLE_LENGTH = 128

/** IP protocol numbers the model names. */
export const IP_PROTOCOLS = { icmp: 1, tcp: 6, udp: 17, icmpv6: 58, sctp: 132 } as const
/** IP protocols a rule may name. */
export type IpProtocolName = keyof typeof IP_PROTOCOLS
/** EtherTypes the model names. */
export const ETHER_TYPES = { ipv4: 0x0800, arp: 0x0806, ipv6: 0x86dd } as const
/** EtherTypes a rule may name. */
export type EtherTypeName = keyof typeof ETHER_TYPES

/** Protocols whose first four transport bytes are the source and destination ports. */
export const PORT_PROTOCOLS: readonly number[] = [6, 17, 132]

/** A port match: an exact port, or `{ port, mask }` (bits of the mask that must agree). */
export type PortMatchInput = number | { port: number; mask: number }

/** What a rule matches; every field given must match (an empty match matches every frame). */
export interface FlowMatchInput {
  /** EtherType after the VLAN tags (`ipv4`, `ipv6`, `arp` or a number). */
  etherType?: EtherTypeName | number
  /** VLAN id of the outermost tag (the frame must be tagged). */
  vlanId?: number
  /** IP protocol (after IPv6 extension headers): `tcp`, `udp`, `sctp`, `icmp`, `icmpv6` or a number. */
  ipProto?: IpProtocolName | number
  /** Source prefix, IPv4 or IPv6 (`10.0.0.0/8`, `2001:db8::/32`, or an address). */
  src?: string
  /** Destination prefix. */
  dst?: string
  /** Source port (needs `ipProto` tcp, udp or sctp). */
  srcPort?: PortMatchInput
  /** Destination port (needs `ipProto` tcp, udp or sctp). */
  dstPort?: PortMatchInput
}

/** Where matching frames go: one queue, or an RSS context (hashed over its queues). */
export type FlowActionInput = { queue: number } | { context: number }

/** A flow rule as callers write it. */
export interface FlowRuleInput {
  /** A name for reports (`explain().ruleName`, per-rule counts). */
  name?: string
  /** Lower runs first (default 0); rules of equal priority keep their order. */
  priority?: number
  match: FlowMatchInput
  action: FlowActionInput
}

/** An RSS context: a queue subset (spread evenly) or an explicit indirection table. */
export interface RssContextInput {
  /** 1..MAX_CONTEXT_ID. */
  id: number
  /** Queues to spread over (a 128-entry table repeating them), or give `table`. */
  queues?: readonly number[]
  /** Indirection table (power-of-two length, at most 128). */
  table?: readonly number[]
  /** Default: the default RSS configuration's key. */
  key?: Uint8Array | string
  /** Default: the default RSS configuration's hash types. */
  hashTypes?: readonly HashType[]
  /** Queue for frames that get no hash; default: the first queue of the context. */
  defaultQueue?: number
}

/** The whole steering configuration, as callers give it. */
export interface SteeringConfigInput {
  /** The default RSS configuration (context 0): frames no rule matches. */
  rss: RssConfigInput
  contexts?: readonly RssContextInput[]
  rules?: readonly FlowRuleInput[]
}

/** A validated prefix: family, address and mask bytes (4 or 16, network order), length. */
export interface Prefix {
  readonly family: 4 | 6
  readonly address: Uint8Array
  readonly mask: Uint8Array
  readonly length: number
  /** As given (`10.0.0.0/8`). */
  readonly text: string
}

/** A validated port match (value already masked). */
export interface PortMatch {
  readonly port: number
  readonly mask: number
}

/** A rule's match, normalized: every field optional, all present ones must hold. */
export interface FlowMatch {
  readonly etherType?: number
  readonly vlanId?: number
  readonly ipProto?: number
  readonly src?: Prefix
  readonly dst?: Prefix
  readonly srcPort?: PortMatch
  readonly dstPort?: PortMatch
}

/** Where a matching frame goes: a queue, or an RSS context. */
export type FlowAction = { readonly queue: number } | { readonly context: number }

/** A validated rule. `index` is its position in the caller's `rules` array. */
export interface FlowRule {
  readonly index: number
  readonly name?: string
  readonly priority: number
  readonly match: FlowMatch
  readonly action: FlowAction
}

/** A validated context: an RSS configuration (its table is explicit) with its number. */
export interface RssContext extends RssConfig {
  readonly id: number
}

/** A validated configuration: rules sorted by priority (first match wins). */
export interface SteeringConfig {
  /** Context 0: the default RSS. */
  readonly rss: RssConfig
  /** Defined contexts, by id. */
  readonly contexts: ReadonlyMap<number, RssContext>
  /** In evaluation order. */
  readonly rules: readonly FlowRule[]
}

/** Limits of the device or back end the configuration is for. */
export interface SteeringLimits {
  /** Queues of the device: every queue named must be below it. */
  queues?: number
  /** Most rules (default MAX_RULES). */
  maxRules?: number
  /** Highest context id (default MAX_CONTEXT_ID). */
  maxContextId?: number
}

/** One problem in a steering configuration: the field's path and what is wrong. */
export interface SteeringIssue {
  /** `rules[3].match.src`, `contexts[0].queues[2]`, `rss.table`… */
  readonly field: string
  readonly message: string
}

/** Bad steering configuration. Raised before any change to a device. */
export class SteeringConfigError extends Error {
  override readonly name = 'SteeringConfigError'
  readonly field: string
  readonly issues: readonly SteeringIssue[]
  constructor(issues: readonly SteeringIssue[]) {
    const list =
      issues.length > 0 ? issues : [{ field: '(config)', message: 'invalid steering configuration' }]
    super(list.map((i) => `${i.field}: ${i.message}`).join('; '))
    this.field = list[0]!.field
    this.issues = list
  }
}

function maskBytes(length: number, bytes: number): Uint8Array {
  const m = new Uint8Array(bytes)
  for (let i = 0; i < bytes; i++) {
    const bits = Math.max(0, Math.min(8, length - i * 8))
    m[i] = bits === 0 ? 0 : (0xff << (8 - bits)) & 0xff
  }
  return m
}

/** Parses `10.0.0.0/8`, `2001:db8::/32` or a bare address; host bits are cleared. */
export function parsePrefixText(text: string): Prefix | undefined {
  const p = parsePrefix(text)
  if (!p) return undefined
  const mask = maskBytes(p.prefixLength, p.address.length)
  const address = p.address.map((b, i) => b & mask[i]!)
  return { family: p.address.length === 4 ? 4 : 6, address, mask, length: p.prefixLength, text }
}

const u16 = (what: string) =>
  z
    .number({ error: `must be ${what}` })
    .int({ error: `must be an integer ${what}` })
    .min(0, { error: `${what}s are 0 or more` })
    .max(0xffff, { error: `${what}s are at most 65535` })

const queueNumber = u16('queue number')

const prefix = z.string({ error: 'must be an IPv4 or IPv6 prefix' }).transform((s, ctx): Prefix => {
  const p = parsePrefixText(s)
  if (!p) {
    ctx.issues.push({
      code: 'custom',
      message: `${JSON.stringify(s)} is not an IP address or prefix`,
      input: s,
    })
    return z.NEVER
  }
  return p
})

const portMatch = z
  .union([u16('port'), z.strictObject({ port: u16('port'), mask: u16('port mask') })], {
    error: 'must be a port or { port, mask }',
  })
  .transform(
    (p): PortMatch =>
      typeof p === 'number' ? { port: p, mask: 0xffff } : { port: p.port & p.mask, mask: p.mask },
  )

const etherType = z
  .union([z.enum(Object.keys(ETHER_TYPES) as [EtherTypeName, ...EtherTypeName[]]), u16('EtherType')], {
    error: `must be an EtherType number or one of ${Object.keys(ETHER_TYPES).join(', ')}`,
  })
  .transform((e) => (typeof e === 'number' ? e : ETHER_TYPES[e]))

const ipProto = z
  .union(
    [
      z.enum(Object.keys(IP_PROTOCOLS) as [IpProtocolName, ...IpProtocolName[]]),
      z.number().int().min(0).max(255, { error: 'IP protocols are at most 255' }),
    ],
    { error: `must be an IP protocol number or one of ${Object.keys(IP_PROTOCOLS).join(', ')}` },
  )
  .transform((p) => (typeof p === 'number' ? p : IP_PROTOCOLS[p]))

const matchSchema = z
  .strictObject({
    etherType: etherType.optional(),
    vlanId: z.number().int().min(0).max(4095, { error: 'VLAN ids are 0..4095' }).optional(),
    ipProto: ipProto.optional(),
    src: prefix.optional(),
    dst: prefix.optional(),
    srcPort: portMatch.optional(),
    dstPort: portMatch.optional(),
  })
  .superRefine((m, ctx) => {
    const fam = m.src?.family ?? m.dst?.family
    if (m.src && m.dst && m.src.family !== m.dst.family)
      ctx.addIssue({ code: 'custom', path: ['dst'], message: 'src and dst must be of the same IP version' })
    if (fam !== undefined && m.etherType !== undefined && m.etherType !== (fam === 4 ? 0x0800 : 0x86dd))
      ctx.addIssue({
        code: 'custom',
        path: ['etherType'],
        message: `an IPv${fam} prefix needs etherType ${fam === 4 ? 'ipv4' : 'ipv6'}`,
      })
    if (
      m.ipProto !== undefined &&
      m.etherType !== undefined &&
      m.etherType !== 0x0800 &&
      m.etherType !== 0x86dd
    )
      ctx.addIssue({ code: 'custom', path: ['ipProto'], message: 'ipProto needs etherType ipv4 or ipv6' })
    for (const f of ['srcPort', 'dstPort'] as const)
      if (m[f] !== undefined && (m.ipProto === undefined || !PORT_PROTOCOLS.includes(m.ipProto)))
        ctx.addIssue({ code: 'custom', path: [f], message: 'ports need ipProto tcp, udp or sctp' })
  })

const actionSchema = z.union(
  [
    z.strictObject({ queue: queueNumber }),
    z.strictObject({ context: z.number().int().min(1, { error: 'contexts are numbered from 1' }) }),
  ],
  { error: 'must be { queue } or { context }' },
)

const ruleSchema = z.strictObject({
  name: z.string().min(1).max(64).optional(),
  priority: z.number().int().min(0).max(0xffff).optional(),
  match: matchSchema,
  action: actionSchema,
})

const hashTypeName = z.enum(HASH_TYPES, {
  error: (issue) => `${JSON.stringify(issue.input)} is not a hash type (${HASH_TYPES.join(', ')})`,
})

const contextSchema = z
  .strictObject({
    id: z.number().int().min(1, { error: 'contexts are numbered from 1 (0 is the default RSS)' }),
    queues: z.array(queueNumber).min(1, { error: 'a context needs at least one queue' }).optional(),
    table: z.array(queueNumber).optional(),
    key: z.custom<Uint8Array | string>((v) => v instanceof Uint8Array || typeof v === 'string').optional(),
    hashTypes: z.array(hashTypeName).optional(),
    defaultQueue: queueNumber.optional(),
  })
  .refine((c) => (c.queues === undefined) !== (c.table === undefined), {
    message: 'give exactly one of queues and table',
    path: ['queues'],
  })

/** Whether `c` is a configuration `parseSteeringConfig` already produced. */
export function isParsedSteeringConfig(c: unknown): c is SteeringConfig {
  return typeof c === 'object' && c !== null && (c as { contexts?: unknown }).contexts instanceof Map
}

/** A parsed configuration back in the form callers write, so it can be checked against new limits. */
function toInput(c: SteeringConfig): SteeringConfigInput {
  const port = (p: PortMatch | undefined) => (p === undefined ? undefined : { port: p.port, mask: p.mask })
  return {
    rss: c.rss,
    contexts: [...c.contexts.values()],
    rules: c.rules.map((r) => ({
      ...(r.name === undefined ? {} : { name: r.name }),
      priority: r.priority,
      match: Object.fromEntries(
        Object.entries({
          etherType: r.match.etherType,
          vlanId: r.match.vlanId,
          ipProto: r.match.ipProto,
          src: r.match.src?.text,
          dst: r.match.dst?.text,
          srcPort: port(r.match.srcPort),
          dstPort: port(r.match.dstPort),
        }).filter(([, v]) => v !== undefined),
      ) as FlowMatchInput,
      action: r.action,
    })),
  }
}

/**
 * Validates and normalizes a steering configuration (as callers write it, or one already parsed,
 * checked again against `limits`). Throws SteeringConfigError naming every offending field
 * (`rules[3].action.context: context 9 is not defined`), before any change.
 */
export function parseSteeringConfig(input: unknown, limits: SteeringLimits = {}): SteeringConfig {
  if (isParsedSteeringConfig(input)) input = toInput(input)
  const maxRules = Math.min(limits.maxRules ?? MAX_RULES, MAX_RULES)
  const maxContextId = Math.min(limits.maxContextId ?? MAX_CONTEXT_ID, MAX_CONTEXT_ID)
  const issues: SteeringIssue[] = []
  const add = (path: readonly PropertyKey[], message: string) =>
    issues.push({ field: fieldPath(path), message })
  const collect = (prefixPath: readonly PropertyKey[], e: z.ZodError) => {
    for (const i of e.issues) {
      if (i.code === 'unrecognized_keys')
        for (const k of i.keys) add([...prefixPath, ...i.path, k], 'is not a known field')
      else add([...prefixPath, ...i.path], i.message)
    }
  }

  const top = z
    .strictObject({
      rss: z.unknown(),
      contexts: z.array(z.unknown()).optional(),
      rules: z.array(z.unknown()).optional(),
    })
    .safeParse(input)
  if (!top.success) {
    collect([], top.error)
    throw new SteeringConfigError(issues)
  }
  const rssLimits = {
    maxTableLength: MAX_TABLE_LENGTH,
    ...(limits.queues !== undefined ? { queues: limits.queues } : {}),
  }
  const rssParsed = rssConfigSchema(rssLimits).safeParse(top.data.rss)
  if (!rssParsed.success) collect(['rss'], rssParsed.error)
  const rss = rssParsed.success ? rssParsed.data : undefined

  const contexts = new Map<number, RssContext>()
  const seenIds = new Set<number>()
  for (const [i, raw] of (top.data.contexts ?? []).entries()) {
    const c = contextSchema.safeParse(raw)
    if (!c.success) {
      collect(['contexts', i], c.error)
      continue
    }
    const d = c.data
    if (d.id > maxContextId) {
      add(['contexts', i, 'id'], `context ids are at most ${maxContextId}`)
      continue
    }
    if (seenIds.has(d.id)) {
      add(['contexts', i, 'id'], `context ${d.id} is defined twice`)
      continue
    }
    seenIds.add(d.id)
    const beyond = (d.queues ?? []).flatMap((q, k) =>
      limits.queues !== undefined && q >= limits.queues ? [k] : [],
    )
    if (beyond.length > 0) {
      for (const k of beyond)
        add(
          ['contexts', i, 'queues', k],
          `queue ${d.queues![k]} is beyond the device's ${limits.queues} queues`,
        )
      continue
    }
    const table =
      d.table ?? Array.from({ length: SUBSET_TABLE_LENGTH }, (_, k) => d.queues![k % d.queues!.length]!)
    const asRss = {
      hashTypes: d.hashTypes ?? rss?.hashTypes ?? [],
      key: d.key ?? rss?.key ?? microsoftRssKey(),
      table,
      defaultQueue: d.defaultQueue ?? table[0] ?? 0,
    }
    const r = rssConfigSchema(rssLimits).safeParse(asRss)
    if (!r.success) {
      for (const is of r.error.issues) {
        const p = is.path[0] === 'table' && d.queues !== undefined ? ['queues'] : is.path
        add(['contexts', i, ...p], is.message)
      }
      continue
    }
    contexts.set(d.id, { id: d.id, ...r.data })
  }

  const rulesIn = top.data.rules ?? []
  if (rulesIn.length > maxRules) add(['rules'], `${rulesIn.length} rules exceed the maximum of ${maxRules}`)
  const rules: FlowRule[] = []
  for (const [i, raw] of rulesIn.entries()) {
    const r = ruleSchema.safeParse(raw)
    if (!r.success) {
      collect(['rules', i], r.error)
      continue
    }
    const d = r.data
    const action: FlowAction = 'queue' in d.action ? { queue: d.action.queue } : { context: d.action.context }
    if ('queue' in action && limits.queues !== undefined && action.queue >= limits.queues)
      add(
        ['rules', i, 'action', 'queue'],
        `queue ${action.queue} is beyond the device's ${limits.queues} queues`,
      )
    if ('context' in action && !contexts.has(action.context)) {
      const known = (top.data.contexts ?? []).some((c) => (c as { id?: unknown })?.id === action.context)
      if (!known) add(['rules', i, 'action', 'context'], `context ${action.context} is not defined`)
    }
    const m = d.match
    const match: FlowMatch = Object.fromEntries(Object.entries(m).filter(([, v]) => v !== undefined))
    rules.push({
      index: i,
      ...(d.name !== undefined ? { name: d.name } : {}),
      priority: d.priority ?? 0,
      match,
      action,
    })
  }
  if (issues.length > 0 || !rss) throw new SteeringConfigError(issues)
  rules.sort((a, b) => a.priority - b.priority || a.index - b.index)
  return { rss, contexts, rules }
}

/** The RSS configuration of context `id` (0: the default). */
export function contextConfig(config: SteeringConfig, id: number): RssConfig | undefined {
  return id === 0 ? config.rss : config.contexts.get(id)
}
