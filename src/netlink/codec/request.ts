import type { AttrDecls, AttrSet, AttrValues, Codec } from './attrs.ts'
import { DecodeError } from './errors.ts'
import { type NetlinkMessage, NLMSG_HDRLEN, ReceivedMessage, writeHeader } from './message.ts'
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

/** An encoded request, with what lets an extended ack name the attribute it points at. */
export interface EncodedRequest {
  readonly bytes: Buffer
  readonly attrs: AttrSet
  /** The path of the attribute starting `offset` bytes into the message, if one does. */
  pathAt(offset: number): string | undefined
}

/**
 * Encodes a whole request message; the socket fills in seq and pid when it sends it. With `into`
 * (bulk requests: a writer made with paths 'none'), the message is appended to it and no
 * attribute paths are built: they are worked out again only for a request the kernel refuses,
 * or for one that fails to encode (which then throws the same error, with its path, and leaves
 * `into` as it was).
 */
export function encodeRequest<H extends StructFields, D extends AttrDecls>(
  spec: MessageSpec<H, D>,
  type: number,
  flags: number,
  header: Partial<StructValue<H>>,
  attrs: AttrValues<D>,
  into?: Writer,
): EncodedRequest {
  const set = spec.attrs as unknown as AttrSet
  if (into === undefined) {
    const w = encodeInto(new Writer(256), spec, type, flags, header, attrs)
    return { bytes: w.bytes(), attrs: set, pathAt: (offset) => w.pathAt(offset) }
  }
  into.align()
  const start = into.len
  try {
    encodeInto(into, spec, type, flags, header, attrs, start)
  } catch (e) {
    // Padding is written by leaving bytes as they are: the next message needs these zeroed.
    into.buf.fill(0, start, into.len)
    into.len = start
    encodeInto(new Writer(256), spec, type, flags, header, attrs)
    throw e
  }
  let traced: Writer | undefined
  return {
    bytes: into.buf.subarray(start, into.len),
    attrs: set,
    pathAt(offset) {
      traced ??= encodeInto(new Writer(256), spec, type, flags, header, attrs)
      return traced.pathAt(offset)
    },
  }
}

function encodeInto<H extends StructFields, D extends AttrDecls>(
  w: Writer,
  spec: MessageSpec<H, D>,
  type: number,
  flags: number,
  header: Partial<StructValue<H>>,
  attrs: AttrValues<D>,
  start = 0,
): Writer {
  w.reserve(NLMSG_HDRLEN)
  const at = w.reserve(spec.header.size)
  spec.header.encode(header, w.buf, at)
  w.align()
  spec.attrs.encodeInto(w, attrs, '')
  writeHeader(w.buf, { len: w.len - start, type, flags, seq: 0 }, start)
  return w
}

/** Decodes a message's payload with its spec. Throws DecodeError only. */
export function decodeMessage<H extends StructFields, D extends AttrDecls>(
  spec: MessageSpec<H, D>,
  msg: NetlinkMessage,
): { header: StructValue<H>; attrs: AttrValues<D> } {
  return decodeParts(spec.header, spec.attrs.decodeFrom, msg)
}

/**
 * Decodes a message's header with `header` and its attributes with `attrs`: a set's decoder, or a
 * picker of the few attributes a hot path reads. Throws DecodeError only.
 */
export function decodeParts<H extends StructFields, A>(
  header: StructSpec<H>,
  attrs: (buf: Buffer, start: number, end: number, path: string) => A,
  msg: NetlinkMessage,
): { header: StructValue<H>; attrs: A } {
  let buf: Buffer
  let start = 0
  let end: number
  // A received message points into its datagram: no view of its own, and no tuple of bounds
  // either (one per message cost a tenth of a link dump's decoding).
  if (msg instanceof ReceivedMessage) {
    buf = msg.data
    start = msg.start
    end = msg.end
  } else {
    buf = msg.payload
    end = buf.length
  }
  if (end - start < header.size)
    throw new DecodeError(`${header.name} needs ${header.size} bytes, has ${end - start}`, header.name, start)
  return {
    header: header.decode(buf, start, header.name, end),
    attrs: attrs(buf, Math.min(start + ((header.size + 3) & ~3), end), end, ''),
  }
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
