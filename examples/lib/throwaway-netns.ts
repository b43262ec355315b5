// A namespace that lives as long as one example run: made before `main`, removed after it, on an
// error and on Ctrl-C (SIGINT/SIGTERM), then the process exits with main's status.
import { execFileSync } from 'node:child_process'
import { namespaces } from '../../src/index.ts'

export function runInThrowawayNetns(prefix: string, main: (netns: string) => Promise<void>): void {
  const netns = `${prefix}-${process.pid}`
  let cleaned = false
  const cleanup = (): void => {
    if (cleaned) return
    cleaned = true
    try {
      namespaces.delete(netns) // links made in it (taps, veths, filters) go with it
    } catch {
      // never created
    }
  }
  for (const sig of ['SIGINT', 'SIGTERM'] as const)
    process.once(sig, () => {
      cleanup()
      process.exit(130)
    })
  const run = async (): Promise<void> => {
    namespaces.create(netns)
    // No IPv6: its neighbour discovery would add frames of its own to what the example counts.
    execFileSync('ip', [
      'netns',
      'exec',
      netns,
      'sysctl',
      '-qw',
      'net.ipv6.conf.all.disable_ipv6=1',
      'net.ipv6.conf.default.disable_ipv6=1',
    ])
    await main(netns)
  }
  run().then(
    () => {
      cleanup()
      process.exit(process.exitCode ?? 0)
    },
    (e: unknown) => {
      cleanup()
      console.error(e instanceof Error ? e.message : e)
      process.exit(1)
    },
  )
}
