import { libcFunction, T } from './libc.ts'

const NR_BPF = 321 // x86-64
const syscallFn = libcFunction('syscall', T.I64, [T.I64, T.I64, T.U8Array, T.U32])

/** bpf(cmd, attr, size). Returns the kernel's result (often an fd); throws SysError on failure. */
export function bpfSyscall(cmd: number, attr: Buffer): number {
  return syscallFn.checked(NR_BPF, cmd, attr, attr.length)
}

/** As bpfSyscall, but returns -errno instead of throwing. */
export function tryBpfSyscall(cmd: number, attr: Buffer): number {
  return syscallFn.tryCall(NR_BPF, cmd, attr, attr.length)
}
