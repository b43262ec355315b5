import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'

/** Runs a command and returns its stdout; throws with stderr on failure. */
export function sh(cmd: string, args: string[], input?: string): string {
  return execFileSync(cmd, args, {
    encoding: 'utf8',
    input,
    stdio: ['pipe', 'pipe', 'pipe'],
    maxBuffer: 1 << 28,
  })
}

/** `ip -j -n NS ...` parsed. */
export function ipJson<T = unknown>(netns: string, args: string[]): T {
  return JSON.parse(sh('ip', ['-j', '-n', netns, ...args]) || '[]') as T
}

/** `tc -j -n NS ...` parsed (tc prints nothing for an empty list). */
export function tcJson<T = unknown>(netns: string, args: string[]): T {
  return JSON.parse(sh('tc', ['-j', '-n', netns, ...args]) || '[]') as T
}

/**
 * A network namespace owned by one test file. Tests never touch the machine's own namespace:
 * every kernel object they make lives in one of these, and `remove()` (from afterAll) deletes it
 * together with everything inside.
 */
export class TestNetns {
  readonly name: string
  constructor(tag = 't') {
    this.name = `rxnl-${tag}-${process.pid}-${randomBytes(3).toString('hex')}`
    sh('ip', ['netns', 'add', this.name])
    sh('ip', ['-n', this.name, 'link', 'set', 'lo', 'up'])
  }
  ip(...args: string[]): string {
    return sh('ip', ['-n', this.name, ...args])
  }
  tc(...args: string[]): string {
    return sh('tc', ['-n', this.name, ...args])
  }
  ipJson<T = unknown>(...args: string[]): T {
    return ipJson<T>(this.name, args)
  }
  tcJson<T = unknown>(...args: string[]): T {
    return tcJson<T>(this.name, args)
  }
  remove(): void {
    try {
      sh('ip', ['netns', 'del', this.name])
    } catch {
      // already gone
    }
  }
}
