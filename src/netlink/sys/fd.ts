import { Errno, SysError } from './errno.ts'
import { libcFunction, T } from './libc.ts'

const O_RDONLY = 0
export const O_RDWR = 2
export const O_NONBLOCK = 0o4000
export const O_CLOEXEC = 0o2000000

const openFn = libcFunction('open', T.I32, [T.String, T.I32, T.I32])
const closeFn = libcFunction('close', T.I32, [T.I32])
const readFn = libcFunction('read', T.I64, [T.I32, T.U8Array, T.U64])
const writeFn = libcFunction('write', T.I64, [T.I32, T.U8Array, T.U64])
const eventfdFn = libcFunction('eventfd', T.I32, [T.U32, T.I32])

export function openPath(path: string, flags = O_RDONLY | O_CLOEXEC): number {
  try {
    return openFn.checked(path, flags, 0)
  } catch (e) {
    if (e instanceof SysError) throw new SysError('open', e.errno, path)
    throw e
  }
}

export function closeFd(fd: number): void {
  closeFn.checked(fd)
}

/** Reads into `buf`; returns the byte count, or null when a non-blocking fd has nothing (EAGAIN). */
export function readFd(fd: number, buf: Buffer, length = buf.length): number | null {
  const n = readFn.tryCall(fd, buf, length)
  if (n === -Errno.EAGAIN) return null
  if (n < 0) throw new SysError('read', -n)
  return n
}

/** Writes `buf`; returns the byte count, or null when a non-blocking fd would block. */
export function writeFd(fd: number, buf: Buffer, length = buf.length): number | null {
  const n = writeFn.tryCall(fd, buf, length)
  if (n === -Errno.EAGAIN) return null
  if (n < 0) throw new SysError('write', -n)
  return n
}

export function eventFd(): number {
  return eventfdFn.checked(0, O_NONBLOCK | O_CLOEXEC)
}
