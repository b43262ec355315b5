import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TestNetns } from './helpers/netns.ts'

const ROOT = fileURLToPath(new URL('..', import.meta.url))

describe('examples/tap-flows.ts', () => {
  let ns: TestNetns
  beforeAll(() => {
    ns = new TestNetns('exflows')
  })
  afterAll(() => ns?.remove())

  it('steers 3,000 frames by the JSON configuration, all where explain() says, and cleans up', () => {
    const out = execFileSync(
      process.execPath,
      ['--import', 'tsx', 'examples/tap-flows.ts', ns.name, 'examples/tap-flows.json', '3000'],
      { cwd: ROOT, encoding: 'utf8', timeout: 60_000 },
    )
    const r = JSON.parse(out.trim().split('\n').pop()!) as {
      tap: string
      sent: number
      received: number
      perRule: Record<string, number>
      perQueue: number[]
      elsewhere: number
    }
    expect(r.received).toBe(3000)
    expect(r.elsewhere).toBe(0)
    expect(Object.values(r.perRule).reduce((a, b) => a + b)).toBe(3000)
    expect(Object.keys(r.perRule).sort()).toEqual(
      ['(default RSS)', 'db8', 'db8-1-udp', 'dns', 'ten', 'vlan10', 'web-4k'].sort(),
    )
    expect(r.perQueue).toHaveLength(8)
    expect(r.perQueue.every((n) => n > 0)).toBe(true)
    expect(ns.ipJson<Array<{ ifname: string }>>('link', 'show').map((l) => l.ifname)).not.toContain(r.tap)
  })
})
