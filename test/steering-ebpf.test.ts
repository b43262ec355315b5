import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BpfProgram, BpfVerifierError } from '../src/bpf/index.ts'
import { inNetns } from '../src/netlink/sys/index.ts'
import { steeringProgramInsns } from '../src/steering/ebpf-program.ts'
import { classifier, EbpfSteering, type SteeringConfigInput } from '../src/steering/index.ts'
import { Tap } from '../src/tuntap/device.ts'
import { PacketSocket } from '../src/tuntap/packet-socket.ts'
import { TestNetns } from './helpers/netns.ts'
import { mixedConfig, mixedFrame, rng, seqAtEnd } from './helpers/steering-frames.ts'
import { quietNetns } from './helpers/tap-frames.ts'

const ROOT = fileURLToPath(new URL('..', import.meta.url))

/** A configuration far from the mixed one: rules reversed, contexts on other queues, table reversed. */
function otherConfig(): SteeringConfigInput {
  const c = mixedConfig()
  return {
    rss: { ...c.rss, table: [...c.rss.table].reverse(), defaultQueue: 7 },
    contexts: (c.contexts ?? []).map((x) =>
      x.queues
        ? { ...x, queues: x.queues.map((q) => (q + 3) % 8) }
        : { ...x, table: x.table?.map((q) => (q + 3) % 8) },
    ),
    rules: [...(c.rules ?? [])]
      .reverse()
      .map((r) => ('queue' in r.action ? { ...r, action: { queue: (r.action.queue + 5) % 8 } } : r)),
  }
}

/** 256 rules and 16 contexts: /24s of 10.x, port ranges, VLANs. */
function bigConfig(): SteeringConfigInput {
  const contexts = Array.from({ length: 16 }, (_, i) => ({ id: i + 1, queues: [i % 8, (i + 3) % 8] }))
  const rules = Array.from({ length: 256 }, (_, i) => {
    const m = i % 4
    const match =
      m === 0
        ? { src: `10.${i}.0.0/16` }
        : m === 1
          ? { ipProto: 'udp' as const, dstPort: { port: i * 16, mask: 0xfff0 } }
          : m === 2
            ? { vlanId: i }
            : { dst: `2001:db8:${i.toString(16)}::/48` }
    return { match, action: i % 3 === 0 ? { queue: i % 8 } : { context: (i % 16) + 1 } }
  })
  return { rss: mixedConfig().rss, contexts, rules }
}

describe('eBPF steering program against the reference (BPF_PROG_TEST_RUN of the tc flavour)', () => {
  let ns: TestNetns
  beforeAll(() => {
    ns = new TestNetns('steerrun')
  })
  afterAll(() => ns?.remove())

  const agree = (s: EbpfSteering, frames: Buffer[]) => {
    const c = classifier(s.config)
    const rules = new Set<number | null>()
    const contexts = new Set<number | null>()
    for (const f of frames) {
      inNetns(ns.name, () => s.program.testRun(f))
      const t = s.trace(seqAtEnd(f))
      const e = c.explain(f)
      expect({ seq: seqAtEnd(f), ...t }).toEqual({
        seq: seqAtEnd(f),
        generation: s.generation,
        rule: e.rule,
        context: e.context,
        queue: e.queue,
        hash: e.hash,
        hashType: e.hashType,
      })
      rules.add(e.rule)
      contexts.add(e.context)
    }
    return { rules, contexts }
  }

  it('decides rule, context, queue, hash and hash type as explain() does on 3,000 mixed frames', () => {
    using s = EbpfSteering.create(mixedConfig(), { kind: 'tc-action', trace: 1 << 13 })
    const rand = rng(11)
    const seen = agree(
      s,
      Array.from({ length: 3000 }, (_, i) => mixedFrame(rand, i)),
    )
    expect([...seen.rules].sort()).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, null].sort())
    expect([...seen.contexts].sort()).toEqual([0, 1, 2, 3, null].sort())
  })

  it('holds 256 rules and 16 contexts (and loads with 512 rules)', () => {
    using s = EbpfSteering.create(bigConfig(), { kind: 'tc-action', trace: 1 << 12 })
    const rand = rng(5)
    const frames = Array.from({ length: 1500 }, (_, i) => {
      const f = mixedFrame(rand, i)
      // aim some at the big rule set: rewrite IPv4 sources to 10.<i>.x.x
      if (f.readUInt16BE(12) === 0x0800 && i % 2 === 0) f[14 + 13] = i % 256
      return f
    })
    const seen = agree(s, frames)
    expect(seen.rules.size).toBeGreaterThan(60)
    expect(seen.contexts.size).toBeGreaterThan(10)
    using full = EbpfSteering.create(bigConfig(), { ruleCapacity: 512 })
    expect(full.program.info().mapIds.length).toBe(2) // the selector and the scratch map
  })

  it('a new configuration replaces the whole old one (generation counts up)', () => {
    using s = EbpfSteering.create(mixedConfig(), { kind: 'tc-action', trace: 1 << 12 })
    const rand = rng(3)
    const frames = Array.from({ length: 300 }, (_, i) => mixedFrame(rand, i))
    agree(s, frames)
    expect(s.apply(otherConfig())).toBe(2)
    agree(s, frames)
    expect(s.apply(mixedConfig())).toBe(3)
    agree(s, frames)
  })

  it('refuses bad input before touching anything, and a rejected program comes with the verifier log', () => {
    expect(() =>
      EbpfSteering.create({ ...mixedConfig(), rules: [{ match: { srcPort: 5 }, action: { queue: 1 } }] }),
    ).toThrow(expect.objectContaining({ name: 'SteeringConfigError', field: 'rules[0].match.srcPort' }))
    expect(() => EbpfSteering.create(mixedConfig(), { queues: 4 })).toThrow(/beyond the device's 4 queues/)
    using s = EbpfSteering.create(mixedConfig(), { ruleCapacity: 16 })
    expect(() => s.apply({ ...mixedConfig(), rules: bigConfig().rules })).toThrow(
      /256 rules exceed the maximum of 16/,
    )
    expect(s.generation).toBe(1)
    // the generated program without its last instruction: the verifier says why, in its log
    const insns = steeringProgramInsns(s.selector, s.scratch, { kind: 'tap', ruleCapacity: 16 })
    let err: unknown
    try {
      BpfProgram.load({ type: 'socket-filter', insns: insns.slice(0, -1) })
    } catch (e) {
      err = e
    }
    expect(err).toBeInstanceOf(BpfVerifierError)
    expect((err as BpfVerifierError).log).toMatch(/processed \d+ insns|jump out of range|last insn/)
  })
})

describe('eBPF steering on a real 8-queue tap', () => {
  let ns: TestNetns
  beforeAll(() => {
    ns = new TestNetns('steertap')
    quietNetns(ns)
  })
  afterAll(() => ns?.remove())

  /** Reads every queue until `want` frames came or nothing came for a while. */
  const collect = async (tap: Tap, want: number, into: Array<{ queue: number; frame: Buffer }>) => {
    let idle = 0
    while (into.length < want && idle < 200) {
      let got = 0
      tap.attachedQueues.forEach((q, queue) => {
        for (let f = q.tryRead(); f !== null; f = q.tryRead()) {
          into.push({ queue, frame: f })
          got++
        }
      })
      idle = got === 0 ? idle + 1 : 0
      if (got === 0) await new Promise((r) => setTimeout(r, 2))
    }
  }

  it('puts each of 20,000 mixed frames on the queue explain() predicts, none lost', async () => {
    using tap = Tap.create({ name: 'steer0', queues: 8, netns: ns.name })
    ns.ip('link', 'set', 'steer0', 'txqueuelen', '4000', 'up')
    using ps = PacketSocket.open({ ifname: 'steer0', netns: ns.name })
    using s = EbpfSteering.create(mixedConfig(), { queues: 8 })
    s.attach(tap)
    const c = s.classifier
    const rand = rng(2024)
    const N = 20_000
    const sent: Buffer[] = []
    const got: Array<{ queue: number; frame: Buffer }> = []
    for (let seq = 0; seq < N; seq++) {
      const f = mixedFrame(rand, seq)
      sent.push(f)
      expect(ps.send(f)).toBe(true)
      if (seq % 1000 === 999) await collect(tap, seq + 1, got)
    }
    await collect(tap, N, got)
    expect(got.length).toBe(N)
    const perQueue = new Array<number>(8).fill(0)
    const perRule = new Map<string, number>()
    const wrong: unknown[] = []
    for (const { queue, frame } of got) {
      const seq = seqAtEnd(frame)
      expect(frame.equals(sent[seq]!)).toBe(true)
      const e = c.explain(frame)
      if (e.queue !== queue) wrong.push({ seq, queue, e })
      perQueue[queue]!++
      const k = e.rule === null ? 'none' : (e.ruleName ?? String(e.rule))
      perRule.set(k, (perRule.get(k) ?? 0) + 1)
    }
    expect(wrong).toEqual([])
    expect(new Set(got.map((g) => seqAtEnd(g.frame))).size).toBe(N)
    expect(perQueue.every((n) => n > 300)).toBe(true)
    expect(perRule.size).toBe(10) // all nine rules and unmatched traffic
  })

  it('flips between two configurations under load: every frame is steered by one whole generation, in order', async () => {
    using tap = Tap.create({ name: 'steer1', queues: 8, netns: ns.name })
    ns.ip('link', 'set', 'steer1', 'txqueuelen', '20000', 'up')
    using s = EbpfSteering.create(mixedConfig(), { queues: 8, trace: 1 << 15 })
    s.attach(tap)
    const configs = new Map<number, ReturnType<typeof classifier>>([[1, classifier(s.config)]])
    const N = 30_000
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'test/fixtures/steering-sender.ts', ns.name, 'steer1', String(N), '77'],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
    )
    let out = ''
    child.stdout.on('data', (d) => {
      out += d
    })
    child.stderr.on('data', (d) => {
      out += d
    })
    const done = new Promise<number | null>((r) => child.on('exit', r))
    let exited = false
    void done.then(() => {
      exited = true
    })
    const got: Array<{ queue: number; frame: Buffer }> = []
    let flips = 0
    while (!exited) {
      const g = s.apply(flips % 2 === 0 ? otherConfig() : mixedConfig())
      configs.set(g, classifier(s.config))
      flips++
      tap.attachedQueues.forEach((q, queue) => {
        for (let f = q.tryRead(); f !== null; f = q.tryRead()) got.push({ queue, frame: f })
      })
      await new Promise((r) => setTimeout(r, 1))
    }
    expect(await done, out).toBe(0)
    await collect(tap, N, got)
    expect(got.length).toBe(N)

    const bySeq = got
      .map(({ queue, frame }) => ({ seq: seqAtEnd(frame), queue, frame }))
      .sort((a, b) => a.seq - b.seq)
    let lastGen = 0
    const gens = new Set<number>()
    const wrong: unknown[] = []
    for (const { seq, queue, frame } of bySeq) {
      const t = s.trace(seq)!
      const c = configs.get(t.generation)
      const e = c?.explain(frame)
      if (!e || e.queue !== queue || e.rule !== t.rule || e.context !== t.context || t.generation < lastGen)
        wrong.push({ seq, queue, trace: t, expected: e, lastGen })
      lastGen = Math.max(lastGen, t.generation)
      gens.add(t.generation)
    }
    expect(wrong.slice(0, 5)).toEqual([])
    expect(flips).toBeGreaterThan(20)
    expect(gens.size).toBeGreaterThan(10)
  })
})
