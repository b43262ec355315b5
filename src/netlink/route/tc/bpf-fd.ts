import { addressOf, bpfSyscall, SysError } from '../../sys/index.ts'

const BPF_OBJ_GET = 7

/**
 * Opens a pinned BPF object (a path on a bpffs) and returns a new fd the caller must close.
 * Not a loader: the program was loaded and pinned by someone else.
 */
export function openPinned(path: string): number {
  const name = Buffer.from(`${path}\0`)
  const attr = Buffer.alloc(16)
  attr.writeBigUInt64LE(addressOf(name), 0)
  try {
    return bpfSyscall(BPF_OBJ_GET, attr)
  } catch (e) {
    if (e instanceof SysError) throw new SysError('bpf(BPF_OBJ_GET)', e.errno, path)
    throw e
  }
}
