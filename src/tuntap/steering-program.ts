// Steering programs for TUNSETSTEERINGEBPF. tun runs the attached program (a socket filter) for
// every frame the host sends out of the device and takes `(u16)return % attached queues` as the
// queue. These are the simple ones; rss-steering-program.ts holds the full RSS (Toeplitz) program.
import { z } from 'zod'
import { type AsmItem, BpfMap, BpfProgram, exit, label, ldxW, mov64Imm, R0, R10, stW } from '../bpf/index.ts'
import { mapLookup } from '../bpf/skb-asm.ts'
import { parseTapInput } from './tap-errors.ts'

const queueSchema = z
  .number()
  .int()
  .min(0)
  .max(2 ** 16 - 1)

/** r0 = queue; exit. */
export function constantQueueInsns(queue: number): AsmItem[] {
  return [mov64Imm(R0, queue), exit()]
}

/** Loads a steering program that sends every frame to `queue` (modulo the attached queues). */
export function loadConstantSteering(queue: number): BpfProgram {
  const q = parseTapInput(queueSchema, queue, 'constant steering')
  return BpfProgram.load({ type: 'socket-filter', insns: constantQueueInsns(q), name: 'rxnl_const_q' })
}

/** r0 = selector[0] (0 when the lookup fails); exit. */
export function selectorQueueInsns(selector: { fd: number }): AsmItem[] {
  return [
    stW(R10, -4, 0),
    mapLookup(selector, -4, 'miss'),
    ldxW(R0, R0, 0),
    exit(),
    label('miss'),
    mov64Imm(R0, 0),
    exit(),
  ]
}

/**
 * A steering program whose queue lives in a one-entry array map: `setQueue` moves all traffic at
 * once, without reattaching, and so can any process holding the map fd. Owns the map and the
 * program.
 */
export class SelectorSteering implements Disposable {
  private constructor(
    readonly program: BpfProgram,
    readonly map: BpfMap,
  ) {}

  /** Loads the program and its selector map. */
  static create(initialQueue = 0): SelectorSteering {
    const q = parseTapInput(queueSchema, initialQueue, 'selector steering')
    const map = BpfMap.create({ type: 'array', keySize: 4, valueSize: 4, maxEntries: 1, name: 'rxnl_q_sel' })
    try {
      map.update(BpfMap.u32(0), BpfMap.u32(q))
      const program = BpfProgram.load({
        type: 'socket-filter',
        insns: selectorQueueInsns(map),
        name: 'rxnl_sel_q',
      })
      return new SelectorSteering(program, map)
    } catch (e) {
      map.close()
      throw e
    }
  }

  /** Sends every frame to this queue from now on (one map update). */
  setQueue(queue: number): void {
    const q = parseTapInput(queueSchema, queue, 'selector steering')
    this.map.update(BpfMap.u32(0), BpfMap.u32(q))
  }

  get queue(): number {
    return this.map.lookup(BpfMap.u32(0))?.readUInt32LE(0) ?? 0
  }

  get fd(): number {
    return this.program.fd
  }

  /** Closes the program and map fds. */
  close(): void {
    this.program.close()
    this.map.close()
  }

  /** Closes the program and map fds (`using`). */
  [Symbol.dispose](): void {
    this.close()
  }
}
