/**
 * The RSS steering program: a BPF_PROG_TYPE_SOCKET_FILTER that tun runs (TUNSETSTEERINGEBPF) for
 * every frame the host sends out of a tap. It computes the virtio-net RSS hash (Toeplitz) and
 * returns `table[hash & mask]`, or the default queue when the frame gets no hash.
 *
 * It implements exactly what `rssHash` (rss-hash.ts, default rules) and `parseFrame`
 * (frame-parser.ts) compute: the parsing decisions are written down once, in frame-parser.ts, and
 * the hash-type selection in rss-hash.ts (QEMU's order, the library default). The program is the
 * eBPF blocks for both, shared with the flow-steering program: frame-parser-asm.ts parses,
 * rss-hash-asm.ts selects, hashes and picks the queue. The tests check the program against
 * `rssHash` frame by frame.
 *
 * Everything that can change lives in one array map (`rss_config`, one entry), so a new key,
 * table, hash-type set or default queue takes effect with one map update, without reattaching:
 *
 *   offset  size  field (host byte order)
 *        0     4  hash_types       bit n = VIRTIO_NET_RSS_HASH_TYPE n (HASH_TYPE_BIT)
 *        4     2  table_mask       table length - 1 (the length is a power of two)
 *        6     2  default_queue    the queue of frames without a hash
 *        8     2  queues           the device's queue count when last applied (0: unknown); read
 *                                  by holders of the map fd to validate table entries
 *       10     6  reserved (0)
 *       16    40  key              the Toeplitz key
 *       56     8  zero             (lets the program read 8 key bytes from any of 36 positions)
 *       64  2*cap table            u16 queue numbers; cap = the map's table capacity
 *
 * Program specifics (beyond the shared parsing rules):
 * - Where the frame starts: 'l2' mode (taps) parses from the Ethernet header at skb->data, 'l3'
 *   mode (tun devices, and BPF_PROG_TEST_RUN of socket filters) from the network header (see
 *   FrameStart in frame-parser-asm.ts). Tags carried out of band (skb->vlan_tci) are not in the
 *   data and are not counted.
 * - Result: no hash → default_queue; else table[hash & table_mask]. tun then takes it modulo the
 *   number of attached queues. A missing config entry → queue 0.
 */
import { existsSync } from 'node:fs'
import { z } from 'zod'
import {
  type AsmItem,
  add64Imm,
  BpfError,
  BpfMap,
  BpfProgram,
  exit,
  label,
  ldxDW,
  ldxW,
  mov64Imm,
  mov64Reg,
  R0,
  R1,
  R2,
  R6,
  R7,
  R10,
  stDW,
  stxW,
} from '../bpf/index.ts'
import { mapLookup, stackSlots } from '../bpf/skb-asm.ts'
import { IPPROTO } from './frame-parser.ts'
import { FRAME_AT, parseFrameAsm } from './frame-parser-asm.ts'
import {
  DEFAULT_MAX_TABLE_LENGTH,
  parseRssConfig,
  type RssConfig,
  type RssConfigInput,
  type RssLimits,
} from './rss-config.ts'
import { RSS_BOTTOM, RSS_RESULT, rssQueueAsm } from './rss-hash-asm.ts'
import {
  HASH_TYPES,
  type HashReport,
  type HashType,
  hashReportName,
  hashTypesToMask,
  maskToHashTypes,
} from './rss-hash-types.ts'
import { parseTapInput, TapError } from './tap-errors.ts'
import { RSS_KEY_LENGTH } from './toeplitz.ts'

const KEY_OFF = 16
const QUEUES_OFF = 8
/** Bytes before the indirection table in the config map's value. */
export const RSS_CONFIG_HEADER_SIZE = 64
const TABLE_OFF = RSS_CONFIG_HEADER_SIZE
/** Largest indirection table the program can hold (a power of two). */
export const MAX_PROGRAM_TABLE_CAPACITY = 1 << 15

/** Where the program's RSS settings are in the config value. */
const SETTINGS = { hashTypes: 0, tableMask: 4, defaultQueue: 6, key: KEY_OFF, table: TABLE_OFF } as const

/** The program's own stack slot, below the parser's and the RSS block's. */
const S = stackSlots(RSS_BOTTOM, { key0: 8 }) // u32 0, the key for map lookups

export interface RssProgramOptions {
  /** 'l2' (tap: frames start with Ethernet) or 'l3' (tun, and BPF_PROG_TEST_RUN). */
  layer: 'l2' | 'l3'
  /** Indirection table capacity of the config map (a power of two). */
  tableCapacity: number
  /** When set, each run stores hash, report type and queue in this map (diagnostics, tests). */
  record?: { fd: number }
}

/** Builds the program's instructions around the given config map. */
export function rssProgramInsns(config: { fd: number }, options: RssProgramOptions): AsmItem[] {
  const record: AsmItem[] = options.record
    ? [
        mapLookup(options.record, S.key0, 'recorded'),
        // the record: hash, report, queue (u32 each), then the count of frames seen
        // the record: hash, report, queue (u32 each), then the count of frames seen
        [RSS_RESULT.hash, RSS_RESULT.report, RSS_RESULT.queue].map((slot, i) => [
          ldxDW(R2, R10, slot),
          stxW(R0, 4 * i, R2),
        ]),
        ldxW(R2, R0, 12),
        add64Imm(R2, 1),
        stxW(R0, 12, R2),
        label('recorded'),
      ]
    : []
  return [
    mov64Reg(R6, R1),
    stDW(R10, S.key0, 0),
    mapLookup(config, S.key0, 'ret0'),
    mov64Reg(R7, R0),
    // ports matter to RSS for TCP and UDP only
    // ports matter to RSS for TCP and UDP only
    parseFrameAsm(options.layer === 'l2' ? { link: 'ethernet', offloadedTag: false } : { link: 'ip' }, [
      IPPROTO.TCP,
      IPPROTO.UDP,
    ]),
    rssQueueAsm('qemu', { reg: R10, at: FRAME_AT }, { ...SETTINGS, tableCapacity: options.tableCapacity }),
    record,
    ldxDW(R0, R10, RSS_RESULT.queue),
    exit(),

    label('ret0'),
    mov64Imm(R0, 0),
    exit(),
  ]
}

// --- configuration ---------------------------------------------------------------------------

function isPowerOfTwo(n: number): boolean {
  return n > 0 && (n & (n - 1)) === 0
}

/**
 * The config map value for a validated configuration (see the layout at the top of this file).
 * `queues` is stored for holders of the map fd (0: unknown).
 */
export function encodeRssConfig(config: RssConfig, capacity: number, queues = 0): Buffer {
  const n = config.table.length
  if (!isPowerOfTwo(n) || n > capacity)
    throw new RangeError(`indirection table length ${n} is not a power of two up to ${capacity}`)
  if (config.key.length !== RSS_KEY_LENGTH)
    throw new RangeError(`RSS key must be ${RSS_KEY_LENGTH} bytes, got ${config.key.length}`)
  const b = Buffer.alloc(TABLE_OFF + capacity * 2)
  b.writeUInt32LE(hashTypesToMask(config.hashTypes), SETTINGS.hashTypes)
  b.writeUInt16LE(n - 1, SETTINGS.tableMask)
  b.writeUInt16LE(config.defaultQueue, SETTINGS.defaultQueue)
  b.writeUInt16LE(queues, QUEUES_OFF)
  b.set(config.key, KEY_OFF)
  config.table.forEach((q, i) => {
    b.writeUInt16LE(q, TABLE_OFF + i * 2)
  })
  return b
}

/** The configuration held in a config map value, and the queue count stored with it. */
export function decodeRssConfig(b: Uint8Array): RssConfig & { queues: number } {
  const buf = Buffer.from(b.buffer, b.byteOffset, b.length)
  const n = buf.readUInt16LE(SETTINGS.tableMask) + 1
  return {
    hashTypes: maskToHashTypes(buf.readUInt32LE(SETTINGS.hashTypes)),
    key: Uint8Array.from(buf.subarray(KEY_OFF, KEY_OFF + RSS_KEY_LENGTH)),
    table: Array.from({ length: n }, (_, i) => buf.readUInt16LE(TABLE_OFF + i * 2)),
    defaultQueue: buf.readUInt16LE(SETTINGS.defaultQueue),
    queues: buf.readUInt16LE(QUEUES_OFF),
  }
}

/** A change to part of a configuration: the fields given replace the current ones. */
export type RssConfigChange = Partial<RssConfigInput>

/**
 * The RSS configuration map of a steering program. A process that was handed only this map's fd
 * (no capabilities needed) reconfigures RSS live with it. Every change is validated (zod, against
 * the map's table capacity and the device's queue count stored in the map) before the map is
 * written, and is one map update: a failed change leaves the previous configuration in force.
 * Owns the map fd.
 */
export class RssConfigMap implements Disposable {
  /** Largest indirection table the map holds. */
  readonly tableCapacity: number

  /** @internal Use `RssConfigMap.fromFd` or `RssSteering.create`. */
  constructor(readonly map: BpfMap) {
    this.tableCapacity = (map.valueSize - TABLE_OFF) / 2
  }

  /**
   * Takes ownership of a config map fd, e.g. one received with `receiveFds`. Throws BpfError
   * `closed` for an fd that is not open, `wrong-object` for a non-map, and TapError
   * `invalid-input` for a map that is not an RSS config map.
   */
  static fromFd(fd: number): RssConfigMap {
    if (!Number.isInteger(fd) || fd < 0 || !existsSync(`/proc/self/fdinfo/${fd}`))
      throw new BpfError({ kind: 'closed', operation: `adopt rss config map fd ${fd}` })
    return RssConfigMap.#adopt(BpfMap.fromFd(fd), 'adopt rss config map')
  }

  /**
   * Opens a config map pinned in bpffs (`pin`), e.g. by another process that set RSS on a
   * persistent tap and exited: the steering program stays attached to the device.
   */
  static fromPinned(path: string): RssConfigMap {
    return RssConfigMap.#adopt(BpfMap.fromPinned(path), `open rss config map ${path}`)
  }

  static #adopt(map: BpfMap, operation: string): RssConfigMap {
    const cap = (map.valueSize - TABLE_OFF) / 2
    if (
      map.keySize !== 4 ||
      map.maxEntries !== 1 ||
      !Number.isInteger(cap) ||
      !isPowerOfTwo(cap) ||
      cap > MAX_PROGRAM_TABLE_CAPACITY
    ) {
      map.close()
      throw new TapError({
        kind: 'invalid-input',
        operation,
        issues: [
          { path: 'fd', message: `not an RSS config map (key ${map.keySize}, value ${map.valueSize})` },
        ],
      })
    }
    return new RssConfigMap(map)
  }

  /** Pins the map in bpffs so that later processes can open it by path (`fromPinned`). */
  pin(path: string): void {
    this.map.pin(path)
  }

  get fd(): number {
    return this.map.fd
  }

  /** The device's queue count stored with the configuration (undefined when unknown). */
  get queues(): number | undefined {
    const q = this.#value().readUInt16LE(QUEUES_OFF)
    return q === 0 ? undefined : q
  }

  /** The limits a configuration must meet to be applied through this map. */
  limits(queues = this.queues): RssLimits {
    return { maxTableLength: this.tableCapacity, ...(queues === undefined ? {} : { queues }) }
  }

  /** Validates `input` (throws RssConfigError) without changing anything. */
  validate(input: unknown, queues = this.queues): RssConfig {
    return parseRssConfig(input, this.limits(queues))
  }

  /** Replaces the whole configuration (validated first); returns it normalized. */
  apply(input: RssConfigInput, queues = this.queues): RssConfig {
    const config = this.validate(input, queues)
    this.#write(config, queues)
    return config
  }

  /** Changes part of the configuration (e.g. only the table, or only the key). */
  update(change: RssConfigChange): RssConfig {
    const current = this.read()
    return this.apply({ ...current, ...change } as RssConfigInput)
  }

  /** The configuration now in force. */
  read(): RssConfig {
    const { queues: _, ...config } = decodeRssConfig(this.#value())
    return config
  }

  /** Closes the fds this object owns. */
  close(): void {
    this.map.close()
  }

  /** Closes the fds this object owns (`using`). */
  [Symbol.dispose](): void {
    this.close()
  }

  /** @internal Writes an already validated configuration. */
  write(config: RssConfig, queues: number | undefined): void {
    this.#write(config, queues)
  }

  #write(config: RssConfig, queues: number | undefined): void {
    this.map.update(BpfMap.u32(0), encodeRssConfig(config, this.tableCapacity, queues ?? 0))
  }

  #value(): Buffer {
    const v = this.map.lookup(BpfMap.u32(0))
    if (!v) throw new BpfError({ kind: 'not-found', operation: 'read rss config', what: 'entry 0' })
    return v
  }
}

/** What the program computed for the last frame (only with `record`). */
export interface RssLastResult {
  readonly hash: number
  readonly report: HashReport
  readonly queue: number
  /** Frames seen since the program was loaded. */
  readonly packets: number
}

const optionsSchema = z.strictObject({
  layer: z.enum(['l2', 'l3']).default('l2'),
  tableCapacity: z
    .number()
    .int()
    .min(1)
    .max(MAX_PROGRAM_TABLE_CAPACITY)
    .refine(isPowerOfTwo, 'must be a power of two')
    .default(DEFAULT_MAX_TABLE_LENGTH),
  record: z.boolean().default(false),
  queues: z.number().int().min(1).max(0xffff).optional(),
})

/** Options of `RssSteering.create`. */
export interface RssSteeringOptions {
  /** 'l2' for taps (default), 'l3' for tun devices. */
  layer?: 'l2' | 'l3'
  /** Largest indirection table the config map holds (power of two, default 128). */
  tableCapacity?: number
  /**
   * Keep the last frame's hash, hash type and queue in a map (`last()`): for tests and debugging.
   * Racy when frames are sent from several CPUs at once.
   */
  record?: boolean
  /** The device's queue count: table entries and the default queue must be below it. */
  queues?: number
}

/**
 * The RSS steering program with its maps. Attach it with `tap.setSteeringProgram(rss)` (or let
 * `tap.rss.apply` do it); change the configuration live with `apply()`/`update()`. Owns the
 * program and the maps (the device keeps its own reference to the program once attached).
 */
export class RssSteering implements Disposable {
  private constructor(
    readonly program: BpfProgram,
    /** The configuration map: a holder of its fd (even unprivileged) can reconfigure RSS. */
    readonly config: RssConfigMap,
    readonly lastMap: BpfMap | undefined,
    readonly tableCapacity: number,
  ) {}

  /**
   * Creates the maps and loads the program. `initial` is validated (RssConfigError) before
   * anything is created; without it every frame goes to queue 0 until `apply`.
   * A verifier rejection throws BpfVerifierError with the verifier's log.
   */
  static create(options: RssSteeringOptions = {}, initial?: RssConfigInput): RssSteering {
    const o = parseTapInput(optionsSchema, options, 'rss steering')
    const limits: RssLimits = { maxTableLength: o.tableCapacity, ...(o.queues ? { queues: o.queues } : {}) }
    const first = initial === undefined ? undefined : parseRssConfig(initial, limits)
    const map = BpfMap.create({
      type: 'array',
      keySize: 4,
      valueSize: TABLE_OFF + o.tableCapacity * 2,
      maxEntries: 1,
      name: 'rss_config',
      flags: ['rdonlyProg'],
    })
    const config = new RssConfigMap(map)
    let last: BpfMap | undefined
    try {
      // without a configuration: no hash types, everything to queue 0 (and the queue count kept)
      config.write(
        first ?? { hashTypes: [], key: new Uint8Array(RSS_KEY_LENGTH), table: [0], defaultQueue: 0 },
        o.queues,
      )
      if (o.record)
        last = BpfMap.create({ type: 'array', keySize: 4, valueSize: 16, maxEntries: 1, name: 'rss_last' })
      const program = BpfProgram.load({
        type: 'socket-filter',
        name: 'rxnl_rss',
        insns: rssProgramInsns(map, { layer: o.layer, tableCapacity: o.tableCapacity, record: last }),
      })
      return new RssSteering(program, config, last, o.tableCapacity)
    } catch (e) {
      map.close()
      last?.close()
      throw e
    }
  }

  /**
   * Replaces the whole configuration with one map update; frames in flight see old or new.
   * Validated first against the table capacity and the queue count stored in the map.
   */
  apply(input: RssConfigInput): RssConfig {
    return this.config.apply(input)
  }

  /** Changes part of the configuration (the table, the key, ...), with one map update. */
  update(change: RssConfigChange): RssConfig {
    return this.apply({ ...this.read(), ...change } as RssConfigInput)
  }

  /** The configuration now in the map. */
  read(): RssConfig {
    return this.config.read()
  }

  /** The last frame's result (only with `record`). */
  last(): RssLastResult | undefined {
    const v = this.lastMap?.lookup(BpfMap.u32(0))
    if (!v) return undefined
    return {
      hash: v.readUInt32LE(0),
      report: hashReportName(v.readUInt32LE(4)) ?? 'none',
      queue: v.readUInt32LE(8),
      packets: v.readUInt32LE(12),
    }
  }

  /** The program's fd (what TUNSETSTEERINGEBPF takes). */
  get fd(): number {
    return this.program.fd
  }

  /** Closes the fds this object owns. */
  close(): void {
    this.program.close()
    this.config.close()
    this.lastMap?.close()
  }

  /** Closes the fds this object owns (`using`). */
  [Symbol.dispose](): void {
    this.close()
  }
}

/** Every hash type the program computes (all nine). */
export const PROGRAM_HASH_TYPES: readonly HashType[] = HASH_TYPES
