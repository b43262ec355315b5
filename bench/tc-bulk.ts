// Installs 10,000 u32 filters, each with a mirred redirect, on one veth's clsact ingress and lists
// them back: rxnetlink against `tc -batch`, each in a fresh throwaway namespace.
// Run as root: npx tsx bench/tc-bulk.ts [count] [--quick] [--json]
import { execFileSync, spawnSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type FilterSpec, TcApi } from '../src/netlink/route/tc/index.ts'
import { NETLINK_ROUTE, NetlinkSocket } from '../src/netlink/socket/index.ts'

import { benchNetns, compare, emit, log, medianOf, quick } from './lib.ts'

const COUNT = Number(process.argv.slice(2).find((a) => !a.startsWith('--')) ?? (quick ? 1_000 : 10_000))

function sh(cmd: string, args: string[], input?: string): string {
  return execFileSync(cmd, args, { encoding: 'utf8', input, maxBuffer: 1 << 30 })
}

/**
 * A namespace with a veth pair x0/x1, up. It is removed only when the bench exits (benchNetns):
 * the kernel frees a deleted namespace's 10,000 filters in the background, and that work would
 * land on whichever run came next.
 */
function freshNamespace(tag: string): string {
  const ns = benchNetns(tag).name
  sh('ip', ['-n', ns, 'link', 'add', 'x0', 'type', 'veth', 'peer', 'name', 'x1'])
  sh('ip', ['-n', ns, 'link', 'set', 'x0', 'up'])
  sh('ip', ['-n', ns, 'link', 'set', 'x1', 'up'])
  return ns
}

// A u32 hash-table bucket holds at most 2048 nodes and a qdisc at most 2048 tables: 1,000
// filters per pref.
const prefOf = (i: number) => Math.floor(i / 1000) + 1
const cpuMs = (c: NodeJS.CpuUsage) => (c.user + c.system) / 1000
const dst = (i: number) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`
const ms = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e6

interface Result {
  install: number
  installCpu: number
  list: number
  listCpu: number
  listed: number
}

/** Repeated listings: a long-running process lists again and again; the median of each measure. */
const STEADY_RUNS = 5

async function rxnetlink(steady = false): Promise<Result & { steady?: { list: number; listCpu: number } }> {
  const ns = freshNamespace('rx')
  const sock = new NetlinkSocket(NETLINK_ROUTE, { netns: ns, receiveBuffer: 32 << 20, sendBuffer: 4 << 20 })
  try {
    const tc = new TcApi(sock, ns)
    await tc.qdiscs.add({ dev: 'x0', kind: 'clsact' })
    const x0 = (await tc.qdiscs.list('x0'))[0]?.index as number
    const specs: FilterSpec[] = Array.from({ length: COUNT }, (_, i) => ({
      dev: x0,
      parent: 'ingress',
      kind: 'u32',
      protocol: 'ip',
      pref: prefOf(i),
      match: { ip: { dst: dst(i) } },
      actions: [{ kind: 'mirred', direction: 'egress', action: 'redirect', dev: 'x1' }],
    }))
    let t0 = process.hrtime.bigint()
    let c0 = process.cpuUsage()
    await tc.filters.addAll(specs)
    const install = ms(t0)
    const installCpu = cpuMs(process.cpuUsage(c0))
    t0 = process.hrtime.bigint()
    c0 = process.cpuUsage()
    const filters = await tc.filters.list({ dev: x0, parent: 'ingress' })
    const list = ms(t0)
    const listCpu = cpuMs(process.cpuUsage(c0))
    const listed = filters.filter((f) => f.options?.kind === 'u32' && f.options.keys).length
    if (!steady) return { install, installCpu, list, listCpu, listed }
    const walls: number[] = []
    const cpus: number[] = []
    for (let i = 0; i < STEADY_RUNS; i++) {
      t0 = process.hrtime.bigint()
      c0 = process.cpuUsage()
      await tc.filters.list({ dev: x0, parent: 'ingress' })
      walls.push(ms(t0))
      cpus.push(cpuMs(process.cpuUsage(c0)))
    }
    return {
      install,
      installCpu,
      list,
      listCpu,
      listed,
      steady: { list: medianOf(walls), listCpu: medianOf(cpus) },
    }
  } finally {
    sock.close()
  }
}

/** Runs a command through bash and returns its wall time and its CPU time (user + system). */
function timed(cmd: string): { wall: number; cpu: number; out: string } {
  const t0 = process.hrtime.bigint()
  const r = spawnSync('bash', ['-c', `${cmd} > /tmp/rxnl-bench.out; times`], {
    encoding: 'utf8',
    maxBuffer: 1 << 30,
  })
  const wall = ms(t0)
  if (r.status !== 0) throw new Error(`${cmd} failed: ${r.stderr}`)
  // `times` prints the shell's then its children's user and system times: "0m0.512s 0m0.300s".
  const children = (r.stdout.trim().split('\n').at(-1) ?? '').split(' ')
  const secs = children.map((t) => {
    const m = /^(\d+)m([\d.]+)s$/.exec(t)
    return m ? Number(m[1]) * 60 + Number(m[2]) : 0
  })
  return { wall, cpu: (secs[0] ?? 0) * 1000 + (secs[1] ?? 0) * 1000, out: '/tmp/rxnl-bench.out' }
}

function tcBatch(): Result & {
  listJson: number
  listJsonCpu: number
  steadyJson: number
  steadyJsonCpu: number
} {
  const ns = freshNamespace('tc')
  const file = join(tmpdir(), `${ns}.batch`)
  try {
    const lines = ['qdisc add dev x0 clsact']
    for (let i = 0; i < COUNT; i++)
      lines.push(
        `filter add dev x0 ingress protocol ip pref ${prefOf(i)} u32 match ip dst ${dst(i)}/32 action mirred egress redirect dev x1`,
      )
    writeFileSync(file, `${lines.join('\n')}\n`)
    const install = timed(`tc -n ${ns} -batch ${file}`)
    const list = timed(`tc -n ${ns} filter show dev x0 ingress`)
    const listJson = timed(`tc -n ${ns} -j filter show dev x0 ingress`)
    const json = JSON.parse(readFileSync(listJson.out, 'utf8')) as Array<{ options?: { match?: unknown } }>
    const again = Array.from({ length: STEADY_RUNS }, () =>
      timed(`tc -n ${ns} -j filter show dev x0 ingress`),
    )
    return {
      install: install.wall,
      installCpu: install.cpu,
      list: list.wall,
      listCpu: list.cpu,
      listJson: listJson.wall,
      listJsonCpu: listJson.cpu,
      steadyJson: medianOf(again.map((r) => r.wall)),
      steadyJsonCpu: medianOf(again.map((r) => r.cpu)),
      listed: json.filter((f) => f.options?.match).length,
    }
  } finally {
    spawnSync('rm', ['-f', file])
  }
}

// The first run in a fresh process pays for V8 warming up (zod, the codec); V8 goes on optimizing
// through the next two (measured: installs take ~170 ms in runs 2–3, ~130 ms from run 4 on). A
// long-running process (a daemon using the library) runs warm: WARMUP untimed runs, then RUNS
// timed ones. Each run in its own namespace; tc's runs alternate with ours, so that the machine's
// load falls on both alike.
const RUNS = quick ? 1 : 5
const WARMUP = quick ? 0 : 2
const cold = await rxnetlink()
for (let i = 0; i < WARMUP; i++) await rxnetlink()
const warms: Result[] = []
const tcs: Array<ReturnType<typeof tcBatch>> = []
let steadyRun: { list: number; listCpu: number } | undefined
for (let i = 0; i < RUNS; i++) {
  const r = await rxnetlink(i === 0)
  steadyRun ??= r.steady
  warms.push(r)
  tcs.push(tcBatch())
}
const steady = steadyRun as { list: number; listCpu: number }
for (const [who, runs] of [
  ['rxnetlink cold', [cold]],
  ['rxnetlink warm', warms],
  ['tc', tcs],
] as const)
  for (const r of runs)
    if (r.listed !== COUNT) throw new Error(`${who} listed ${r.listed} filters, expected ${COUNT}`)
/** Every measure of a series of runs, each the median of its runs. */
function medians<T extends object>(runs: T[]): T {
  const first = runs[0] as Record<string, unknown>
  const keys = Object.keys(first).filter((k) => typeof first[k] === 'number')
  return Object.fromEntries(
    keys.map((k) => [k, medianOf(runs.map((r) => (r as Record<string, number>)[k] as number))]),
  ) as T
}
const warm = medians(warms)
const theirs = medians(tcs)
const f = (x: number) => `${x.toFixed(0).padStart(6)} ms`
const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}x`.padStart(7)
const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')
log(
  `${COUNT} u32 filters with a mirred redirect, on a veth's clsact ingress; warm: median of ${RUNS} runs after ${WARMUP} untimed ones; tc: median of ${RUNS} (load average ${load})`,
)
log('                       wall                  CPU (user+sys)        tc ÷ rxnetlink (wall, CPU)')
const row = (label: string, w: number, c: number, tw: number, tcpu: number) =>
  log(
    `${label.padEnd(22)} ${f(w)}  (tc ${f(tw)})  ${f(c)}  (tc ${f(tcpu)})  ${ratio(tw, w)} ${ratio(tcpu, c)}`,
  )
row('install, cold', cold.install, cold.installCpu, theirs.install, theirs.installCpu)
row('install, warm', warm.install, warm.installCpu, theirs.install, theirs.installCpu)
row('list typed vs -j, cold', cold.list, cold.listCpu, theirs.listJson, theirs.listJsonCpu)
row('list typed vs -j, warm', warm.list, warm.listCpu, theirs.listJson, theirs.listJsonCpu)
row('list typed vs text', warm.list, warm.listCpu, theirs.list, theirs.listCpu)
row(`list vs -j, median/${STEADY_RUNS}`, steady.list, steady.listCpu, theirs.steadyJson, theirs.steadyJsonCpu)

/** One comparison of costs in ms against a peer. */
const cost = (name: string, against: string, ours: number, other: number) =>
  compare({ case: name, against, ours, theirs: other, unit: 'ms', higherIsBetter: false, kind: 'peer' })
const steadyPeer = `tc -j filter show, median of ${STEADY_RUNS}`
emit({
  script: 'tc-bulk',
  title: `${COUNT} u32 filters with a mirred redirect`,
  parameters: { filters: COUNT, runs: RUNS, warmup: WARMUP },
  comparisons: [
    cost('install, cold (CPU)', 'tc -batch', cold.installCpu, theirs.installCpu),
    cost('install, warm (CPU)', 'tc -batch', warm.installCpu, theirs.installCpu),
    cost('install, warm (wall)', 'tc -batch', warm.install, theirs.install),
    cost('list typed, warm (CPU)', 'tc -j filter show', warm.listCpu, theirs.listJsonCpu),
    cost('list typed, warm (wall)', 'tc -j filter show', warm.list, theirs.listJson),
    cost(
      `list typed, steady: median of ${STEADY_RUNS} more (CPU)`,
      steadyPeer,
      steady.listCpu,
      theirs.steadyJsonCpu,
    ),
    cost(
      `list typed, steady: median of ${STEADY_RUNS} more (wall)`,
      steadyPeer,
      steady.list,
      theirs.steadyJson,
    ),
  ],
})
