import { Errno, SysError } from './errno.ts'
import { libcFunction, T } from './libc.ts'

const ifNameToIndexFn = libcFunction('if_nametoindex', T.I32, [T.String])

/**
 * The ifindex of interface `name` in the calling thread's network namespace (call it inside
 * inNetns for another one). Throws SysError ENODEV when there is no such interface.
 */
export function ifNameToIndex(name: string): number {
  const r = ifNameToIndexFn.tryCall(name)
  if (r > 0) return r
  throw new SysError('if_nametoindex', r < 0 ? -r : Errno.ENODEV, name)
}
