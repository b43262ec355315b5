import { mkdirSync, readFileSync } from 'node:fs'
import { mountFs } from '../netlink/sys/index.ts'

/** Where bpffs is normally mounted. */
export const BPFFS = '/sys/fs/bpf'

function isBpffs(dir: string): boolean {
  return readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .some((line) => {
      const [, target, type] = line.split(' ')
      return type === 'bpf' && target === dir
    })
}

/**
 * Makes sure `dir` is a bpffs mount (mounting one there if not, as iproute2's tc does for its
 * pinned objects) and that `sub` exists inside it; returns the full path of `sub`.
 */
export function ensureBpffs(sub: string, dir = BPFFS): string {
  if (!isBpffs(dir)) {
    mkdirSync(dir, { recursive: true })
    mountFs('bpf', dir)
  }
  const path = `${dir}/${sub}`
  mkdirSync(path, { recursive: true })
  return path
}
