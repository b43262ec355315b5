import {
  encodeRequest,
  NLM_F_ACK,
  NLM_F_DUMP,
  NLM_F_REQUEST,
  NLMSG_DONE,
} from '../src/netlink/codec/index.ts'
import { linkMessage, RTM } from '../src/netlink/route/index.ts'
import { NETLINK_ROUTE, NetlinkSocket } from '../src/netlink/socket/index.ts'
import { poller, recv, sendTo } from '../src/netlink/sys/index.ts'

/**
 * The floor: an RTM_GETLINK dump received with the same syscalls rxnetlink uses, but with
 * nothing decoded — only each datagram's last header is looked at, to see the dump's end.
 * Returns the datagrams (for the decode-only benchmark) and the message count.
 */
export async function rawLinkDump(
  netns: string,
  keep = false,
  extMask = 1,
): Promise<{ datagrams: Buffer[]; messages: number }> {
  const sock = new NetlinkSocket(NETLINK_ROUTE, { netns })
  const req = encodeRequest(linkMessage, RTM.GETLINK, 0, {}, { extMask })
  req.bytes.writeUInt16LE(NLM_F_REQUEST | NLM_F_ACK | NLM_F_DUMP, 6)
  req.bytes.writeUInt32LE(1, 8)
  sendTo(sock.fd, req.bytes)
  const buf = Buffer.allocUnsafe(256 * 1024)
  const datagrams: Buffer[] = []
  let messages = 0
  for (;;) {
    const n = recv(sock.fd, buf)
    if (n === null) {
      await new Promise<void>((resolve) => {
        const stop = poller.watch(sock.fd, () => {
          stop()
          resolve()
        })
      })
      continue
    }
    if (keep) datagrams.push(Buffer.from(buf.subarray(0, n)))
    // Walk headers only to count and find NLMSG_DONE.
    let off = 0
    let done = false
    while (off < n) {
      const len = buf.readUInt32LE(off)
      if (buf.readUInt16LE(off + 4) === NLMSG_DONE) done = true
      else messages++
      off += (len + 3) & ~3
    }
    if (done) break
  }
  sock.close()
  return { datagrams, messages }
}
