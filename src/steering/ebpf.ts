// The eBPF back end: the generated steering program, its double-buffered configuration maps and
// atomic reconfiguration. Attach to a tap with TUNSETSTEERINGEBPF (`attach`), or use the
// 'tc-action' flavour as an act_bpf program (the tc back end does).

import { z } from 'zod'
import { BpfMap, BpfProgram } from '../bpf/index.ts'
import { inputIssues } from '../netlink/validate.ts'
import type { HashReport } from '../tuntap/rss-hash-types.ts'
import { type Classifier, classifier } from './classifier.ts'
import { encodeLayout, layoutSize } from './ebpf-layout.ts'
import {
  FACTS_SIZE,
  NO_RULE,
  type SteeringProgramKind,
  steeringProgramInsns,
  TRACE_RECORD_SIZE,
  TRACE_REPORT,
} from './ebpf-program.ts'
import { MAX_RULES, parseSteeringConfig, type SteeringConfig, SteeringConfigError } from './model.ts'

/** How `EbpfSteering.create` sizes and builds its program. */
export interface EbpfSteeringOptions {
  /** 'tap' (socket filter for TUNSETSTEERINGEBPF, the default) or 'tc-action' (act_bpf). */
  kind?: SteeringProgramKind
  /** Rules the maps hold (1..512, default 512). Fewer rules load faster. */
  ruleCapacity?: number
  /** Queues of the device: configurations naming a queue at or beyond it are refused. */
  queues?: number
  /**
   * Keep a record per frame (generation, rule, context, queue, hash) in a map of this many
   * entries (a power of two), indexed by the frame's last 4 bytes (big endian). For tests and
   * debugging: put a sequence number at the end of each frame.
   */
  trace?: number
}

const optionsSchema = z.strictObject({
  kind: z.enum(['tap', 'tc-action']).default('tap'),
  ruleCapacity: z.number().int().min(1).max(MAX_RULES).default(MAX_RULES),
  queues: z.number().int().min(1).max(0x10000).optional(),
  trace: z
    .number()
    .int()
    .min(1)
    .max(1 << 20)
    .refine((n) => (n & (n - 1)) === 0, 'must be a power of two')
    .optional(),
})

/** What the program recorded for one traced frame. */
export interface TraceRecord {
  readonly generation: number
  /** The matching rule's index in the input, or null. */
  readonly rule: number | null
  /** The context that chose the queue, or null for a `{ queue }` rule. */
  readonly context: number | null
  readonly queue: number
  readonly hash: number
  readonly hashType: HashReport
}

const REPORT_NAMES = Object.fromEntries(Object.entries(TRACE_REPORT).map(([k, v]) => [v, k])) as Record<
  number,
  HashReport
>

/** A program anything with its fd can attach (a Tap's `setSteeringProgram`). */
export interface SteeringTarget {
  /** Attaches the program (null detaches it). */
  setSteeringProgram(program: { readonly fd: number } | null): void
}

/**
 * The eBPF steering program with its maps. `apply` replaces the whole configuration atomically:
 * every frame is steered by exactly one configuration, and frames after `apply` returns by the
 * new one. Owns the program and the maps (`close()`); an attached device keeps its own reference
 * to the program and its maps.
 */
export class EbpfSteering implements Disposable {
  #active = 0
  #generation = 0
  #config: SteeringConfig
  #classifier: Classifier | undefined

  private constructor(
    readonly program: BpfProgram,
    /** Array-of-maps, one slot: the configuration buffer in use. */
    readonly selector: BpfMap,
    /** The two configuration buffers (array maps, one value each). */
    readonly buffers: readonly [BpfMap, BpfMap],
    readonly traceMap: BpfMap | undefined,
    /** Per-CPU scratch space of the program (the parsed frame facts). */
    readonly scratch: BpfMap,
    readonly ruleCapacity: number,
    readonly queues: number | undefined,
    config: SteeringConfig,
  ) {
    this.#config = config
  }

  /**
   * Validates `config`, builds the maps, loads the program (a rejected program throws
   * BpfVerifierError with the verifier's log) and installs `config` as generation 1.
   */
  static create(config: unknown, options: EbpfSteeringOptions = {}): EbpfSteering {
    const o = optionsSchema.safeParse(options)
    if (!o.success)
      throw new SteeringConfigError(
        inputIssues(o.error).map((i) => ({ field: `options.${i.path}`, message: i.message })),
      )
    const { kind, ruleCapacity, queues, trace } = o.data
    const parsed = parseSteeringConfig(config, { ...(queues ? { queues } : {}), maxRules: ruleCapacity })
    const size = layoutSize(ruleCapacity)
    const owned: Array<{ close(): void }> = []
    try {
      const mk = (name: string) => {
        const m = BpfMap.create({ type: 'array', keySize: 4, valueSize: size, maxEntries: 1, name })
        owned.push(m)
        return m
      }
      const a = mk('steer_cfg_a')
      const b = mk('steer_cfg_b')
      const selector = BpfMap.create({
        type: 'array-of-maps',
        keySize: 4,
        valueSize: 4,
        maxEntries: 1,
        name: 'steer_sel',
        innerMap: a,
      })
      owned.push(selector)
      const scratch = BpfMap.create({
        type: 'percpu-array',
        keySize: 4,
        valueSize: FACTS_SIZE,
        maxEntries: 1,
        name: 'steer_facts',
      })
      owned.push(scratch)
      let traceMap: BpfMap | undefined
      if (trace !== undefined) {
        traceMap = BpfMap.create({
          type: 'array',
          keySize: 4,
          valueSize: TRACE_RECORD_SIZE,
          maxEntries: trace,
          name: 'steer_trace',
        })
        owned.push(traceMap)
      }
      const program = BpfProgram.load({
        type: kind === 'tap' ? 'socket-filter' : 'sched-act',
        name: 'rxnl_steer',
        insns: steeringProgramInsns(selector, scratch, {
          kind,
          ruleCapacity,
          ...(traceMap ? { trace: { map: traceMap, entries: trace as number } } : {}),
        }),
      })
      owned.push(program)
      const s = new EbpfSteering(program, selector, [a, b], traceMap, scratch, ruleCapacity, queues, parsed)
      s.#install(parsed)
      return s
    } catch (e) {
      for (const x of owned.reverse()) x.close()
      throw e
    }
  }

  /** The configuration in force. */
  get config(): SteeringConfig {
    return this.#config
  }

  /** Generation of the configuration in force (1 after create, +1 per apply). */
  get generation(): number {
    return this.#generation
  }

  /** The reference classifier of the configuration in force. */
  get classifier(): Classifier {
    this.#classifier ??= classifier(this.#config)
    return this.#classifier
  }

  /**
   * Replaces the configuration atomically: validation first (SteeringConfigError, nothing
   * changed), then the idle buffer is written whole and the selector flipped to it; the flip
   * returns after every program run that could see the old buffer has finished. Returns the new
   * generation.
   */
  apply(config: unknown): number {
    const parsed = parseSteeringConfig(config, {
      ...(this.queues ? { queues: this.queues } : {}),
      maxRules: this.ruleCapacity,
    })
    this.#install(parsed)
    return this.#generation
  }

  #install(parsed: SteeringConfig): void {
    const next = this.#generation + 1
    const idle = this.#generation === 0 ? 0 : 1 - this.#active
    const buffer = this.buffers[idle]!
    buffer.update(BpfMap.u32(0), encodeLayout(parsed, next, this.ruleCapacity))
    this.selector.update(BpfMap.u32(0), BpfMap.u32(buffer.fd))
    this.#active = idle
    this.#generation = next
    this.#config = parsed
    this.#classifier = undefined
  }

  /** Attaches the program to a tap (TUNSETSTEERINGEBPF). */
  attach(target: SteeringTarget): void {
    target.setSteeringProgram(this.program)
  }

  /** The trace record at `index` (only with the `trace` option). */
  trace(index: number): TraceRecord | undefined {
    const m = this.traceMap
    if (!m) return undefined
    const v = m.lookup(BpfMap.u32(index & (m.maxEntries - 1)))
    if (!v) return undefined
    const rule = v.readUInt32LE(4)
    const ctx = v.readUInt32LE(8)
    return {
      generation: v.readUInt32LE(0),
      rule: rule === NO_RULE ? null : rule,
      context: ctx === NO_RULE ? null : ctx,
      queue: v.readUInt32LE(12),
      hash: v.readUInt32LE(16),
      hashType: REPORT_NAMES[v.readUInt32LE(20)] ?? 'none',
    }
  }

  get fd(): number {
    return this.program.fd
  }

  /** Closes the program and maps this object owns (an attached program stays with its device). */
  close(): void {
    this.program.close()
    this.selector.close()
    for (const b of this.buffers) b.close()
    this.traceMap?.close()
    this.scratch.close()
  }

  /** Closes the program and maps (`using`). */
  [Symbol.dispose](): void {
    this.close()
  }
}
