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

  it('watch-state prints one line per device with qdiscs and filters, and JSON change records', () => {
    ns.ip('link', 'add', 'ws0', 'numtxqueues', '4', 'numrxqueues', '4', 'type', 'veth', 'peer', 'name', 'ws1')
    ns.tc('qdisc', 'add', 'dev', 'ws0', 'clsact')
    ns.tc(
      'filter',
      'add',
      'dev',
      'ws0',
      'ingress',
      'u32',
      'match',
      'u32',
      '0',
      '0',
      'action',
      'mirred',
      'egress',
      'redirect',
      'dev',
      'ws1',
    )
    const run = (...args: string[]) =>
      execFileSync(
        process.execPath,
        ['--import', 'tsx', 'examples/watch-state.ts', '--netns', ns.name, '--once', ...args],
        {
          cwd: ROOT,
          encoding: 'utf8',
          timeout: 60_000,
        },
      )
    const lines = run().trim().split('\n')
    const ws0 = lines.find((l) => / ws0 /.test(l))?.split(/\s{2,}/)
    expect(ws0?.slice(1)).toEqual(['ws0', 'veth', 'DOWN/down', '1500', '4/4', '-+clsact', '1 (u32)', '-'])
    // Every device ip lists has its line.
    const names = ns.ipJson<Array<{ ifname: string }>>('link', 'show').map((l) => l.ifname)
    for (const n of names) expect(lines.some((l) => l.split(/\s{2,}/)[1] === n)).toBe(true)
    const records = run('--json')
      .trim()
      .split('\n')
      .map(
        (l) =>
          JSON.parse(l) as {
            reason: string
            kind: string
            op: string
            after?: { name?: string; kind?: string }
          },
      )
    expect(records.every((r) => r.reason === 'initial')).toBe(true)
    expect(
      records
        .filter((r) => r.kind === 'link')
        .map((r) => r.after?.name)
        .sort(),
    ).toEqual([...names].sort())
    expect(records.some((r) => r.kind === 'filter' && r.after?.kind === 'u32')).toBe(true)
    ns.ip('link', 'del', 'ws0')
  })
})
