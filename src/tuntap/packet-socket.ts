import { z } from 'zod'
import {
  AF_PACKET,
  bind,
  closeFd,
  ifNameToIndex,
  inNetns,
  type NetnsRef,
  SOCK_CLOEXEC,
  SOCK_NONBLOCK,
  SOCK_RAW,
  SysError,
  sendTo,
  socket,
} from '../netlink/sys/index.ts'
import { parseTapInput, TapError, tapFailure } from './tap-errors.ts'

const schema = z
  .object({
    ifindex: z.number().int().min(1).optional(),
    ifname: z
      .string()
      .min(1)
      .refine((s) => Buffer.byteLength(s) <= 15, 'at most 15 bytes')
      .optional(),
    netns: z
      .union([
        z.string().min(1),
        z.object({ path: z.string().min(1) }),
        z.object({ fd: z.number().int().min(0) }),
      ])
      .optional(),
  })
  .refine(
    (o) => (o.ifindex === undefined) !== (o.ifname === undefined),
    'give exactly one of ifindex, ifname',
  )

const frameSchema = z
  .instanceof(Buffer)
  .refine((b) => b.length >= 14 && b.length <= 65535, 'an Ethernet frame (or IP packet) of 14..65535 bytes')

/** Options of `PacketSocket.open`: the interface (by name or index) and its namespace. */
export interface PacketSocketOptions {
  ifindex?: number
  ifname?: string
  /** Namespace of the interface (the socket is opened there). */
  netns?: NetnsRef
}

/** struct sockaddr_ll (20 bytes): family, protocol (network order), ifindex, hatype, pkttype, halen, addr[8]. */
function sockaddrLl(ifindex: number, protocol = 0): Buffer {
  const b = Buffer.alloc(20)
  b.writeUInt16LE(AF_PACKET, 0)
  b.writeUInt16BE(protocol, 2)
  b.writeInt32LE(ifindex, 4)
  return b
}

/**
 * A send-only AF_PACKET SOCK_RAW socket bound to one interface: each `send` puts a complete
 * Ethernet frame on the interface's transmit path. Written to a tap, the frame goes through
 * tun's queue selection (and its steering program) and is read from the chosen queue fd.
 * Protocol 0: the socket receives nothing. The interface must be up (else ENETDOWN).
 */
export class PacketSocket implements Disposable {
  #fd: number
  readonly ifindex: number

  private constructor(fd: number, ifindex: number) {
    this.#fd = fd
    this.ifindex = ifindex
  }

  static open(options: PacketSocketOptions): PacketSocket {
    const o = parseTapInput(schema, options, 'open packet socket')
    return inNetns(o.netns, () => {
      let ifindex: number
      try {
        ifindex = o.ifindex ?? ifNameToIndex(o.ifname as string)
      } catch (e) {
        if (e instanceof SysError)
          throw new TapError({ kind: 'not-found', operation: 'open packet socket', name: o.ifname ?? '' })
        throw e
      }
      let fd: number
      try {
        fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)
      } catch (e) {
        throw tapFailure('open packet socket', e)
      }
      try {
        bind(fd, sockaddrLl(ifindex))
      } catch (e) {
        closeFd(fd)
        if (e instanceof SysError && e.errno === 19)
          throw new TapError({ kind: 'not-found', operation: 'open packet socket', name: String(ifindex) })
        throw tapFailure('open packet socket', e)
      }
      return new PacketSocket(fd, ifindex)
    })
  }

  get fd(): number {
    if (this.#fd < 0) throw new TapError({ kind: 'closed', operation: 'packet socket' })
    return this.#fd
  }

  /** Sends one Ethernet frame; false when the socket would block (retry later). */
  send(frame: Buffer): boolean {
    parseTapInput(frameSchema, frame, 'packet send')
    const fd = this.fd
    try {
      return sendTo(fd, frame) !== null
    } catch (e) {
      throw tapFailure('packet send', e)
    }
  }

  close(): void {
    if (this.#fd < 0) return
    const fd = this.#fd
    this.#fd = -1
    closeFd(fd)
  }

  [Symbol.dispose](): void {
    this.close()
  }
}
