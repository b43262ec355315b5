import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { NLM_F_ACK, NLM_F_REQUEST, parseMessages } from '../src/netlink/codec/index.ts'
import { buildFilterRequest, buildQdiscRequest, staticContext } from '../src/netlink/route/tc/index.ts'
import { classifier } from '../src/steering/index.ts'
import { tcPlan } from '../src/steering/tc.ts'
import { steeringTcCommands } from './fixtures/steering-tc-cases.ts'
import { mixedConfig } from './helpers/steering-frames.ts'

// This machine has no multiq, flower, skbedit or act_bpf: the tc back end's requests are checked
// byte for byte against what iproute2's `tc` sends for the same objects (captured with strace by
// test/fixtures/capture-steering-tc.ts); test/lab/steering-tc.test.ts runs them in the kernel lab.

const captured = JSON.parse(
  readFileSync(new URL('./fixtures/steering-tc-requests.json', import.meta.url), 'utf8'),
) as Array<{ tc: string; ifindex: number; hex: string }>

const programs = new Map([0, 1, 2, 3].map((id) => [id, { pinned: `/sys/fs/bpf/x/ctx${id}` }]))

describe('tc back end plan', () => {
  const plan = tcPlan(mixedConfig(), { dev: 'v0', programs })

  it('is a multiq root, flower filters per rule (untagged and 802.1Q-tagged, each IP version), then the default', () => {
    expect(plan.qdisc).toEqual({ dev: 'v0', parent: 'root', handle: '1:', kind: 'multiq' })
    expect(plan.filters).toHaveLength(22)
    expect(plan.ruleOf).toEqual([0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 6, 6, 7, 7, 7, 7, 8, 8, null])
    const prefs = plan.filters.map((f) => f.pref ?? 0)
    expect([...prefs].sort((a, b) => a - b)).toEqual(prefs) // evaluation order = model order
    // queue actions are skbedit queue_mapping, context actions act_bpf with that context's program
    const c = classifier(mixedConfig())
    plan.filters.forEach((f, i) => {
      const idx = plan.ruleOf[i]
      const rule = c.config.rules.find((r) => r.index === idx)
      const [a] = f.actions ?? []
      if (rule && 'queue' in rule.action)
        expect(a).toEqual({ kind: 'skbedit', queueMapping: rule.action.queue })
      else
        expect(a).toEqual({
          kind: 'bpf',
          program: programs.get(rule && 'context' in rule.action ? rule.action.context : 0),
        })
    })
  })

  it('every request is byte for byte what tc sends', () => {
    expect(captured.map((c) => c.tc)).toEqual([...steeringTcCommands])
    const requests = [
      buildQdiscRequest('add', { ...plan.qdisc, dev: captured[0]!.ifindex }, captured[0]!.ifindex),
      ...plan.filters.map((f, i) =>
        buildFilterRequest(
          'add',
          { ...f, dev: captured[i + 1]!.ifindex },
          captured[i + 1]!.ifindex,
          staticContext({}, 5),
        ),
      ),
    ]
    requests.forEach((req, i) => {
      const [theirs] = parseMessages(Buffer.from(captured[i]!.hex, 'hex'))
      const [ours] = parseMessages(req.bytes)
      expect(ours?.type).toBe(theirs?.type)
      expect((ours?.flags ?? 0) | NLM_F_REQUEST | NLM_F_ACK).toBe(theirs?.flags)
      // tc passed its own fd for the pinned program: put ours in its place before comparing
      const theirsHex = theirs!.payload.toString('hex')
      const oursHex = ours!.payload.toString('hex')
      expect({ tc: captured[i]!.tc, len: oursHex.length }).toEqual({
        tc: captured[i]!.tc,
        len: theirsHex.length,
      })
      const diff = [...oursHex].flatMap((ch, k) => (ch !== theirsHex[k] ? [k] : []))
      if (captured[i]!.tc.includes('object-pinned')) {
        // only the 4-byte TCA_ACT_BPF_FD value may differ
        expect(diff.length).toBeLessThanOrEqual(8)
        if (diff.length > 0) expect(diff.at(-1)! - diff[0]!).toBeLessThan(8)
      } else expect(diff).toEqual([])
    })
  })

  it('refuses a plan without a program for a context', () => {
    expect(() => tcPlan(mixedConfig(), { dev: 'v0', programs: new Map([[0, { fd: 3 }]]) })).toThrow(
      /no act_bpf program given for context 2/,
    )
  })
})
