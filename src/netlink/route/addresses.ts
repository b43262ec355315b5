import { z } from 'zod'
import { parseIp, parsePrefix } from '../../util/ip.ts'
import type { NetlinkMessage } from '../codec/index.ts'
import {
  attr,
  attrSet,
  decodeMessage,
  encodeRequest,
  messageSpec,
  NLM_F_CREATE,
  NLM_F_EXCL,
  struct,
} from '../codec/index.ts'
import type { NetlinkSocket } from '../socket/index.ts'
import { parseInput } from '../validate.ts'
import { AF_INET, AF_INET6, AF_UNSPEC, RTM } from './constants.ts'
import { formatIp } from './link-model.ts'
import { type DeviceRef, deviceSchema } from './link-schema.ts'

/** struct ifaddrmsg */
const ifaddrmsg = struct('ifaddrmsg', {
  family: 'u8',
  prefixlen: 'u8',
  flags: 'u8',
  scope: 'u8',
  index: 'u32',
})

/** IFA_F_* */
export const IFA_FLAGS = {
  secondary: 0x1,
  nodad: 0x2,
  optimistic: 0x4,
  dadfailed: 0x8,
  homeaddress: 0x10,
  deprecated: 0x20,
  tentative: 0x40,
  permanent: 0x80,
  managetempaddr: 0x100,
  noprefixroute: 0x200,
  mcautojoin: 0x400,
  stablePrivacy: 0x800,
} as const
/** An address flag as `ip addr` prints it (`permanent`, `secondary`, `noprefixroute`, …). */
export type AddressFlag = keyof typeof IFA_FLAGS

const SCOPES = { global: 0, site: 200, link: 253, host: 254, nowhere: 255 } as const
/** An address scope: `global`, `site`, `link`, `host` or `nowhere`. */
export type AddressScope = keyof typeof SCOPES

const addrAttrs = attrSet('address', {
  address: attr.binary(1),
  local: attr.binary(2),
  label: attr.string(3),
  broadcast: attr.binary(4),
  anycast: attr.binary(5),
  cacheinfo: attr.struct(
    6,
    struct('ifa_cacheinfo', { preferred: 'u32', valid: 'u32', cstamp: 'u32', tstamp: 'u32' }),
  ),
  multicast: attr.binary(7),
  flags: attr.flags(8, 'u32', IFA_FLAGS),
  rtPriority: attr.u32(9),
  targetNetnsid: attr.s32(10),
  proto: attr.u8(11),
})
export const addrMessage = messageSpec(ifaddrmsg, addrAttrs)

/** An IP address on a link. */
export interface Address {
  index: number
  family: 'inet' | 'inet6'
  address: string
  prefixLength: number
  /** The local address where it differs from `address` (point-to-point peers). */
  local?: string
  broadcast?: string
  label?: string
  scope: AddressScope | number
  flags: Array<AddressFlag | number>
  /** Seconds; 0xffffffff means forever. */
  preferredLifetime?: number
  validLifetime?: number
}

const prefixSchema = z
  .string()
  .refine((s) => parsePrefix(s) !== undefined, 'expected ADDRESS[/PREFIX], e.g. 10.0.0.1/24')

const addressSpecSchema = z
  .object({
    dev: deviceSchema,
    address: prefixSchema,
    broadcast: z
      .string()
      .refine((b) => parseIp(b)?.length === 4, 'a broadcast address is an IPv4 address')
      .optional(),
    label: z.string().max(15).optional(),
    scope: z.enum(['global', 'site', 'link', 'host']).optional(),
    flags: z
      .array(z.enum(['nodad', 'optimistic', 'homeaddress', 'managetempaddr', 'noprefixroute', 'mcautojoin']))
      .optional(),
  })
  .strict()
/** An address to add or delete: device, `address/prefix` and optional broadcast, label, scope, flags and lifetimes. */
export type AddressSpec = z.input<typeof addressSpecSchema>

/** The typed view of an RTM_NEWADDR / RTM_DELADDR message. */
export function decodeAddress(m: NetlinkMessage): Address {
  const { header: h, attrs: a } = decodeMessage(addrMessage, m)
  const addr = formatIp(a.address ?? a.local) ?? ''
  const local = formatIp(a.local)
  const entry: Address = {
    index: h.index,
    family: h.family === AF_INET6 ? 'inet6' : 'inet',
    address: addr,
    prefixLength: h.prefixlen,
    scope: scopeNames.get(h.scope as 0) ?? h.scope,
    flags: a.flags ?? [],
  }
  if (local && local !== addr) entry.local = local
  if (a.broadcast) entry.broadcast = formatIp(a.broadcast)
  if (a.label) entry.label = a.label
  if (a.cacheinfo) {
    entry.preferredLifetime = a.cacheinfo.preferred
    entry.validLifetime = a.cacheinfo.valid
  }
  return entry
}

const scopeNames = new Map(Object.entries(SCOPES).map(([k, v]) => [v, k as AddressScope]))

/** IPv4 and IPv6 addresses of one namespace (`ip addr`): list, add, delete and their events. */
export class AddressApi {
  constructor(
    private readonly sock: NetlinkSocket,
    private readonly resolve: (dev: DeviceRef) => Promise<number>,
  ) {}

  /** Every address in the namespace, or those of one device. */
  async list(dev?: DeviceRef): Promise<Address[]> {
    const index = dev === undefined ? 0 : await this.resolve(parseInput(deviceSchema, dev, 'addresses.list'))
    const msgs = await this.sock.dump(
      encodeRequest(addrMessage, RTM.GETADDR, 0, { family: AF_UNSPEC, index }, {}),
      'addresses.list',
    )
    const out: Address[] = []
    for (const m of msgs) {
      if (m.type !== RTM.NEWADDR) continue
      const a = decodeAddress(m)
      if (!index || a.index === index) out.push(a)
    }
    return out
  }

  /** Adds an address (`ip addr add`). */
  async add(spec: AddressSpec): Promise<void> {
    const s = parseInput(addressSpecSchema, spec, 'addresses.add')
    const { header, attrs } = await this.message(s)
    await this.sock.request(
      encodeRequest(addrMessage, RTM.NEWADDR, NLM_F_CREATE | NLM_F_EXCL, header, attrs),
      `addresses.add(${s.address})`,
    )
  }

  /** Deletes an address (`ip addr del`). */
  async delete(spec: Pick<AddressSpec, 'dev' | 'address'>): Promise<void> {
    const s = parseInput(addressSpecSchema.pick({ dev: true, address: true }), spec, 'addresses.delete')
    const { header, attrs } = await this.message(s)
    await this.sock.request(
      encodeRequest(addrMessage, RTM.DELADDR, 0, header, attrs),
      `addresses.delete(${s.address})`,
    )
  }

  private async message(
    s: Partial<z.output<typeof addressSpecSchema>> & { dev: DeviceRef; address: string },
  ) {
    const p = parsePrefix(s.address)
    if (!p) throw new Error('unreachable: validated above')
    const index = await this.resolve(s.dev)
    const v4 = p.address.length === 4
    const header = {
      family: v4 ? AF_INET : AF_INET6,
      prefixlen: p.prefixLength,
      scope: SCOPES[s.scope ?? 'global'],
      index,
    }
    const attrs: Parameters<typeof addrAttrs.encode>[0] = { local: p.address, address: p.address }
    if (s.label) attrs.label = s.label
    if (s.flags?.length) attrs.flags = s.flags
    if (s.broadcast) attrs.broadcast = parseIp(s.broadcast)
    return { header, attrs }
  }
}
