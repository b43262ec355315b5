import { type EncodedRequest, encodeRequest, type NetlinkMessage } from '../netlink/codec/index.ts'
import {
  type Address,
  addrMessage,
  decodeAddress,
  decodeLink,
  type Link,
  linkMessage,
  type RouteClient,
  RTM,
  RTNLGRP,
} from '../netlink/route/index.ts'

/**
 * One keyed collection of the device state: how to dump it, which rtnetlink groups announce
 * its changes, and how to read a notification. Full-object notifications make applying one
 * idempotent, which is what lets a dump and the events around it be merged without gaps.
 */
export interface StateSource<V> {
  readonly name: string
  readonly groups: readonly number[]
  /** The dump request; its replies are read with `fromMessage`, like notifications. */
  dumpRequest(): EncodedRequest
  key(v: V): string
  fromMessage(m: NetlinkMessage): { op: 'set' | 'del'; value: V } | undefined
}

export const linkSource: StateSource<Link> = {
  name: 'links',
  groups: [RTNLGRP.LINK],
  dumpRequest: () => encodeRequest(linkMessage, RTM.GETLINK, 0, {}, { extMask: 1 }),
  key: (l) => String(l.index),
  fromMessage(m) {
    if (m.type === RTM.NEWLINK) return { op: 'set', value: decodeLink(m) }
    if (m.type === RTM.DELLINK) return { op: 'del', value: decodeLink(m) }
    return undefined
  },
}

export const addressSource: StateSource<Address> = {
  name: 'addresses',
  groups: [RTNLGRP.IPV4_IFADDR, RTNLGRP.IPV6_IFADDR],
  dumpRequest: () => encodeRequest(addrMessage, RTM.GETADDR, 0, {}, {}),
  key: (a) => `${a.index}/${a.address}/${a.prefixLength}`,
  fromMessage(m) {
    if (m.type === RTM.NEWADDR) return { op: 'set', value: decodeAddress(m) }
    if (m.type === RTM.DELADDR) return { op: 'del', value: decodeAddress(m) }
    return undefined
  },
}
