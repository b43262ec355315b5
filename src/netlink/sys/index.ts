// The only module that touches ffi-rs. Everything above it sees numbers, Buffers and SysError.
export { bpfSyscall, tryBpfSyscall } from './bpf.ts'
export { Errno, errnoName, SysError } from './errno.ts'
export { dupFd, getStatusFlags, setNonBlocking } from './fcntl.ts'
export { closeFd, eventFd, O_CLOEXEC, O_NONBLOCK, O_RDWR, openPath, readFd, writeFd } from './fd.ts'
export { ifNameToIndex } from './ifname.ts'
export { ioc, ioctl, ioctlValue, tryIoctl } from './ioctl.ts'
export { addressOf } from './libc.ts'
export {
  bindMount,
  CLONE_NEWNET,
  createNetnsAt,
  detachMount,
  inNetns,
  makeSharedMount,
  mountFs,
  type NetnsRef,
  netnsPath,
  setns,
} from './netns.ts'
export { POLLERR, POLLHUP, poller } from './poller.ts'
export * from './socket.ts'
