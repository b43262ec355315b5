import type { AttrDecls, AttrSet, AttrValues, Codec } from './attrs.ts'
import { DecodeError } from './errors.ts'
import { type NetlinkMessage, NLMSG_HDRLEN, writeHeader } from './message.ts'
import type { StructFields, StructSpec, StructValue } from './struct.ts'
import { Writer } from './writer.ts'

/** A message format: a fixed C header followed by an attribute set (ifinfomsg + IFLA_*, …). */
export interface MessageSpec<H extends StructFields = StructFields, D extends AttrDecls = AttrDecls> {
  readonly header: StructSpec<H>
  readonly attrs: AttrSet<D>
}

export type MessageValue<M> =
  M extends MessageSpec<infer H, infer D> ? { header: StructValue<H>; attrs: AttrValues<D> } : never

export function messageSpec<H extends StructFields, D extends AttrDecls>(
  header: StructSpec<H>,
  attrs: AttrSet<D>,
): MessageSpec<H, D> {
  return { header, attrs }
}

/** An encoded request, with the attribute map that lets an extended ack name its attribute. */
export interface EncodedRequest {
  readonly bytes: Buffer
  readonly writer: Writer
  readonly attrs: AttrSet
}

/** Encodes a whole request message; the socket fills in seq and pid when it sends it. */
export function encodeRequest<H extends StructFields, D extends AttrDecls>(
  spec: MessageSpec<H, D>,
  type: number,
  flags: number,
  header: Partial<StructValue<H>>,
  attrs: AttrValues<D>,
): EncodedRequest {
  const w = new Writer(256)
  w.reserve(NLMSG_HDRLEN)
  const at = w.reserve(spec.header.size)
  spec.header.encode(header, w.buf, at)
  w.align()
  spec.attrs.encodeInto(w, attrs, '')
  writeHeader(w.buf, { len: w.len, type, flags, seq: 0 })
  return { bytes: w.bytes(), writer: w, attrs: spec.attrs as unknown as AttrSet }
}

/** Decodes a message's payload with its spec. Throws DecodeError only. */
export function decodeMessage<H extends StructFields, D extends AttrDecls>(
  spec: MessageSpec<H, D>,
  msg: NetlinkMessage,
): { header: StructValue<H>; attrs: AttrValues<D> } {
  const p = msg.payload
  if (p.length < spec.header.size)
    throw new DecodeError(
      `${spec.header.name} needs ${spec.header.size} bytes, has ${p.length}`,
      spec.header.name,
      0,
    )
  const header = spec.header.decode(p, 0)
  const start = (spec.header.size + 3) & ~3
  const attrs = spec.attrs.decodeFrom(p, Math.min(start, p.length), p.length, '')
  return { header, attrs }
}

/** A header+attributes message used as an attribute's payload (veth's peer is an ifinfomsg + IFLA_*). */
export function messageCodec<H extends StructFields, D extends AttrDecls>(
  name: string,
  spec: MessageSpec<H, D>,
): Codec<{ header: Partial<StructValue<H>>; attrs: AttrValues<D> }> {
  const headerSize = (spec.header.size + 3) & ~3
  return {
    name,
    encodeInto(w, value, path) {
      const at = w.reserve(headerSize)
      spec.header.encode(value.header, w.buf, at)
      spec.attrs.encodeInto(w, value.attrs, path)
    },
    decodeFrom(buf, start, end, path) {
      if (end - start < spec.header.size) throw new DecodeError(`${name} header truncated`, path, start)
      const header = spec.header.decode(buf, start, path, end)
      return {
        header: header as unknown as Partial<StructValue<H>>,
        attrs: spec.attrs.decodeFrom(buf, Math.min(start + headerSize, end), end, path),
      }
    },
  }
}
