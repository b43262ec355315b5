import { errnoName } from '../sys/errno.ts'
import { type AttrSet, attr, attrSet } from './attrs.ts'
import { DecodeError } from './errors.ts'
import { type NetlinkMessage, NLM_F_ACK_TLVS, NLM_F_CAPPED, NLMSG_HDRLEN } from './message.ts'
import type { EncodedRequest } from './request.ts'

/** Extended-ack TLVs (NLMSGERR_ATTR_*) that follow an error or ack. */
export const extackAttrs = attrSet('extack', {
  msg: attr.string(1),
  offset: attr.u32(2),
  cookie: attr.binary(3),
  policy: attr.binary(4),
  missType: attr.u32(5),
  missNest: attr.u32(6),
})

/** What the kernel refused, and why. */
export class NetlinkError extends Error {
  override readonly name = 'NetlinkError'
  readonly code: string
  constructor(
    /** The operation that failed, e.g. `RTM_NEWLINK` or `links.create`. */
    readonly operation: string,
    /** Positive errno. */
    readonly errno: number,
    /** The kernel's extended-ack message, when it gave one. */
    readonly extackMessage?: string,
    /** Path of the offending attribute in the request, e.g. `linkinfo.kind`. */
    readonly attrPath?: string,
    /** A required attribute that was missing, as a path. */
    readonly missingAttr?: string,
  ) {
    const code = errnoName(errno)
    const where = attrPath ? ` (at ${attrPath})` : missingAttr ? ` (missing ${missingAttr})` : ''
    super(`${operation}: ${code}${extackMessage ? `: ${extackMessage}` : ''}${where}`)
    this.code = code
  }
}

export interface Ack {
  /** 0 for success, else a positive errno. */
  errno: number
  extackMessage?: string
  offset?: number
  missType?: number
  missNest?: number
}

/** Decodes the payload of NLMSG_ERROR (an ack when errno is 0) or of a NLMSG_DONE with TLVs. */
export function parseAck(msg: NetlinkMessage, isDone = false): Ack {
  const p = msg.payload
  if (p.length < 4) throw new DecodeError('error message shorter than 4 bytes', 'nlmsgerr', 0)
  const errno = Math.abs(p.readInt32LE(0))
  if (isDone) {
    // NLMSG_DONE: the int may be followed by TLVs directly.
    return msg.flags & NLM_F_ACK_TLVS ? { errno, ...tlvs(p, 4) } : { errno }
  }
  if (!(msg.flags & NLM_F_ACK_TLVS)) return { errno }
  if (p.length < 4 + NLMSG_HDRLEN)
    throw new DecodeError('error message lacks the request header', 'nlmsgerr', 4)
  const origLen = p.readUInt32LE(4)
  const skip = msg.flags & NLM_F_CAPPED ? NLMSG_HDRLEN : (origLen + 3) & ~3
  return { errno, ...tlvs(p, Math.min(p.length, 4 + skip)) }
}

function tlvs(p: Buffer, at: number): Omit<Ack, 'errno'> {
  const v = extackAttrs.decodeFrom(p, at, p.length, 'extack')
  const out: Omit<Ack, 'errno'> = {}
  if (v.msg) out.extackMessage = v.msg
  if (v.offset !== undefined) out.offset = v.offset
  if (v.missType !== undefined) out.missType = v.missType
  if (v.missNest !== undefined) out.missNest = v.missNest
  return out
}

/** Turns an ack into a NetlinkError, naming the attribute the kernel pointed at. */
export function ackError(operation: string, ack: Ack, request?: EncodedRequest): NetlinkError {
  let path: string | undefined
  let missing: string | undefined
  if (request && ack.offset !== undefined) path = request.pathAt(ack.offset) ?? `byte ${ack.offset}`
  if (ack.missType !== undefined) {
    const nest = ack.missNest !== undefined && request ? request.pathAt(ack.missNest) : undefined
    const inTop = ack.missNest === undefined && request ? nameOf(request.attrs, ack.missType) : undefined
    missing = nest ? `${nest}.#${ack.missType}` : (inTop ?? `#${ack.missType}`)
  }
  return new NetlinkError(operation, ack.errno, ack.extackMessage, path, missing)
}

function nameOf(set: AttrSet, type: number): string | undefined {
  for (const [name, d] of Object.entries(set.decls)) if (d.id === type) return name
  return undefined
}
