import { filter, map, type Observable } from 'rxjs'
import { parseIp } from '../../util/ip.ts'
import {
  decodeParts,
  encodeRequest,
  NetlinkError,
  type NetlinkMessage,
  NLM_F_CREATE,
  NLM_F_EXCL,
  type SetValue,
} from '../codec/index.ts'
import { multicast$, type NetlinkSocket } from '../socket/index.ts'
import { closeFd, type NetnsRef, netnsPath, O_CLOEXEC, openPath } from '../sys/index.ts'
import { parseInput } from '../validate.ts'
import { RTEXT_FILTER_SKIP_STATS, RTEXT_FILTER_VF, RTM, RTNLGRP } from './constants.ts'
import { IFF, ifinfomsg, type linkAttrs, linkMessage, MACVLAN_MODES } from './link-attrs.ts'
import { type Link, readLinkAttrs, readLinkAttrsWithoutStats, toLink } from './link-model.ts'
import {
  type DeviceRef,
  deviceSchema,
  type LinkChange,
  type LinkCreate,
  linkChangeSchema,
  linkCreateSchema,
} from './link-schema.ts'

type LinkAttrs = SetValue<typeof linkAttrs>

function decodeLinkWith(read: typeof readLinkAttrsWithoutStats, m: NetlinkMessage): Link {
  const { header, attrs } = decodeParts(ifinfomsg, read, m)
  return toLink(header, attrs)
}

/** The typed view of an RTM_NEWLINK / RTM_DELLINK message. */
export function decodeLink(m: NetlinkMessage): Link {
  return decodeLinkWith(readLinkAttrs, m)
}

/** A dump's decoder: the links of its RTM_NEWLINK replies, read with `read`. */
const newLinks = (read: typeof readLinkAttrsWithoutStats) => (m: NetlinkMessage) =>
  m.type === RTM.NEWLINK ? decodeLinkWith(read, m) : undefined
const linkOf = newLinks(readLinkAttrs)
const linkWithoutStatsOf = newLinks(readLinkAttrsWithoutStats)

export interface ListOptions {
  /** Include counters (stats64), as `ip -s` does. Default true; false makes big dumps cheaper. */
  stats?: boolean
}

const extMask = (o: ListOptions = {}) => RTEXT_FILTER_VF | (o.stats === false ? RTEXT_FILTER_SKIP_STATS : 0)
const EXT_MASK_VF = RTEXT_FILTER_VF

/** A link appeared or changed (`new`), went away (`del`), or events were lost (`overrun`: list again). */
export type LinkEvent = { type: 'new' | 'del'; link: Link } | { type: 'overrun' }

/** Opens namespace files for the duration of one request (the kernel takes them by fd). */
class NetnsFds {
  private readonly fds: number[] = []
  fd(ref: NetnsRef): number {
    if (typeof ref === 'object' && 'fd' in ref) return ref.fd
    const fd = openPath(netnsPath(ref), O_CLOEXEC)
    this.fds.push(fd)
    return fd
  }
  close(): void {
    for (const fd of this.fds.splice(0)) closeFd(fd)
  }
}

/** Links (network interfaces) of one namespace: list, get, create, change, delete, watch. */
export class LinkApi {
  constructor(
    private readonly sock: NetlinkSocket,
    private readonly netns: NetnsRef | undefined,
  ) {}

  /** Every link of the namespace (`ip link show`), with 64-bit counters unless `stats: false`. */
  async list(options: ListOptions = {}): Promise<Link[]> {
    const req = encodeRequest(linkMessage, RTM.GETLINK, 0, {}, { extMask: extMask(options) })
    return this.sock.dump(req, 'links.list', {
      decode: options.stats === false ? linkWithoutStatsOf : linkOf,
    })
  }

  /** The link with this name or index; throws NetlinkError ENODEV if there is none. */
  async get(device: DeviceRef): Promise<Link> {
    const dev = parseInput(deviceSchema, device, 'links.get')
    const req =
      typeof dev === 'number'
        ? encodeRequest(linkMessage, RTM.GETLINK, 0, { index: dev }, { extMask: EXT_MASK_VF })
        : encodeRequest(linkMessage, RTM.GETLINK, 0, {}, { ifname: dev, extMask: EXT_MASK_VF })
    const [reply] = await this.sock.request(req, `links.get(${dev})`)
    if (!reply) throw new NetlinkError(`links.get(${dev})`, 19)
    return decodeLink(reply)
  }

  /** The link, or undefined when it does not exist. */
  async find(device: DeviceRef): Promise<Link | undefined> {
    try {
      return await this.get(device)
    } catch (e) {
      if (e instanceof NetlinkError && e.code === 'ENODEV') return undefined
      throw e
    }
  }

  /** The ifindex of a device given by name or index. */
  async index(device: DeviceRef): Promise<number> {
    return typeof device === 'number' ? device : (await this.get(device)).index
  }

  /**
   * Creates a link in one RTM_NEWLINK request, so it either exists fully configured or not at all.
   * Resolves to the link as the kernel reports it (unless it was created in another namespace).
   */
  async create(spec: LinkCreate): Promise<Link | undefined> {
    const s = parseInput(linkCreateSchema, spec, 'links.create')
    const op = `links.create(${s.name})`
    const fds = new NetnsFds()
    try {
      const attrs: LinkAttrs = { ifname: s.name }
      if (s.mtu !== undefined) attrs.mtu = s.mtu
      if (s.address) attrs.address = s.address
      if (s.txqlen !== undefined) attrs.txqlen = s.txqlen
      if (s.master !== undefined) attrs.master = await this.index(s.master)
      if (s.numTxQueues !== undefined) attrs.numTxQueues = s.numTxQueues
      if (s.numRxQueues !== undefined) attrs.numRxQueues = s.numRxQueues
      if (s.devGroup !== undefined) attrs.group = s.devGroup
      if ((s.kind === 'macvlan' || s.kind === 'macvtap' || s.kind === 'vlan') && s.link !== undefined)
        attrs.link = await this.index(s.link)
      if (s.netns !== undefined) attrs.netnsFd = fds.fd(s.netns)
      attrs.linkinfo = { kind: s.kind, data: await this.kindData(s, fds) }
      const header = s.up ? { flags: IFF.UP, change: IFF.UP } : {}
      await this.sock.request(
        encodeRequest(linkMessage, RTM.NEWLINK, NLM_F_CREATE | NLM_F_EXCL, header, attrs),
        op,
      )
    } finally {
      fds.close()
    }
    return s.netns === undefined ? this.get(s.name) : undefined
  }

  private async kindData(
    s: ReturnType<typeof linkCreateSchema.parse>,
    fds: NetnsFds,
  ): Promise<object | undefined> {
    switch (s.kind) {
      case 'veth': {
        if (!s.peer) return undefined
        const p = s.peer
        const peer: LinkAttrs = {}
        if (p.name) peer.ifname = p.name
        if (p.address) peer.address = p.address
        if (p.mtu !== undefined) peer.mtu = p.mtu
        if (p.numTxQueues !== undefined) peer.numTxQueues = p.numTxQueues
        if (p.numRxQueues !== undefined) peer.numRxQueues = p.numRxQueues
        if (p.netns !== undefined) peer.netnsFd = fds.fd(p.netns)
        return { peer: { header: {}, attrs: peer } }
      }
      case 'bridge':
        return {
          stpState: s.stp === undefined ? undefined : Number(s.stp),
          forwardDelay: s.forwardDelay,
          helloTime: s.helloTime,
          maxAge: s.maxAge,
          ageingTime: s.ageingTime,
          priority: s.priority,
          vlanFiltering: s.vlanFiltering === undefined ? undefined : Number(s.vlanFiltering),
          vlanDefaultPvid: s.vlanDefaultPvid,
        }
      case 'macvlan':
      case 'macvtap':
        // The lower device is IFLA_LINK at the top level, not kind data.
        return { mode: s.mode ? MACVLAN_MODES[s.mode] : undefined }
      case 'vxlan': {
        const remote = s.remote ?? s.group
        const bytes = remote ? parseIp(remote) : undefined
        const local = s.local ? parseIp(s.local) : undefined
        return {
          id: s.id,
          port: s.port,
          group: bytes?.length === 4 ? bytes : undefined,
          group6: bytes?.length === 16 ? bytes : undefined,
          local: local?.length === 4 ? local : undefined,
          local6: local?.length === 16 ? local : undefined,
          ttl: s.ttl,
          learning: s.learning === undefined ? undefined : Number(s.learning),
          link: s.link !== undefined ? await this.index(s.link) : undefined,
        }
      }
      case 'vlan':
        return { id: s.id, protocol: s.protocol === '802.1ad' ? 0x88a8 : s.protocol ? 0x8100 : undefined }
      default:
        return undefined
    }
  }

  /**
   * Changes a link. Everything goes in one request; if the kernel refuses part of it after
   * applying another part, the fields that changed are put back before the error is thrown.
   */
  async set(device: DeviceRef, change: LinkChange): Promise<Link | undefined> {
    const c = parseInput(linkChangeSchema, change, 'links.set')
    const dev = parseInput(deviceSchema, device, 'links.set')
    const before = await this.get(dev)
    const op = `links.set(${dev})`
    const fds = new NetnsFds()
    try {
      const attrs: LinkAttrs = {}
      if (c.mtu !== undefined) attrs.mtu = c.mtu
      if (c.name !== undefined) attrs.ifname = c.name
      if (c.address !== undefined) attrs.address = c.address
      if (c.txqlen !== undefined) attrs.txqlen = c.txqlen
      if (c.alias !== undefined) attrs.ifalias = c.alias
      if (c.master !== undefined) attrs.master = c.master === null ? 0 : await this.index(c.master)
      if (c.netns !== undefined) attrs.netnsFd = fds.fd(c.netns)
      const header =
        c.up === undefined
          ? { index: before.index }
          : { index: before.index, flags: c.up ? IFF.UP : 0, change: IFF.UP }
      try {
        await this.sock.request(encodeRequest(linkMessage, RTM.NEWLINK, 0, header, attrs), op)
      } catch (e) {
        await this.restore(before, c)
        throw e
      }
    } finally {
      fds.close()
    }
    return c.netns === undefined ? this.get(before.index) : undefined
  }

  private async restore(before: Link, c: ReturnType<typeof linkChangeSchema.parse>): Promise<void> {
    const now = await this.find(before.index)
    if (!now) return
    const attrs: LinkAttrs = {}
    if (c.mtu !== undefined && now.mtu !== before.mtu) attrs.mtu = before.mtu
    if (c.name !== undefined && now.name !== before.name) attrs.ifname = before.name
    if (c.address !== undefined && now.address !== before.address && before.address)
      attrs.address = before.address
    if (c.txqlen !== undefined && now.txqlen !== before.txqlen) attrs.txqlen = before.txqlen
    if (c.master !== undefined && now.master !== before.master) attrs.master = before.master ?? 0
    const header =
      c.up !== undefined && now.up !== before.up
        ? { index: before.index, flags: before.up ? IFF.UP : 0, change: IFF.UP }
        : { index: before.index }
    if (Object.keys(attrs).length === 0 && header.change === undefined) return
    await this.sock
      .request(encodeRequest(linkMessage, RTM.NEWLINK, 0, header, attrs), 'links.set(rollback)')
      .catch(() => {})
  }

  /** Deletes a link (`ip link del`); a veth takes its peer with it. */
  async delete(device: DeviceRef): Promise<void> {
    const dev = parseInput(deviceSchema, device, 'links.delete')
    const req =
      typeof dev === 'number'
        ? encodeRequest(linkMessage, RTM.DELLINK, 0, { index: dev }, {})
        : encodeRequest(linkMessage, RTM.DELLINK, 0, {}, { ifname: dev })
    await this.sock.request(req, `links.delete(${dev})`)
  }

  /**
   * Link notifications of this namespace (a cold stream with a socket of its own): `new` for
   * creations and changes, `del` for removals, `overrun` when some were lost.
   */
  get events$(): Observable<LinkEvent> {
    return multicast$(0, [RTNLGRP.LINK], this.netns === undefined ? {} : { netns: this.netns }).pipe(
      filter((e) => e.kind === 'overrun' || e.message.type === RTM.NEWLINK || e.message.type === RTM.DELLINK),
      map((e): LinkEvent => {
        if (e.kind === 'overrun') return { type: 'overrun' }
        return { type: e.message.type === RTM.NEWLINK ? 'new' : 'del', link: decodeLink(e.message) }
      }),
    )
  }
}
