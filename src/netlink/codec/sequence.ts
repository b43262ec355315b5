import { type AttrDecls, type AttrSet, type AttrValues, type Codec, forEachAttr } from './attrs.ts'

/**
 * A nest whose attributes mean something by their order, not only by their type (devlink's fmsg:
 * "object start, name, value type, value, nest end, …"). Each attribute is decoded by the same
 * declared set, one at a time, so the result is the ordered list of single-attribute values:
 * `[{ objNestStart: true }, { objName: 'a' }, { objValueType: 'u8' }, …]`.
 */
export function sequenceCodec<D extends AttrDecls>(
  name: string,
  set: AttrSet<D>,
): Codec<Array<AttrValues<D>>> {
  return {
    name,
    encodeInto(w, value, path) {
      value.forEach((item, i) => {
        set.encodeInto(w, item, `${path}[${i}]`)
      })
    },
    decodeFrom(buf, start, end, path) {
      const out: Array<AttrValues<D>> = []
      forEachAttr(buf, start, end, path, (_type, s, e) => {
        // Re-frame exactly one attribute (its 4-byte header precedes the payload).
        out.push(set.decodeFrom(buf, s - 4, e, `${path}[${out.length}]`))
      })
      return out
    },
  }
}
