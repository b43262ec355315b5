import { Errno, SysError } from './errno.ts'
import { libcFunction, libcFunctionThreaded, T } from './libc.ts'

export const AF_UNIX = 1
export const AF_INET = 2
export const AF_NETLINK = 16
export const AF_PACKET = 17
export const SOCK_STREAM = 1
export const SOCK_DGRAM = 2
export const SOCK_RAW = 3
export const SOCK_NONBLOCK = 0o4000
export const SOCK_CLOEXEC = 0o2000000
export const SOL_SOCKET = 1
export const SOL_NETLINK = 270
export const SO_SNDBUF = 7
export const SO_RCVBUF = 8
export const SO_SNDBUFFORCE = 32
export const SO_RCVBUFFORCE = 33
export const MSG_PEEK = 2
export const MSG_TRUNC = 0x20
export const MSG_DONTWAIT = 0x40

const socketFn = libcFunction('socket', T.I32, [T.I32, T.I32, T.I32])
const bindFn = libcFunction('bind', T.I32, [T.I32, T.U8Array, T.U32])
const getsocknameFn = libcFunction('getsockname', T.I32, [T.I32, T.U8Array, T.U8Array])
const setsockoptFn = libcFunction('setsockopt', T.I32, [T.I32, T.I32, T.I32, T.U8Array, T.U32])
const getsockoptFn = libcFunction('getsockopt', T.I32, [T.I32, T.I32, T.I32, T.U8Array, T.U8Array])
const sendtoFn = libcFunction('sendto', T.I64, [T.I32, T.U8Array, T.U64, T.I32, T.U8Array, T.U32])
const sendFn = libcFunction('send', T.I64, [T.I32, T.U8Array, T.U64, T.I32])
const sendThreaded = libcFunctionThreaded('send', T.I64, [T.I32, T.U8Array, T.U64, T.I32])
const recvFn = libcFunction('recv', T.I64, [T.I32, T.U8Array, T.U64, T.I32])
const sendmsgFn = libcFunction('sendmsg', T.I64, [T.I32, T.U8Array, T.I32])
const recvmsgFn = libcFunction('recvmsg', T.I64, [T.I32, T.U8Array, T.I32])
const socketpairFn = libcFunction('socketpair', T.I32, [T.I32, T.I32, T.I32, T.U8Array])

export function socket(domain: number, type: number, protocol: number): number {
  return socketFn.checked(domain, type, protocol)
}

export function socketPair(domain: number, type: number): [number, number] {
  const fds = Buffer.alloc(8)
  socketpairFn.checked(domain, type, 0, fds)
  return [fds.readInt32LE(0), fds.readInt32LE(4)]
}

export function bind(fd: number, addr: Buffer): void {
  bindFn.checked(fd, addr, addr.length)
}

/** Returns the socket's own address, as many bytes as the kernel filled in. */
export function getsockname(fd: number, size = 128): Buffer {
  const addr = Buffer.alloc(size)
  const len = Buffer.alloc(4)
  len.writeUInt32LE(size)
  getsocknameFn.checked(fd, addr, len)
  return addr.subarray(0, Math.min(size, len.readUInt32LE(0)))
}

export function setsockopt(fd: number, level: number, name: number, value: Buffer): void {
  setsockoptFn.checked(fd, level, name, value, value.length)
}

export function setsockoptInt(fd: number, level: number, name: number, value: number): void {
  const b = Buffer.alloc(4)
  b.writeInt32LE(value)
  setsockopt(fd, level, name, b)
}

/** Returns true if set, false when the kernel does not know the option (ENOPROTOOPT). */
export function trySetsockoptInt(fd: number, level: number, name: number, value: number): boolean {
  const b = Buffer.alloc(4)
  b.writeInt32LE(value)
  const r = setsockoptFn.tryCall(fd, level, name, b, 4)
  if (r >= 0) return true
  if (r === -92 /* ENOPROTOOPT */) return false
  throw new SysError('setsockopt', -r)
}

export function getsockopt(fd: number, level: number, name: number, size: number): Buffer {
  const value = Buffer.alloc(size)
  const len = Buffer.alloc(4)
  len.writeUInt32LE(size)
  getsockoptFn.checked(fd, level, name, value, len)
  return value.subarray(0, len.readUInt32LE(0))
}

export function getsockoptInt(fd: number, level: number, name: number): number {
  return getsockopt(fd, level, name, 4).readInt32LE(0)
}

/** Sends a datagram; returns bytes sent or null when the socket would block. */
export function sendTo(fd: number, data: Buffer, addr?: Buffer, flags = 0): number | null {
  const n = addr
    ? sendtoFn.tryCall(fd, data, data.length, flags, addr, addr.length)
    : sendFn.tryCall(fd, data, data.length, flags)
  if (n === -Errno.EAGAIN) return null
  if (n < 0) throw new SysError('sendto', -n)
  return n
}

/**
 * As sendTo without an address, from a helper thread: the kernel's work for the datagram (a
 * netlink request is carried out inside send) then runs beside the caller's JavaScript. Keep
 * `data` alive and the fd open until it resolves.
 */
export async function sendInThread(fd: number, data: Buffer): Promise<number | null> {
  const n = await sendThreaded(fd, data, data.length, 0)
  if (n === -Errno.EAGAIN) return null
  if (n < 0) throw new SysError('sendto', -n)
  return n
}

/**
 * Receives one datagram into `buf`. Returns its full length (which may exceed buf.length when
 * MSG_TRUNC is passed), or null when nothing is queued.
 */
export function recv(fd: number, buf: Buffer, flags = 0): number | null {
  const n = recvFn.tryCall(fd, buf, buf.length, flags | MSG_DONTWAIT)
  if (n === -Errno.EAGAIN) return null
  if (n < 0) throw new SysError('recv', -n)
  return n
}

/** sendmsg/recvmsg take a caller-built msghdr (pointers via addressOf). */
export function sendMsg(fd: number, msghdr: Buffer, flags = 0): number | null {
  const n = sendmsgFn.tryCall(fd, msghdr, flags)
  if (n === -Errno.EAGAIN) return null
  if (n < 0) throw new SysError('sendmsg', -n)
  return n
}

export function recvMsg(fd: number, msghdr: Buffer, flags = 0): number | null {
  const n = recvmsgFn.tryCall(fd, msghdr, flags | MSG_DONTWAIT)
  if (n === -Errno.EAGAIN) return null
  if (n < 0) throw new SysError('recvmsg', -n)
  return n
}
