import { NETLINK_ROUTE, NetlinkSocket } from '../socket/index.ts'
import type { NetnsRef } from '../sys/index.ts'
import { AddressApi } from './addresses.ts'
import { LinkApi } from './links.ts'
import { TcApi } from './tc/index.ts'

/** Where a route client opens its socket. */
export interface RouteOptions {
  /** The network namespace to work in: a name under /run/netns, `{ path }` or `{ fd }`. */
  netns?: NetnsRef
}

/** An rtnetlink client for one network namespace. */
export class RouteClient {
  readonly links: LinkApi
  readonly addresses: AddressApi
  /** Traffic control: qdiscs, classes, filters, actions and their events. */
  readonly tc: TcApi
  readonly netns: NetnsRef | undefined

  constructor(
    readonly socket: NetlinkSocket,
    netns: NetnsRef | undefined,
  ) {
    this.netns = netns
    this.links = new LinkApi(socket, netns)
    this.addresses = new AddressApi(socket, (dev) => this.links.index(dev))
    this.tc = new TcApi(socket, netns)
  }

  /** Closes the client's socket (event streams have their own and close on unsubscribe). */
  close(): void {
    this.socket.close()
  }

  /** Closes the client (`using rt = await openRoute()`). */
  [Symbol.dispose](): void {
    this.close()
  }
}

/** Opens an rtnetlink client in a namespace (default: the caller's). */
export async function openRoute(options: RouteOptions = {}): Promise<RouteClient> {
  return new RouteClient(new NetlinkSocket(NETLINK_ROUTE, { netns: options.netns }), options.netns)
}
