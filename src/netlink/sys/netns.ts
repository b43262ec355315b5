import { SysError } from './errno.ts'
import { closeFd, O_CLOEXEC, openPath } from './fd.ts'
import { libcFunction, T } from './libc.ts'

export const CLONE_NEWNET = 0x40000000
const MS_BIND = 0x1000
const MS_REC = 0x4000
const MS_SHARED = 1 << 20
const MNT_DETACH = 2

const setnsFn = libcFunction('setns', T.I32, [T.I32, T.I32])
const unshareFn = libcFunction('unshare', T.I32, [T.I32])
const mountFn = libcFunction('mount', T.I32, [T.String, T.String, T.String, T.U64, T.U64])
const umount2Fn = libcFunction('umount2', T.I32, [T.String, T.I32])

/** A network namespace: a name under /run/netns, a path to an nsfs file, or an open fd. */
export type NetnsRef = string | { path: string } | { fd: number }

export function netnsPath(ref: string | { path: string }): string {
  return typeof ref === 'string' ? `/run/netns/${ref}` : ref.path
}

export function setns(fd: number, nstype = CLONE_NEWNET): void {
  setnsFn.checked(fd, nstype)
}

/**
 * Runs `fn` with the calling thread switched into `ref`'s network namespace, then switches
 * back. Sockets created inside stay bound to that namespace for their lifetime.
 * Synchronous on purpose: no other JS can run on this thread while it is switched.
 */
export function inNetns<R>(ref: NetnsRef | undefined, fn: () => R): R {
  if (ref === undefined) return fn()
  const home = openPath('/proc/thread-self/ns/net', O_CLOEXEC)
  const owned = !(typeof ref === 'object' && 'fd' in ref)
  const targetFd = typeof ref === 'object' && 'fd' in ref ? ref.fd : openPath(netnsPath(ref), O_CLOEXEC)
  try {
    setns(targetFd)
    try {
      return fn()
    } finally {
      setns(home)
    }
  } finally {
    closeFd(home)
    if (owned) closeFd(targetFd)
  }
}

/**
 * Makes a fresh network namespace and binds it to `path` (the way `ip netns add` does), leaving
 * the calling thread in its original namespace.
 */
export function createNetnsAt(path: string): void {
  const home = openPath('/proc/thread-self/ns/net', O_CLOEXEC)
  try {
    unshareFn.checked(CLONE_NEWNET)
    try {
      const r = mountFn.tryCall('/proc/thread-self/ns/net', path, 'none', MS_BIND, 0)
      if (r < 0) throw new SysError('mount', -r, path)
    } finally {
      setns(home)
    }
  } finally {
    closeFd(home)
  }
}

/** Mounts a pseudo file system (`bpf`, `tmpfs`, …) of `type` at `target`. */
export function mountFs(type: string, target: string): void {
  const r = mountFn.tryCall(type, target, type, 0, 0)
  if (r < 0) throw new SysError('mount', -r, target)
}

export function bindMount(source: string, target: string): void {
  const r = mountFn.tryCall(source, target, 'none', MS_BIND, 0)
  if (r < 0) throw new SysError('mount', -r, target)
}

export function makeSharedMount(target: string): void {
  const r = mountFn.tryCall('none', target, 'none', MS_SHARED | MS_REC, 0)
  if (r < 0) throw new SysError('mount', -r, target)
}

export function detachMount(path: string): void {
  const r = umount2Fn.tryCall(path, MNT_DETACH)
  if (r < 0) throw new SysError('umount2', -r, path)
}
