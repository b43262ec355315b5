import { z } from 'zod'
import { deviceSchema } from '../netlink/route/link-schema.ts'
import { HASH_FUNCTIONS, INPUT_XFRM } from './model.ts'

export type { DeviceRef } from '../netlink/route/link-schema.ts'
export { deviceSchema }

const u32 = z.number().int('must be an integer').min(0, 'must be ≥ 0').max(0xffffffff, 'must fit in 32 bits')

export const channelsChangeSchema = z
  .object({
    rx: u32.optional(),
    tx: u32.optional(),
    other: u32.optional(),
    combined: u32.optional(),
  })
  .strict()
  .refine(
    (v) => Object.values(v).some((x) => x !== undefined),
    'name at least one of rx, tx, other, combined',
  )
/** The channel counts to change (`ethtool -L`): at least one of rx, tx, other, combined. */
export type ChannelsChange = z.input<typeof channelsChangeSchema>

export const ringsChangeSchema = z
  .object({
    rx: u32.optional(),
    rxMini: u32.optional(),
    rxJumbo: u32.optional(),
    tx: u32.optional(),
    rxBufLen: u32.optional(),
    cqeSize: u32.optional(),
    txPush: z.boolean().optional(),
    rxPush: z.boolean().optional(),
    txPushBufLen: u32.optional(),
    hdsThresh: u32.optional(),
    tcpDataSplit: z.enum(['unknown', 'disabled', 'enabled']).optional(),
  })
  .strict()
  .refine((v) => Object.values(v).some((x) => x !== undefined), 'name at least one ring setting')
/** The ring settings to change (`ethtool -G`): at least one. */
export type RingsChange = z.input<typeof ringsChangeSchema>

const hashFunctionSchema = z.union([
  z.enum(Object.keys(HASH_FUNCTIONS) as [keyof typeof HASH_FUNCTIONS, ...Array<keyof typeof HASH_FUNCTIONS>]),
  z.number().int().min(1).max(0xffffffff),
])

const inputXfrmSchema = z.array(
  z.union([
    z.enum(Object.keys(INPUT_XFRM) as [keyof typeof INPUT_XFRM, ...Array<keyof typeof INPUT_XFRM>]),
    z.number().int().min(1).max(0xfe),
  ]),
)

/** A key as bytes or as hex (`6d:5a:56…` as ethtool prints it, or plain `6d5a56…`). */
const keySchema = z.union([
  z.instanceof(Uint8Array),
  z
    .string()
    .transform((s) => s.replace(/:/g, ''))
    .refine((s) => /^([0-9a-fA-F]{2})+$/.test(s), 'a key is hex bytes, optionally separated by colons')
    .transform((s) => Uint8Array.from(Buffer.from(s, 'hex'))),
])

export const rssConfigSchema = z
  .object({
    /** Indirection table: queue per bucket. [] resets the default context's table to the default. */
    table: z.array(u32).max(65536, 'at most 65536 entries').optional(),
    key: keySchema.optional(),
    hfunc: hashFunctionSchema.optional(),
    inputXfrm: inputXfrmSchema.optional(),
  })
  .strict()
/** RSS settings shared by `rss.set` and context creation: hash function, key, indirection table, input transformation. */
export type RssConfig = z.input<typeof rssConfigSchema>

export const rssSetSchema = rssConfigSchema
  .extend({ context: u32.optional() })
  .strict()
  .refine(
    (v) => v.table !== undefined || v.key !== undefined || v.hfunc !== undefined || v.inputXfrm !== undefined,
    'name at least one of table, key, hfunc, inputXfrm',
  )
/** Changes to an RSS context (`ethtool -X`), the default one unless `context` is given. */
export type RssSet = z.input<typeof rssSetSchema>

export const rssCreateSchema = rssConfigSchema
  .extend({
    /** Ask for this context number (netlink only); by default the kernel picks one. */
    context: z.number().int().min(1).max(0xfffffffe).optional(),
  })
  .strict()
/** A new RSS context's configuration (`ethtool -X DEV context new ...`). */
export type RssCreate = z.input<typeof rssCreateSchema>

export const contextSchema = u32
