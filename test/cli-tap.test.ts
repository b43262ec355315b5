import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { run } from '../src/cli/main.ts'
import { PacketSocket, rssQueue, Tap, type TapRssConfig } from '../src/index.ts'
import { detachMount } from '../src/netlink/sys/index.ts'
import { TestNetns } from './helpers/netns.ts'
import { makeFlows, sendAndLand } from './helpers/rss-flows.ts'
import { quietNetns } from './helpers/tap-frames.ts'

// `rxnl tap …` across invocations: the device persists, its RSS lives in a pinned map. A private
// bpffs (RXNL_BPFFS) keeps the machine's own /sys/fs/bpf out of it.
let ns: TestNetns
let bpffs: string
beforeAll(() => {
  ns = new TestNetns('cli-tap')
  quietNetns(ns)
  bpffs = mkdtempSync(join(tmpdir(), 'rxnl-bpffs-'))
  process.env.RXNL_BPFFS = bpffs
})
afterAll(() => {
  ns?.remove()
  delete process.env.RXNL_BPFFS
  try {
    detachMount(bpffs)
  } catch {
    // never mounted
  }
  rmSync(bpffs, { recursive: true, force: true })
})

async function rxnl(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = []
  const err: string[] = []
  const code = await run(
    ['--netns', ns.name, ...argv],
    (s) => out.push(s),
    (s) => err.push(s),
  )
  return { code, out: out.join('\n'), err: err.join('\n') }
}

const shown = async (): Promise<TapRssConfig & { queues: number }> => {
  const r = await rxnl('--json', 'tap', 'rss', 'show', 'ct0')
  expect(r.code).toBe(0)
  const j = JSON.parse(r.out) as { key: string; queues: number } & Omit<TapRssConfig, 'key'>
  return { ...j, key: Buffer.from(j.key, 'hex') }
}

test('tap create, rss set, rss show: a persistent tap steered by a pinned map, verified with packets', async () => {
  const created = await rxnl('--json', 'tap', 'create', 'ct0', 'queues', '4')
  expect(created.code).toBe(0)
  expect(JSON.parse(created.out)).toMatchObject({ name: 'ct0', queues: 4, persist: true, multiQueue: true })
  const tool = ns.ipJson<Array<{ linkinfo: { info_kind: string; info_data: Record<string, unknown> } }>>(
    '-d',
    'link',
    'show',
    'ct0',
  )[0]!.linkinfo
  expect(tool.info_kind).toBe('tun')
  expect(tool.info_data).toMatchObject({ type: 'tap', multi_queue: true, persist: true })

  expect((await rxnl('tap', 'rss', 'show', 'ct0')).code).toBe(1) // nothing set yet
  const set = await rxnl(
    'tap',
    'rss',
    'set',
    'ct0',
    'queues',
    '4',
    'spread',
    '4',
    'hash',
    'ipv4,tcpv4,udpv4,ipv6,tcpv6,udpv6',
  )
  expect(set.code).toBe(0)
  expect(set.out).toMatch(/^ct0: RSS through the ebpf back end over 4 queues/)
  const first = await shown()
  expect(first).toMatchObject({
    queues: 4,
    defaultQueue: 0,
    hashTypes: ['ipv4', 'tcpv4', 'udpv4', 'ipv6', 'tcpv6', 'udpv6'],
  })
  expect(first.table).toEqual(Array.from({ length: 64 }, (_, i) => i % 4))

  // The CLI has exited; the device kept the program. A VMM-like holder attaches 4 queues.
  ns.ip('link', 'set', 'ct0', 'up')
  using tap = Tap.open({ name: 'ct0', queues: 4, netns: ns.name })
  using ps = PacketSocket.open({ ifname: 'ct0', netns: ns.name })
  const { frames } = makeFlows(11, 300, 1)
  const spread = await sendAndLand(tap, ps, frames, (f) => rssQueue(f, first))
  expect(spread.mismatched).toEqual([])
  expect(spread.lost).toBe(0)
  expect(spread.perQueue.every((n) => n > 20)).toBe(true)

  // A live change from a second invocation: one map update, no reattach.
  const pinned = await rxnl('tap', 'rss', 'set', 'ct0', 'table', '2,2,2,2', 'default', '2')
  expect(pinned.code).toBe(0)
  const second = await shown()
  expect(second.table).toEqual([2, 2, 2, 2])
  const all2 = await sendAndLand(tap, ps, frames, (f) => rssQueue(f, second))
  expect(all2.mismatched).toEqual([])
  expect(all2.perQueue).toEqual([0, 0, frames.length, 0])

  // Bad input: a usage or validation error, and the configuration in force stays.
  const bad = await rxnl('tap', 'rss', 'set', 'ct0', 'table', '0,9')
  expect(bad.code).toBe(2)
  expect(bad.err).toMatch(/queue 9 is beyond the device's 4 queues/)
  expect(await rxnl('tap', 'rss', 'set', 'ct0', 'hash', 'tcp')).toMatchObject({ code: 2 })
  expect(await rxnl('tap', 'rss', 'set', 'ct0', 'key', 'abcd')).toMatchObject({ code: 2 })
  expect(await shown()).toEqual(second)
  expect((await rxnl('tap', 'rss', 'set', 'nosuch0', 'queues', '2', 'spread', '2')).code).toBe(1)
}, 60_000)
