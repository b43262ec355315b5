// The tun/tap character-device ioctls (linux/if_tun.h), as thin typed wrappers over an fd.
// They throw SysError; device.ts turns failures into TapError. Numbers are computed with ioc()
// from the header's definitions; the argument convention (by value or through a pointer) is the
// one the kernel's tun driver uses for each, which does not always follow the _IOW/_IOR letter.
import { ioc, ioctl, ioctlValue } from '../netlink/sys/index.ts'

const INT = 4
const IFREQ_SIZE = 40
export const IFNAMSIZ = 16

/** ioctl request numbers (x86-64). */
export const TunIoctl = {
  TUNSETIFF: ioc('w', 'T', 202, INT), // ifreq *
  TUNSETPERSIST: ioc('w', 'T', 203, INT), // by value
  TUNSETOWNER: ioc('w', 'T', 204, INT), // by value (uid)
  TUNSETLINK: ioc('w', 'T', 205, INT), // by value (ARPHRD_*)
  TUNSETGROUP: ioc('w', 'T', 206, INT), // by value (gid)
  TUNGETFEATURES: ioc('r', 'T', 207, INT), // unsigned int *
  TUNSETOFFLOAD: ioc('w', 'T', 208, INT), // by value (TUN_F_*)
  TUNGETIFF: ioc('r', 'T', 210, INT), // ifreq *
  TUNGETSNDBUF: ioc('r', 'T', 211, INT), // int *
  TUNSETSNDBUF: ioc('w', 'T', 212, INT), // int *
  TUNGETVNETHDRSZ: ioc('r', 'T', 215, INT), // int *
  TUNSETVNETHDRSZ: ioc('w', 'T', 216, INT), // int *
  TUNSETQUEUE: ioc('w', 'T', 217, INT), // ifreq * (IFF_ATTACH_QUEUE / IFF_DETACH_QUEUE)
  TUNSETVNETLE: ioc('w', 'T', 220, INT), // int *
  TUNGETVNETLE: ioc('r', 'T', 221, INT), // int *
  TUNSETVNETBE: ioc('w', 'T', 222, INT), // int *
  TUNGETVNETBE: ioc('r', 'T', 223, INT), // int *
  TUNSETSTEERINGEBPF: ioc('r', 'T', 224, INT), // int * (prog fd, -1 detaches)
  TUNSETFILTEREBPF: ioc('r', 'T', 225, INT), // int * (prog fd, -1 detaches)
  TUNSETCARRIER: ioc('w', 'T', 226, INT), // int *
  TUNGETDEVNETNS: ioc('none', 'T', 227, 0), // returns a new fd
} as const

/** TUNSETIFF / TUNGETIFF flags (ifr_flags). */
export const IffFlag = {
  tun: 0x0001,
  tap: 0x0002,
  napi: 0x0010,
  napiFrags: 0x0020,
  noCarrier: 0x0040,
  multiQueue: 0x0100,
  attachQueue: 0x0200,
  detachQueue: 0x0400,
  persist: 0x0800,
  noPi: 0x1000,
  oneQueue: 0x2000,
  vnetHdr: 0x4000,
  tunExcl: 0x8000,
} as const
/** A TUNSETIFF flag (IFF_*) by name. */
export type IffFlagName = keyof typeof IffFlag

/** TUNSETOFFLOAD bits. */
export const TunOffload = {
  csum: 0x01,
  tso4: 0x02,
  tso6: 0x04,
  tsoEcn: 0x08,
  ufo: 0x10,
  uso4: 0x20,
  uso6: 0x40,
} as const
/** A TUNSETOFFLOAD flag (TUN_F_*) by name. */
export type TunOffloadName = keyof typeof TunOffload

export function flagNames(flags: number): IffFlagName[] {
  return (Object.keys(IffFlag) as IffFlagName[]).filter(
    (k) => k !== 'attachQueue' && k !== 'detachQueue' && k !== 'tunExcl' && (flags & IffFlag[k]) !== 0,
  )
}

function ifreq(name: string, flags: number): Buffer {
  const b = Buffer.alloc(IFREQ_SIZE)
  b.write(name, 0, IFNAMSIZ - 1, 'utf8')
  b.writeUInt16LE(flags & 0xffff, IFNAMSIZ)
  return b
}

function readIfName(b: Buffer): string {
  const end = b.indexOf(0)
  return b.subarray(0, end < 0 || end > IFNAMSIZ ? IFNAMSIZ : end).toString('utf8')
}

function getInt(fd: number, request: number): number {
  const b = Buffer.alloc(INT)
  ioctl(fd, request, b)
  return b.readInt32LE(0)
}

function setInt(fd: number, request: number, value: number): void {
  const b = Buffer.alloc(INT)
  b.writeInt32LE(value)
  ioctl(fd, request, b)
}

/** Attaches the fd to device `name` (created if missing); returns the device's actual name. */
export function tunSetIff(fd: number, name: string, flags: number): string {
  const b = ifreq(name, flags)
  ioctl(fd, TunIoctl.TUNSETIFF, b)
  return readIfName(b)
}

export function tunGetIff(fd: number): { name: string; flags: number } {
  const b = ifreq('', 0)
  ioctl(fd, TunIoctl.TUNGETIFF, b)
  return { name: readIfName(b), flags: b.readUInt16LE(IFNAMSIZ) }
}

/** The IFF_* flags this kernel supports in TUNSETIFF. */
export function tunGetFeatures(fd: number): number {
  const b = Buffer.alloc(INT)
  ioctl(fd, TunIoctl.TUNGETFEATURES, b)
  return b.readUInt32LE(0)
}

export function tunSetQueue(fd: number, attach: boolean): void {
  ioctl(fd, TunIoctl.TUNSETQUEUE, ifreq('', attach ? IffFlag.attachQueue : IffFlag.detachQueue))
}

export const tunSetPersist = (fd: number, on: boolean): void => {
  ioctlValue(fd, TunIoctl.TUNSETPERSIST, on ? 1 : 0)
}
export const tunSetOwner = (fd: number, uid: number): void => {
  ioctlValue(fd, TunIoctl.TUNSETOWNER, uid)
}
export const tunSetGroup = (fd: number, gid: number): void => {
  ioctlValue(fd, TunIoctl.TUNSETGROUP, gid)
}
export const tunSetOffload = (fd: number, bits: number): void => {
  ioctlValue(fd, TunIoctl.TUNSETOFFLOAD, bits)
}
export const tunGetSndbuf = (fd: number): number => getInt(fd, TunIoctl.TUNGETSNDBUF)
export const tunSetSndbuf = (fd: number, bytes: number): void => setInt(fd, TunIoctl.TUNSETSNDBUF, bytes)
export const tunGetVnetHdrSz = (fd: number): number => getInt(fd, TunIoctl.TUNGETVNETHDRSZ)
export const tunSetVnetHdrSz = (fd: number, bytes: number): void =>
  setInt(fd, TunIoctl.TUNSETVNETHDRSZ, bytes)
export const tunGetVnetLe = (fd: number): boolean => getInt(fd, TunIoctl.TUNGETVNETLE) !== 0
export const tunSetVnetLe = (fd: number, on: boolean): void => setInt(fd, TunIoctl.TUNSETVNETLE, on ? 1 : 0)
export const tunGetVnetBe = (fd: number): boolean => getInt(fd, TunIoctl.TUNGETVNETBE) !== 0
export const tunSetVnetBe = (fd: number, on: boolean): void => setInt(fd, TunIoctl.TUNSETVNETBE, on ? 1 : 0)
export const tunSetCarrier = (fd: number, on: boolean): void => setInt(fd, TunIoctl.TUNSETCARRIER, on ? 1 : 0)
/** Attaches a BPF_PROG_TYPE_SOCKET_FILTER steering program (fd), or detaches with -1. */
export const tunSetSteeringEbpf = (fd: number, progFd: number): void =>
  setInt(fd, TunIoctl.TUNSETSTEERINGEBPF, progFd)
/** Attaches a socket-filter program that drops (0) or trims frames before queueing; -1 detaches. */
export const tunSetFilterEbpf = (fd: number, progFd: number): void =>
  setInt(fd, TunIoctl.TUNSETFILTEREBPF, progFd)
/** A new fd for the device's network namespace (needs CAP_NET_ADMIN there). */
export const tunGetDevNetns = (fd: number): number => ioctlValue(fd, TunIoctl.TUNGETDEVNETNS, 0)
