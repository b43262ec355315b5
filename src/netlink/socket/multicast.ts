import { Observable } from 'rxjs'
import { type NetlinkEvent, NetlinkSocket, type SocketOptions } from './netlink-socket.ts'

/**
 * A cold stream of a netlink family's multicast notifications: subscribing opens a socket of
 * its own and joins `groups`; unsubscribing closes it. An overflowing receive buffer shows up
 * as an `{ kind: 'overrun' }` event, never as silence.
 */
export function multicast$(protocol: number, groups: readonly number[], options: SocketOptions = {}) {
  return new Observable<NetlinkEvent>((subscriber) => {
    const sock = new NetlinkSocket(protocol, { receiveBuffer: 4 * 1024 * 1024, ...options })
    const sub = sock.notifications(groups).subscribe(subscriber)
    return () => {
      sub.unsubscribe()
      sock.close()
    }
  })
}
