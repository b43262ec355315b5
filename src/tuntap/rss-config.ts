// The RSS configuration callers give (hash types, key, indirection table, default queue), its zod
// schema and the typed error raised for bad input. No I/O.

import { z } from 'zod'
import { formatPath } from '../netlink/validate.ts'
import {
  HASH_TYPE_BIT,
  HASH_TYPES,
  type HashType,
  hashTypesToMask,
  maskToHashTypes,
} from './rss-hash-types.ts'
import { microsoftRssKey, RSS_KEY_LENGTH } from './toeplitz.ts'

/** Indirection table length virtio-net drivers use at most (the spec's minimum maximum). */
export const DEFAULT_MAX_TABLE_LENGTH = 128
/** Queue numbers are u16 in every back end. */
export const MAX_QUEUE_NUMBER = 0xffff

/** What callers pass. `key` defaults to the standard Microsoft key. */
export interface RssConfigInput {
  hashTypes: readonly HashType[]
  /** Exactly 40 bytes: a Uint8Array/Buffer, or hex (`6d5a56…` or `6d:5a:56:…`). */
  key?: Uint8Array | string
  /** Indirection table: queue numbers, length a power of two. Entry `hash & (length - 1)` is used. */
  table: readonly number[]
  /** Queue for frames that get no hash (not IP, or no enabled hash type applies). */
  defaultQueue: number
}

/** A validated configuration: hash types deduplicated in bit order, the key a private copy. */
export interface RssConfig {
  hashTypes: HashType[]
  key: Uint8Array
  table: number[]
  defaultQueue: number
}

/** Limits the back end in use imposes. */
export interface RssLimits {
  /** Longest indirection table accepted (default 128). */
  maxTableLength?: number
  /** Number of queues of the device: table entries and the default queue must be below it. */
  queues?: number
  /** Hash types the back end can compute (a mask of virtio bits, or names); default: all nine. */
  supportedHashTypes?: number | readonly HashType[]
}

/** One problem with an RSS configuration: the field (`table[5]`, `key`, …) and what is wrong. */
export interface RssConfigIssue {
  field: string
  message: string
}

/** Bad RSS configuration input. `field` names the first offending field; `issues` lists all. */
export class RssConfigError extends Error {
  override readonly name = 'RssConfigError'
  readonly field: string
  readonly issues: readonly RssConfigIssue[]
  constructor(issues: readonly RssConfigIssue[]) {
    const list = issues.length > 0 ? issues : [{ field: '(config)', message: 'invalid RSS configuration' }]
    super(list.map((i) => `${i.field}: ${i.message}`).join('; '))
    this.field = list[0]!.field
    this.issues = list
  }
}

/** `['table', 5]` → `table[5]`; `[]` → `(config)`. */
export function fieldPath(path: readonly PropertyKey[]): string {
  return formatPath(path) || '(config)'
}

function isPowerOfTwo(n: number): boolean {
  return n > 0 && (n & (n - 1)) === 0
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`
}

function parseHexKey(text: string): Uint8Array | string {
  const hex = /^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2})+$/.test(text) ? text.replaceAll(':', '') : text
  if (!/^([0-9a-fA-F]{2})*$/.test(hex))
    return 'is not a hex string (use 80 hex digits, optionally colon-separated pairs)'
  return Uint8Array.from(Buffer.from(hex, 'hex'))
}

const queueNumber = z
  .number({ error: 'must be a queue number' })
  .int({ error: 'must be an integer queue number' })
  .min(0, { error: 'queue numbers are 0 or more' })
  .max(MAX_QUEUE_NUMBER, { error: `queue numbers are at most ${MAX_QUEUE_NUMBER}` })

const hashTypeName = z.enum(HASH_TYPES, {
  error: (issue) => `${JSON.stringify(issue.input)} is not a hash type (${HASH_TYPES.join(', ')})`,
})

const keyField = z
  .custom<Uint8Array | string>((v) => v instanceof Uint8Array || typeof v === 'string', {
    error: 'must be a Uint8Array, a Buffer or a hex string',
  })
  .transform((v, ctx): Uint8Array => {
    const bytes = typeof v === 'string' ? parseHexKey(v) : Uint8Array.from(v)
    if (typeof bytes === 'string') {
      ctx.issues.push({ code: 'custom', message: bytes, input: v })
      return z.NEVER
    }
    if (bytes.length !== RSS_KEY_LENGTH) {
      ctx.issues.push({
        code: 'custom',
        message: `must be exactly ${RSS_KEY_LENGTH} bytes, got ${bytes.length}`,
        input: v,
      })
      return z.NEVER
    }
    return bytes
  })

/**
 * The zod schema for an RSS configuration under the given limits. Parsing yields an `RssConfig`
 * (hash types deduplicated and in bit order, the key copied, the default key filled in).
 */
export function rssConfigSchema(limits: RssLimits = {}): z.ZodType<RssConfig, RssConfigInput> {
  const maxTable = limits.maxTableLength ?? DEFAULT_MAX_TABLE_LENGTH
  const queues = limits.queues
  const supported =
    limits.supportedHashTypes === undefined
      ? undefined
      : typeof limits.supportedHashTypes === 'number'
        ? limits.supportedHashTypes
        : hashTypesToMask(limits.supportedHashTypes)
  const beyond = (q: number): string | undefined =>
    queues !== undefined && q >= queues
      ? `queue ${q} is beyond the device's ${plural(queues, 'queue')}`
      : undefined

  return z
    .strictObject({
      hashTypes: z.array(hashTypeName, { error: 'must be an array of hash type names' }),
      key: keyField.optional(),
      table: z.array(queueNumber, { error: 'must be an array of queue numbers' }),
      defaultQueue: queueNumber,
    })
    .superRefine((c, ctx) => {
      if (supported !== undefined) {
        c.hashTypes.forEach((t, i) => {
          if (((supported >>> HASH_TYPE_BIT[t]) & 1) === 0) {
            const names = maskToHashTypes(supported)
            ctx.addIssue({
              code: 'custom',
              path: ['hashTypes', i],
              message: `'${t}' is not supported by this back end (supported: ${names.length > 0 ? names.join(', ') : 'none'})`,
            })
          }
        })
      }
      const n = c.table.length
      if (!isPowerOfTwo(n)) {
        ctx.addIssue({
          code: 'custom',
          path: ['table'],
          message: n === 0 ? 'must have at least one entry' : `length ${n} is not a power of two`,
        })
      } else if (n > maxTable) {
        ctx.addIssue({
          code: 'custom',
          path: ['table'],
          message: `${n} entries exceed the maximum of ${maxTable}`,
        })
      }
      c.table.forEach((q, i) => {
        const msg = beyond(q)
        if (msg !== undefined) ctx.addIssue({ code: 'custom', path: ['table', i], message: msg })
      })
      const msg = beyond(c.defaultQueue)
      if (msg !== undefined) ctx.addIssue({ code: 'custom', path: ['defaultQueue'], message: msg })
    })
    .transform(
      (c): RssConfig => ({
        hashTypes: HASH_TYPES.filter((t) => c.hashTypes.includes(t)),
        key: c.key ?? microsoftRssKey(),
        table: [...c.table],
        defaultQueue: c.defaultQueue,
      }),
    )
}

/** Converts zod issues to RssConfigIssues (field path + message). */
export function rssConfigIssues(error: z.ZodError): RssConfigIssue[] {
  return error.issues.flatMap((i): RssConfigIssue[] =>
    i.code === 'unrecognized_keys'
      ? i.keys.map((k) => ({
          field: fieldPath([...i.path, k]),
          message: 'is not an RSS configuration field',
        }))
      : [{ field: fieldPath(i.path), message: i.message }],
  )
}

/**
 * Validates `input` against `limits` and returns the normalized configuration.
 * Throws RssConfigError naming each offending field, e.g.
 * `table[5]: queue 9 is beyond the device's 4 queues`.
 */
export function parseRssConfig(input: unknown, limits: RssLimits = {}): RssConfig {
  const r = rssConfigSchema(limits).safeParse(input)
  if (!r.success) throw new RssConfigError(rssConfigIssues(r.error))
  return r.data
}
