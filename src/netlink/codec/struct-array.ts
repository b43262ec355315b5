import type { Codec } from './attrs.ts'
import { DecodeError, EncodeError } from './errors.ts'
import { type IntKind, intWriter, type StructFields, type StructSpec, type StructValue } from './struct.ts'

export type StructArrayValue<H extends StructFields, I extends StructFields, K extends string> = Omit<
  StructValue<H>,
  K
> &
  Record<K, Array<StructValue<I>>>

/**
 * A C struct followed by a variable array of another struct whose length a header field counts
 * (tc_u32_sel + tc_u32_key[nkeys], tc_pedit_sel + keys…). The count field is filled in from the
 * array on encode, and bounds the array on decode.
 */
export function structArray<H extends StructFields, I extends StructFields, const K extends string>(
  header: StructSpec<H>,
  countField: keyof H & string,
  arrayKey: K,
  item: StructSpec<I>,
): Codec<StructArrayValue<H, I, K>> {
  const name = `${header.name}+${item.name}[]`
  const countAt = header.offsetOf(countField)
  const writeCount = intWriter(header.fields[countField] as IntKind)
  return {
    name,
    nested: false,
    encodeInto(w, value, path) {
      const v = value as unknown as Record<string, unknown>
      const items = (v[arrayKey] ?? []) as Array<Partial<StructValue<I>>>
      if (!Array.isArray(items)) throw new EncodeError(`${arrayKey} must be an array`, path)
      try {
        // Reserve first: reserve() may move the buffer.
        const at = w.reserve(header.size)
        header.encode(v as Partial<StructValue<H>>, w.buf, at)
        writeCount(w.buf, at + countAt, items.length, `${header.name}.${countField}`)
        for (const it of items) {
          const itemAt = w.reserve(item.size)
          item.encode(it, w.buf, itemAt)
        }
      } catch (e) {
        if (e instanceof EncodeError) throw new EncodeError(e.message, `${path}.${e.path}`)
        throw e
      }
    },
    decodeFrom(buf, start, end, path) {
      const head = header.decode(buf, start, path, end) as Record<string, unknown>
      const count = Number(head[countField] ?? 0)
      const items: Array<StructValue<I>> = []
      for (let i = 0, at = start + header.size; i < count; i++, at += item.size) {
        if (at + item.size > end)
          throw new DecodeError(`${countField} says ${count} entries, only ${i} fit`, path, at)
        items.push(item.decode(buf, at, `${path}.${arrayKey}[${i}]`, end))
      }
      head[arrayKey] = items
      return head as StructArrayValue<H, I, K>
    },
  }
}
