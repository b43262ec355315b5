import { decodeMessage, decodeParts, encodeRequest, NetlinkError } from '../../codec/index.ts'
import type { NetlinkSocket } from '../../socket/index.ts'
import { Errno } from '../../sys/index.ts'
import { RTEXT_FILTER_SKIP_STATS, RTM } from '../constants.ts'
import { ifinfomsg, linkAttrs, linkMessage } from '../link-attrs.ts'
import type { DeviceInfo, DeviceRef } from './context.ts'

/** Names are all a device listing needs: counters are not asked for, other attributes not read. */
const readName = linkAttrs.picker(['ifname'])

/** Device lookups for tc: RTM_GETLINK by name or index (tc objects carry only the ifindex). */
export class Devices {
  private readonly known = new Map<number, string>()

  constructor(private readonly sock: NetlinkSocket) {}

  /** The device, or NetlinkError ENODEV naming it. */
  async get(dev: DeviceRef, operation: string): Promise<DeviceInfo> {
    const req =
      typeof dev === 'number'
        ? encodeRequest(linkMessage, RTM.GETLINK, 0, { index: dev }, {})
        : encodeRequest(linkMessage, RTM.GETLINK, 0, {}, { ifname: dev })
    let replies: Awaited<ReturnType<NetlinkSocket['request']>>
    try {
      replies = await this.sock.request(req, `${operation}: device ${dev}`)
    } catch (e) {
      if (e instanceof NetlinkError && e.errno === Errno.ENODEV)
        throw new NetlinkError(`${operation}: device ${dev}`, Errno.ENODEV, 'no such device')
      throw e
    }
    const reply = replies[0]
    if (!reply) throw new NetlinkError(`${operation}: device ${dev}`, Errno.ENODEV, 'no such device')
    const { header, attrs } = decodeMessage(linkMessage, reply)
    const info: DeviceInfo = { index: header.index, name: attrs.ifname ?? '' }
    if (attrs.numTxQueues !== undefined) info.numTxQueues = attrs.numTxQueues
    this.known.set(info.index, info.name)
    return info
  }

  /** The index of a device, without a lookup when it is given as a number. */
  async index(dev: DeviceRef, operation: string): Promise<number> {
    return typeof dev === 'number' ? dev : (await this.get(dev, operation)).index
  }

  /** Every device of the namespace, index → name. */
  async all(): Promise<Map<number, string>> {
    const out = new Map<number, string>()
    const req = encodeRequest(linkMessage, RTM.GETLINK, 0, {}, { extMask: RTEXT_FILTER_SKIP_STATS })
    await this.sock.dump(req, 'tc: links', {
      decode: (m) => {
        if (m.type !== RTM.NEWLINK) return
        const { header, attrs } = decodeParts(ifinfomsg, readName, m)
        out.set(header.index, attrs.ifname ?? '')
      },
    })
    for (const [i, n] of out) this.known.set(i, n)
    return out
  }

  /** A name resolver over what is known, falling back to lookups for missing indexes. */
  async namesFor(indexes: Iterable<number>): Promise<(index: number) => string> {
    const missing = new Set<number>()
    for (const i of indexes) if (i > 0 && !this.known.has(i)) missing.add(i)
    if (missing.size > 4) await this.all()
    else
      for (const i of missing)
        await this.get(i, 'tc: name').catch(() => {
          this.known.set(i, '')
        })
    return (i) => this.known.get(i) ?? ''
  }

  remember(index: number, name: string): void {
    this.known.set(index, name)
  }
}
