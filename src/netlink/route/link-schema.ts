import { z } from 'zod'
import { parseIp } from '../../util/ip.ts'

/** A device name as the kernel accepts it (dev_valid_name): 1–15 bytes, no '/', ':' or spaces. */
export const ifnameSchema = z
  .string()
  .min(1, 'a device name cannot be empty')
  .refine((s) => Buffer.byteLength(s) <= 15, 'a device name is at most 15 bytes')
  .refine(
    (s) => !/[/:\s]/.test(s) && s !== '.' && s !== '..',
    "a device name cannot contain '/', ':' or spaces",
  )

/** A device by name or ifindex. */
export const deviceSchema = z.union([ifnameSchema, z.number().int().positive()])
/** A network device by name (`eth0`) or by ifindex. */
export type DeviceRef = z.input<typeof deviceSchema>

export const macSchema = z
  .string()
  .regex(/^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$/, 'a MAC address is six hex bytes separated by colons')

export const mtuSchema = z
  .number()
  .int('an MTU is an integer')
  .min(1, 'an MTU is at least 1')
  .max(65535, 'an MTU is at most 65535')
const queuesSchema = z.number().int().min(1).max(4096)

export const netnsSchema = z.union([
  z.string().min(1),
  z.object({ path: z.string().min(1) }).strict(),
  z.object({ fd: z.number().int().nonnegative() }).strict(),
])

const ipSchema = z.string().refine((s) => parseIp(s) !== undefined, 'not an IPv4 or IPv6 address')

const common = {
  name: ifnameSchema,
  mtu: mtuSchema.optional(),
  address: macSchema.optional(),
  txqlen: z.number().int().min(0).max(0xffffffff).optional(),
  master: deviceSchema.optional(),
  up: z.boolean().optional(),
  numTxQueues: queuesSchema.optional(),
  numRxQueues: queuesSchema.optional(),
  /** The device group (`ip link … group N`). */
  devGroup: z.number().int().min(0).max(0xffffffff).optional(),
  /** Create the link in this namespace instead of the client's. */
  netns: netnsSchema.optional(),
}

const peerSchema = z
  .object({
    name: ifnameSchema.optional(),
    address: macSchema.optional(),
    mtu: mtuSchema.optional(),
    numTxQueues: queuesSchema.optional(),
    numRxQueues: queuesSchema.optional(),
    netns: netnsSchema.optional(),
  })
  .strict()

export const linkCreateSchema = z.discriminatedUnion('kind', [
  z.object({ ...common, kind: z.literal('veth'), peer: peerSchema.optional() }).strict(),
  z
    .object({
      ...common,
      kind: z.literal('bridge'),
      stp: z.boolean().optional(),
      forwardDelay: z.number().int().nonnegative().optional(),
      helloTime: z.number().int().nonnegative().optional(),
      maxAge: z.number().int().nonnegative().optional(),
      ageingTime: z.number().int().nonnegative().optional(),
      priority: z.number().int().min(0).max(65535).optional(),
      vlanFiltering: z.boolean().optional(),
      vlanDefaultPvid: z.number().int().min(0).max(4094).optional(),
    })
    .strict(),
  z
    .object({
      ...common,
      kind: z.enum(['macvlan', 'macvtap']),
      link: deviceSchema,
      mode: z.enum(['private', 'vepa', 'bridge', 'passthru', 'source']).optional(),
    })
    .strict(),
  z
    .object({
      ...common,
      kind: z.literal('vxlan'),
      id: z.number().int().min(0).max(0xffffff),
      port: z.number().int().min(1).max(65535).optional(),
      remote: ipSchema.optional(),
      group: ipSchema.optional(),
      local: ipSchema.optional(),
      ttl: z.number().int().min(0).max(255).optional(),
      learning: z.boolean().optional(),
      link: deviceSchema.optional(),
    })
    .strict()
    .refine((v) => !(v.remote && v.group), { message: 'give remote or group, not both', path: ['group'] }),
  z
    .object({
      ...common,
      kind: z.literal('vlan'),
      link: deviceSchema,
      id: z.number().int().min(0).max(4094),
      protocol: z.enum(['802.1Q', '802.1ad']).optional(),
    })
    .strict(),
  z.object({ ...common, kind: z.enum(['dummy', 'ifb']) }).strict(),
])
/** A link to create (`ip link add`): name, kind and the kind's options. */
export type LinkCreate = z.input<typeof linkCreateSchema>

export const linkChangeSchema = z
  .object({
    up: z.boolean().optional(),
    mtu: mtuSchema.optional(),
    name: ifnameSchema.optional(),
    address: macSchema.optional(),
    /** A master device, or null to release from it (nomaster). */
    master: z.union([deviceSchema, z.null()]).optional(),
    txqlen: z.number().int().min(0).max(0xffffffff).optional(),
    alias: z.string().max(255).optional(),
    /** Move the link into this namespace. */
    netns: netnsSchema.optional(),
  })
  .strict()
/** What `links.set` changes (`ip link set`): up/down, MTU, name, address, master, namespace, … */
export type LinkChange = z.input<typeof linkChangeSchema>
