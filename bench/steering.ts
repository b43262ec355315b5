// Flow steering: the reference classifier's speed, the eBPF program's cost per frame, and frames/s
// through a 4-queue tap with no program, RSS only, and 256 rules, each as ratios within this run.
// Run as root: npx tsx bench/steering.ts
//
// 1. explain(): the compiled classifier (`classifier(config).queue`) against a naive linear
//    reference written the obvious way (parse the frame into an object, re-parse every rule's
//    prefixes, compare strings), on the same frames; the two must agree on every queue.
// 2. program vs reference: BPF_PROG_TEST_RUN (the kernel times `repeat` runs) of the generated
//    program (tc flavour) against the compiled classifier per frame, 9 and 256 rules.
// 3. tap: N frames sent through an AF_PACKET socket into a 4-queue tap and read from its queues,
//    wall time (best of 3) with no steering program, the program with RSS only, and with 256 rules
//    (frames that match none: the worst case, all 256 tried).

import { execFileSync } from 'node:child_process'
import { inNetns } from '../src/netlink/sys/index.ts'
import { classifier, EbpfSteering, parsePrefixText, type SteeringConfigInput } from '../src/steering/index.ts'
import { Tap } from '../src/tuntap/device.ts'
import { parseFrame } from '../src/tuntap/frame-parser.ts'
import { PacketSocket } from '../src/tuntap/packet-socket.ts'
import { parseRssConfig } from '../src/tuntap/rss-config.ts'
import { rssQueue } from '../src/tuntap/rss-hash.ts'
import { mixedConfig, mixedFrame, rng } from '../test/helpers/steering-frames.ts'
import { benchNetns, type Comparison, compare, emit, log } from './lib.ts'

const ns = benchNetns('steer')

function bigConfig(n: number): SteeringConfigInput {
  return {
    rss: {
      hashTypes: ['ipv4', 'tcpv4', 'udpv4', 'ipv6', 'tcpv6', 'udpv6'],
      table: [0, 1, 2, 3],
      defaultQueue: 0,
    },
    contexts: [{ id: 1, queues: [2, 3] }],
    // 172.16.<i>.0/24 sources: the benchmark traffic matches none of them
    rules: Array.from({ length: n }, (_, i) => ({
      match: { src: `172.16.${i % 256}.0/24`, ipProto: 'tcp' as const, dstPort: 1000 + i },
      action: i % 2 ? { queue: i % 4 } : { context: 1 },
    })),
  }
}

/** The obvious implementation: objects and strings per frame, prefixes parsed per rule. */
function naiveQueue(config: SteeringConfigInput, frame: Buffer): number {
  const p = parseFrame(frame)
  const rss = parseRssConfig(config.rss)
  const addr = (off: number) =>
    p.network === 'ipv4'
      ? Array.from(frame.subarray(off, off + 4)).join('.')
      : Buffer.from(frame.subarray(off, off + 16)).toString('hex')
  const src = p.network ? addr(p.srcAddrOffset) : ''
  const inPrefix = (a: string, text: string) => {
    const pf = parsePrefixText(text)
    if (!pf || !p.network || (pf.family === 4) !== (p.network === 'ipv4')) return false
    const bytes = p.network === 'ipv4' ? a.split('.').map(Number) : Array.from(Buffer.from(a, 'hex'))
    return bytes.every((b, i) => (b & pf.mask[i]!) === pf.address[i])
  }
  const dport = p.portsOffset >= 0 ? frame.readUInt16BE(p.portsOffset + 2) : -1
  for (const r of config.rules ?? []) {
    const m = r.match
    if (m.src && !inPrefix(src, m.src)) continue
    if (m.ipProto === 'tcp' && p.protocol !== 6) continue
    if (typeof m.dstPort === 'number' && dport !== m.dstPort) continue
    if ('queue' in r.action) return r.action.queue
    const ctx = config.contexts?.find((c) => c.id === (r.action as { context: number }).context)
    const table = ctx?.table ?? Array.from({ length: 128 }, (_, k) => ctx!.queues![k % ctx!.queues!.length]!)
    return rssQueue(frame, parseRssConfig({ ...config.rss, table, defaultQueue: table[0] }))
  }
  return rssQueue(frame, rss)
}

function perSecond(n: number, fn: () => void): number {
  let best = Number.POSITIVE_INFINITY
  for (let rep = 0; rep < 3; rep++) {
    const t0 = performance.now()
    fn()
    best = Math.min(best, performance.now() - t0)
  }
  return (n / best) * 1000
}

const rand = rng(1)
const frames = Array.from({ length: 20_000 }, (_, i) => {
  const f = mixedFrame(rand, i)
  return f
})
const out: Record<string, unknown> = {}
const comparisons: Comparison[] = []

// 1. explain()
{
  const cfg = bigConfig(256)
  const c = classifier(cfg)
  const few = frames.slice(0, 2000)
  for (const f of few) if (c.queue(f) !== naiveQueue(cfg, f)) throw new Error('naive reference disagrees')
  let sink = 0
  const compiled = perSecond(frames.length, () => {
    for (const f of frames) sink += c.queue(f)
  })
  const explained = perSecond(frames.length, () => {
    for (const f of frames) sink += c.explain(f).queue
  })
  const naive = perSecond(few.length, () => {
    for (const f of few) sink += naiveQueue(cfg, f)
  })
  out.classifier256 = {
    'queue()/s': Math.round(compiled),
    'explain()/s': Math.round(explained),
    'naive/s': Math.round(naive),
    'queue() vs naive': +(compiled / naive).toFixed(1),
    sink: sink & 0xff,
  }
  const rate = { unit: 'frames/s', higherIsBetter: true, kind: 'peer' } as const
  comparisons.push(
    compare({
      case: 'classifier queue(), 256 rules',
      against: 'naive linear reference',
      ours: compiled,
      theirs: naive,
      ...rate,
    }),
    compare({
      case: 'explain(), 256 rules',
      against: 'naive linear reference',
      ours: explained,
      theirs: naive,
      ...rate,
    }),
  )
}

// 2. program vs reference (kernel-timed test runs)
{
  const rows: Record<string, unknown> = {}
  for (const [name, cfg] of [
    ['9 rules', mixedConfig()],
    ['256 rules', bigConfig(256)],
  ] as const) {
    using s = EbpfSteering.create(cfg, { kind: 'tc-action', ruleCapacity: 256 })
    const c = classifier(cfg)
    const sample = frames.slice(0, 200)
    let ns_ = 0
    inNetns(ns.name, () => {
      for (const f of sample) ns_ += s.program.testRun(f, { repeat: 200 }).duration
    })
    const programNs = ns_ / sample.length
    let sink = 0
    const ref = perSecond(frames.length, () => {
      for (const f of frames) sink += c.queue(f)
    })
    const refNs = 1e9 / ref
    rows[name] = {
      'program ns/frame': +programNs.toFixed(0),
      'reference ns/frame': +refNs.toFixed(0),
      'reference / program': +(refNs / programNs).toFixed(2),
      sink: sink & 0xff,
    }
    comparisons.push(
      compare({
        case: `eBPF program, ${name} (kernel test run)`,
        against: 'TypeScript reference classifier',
        kind: 'peer',
        unit: 'ns/frame',
        higherIsBetter: false,
        ours: programNs,
        theirs: refNs,
      }),
    )
  }
  out.programVsReference = rows
}

// 3. frames/s through a 4-queue tap
{
  execFileSync('ip', [
    'netns',
    'exec',
    ns.name,
    'sysctl',
    '-qw',
    'net.ipv6.conf.all.disable_ipv6=1',
    'net.ipv6.conf.default.disable_ipv6=1',
  ])
  using tap = Tap.create({ name: 'bsteer0', queues: 4, netns: ns.name })
  execFileSync('ip', ['-n', ns.name, 'link', 'set', 'bsteer0', 'txqueuelen', '10000', 'up'])
  using ps = PacketSocket.open({ ifname: 'bsteer0', netns: ns.name })
  // plain IPv4 TCP frames from outside 172.16/12 (no rule matches them)
  const tcp4 = frames.filter((f) => f.readUInt16BE(12) === 0x0800 && f[14 + 9] === 6)
  const traffic = Array.from({ length: 10_000 }, (_, i) => tcp4[i % tcp4.length]!)
  const run = (): number => {
    let best = Number.POSITIVE_INFINITY
    for (let rep = 0; rep < 3; rep++) {
      const t0 = performance.now()
      let got = 0
      for (let i = 0; i < traffic.length; i++) {
        ps.send(traffic[i]!)
        if (i % 1000 === 999 || i === traffic.length - 1)
          while (got < i + 1) for (const q of tap.attachedQueues) while (q.tryRead() !== null) got++
      }
      best = Math.min(best, performance.now() - t0)
    }
    return (traffic.length / best) * 1000
  }
  run() // warm-up
  let none = run()
  let rssOnly: number
  let rules: number
  {
    using s = EbpfSteering.create({ rss: bigConfig(0).rss }, { ruleCapacity: 256 })
    s.attach(tap)
    rssOnly = run()
  }
  {
    using s = EbpfSteering.create(bigConfig(256), { ruleCapacity: 256 })
    s.attach(tap)
    rules = run()
  }
  tap.setSteeringProgram(null)
  none = Math.max(none, run())
  out.tap4queues = {
    frames: traffic.length,
    'no program frames/s': Math.round(none),
    'RSS only frames/s': Math.round(rssOnly),
    '256 rules frames/s': Math.round(rules),
    'RSS only / none': +(rssOnly / none).toFixed(2),
    '256 rules / none': +(rules / none).toFixed(2),
  }
}

const tapRate = out.tap4queues as Record<string, number>
for (const [what, key] of [
  ['RSS only', 'RSS only frames/s'],
  ['256 rules', '256 rules frames/s'],
] as const)
  comparisons.push(
    compare({
      case: `4-queue tap, steering program with ${what}`,
      against: 'no program (the floor)',
      kind: 'floor',
      unit: 'frames/s',
      higherIsBetter: true,
      ours: tapRate[key] as number,
      theirs: tapRate['no program frames/s'] as number,
    }),
  )
log(JSON.stringify(out, null, 1))
emit({
  script: 'steering',
  title: 'Flow steering: classifier, eBPF program, tap throughput',
  parameters: {},
  comparisons,
})
ns.remove()
