/** Bytes that do not form what the codec expected: truncated, misaligned or out of range. */
export class DecodeError extends Error {
  override readonly name = 'DecodeError'
  constructor(
    message: string,
    /** Where in the structure it happened, e.g. `linkinfo.data.mode` or `nlmsghdr`. */
    readonly path: string,
    /** Byte offset into the buffer being decoded. */
    readonly offset: number,
  ) {
    super(`${path ? `${path}: ` : ''}${message} (at byte ${offset})`)
  }
}

/** A value that cannot be encoded as declared (wrong type, out of range for its width). */
export class EncodeError extends Error {
  override readonly name = 'EncodeError'
  constructor(
    message: string,
    readonly path: string,
  ) {
    super(`${path}: ${message}`)
  }
}
