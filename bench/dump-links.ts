// Dumping 10,000 links: rxnetlink (list + decode into typed Links) against the raw kernel dump
// (receive only, the floor), `ip -j link show`, and pyroute2's IPRoute.get_links().
//   npx tsx bench/dump-links.ts [--links 10000] [--runs 5] [--quick] [--json]
import { spawnSync } from 'node:child_process'
import { parseArgs } from 'node:util'
import { openRoute } from '../src/index.ts'
import { benchNetns, compare, emit, ipBatch, log, median, quick, table } from './lib.ts'
import { rawLinkDump } from './raw-dump.ts'

const { values } = parseArgs({
  options: {
    links: { type: 'string', default: quick ? '1000' : '10000' },
    runs: { type: 'string', default: quick ? '3' : '5' },
    json: { type: 'boolean' },
    quick: { type: 'boolean' },
  },
})
const total = Number(values.links)
const runs = Number(values.runs)

const ns = benchNetns('dump')
ipBatch(
  ns.name,
  Array.from({ length: total / 2 }, (_, i) => `link add b${i} type veth peer name c${i}`),
)

const rt = await openRoute({ netns: ns.name })
const count = (await rt.links.list()).length
log(`${count} links in ${ns.name}; median of ${runs} runs\n`)

const floor = await median(runs, () => rawLinkDump(ns.name))
const floorNoStats = await median(runs, () => rawLinkDump(ns.name, false, 1 | 8))
const ours = await median(runs, () => rt.links.list())
const oursNoStats = await median(runs, () => rt.links.list({ stats: false }))
const ip = await median(runs, () => {
  const r = spawnSync('ip', ['-n', ns.name, '-j', 'link', 'show'], { maxBuffer: 1 << 28 })
  if (r.status !== 0) throw new Error(String(r.stderr))
})
const py = spawnSync(
  '/usr/bin/python3',
  [
    '-c',
    `
import time, statistics, sys
from pyroute2 import netns, IPRoute
netns.setns(sys.argv[1])
ipr = IPRoute()
ts = []
for _ in range(int(sys.argv[2])):
    t0 = time.perf_counter(); n = len(ipr.get_links()); ts.append((time.perf_counter() - t0) * 1000)
    if sum(ts) > 10000: break  # ~50 s a dump of 10,000 links: one is enough
print(statistics.median(ts), n)
`,
    ns.name,
    String(runs),
  ],
  { encoding: 'utf8' },
)
const [pyMs, pyCount] = py.status === 0 ? py.stdout.trim().split(' ').map(Number) : [Number.NaN, 0]

table(
  [
    ['raw dump, no decode (floor)', floor],
    ['rxnetlink links.list()', ours, `${count} typed Links with stats64`],
    ['raw dump without stats (floor)', floorNoStats],
    ['rxnetlink links.list({stats:false})', oursNoStats, `what \`ip link show\` asks for`],
    ['ip -j link show', ip, 'whole process'],
    [
      'pyroute2 IPRoute.get_links()',
      pyMs as number,
      py.status === 0 ? `${pyCount} links` : `failed: ${py.stderr.trim().split('\n').at(-1)}`,
    ],
  ],
  floor,
)
log(
  `\nrxnetlink / floor: ${(ours / floor).toFixed(2)}× (without stats ${(oursNoStats / floorNoStats).toFixed(2)}×)   ip / rxnetlink: ${(ip / ours).toFixed(2)}×   pyroute2 / rxnetlink: ${((pyMs as number) / ours).toFixed(2)}×`,
)
const ms = { unit: 'ms', higherIsBetter: false } as const
emit({
  script: 'dump-links',
  title: `Dumping ${count} links`,
  parameters: { links: count, runs },
  comparisons: [
    compare({
      case: `links.list(), ${count} links`,
      against: 'raw dump, no decode',
      kind: 'floor',
      ours,
      theirs: floor,
      ...ms,
    }),
    compare({
      case: `links.list({stats:false}), ${count} links`,
      against: 'raw dump without stats',
      kind: 'floor',
      ours: oursNoStats,
      theirs: floorNoStats,
      ...ms,
    }),
    compare({
      case: `links.list({stats:false}), ${count} links`,
      against: 'ip -j link show',
      kind: 'peer',
      ours: oursNoStats,
      theirs: ip,
      note: 'ip: whole process',
      ...ms,
    }),
    compare({
      case: `links.list(), ${count} links`,
      against: 'pyroute2 IPRoute.get_links()',
      kind: 'peer',
      ours,
      theirs: pyMs as number,
      ...(py.status === 0 ? {} : { note: 'pyroute2 not installed' }),
      ...ms,
    }),
  ],
})
rt.close()
ns.remove()
