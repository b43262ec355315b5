// The tc back end, the DPDK tap PMD's way: a multiq root qdisc on the tap, then per rule (in
// evaluation order) a flower filter whose action is skbedit queue_mapping (a queue) or an
// act_bpf program doing that context's RSS (a context); a last catch-all filter runs the default
// RSS program. tun then reads the queue from skb->queue_mapping.
//
// Mapping of the model to flower:
// - an IPv4/IPv6 prefix or etherType ipv4/ipv6 sets the filter's protocol (ip / ipv6); a rule
//   with ipProto (or ports) but no IP version becomes two filters, one per version;
// - vlanId: protocol 802.1q with vlan_id (and vlan_ethtype for what follows); a rule without
//   vlanId gets a second filter (protocol 802.1q, vlan_ethtype …) for frames with one 802.1Q
//   tag. Flower looks through one tag only: frames with an outer 802.1ad tag or stacked tags
//   match only rules with neither EtherType nor IP fields, and otherwise take the default RSS —
//   where the model (and the eBPF back end) looks through up to four tags;
// - port masks: flower's port masks (TCA_FLOWER_KEY_*_MASK); rules with ports also match
//   `ip_flags nofrag` (flower would read a fragment's absent ports as 0).
// - tagged frames must reach the tap the way traffic does (from a NIC, bridge or veth, tag
//   offloaded or in band): a tagged frame written to the tap itself through AF_PACKET keeps
//   skb->protocol 802.1Q while af_packet moves the network header past the tag, and flower then
//   reads the IP header as the tag (the kernel lab's test shows both cases);
// Filter priorities are 4 × (position + 1) + 0..3, so the kernel evaluates them in the model's
// order; the catch-all default filter comes last.

import type { FilterSpec, QdiscSpec } from '../netlink/route/tc/index.ts'
import type { TcApi } from '../netlink/route/tc/tc-api.ts'
import { EbpfSteering } from './ebpf.ts'
import type { FlowRule, SteeringConfig } from './model.ts'
import { isParsedSteeringConfig, parseSteeringConfig } from './model.ts'

/** A BPF program for act_bpf: an fd the caller keeps open, or a pinned path. */
export type TcProgramRef = { fd: number } | { pinned: string }

/** The device and programs a tc plan is made for. */
export interface TcPlanOptions {
  /** The tap (name or ifindex). */
  dev: string | number
  /** Handle of the multiq root qdisc (default `1:`). */
  handle?: string
  /** act_bpf programs: for each context id used by a rule, and 0 for the default RSS. */
  programs: ReadonlyMap<number, TcProgramRef>
}

/** The tc objects of a configuration, in the order they are added. */
export interface TcPlan {
  readonly qdisc: QdiscSpec
  /** One (or two) flower filters per rule, then the catch-all default filter. */
  readonly filters: readonly FilterSpec[]
  /** Which rule (input index) each filter stands for; null for the default filter. */
  readonly ruleOf: readonly (number | null)[]
}

const VERSION_PROTOCOL = { 4: 'ip', 6: 'ipv6' } as const

function protocolsOf(rule: FlowRule): Array<'ip' | 'ipv6' | number | 'all'> {
  const m = rule.match
  const fam = m.src?.family ?? m.dst?.family
  if (fam !== undefined) return [VERSION_PROTOCOL[fam]]
  if (m.etherType === 0x0800) return ['ip']
  if (m.etherType === 0x86dd) return ['ipv6']
  if (m.etherType !== undefined) return [m.etherType]
  if (m.ipProto !== undefined) return ['ip', 'ipv6']
  return ['all']
}

const prefixText = (p: { address: Uint8Array; length: number; family: 4 | 6 }): string => {
  const a = p.address
  const text =
    p.family === 4
      ? Array.from(a).join('.')
      : Array.from({ length: 8 }, (_, i) => ((a[2 * i]! << 8) | a[2 * i + 1]!).toString(16)).join(':')
  return `${text}/${p.length}`
}

/**
 * The qdisc and filters for `config` (validated first: SteeringConfigError). Pure: encode them
 * with buildQdiscRequest/buildFilterRequest, or add them with a TcApi (`applyTcPlan`).
 */
export function tcPlan(config: SteeringConfig | unknown, options: TcPlanOptions): TcPlan {
  const c = isParsedSteeringConfig(config) ? config : parseSteeringConfig(config)
  const handle = options.handle ?? '1:'
  const program = (id: number): TcProgramRef => {
    const p = options.programs.get(id)
    if (!p) throw new RangeError(`no act_bpf program given for context ${id}`)
    return p
  }
  const filters: FilterSpec[] = []
  const ruleOf: Array<number | null> = []
  c.rules.forEach((rule, k) => {
    const m = rule.match
    const action =
      'queue' in rule.action
        ? { kind: 'skbedit' as const, queueMapping: rule.action.queue }
        : { kind: 'bpf' as const, program: program(rule.action.context) }
    // untagged frames by their EtherType; frames with one 802.1Q tag by the EtherType inside it
    const protos: Array<string | number> = protocolsOf(rule)
    const variants: Array<{ proto: string | number; tagged: boolean }> = []
    for (const proto of protos) {
      if (m.vlanId === undefined) variants.push({ proto, tagged: false })
      if (m.vlanId !== undefined || proto !== 'all') variants.push({ proto, tagged: true })
    }
    variants.forEach(({ proto, tagged }, sub) => {
      const spec: FilterSpec = {
        dev: options.dev,
        parent: handle,
        pref: 4 * (k + 1) + sub,
        kind: 'flower',
        protocol: tagged ? '802.1q' : proto,
        ...(m.vlanId !== undefined ? { vlanId: m.vlanId } : {}),
        ...(tagged && proto !== 'all' ? { vlanEthType: proto } : {}),
        ...(m.ipProto !== undefined ? { ipProto: m.ipProto } : {}),
        ...(m.src ? { srcIp: prefixText(m.src) } : {}),
        ...(m.dst ? { dstIp: prefixText(m.dst) } : {}),
        ...(m.srcPort ? { srcPort: m.srcPort.port } : {}),
        ...(m.srcPort && m.srcPort.mask !== 0xffff ? { srcPortMask: m.srcPort.mask } : {}),
        ...(m.dstPort ? { dstPort: m.dstPort.port } : {}),
        ...(m.dstPort && m.dstPort.mask !== 0xffff ? { dstPortMask: m.dstPort.mask } : {}),
        // flower reads a fragment's missing ports as 0; the model says fragments have no ports
        ...(m.srcPort || m.dstPort ? { fragment: false } : {}),
        actions: [action],
      }
      filters.push(spec)
      ruleOf.push(rule.index)
    })
  })
  filters.push({
    dev: options.dev,
    parent: handle,
    pref: 4 * (c.rules.length + 1),
    kind: 'flower',
    protocol: 'all',
    actions: [{ kind: 'bpf', program: program(0) }],
  })
  ruleOf.push(null)
  return { qdisc: { dev: options.dev, parent: 'root', handle, kind: 'multiq' }, filters, ruleOf }
}

/**
 * The tc back end on one tap: owns one act_bpf RSS program per context (and the default), and
 * installs the plan through a TcApi. `close()` releases the programs (installed filters keep
 * their own references).
 */
export class TcSteering implements Disposable {
  private constructor(
    readonly config: SteeringConfig,
    /** act_bpf programs by context id (0: the default RSS). */
    readonly programs: ReadonlyMap<number, EbpfSteering>,
    readonly plan: TcPlan,
  ) {}

  /** Validates, loads the context programs and computes the plan (no tc change yet). */
  static create(
    config: unknown,
    options: { dev: string | number; handle?: string; queues?: number },
  ): TcSteering {
    const c = parseSteeringConfig(config, options.queues !== undefined ? { queues: options.queues } : {})
    const programs = new Map<number, EbpfSteering>()
    try {
      const used = new Set<number>([0])
      for (const r of c.rules) if ('context' in r.action) used.add(r.action.context)
      for (const id of used) {
        const rss = id === 0 ? c.rss : c.contexts.get(id)!
        programs.set(
          id,
          EbpfSteering.create(
            {
              rss: {
                hashTypes: rss.hashTypes,
                key: rss.key,
                table: rss.table,
                defaultQueue: rss.defaultQueue,
              },
            },
            { kind: 'tc-action', ruleCapacity: 1 },
          ),
        )
      }
      const refs = new Map([...programs].map(([id, p]) => [id, { fd: p.fd }]))
      const plan = tcPlan(c, {
        dev: options.dev,
        ...(options.handle ? { handle: options.handle } : {}),
        programs: refs,
      })
      return new TcSteering(c, programs, plan)
    } catch (e) {
      for (const p of programs.values()) p.close()
      throw e
    }
  }

  /** Adds the multiq qdisc (replacing the root qdisc) and the filters. */
  async apply(tc: TcApi): Promise<void> {
    await tc.qdiscs.replace(this.plan.qdisc)
    for (const f of this.plan.filters) await tc.filters.add(f)
  }

  /** Closes the programs this object loaded (installed filters hold their own references). */
  close(): void {
    for (const p of this.programs.values()) p.close()
  }

  /** Closes the programs (`using`). */
  [Symbol.dispose](): void {
    this.close()
  }
}
