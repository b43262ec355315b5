import { NetlinkError } from '../netlink/codec/index.ts'
import { Errno, SysError } from '../netlink/sys/index.ts'

/** No network device with that name or index in the client's namespace. */
export class NoSuchDeviceError extends Error {
  override readonly name = 'NoSuchDeviceError'
  readonly code = 'ENODEV'
  constructor(
    readonly operation: string,
    readonly device: string | number,
    options?: { cause?: unknown },
  ) {
    super(`${operation}: no network device ${JSON.stringify(device)} in this namespace`, options)
  }
}

/** The device (its driver) or the running kernel does not implement the operation. */
export class NotSupportedError extends Error {
  override readonly name = 'NotSupportedError'
  readonly code = 'EOPNOTSUPP'
  constructor(
    readonly operation: string,
    readonly device: string | number | undefined,
    readonly detail: string,
    options?: { cause?: unknown },
  ) {
    super(`${operation}${device !== undefined ? ` on ${device}` : ''}: ${detail}`, options)
  }
}

/**
 * Turns the kernel's "no such device" and "not supported" answers, from netlink or from an ioctl,
 * into the typed errors above; everything else passes through unchanged.
 */
export function translateError(e: unknown, operation: string, device: string | number): unknown {
  const errno = e instanceof NetlinkError ? e.errno : e instanceof SysError ? e.errno : undefined
  if (errno === Errno.ENODEV) return new NoSuchDeviceError(operation, device, { cause: e })
  if (errno === Errno.EOPNOTSUPP || errno === 524 /* ENOTSUPP */) {
    const why = e instanceof NetlinkError && e.extackMessage ? e.extackMessage : 'operation not supported'
    return new NotSupportedError(operation, device, why, { cause: e })
  }
  return e
}
