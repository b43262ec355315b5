import { libcFunction, T } from './libc.ts'

const F_DUPFD_CLOEXEC = 1030
const F_GETFL = 3
const F_SETFL = 4
const O_NONBLOCK = 0o4000

const fcntlFn = libcFunction('fcntl', T.I32, [T.I32, T.I32, T.I64])

/** A new fd (close-on-exec) for the same open file description. */
export function dupFd(fd: number): number {
  return fcntlFn.checked(fd, F_DUPFD_CLOEXEC, 3)
}

/** The file status flags (O_NONBLOCK, O_RDWR...). */
export function getStatusFlags(fd: number): number {
  return fcntlFn.checked(fd, F_GETFL, 0)
}

/** Sets or clears O_NONBLOCK (on the open file description: shared with every dup and process). */
export function setNonBlocking(fd: number, on = true): void {
  const flags = getStatusFlags(fd)
  const next = on ? flags | O_NONBLOCK : flags & ~O_NONBLOCK
  if (next !== flags) fcntlFn.checked(fd, F_SETFL, next)
}
