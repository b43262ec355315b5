// bpf() commands and `union bpf_attr` layouts (x86-64), encoded by hand. Attributes that hold
// pointers get them from addressOf(); the Buffers stay referenced by the caller's frame for the
// whole (synchronous) call.
import { readFileSync } from 'node:fs'
import { addressOf, bpfSyscall, closeFd } from '../netlink/sys/index.ts'
import type { BpfObjectKind } from './errors.ts'

export const BpfCmd = {
  mapCreate: 0,
  mapLookupElem: 1,
  mapUpdateElem: 2,
  mapDeleteElem: 3,
  mapGetNextKey: 4,
  progLoad: 5,
  objPin: 6,
  objGet: 7,
  progTestRun: 10,
  objGetInfoByFd: 15,
  mapFreeze: 22,
} as const

/** Big enough for every command used here; the kernel accepts a larger attr if its tail is zero. */
export const ATTR_SIZE = 160

/** A NUL-terminated C string in a Buffer. */
export function cString(s: string): Buffer {
  return Buffer.from(`${s}\0`, 'utf8')
}

/** A pointer field: 0 for an absent Buffer. */
export function ptr(buf: Buffer | undefined): bigint {
  return buf && buf.length > 0 ? addressOf(buf) : 0n
}

/** Reads a NUL-padded fixed-size name. */
export function readName(buf: Buffer, offset: number, size = 16): string {
  const raw = buf.subarray(offset, offset + size)
  const end = raw.indexOf(0)
  return raw.subarray(0, end < 0 ? size : end).toString('utf8')
}

/** BPF_OBJ_GET_INFO_BY_FD into `info` (zeroed by the caller, request fields set). Returns info_len. */
export function objGetInfo(fd: number, info: Buffer): number {
  const attr = Buffer.alloc(ATTR_SIZE)
  attr.writeUInt32LE(fd, 0)
  attr.writeUInt32LE(info.length, 4)
  attr.writeBigUInt64LE(ptr(info), 8)
  bpfSyscall(BpfCmd.objGetInfoByFd, attr)
  return attr.readUInt32LE(4)
}

/** BPF_OBJ_PIN: makes `fd`'s object live on at `path` (in a bpf filesystem). */
export function objPin(fd: number, path: string): void {
  const p = cString(path)
  const attr = Buffer.alloc(ATTR_SIZE)
  attr.writeBigUInt64LE(ptr(p), 0)
  attr.writeUInt32LE(fd, 8)
  bpfSyscall(BpfCmd.objPin, attr)
}

export const BPF_F_RDONLY = 1 << 3
export const BPF_F_WRONLY = 1 << 4

/** BPF_OBJ_GET: a new fd for the object pinned at `path`. */
export function objGet(path: string, flags = 0): number {
  const p = cString(path)
  const attr = Buffer.alloc(ATTR_SIZE)
  attr.writeBigUInt64LE(ptr(p), 0)
  attr.writeUInt32LE(flags, 12)
  return bpfSyscall(BpfCmd.objGet, attr)
}

/** What kind of BPF object `fd` refers to, from /proc/self/fdinfo (undefined: not a BPF fd). */
export function fdKind(fd: number): BpfObjectKind | undefined {
  let text: string
  try {
    text = readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8')
  } catch {
    return undefined
  }
  if (/^map_type:/m.test(text)) return 'map'
  if (/^prog_type:/m.test(text)) return 'program'
  if (/^link_type:/m.test(text)) return 'link'
  return undefined
}

/** Closes an fd, ignoring errors (for cleanup paths). */
export function closeQuietly(fd: number): void {
  try {
    closeFd(fd)
  } catch {
    // already closed
  }
}
