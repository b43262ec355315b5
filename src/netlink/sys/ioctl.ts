import { libcFunction, T } from './libc.ts'

export { ioc } from './ioc.ts'

const ioctlBuf = libcFunction('ioctl', T.I32, [T.I32, T.U64, T.U8Array])
const ioctlVal = libcFunction('ioctl', T.I32, [T.I32, T.U64, T.U64])

/** ioctl whose argument is a pointer to `arg` (the kernel reads and/or writes it in place). */
export function ioctl(fd: number, request: number, arg: Buffer): number {
  return ioctlBuf.checked(fd, request, arg)
}

/** ioctl whose argument is passed by value (an int or unsigned long). */
export function ioctlValue(fd: number, request: number, value: number): number {
  return ioctlVal.checked(fd, request, value)
}

/** As `ioctl`, but returns -errno instead of throwing (for probing optional features). */
export function tryIoctl(fd: number, request: number, arg: Buffer): number {
  return ioctlBuf.tryCall(fd, request, arg)
}
