import { DecodeError } from './errors.ts'
import { intReader, intWriter, u32At } from './struct.ts'

const u16At = intReader('u16')
const writeU16 = intWriter('u16')
const writeU32 = intWriter('u32')

/** nlmsghdr: u32 len, u16 type, u16 flags, u32 seq, u32 pid. */
export const NLMSG_HDRLEN = 16

export const NLMSG_NOOP = 1
export const NLMSG_ERROR = 2
export const NLMSG_DONE = 3
export const NLMSG_OVERRUN = 4

export const NLM_F_REQUEST = 0x1
export const NLM_F_MULTI = 0x2
export const NLM_F_ACK = 0x4
export const NLM_F_ECHO = 0x8
export const NLM_F_DUMP_INTR = 0x10
export const NLM_F_DUMP_FILTERED = 0x20
export const NLM_F_ROOT = 0x100
export const NLM_F_MATCH = 0x200
export const NLM_F_DUMP = NLM_F_ROOT | NLM_F_MATCH
export const NLM_F_REPLACE = 0x100
export const NLM_F_EXCL = 0x200
export const NLM_F_CREATE = 0x400
export const NLM_F_APPEND = 0x800
// Flags on NLMSG_ERROR acks.
export const NLM_F_CAPPED = 0x100
export const NLM_F_ACK_TLVS = 0x200

/** One netlink message: its header fields and its payload. */
export interface NetlinkMessage {
  type: number
  flags: number
  seq: number
  pid: number
  readonly payload: Buffer
}

/**
 * A message as received: it points into the datagram instead of holding a view of its own,
 * because creating ten thousand Buffer views per dump costs more than decoding them.
 */
export class ReceivedMessage implements NetlinkMessage {
  constructor(
    readonly type: number,
    readonly flags: number,
    readonly seq: number,
    readonly pid: number,
    /** The whole datagram. */
    readonly data: Buffer,
    /** Payload bounds within `data`. */
    readonly start: number,
    readonly end: number,
  ) {}
  get payload(): Buffer {
    return this.data.subarray(this.start, this.end)
  }
}

/**
 * Splits a datagram into its messages. Throws DecodeError on a header that is truncated or
 * claims more bytes than remain; never loops forever (every step advances at least 16 bytes).
 */
export function parseMessages(buf: Buffer, out: NetlinkMessage[] = []): NetlinkMessage[] {
  let off = 0
  while (off < buf.length) {
    if (buf.length - off < NLMSG_HDRLEN)
      throw new DecodeError(`truncated nlmsghdr (${buf.length - off} bytes)`, 'nlmsghdr', off)
    const len = u32At(buf, off)
    if (len < NLMSG_HDRLEN || off + len > buf.length)
      throw new DecodeError(`nlmsg_len ${len} does not fit (${buf.length - off} bytes left)`, 'nlmsghdr', off)
    out.push(
      new ReceivedMessage(
        u16At(buf, off + 4),
        u16At(buf, off + 6),
        u32At(buf, off + 8),
        u32At(buf, off + 12),
        buf,
        off + NLMSG_HDRLEN,
        off + len,
      ),
    )
    off += (len + 3) & ~3
  }
  return out
}

export function writeHeader(
  buf: Buffer,
  h: { len: number; type: number; flags: number; seq: number; pid?: number },
  at = 0,
): void {
  writeU32(buf, at, h.len, 'nlmsghdr.len')
  writeU16(buf, at + 4, h.type, 'nlmsghdr.type')
  stampRequest(buf, at, h.flags, 0xffff, h.seq, h.pid)
}

/**
 * Sets an encoded message's flags (`set` after clearing `clear`), sequence number and port id
 * (0: the kernel's), as a socket does each time it sends the message.
 */
export function stampRequest(
  buf: Buffer,
  at: number,
  set: number,
  clear: number,
  seq: number,
  pid = 0,
): void {
  writeU16(buf, at + 6, (u16At(buf, at + 6) & ~clear) | set, 'nlmsghdr.flags')
  writeU32(buf, at + 8, seq >>> 0, 'nlmsghdr.seq')
  writeU32(buf, at + 12, pid, 'nlmsghdr.pid')
}
