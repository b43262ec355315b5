import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TestNetns } from './helpers/netns.ts'
import { quietNetns } from './helpers/tap-frames.ts'

const ROOT = fileURLToPath(new URL('..', import.meta.url))

describe('examples', () => {
  let ns: TestNetns
  beforeAll(() => {
    ns = new TestNetns('ex')
    quietNetns(ns)
  })
  afterAll(() => ns?.remove())

  it('tap-rss-steering spreads flows over 4 queues, then pins them live, and exits by itself', () => {
    const out = execFileSync(
      process.execPath,
      ['--import', 'tsx', 'examples/tap-rss-steering.ts', ns.name, '200'],
      {
        cwd: ROOT,
        encoding: 'utf8',
        timeout: 60_000,
      },
    )
    const r = JSON.parse(out.trim().split('\n').pop()!) as { spread: number[]; pinned: number[]; tap: string }
    expect(r.spread.reduce((a, b) => a + b)).toBe(200)
    expect(r.spread.every((n) => n > 20)).toBe(true)
    expect(r.pinned).toEqual([200, 0, 0, 0])
    // the tap was not persistent: it went away with the example
    expect(ns.ipJson<Array<{ ifname: string }>>('link', 'show').map((l) => l.ifname)).not.toContain(r.tap)
  })
})
