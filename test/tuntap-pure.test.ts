// The hashing, configuration and codec modules must not load the FFI (ffi-rs): they are used where
// no syscall is wanted (tests, eBPF program generation, VMMs computing hashes in user space).
import { execFileSync } from 'node:child_process'
import { describe, expect, it } from 'vitest'

const PURE_MODULES = [
  'src/tuntap/toeplitz.ts',
  'src/tuntap/frame-parser.ts',
  'src/tuntap/rss-hash-types.ts',
  'src/tuntap/rss-config.ts',
  'src/tuntap/rss-hash.ts',
  'src/tuntap/vnet-header.ts',
  'src/tuntap/tun-rss-ioctls.ts',
  'src/tuntap/index.ts',
  'src/netlink/sys/ioc.ts',
]

/** Imports `modules` in a fresh Node process and says whether ffi-rs got loaded. */
function loadsFfi(modules: string[]): boolean {
  const code = `
    import { createRequire } from 'node:module'
    import { pathToFileURL } from 'node:url'
    for (const m of ${JSON.stringify(modules)}) await import(pathToFileURL(m).href)
    const cache = createRequire(import.meta.url).cache
    console.log(JSON.stringify(Object.keys(cache).some((k) => k.includes('ffi-rs'))))
  `
  const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
    cwd: process.cwd(),
    encoding: 'utf8',
  })
  return JSON.parse(out.trim().split('\n').at(-1)!) as boolean
}

describe('pure modules', () => {
  it('the check sees ffi-rs when the syscall layer is imported', () => {
    expect(loadsFfi(['src/netlink/sys/index.ts'])).toBe(true)
  })

  it('the tun/tap hashing, configuration and codec modules do not load ffi-rs', () => {
    expect(loadsFfi(PURE_MODULES)).toBe(false)
  })
})
