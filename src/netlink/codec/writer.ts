/**
 * How much a Writer remembers of attribute paths: `track` records where each attribute starts, so
 * that an extended-ack offset from the kernel can be turned back into a path; `name` only names
 * attributes in encoding errors; `none` builds no path strings at all (bulk encoding: a request
 * that fails is encoded again with `track` to say where).
 */
export type PathMode = 'track' | 'name' | 'none'

/** A growable byte buffer for building netlink messages. */
export class Writer {
  buf: Buffer
  len = 0
  readonly marks: Array<{ offset: number; path: string }> | undefined
  readonly namesPaths: boolean

  constructor(initial = 256, paths: PathMode = 'track') {
    this.buf = Buffer.alloc(initial)
    this.marks = paths === 'track' ? [] : undefined
    this.namesPaths = paths !== 'none'
  }

  /** The path of `key` inside `path`, when this writer names paths ('' otherwise). */
  child(path: string, key: string): string {
    return this.namesPaths ? (path ? `${path}.${key}` : key) : ''
  }

  /** Makes room for `n` more bytes and returns the offset where they start. */
  reserve(n: number): number {
    const at = this.len
    const need = at + n
    if (need > this.buf.length) {
      const next = Buffer.alloc(Math.max(need, this.buf.length * 2))
      this.buf.copy(next, 0, 0, at)
      this.buf = next
    }
    this.len = need
    return at
  }

  /** Pads with zeros to the next 4-byte boundary (NLA_ALIGN / NLMSG_ALIGN). */
  align(): void {
    const r = this.len & 3
    if (r) this.reserve(4 - r)
  }

  mark(offset: number, path: string): void {
    this.marks?.push({ offset, path })
  }

  bytes(): Buffer {
    return this.buf.subarray(0, this.len)
  }

  /** The attribute path recorded for the attribute starting exactly at `offset`, if any. */
  pathAt(offset: number): string | undefined {
    return this.marks?.find((m) => m.offset === offset)?.path
  }
}
