import { z } from 'zod'
import { bpfSyscall, Errno, SysError } from '../netlink/sys/index.ts'
import { type AsmItem, assemble } from './asm.ts'
import { BpfError, BpfVerifierError, bpfFailure, parseBpfInput } from './errors.ts'
import { BpfObjectFd } from './object-fd.ts'
import { ATTR_SIZE, BpfCmd, closeQuietly, cString, fdKind, objGet, objGetInfo, ptr, readName } from './sys.ts'

/** enum bpf_prog_type, the types this project loads. */
export const ProgramType = {
  'socket-filter': 1,
  'sched-cls': 3,
  'sched-act': 4,
  xdp: 6,
  'cgroup-skb': 8,
} as const
/** A BPF program type by name. */
export type ProgramTypeName = keyof typeof ProgramType

const PROGRAM_TYPE_NAMES = new Map<number, ProgramTypeName>(
  Object.entries(ProgramType).map(([k, v]) => [v, k as ProgramTypeName]),
)

/** Names of BPF objects: at most 15 characters of [A-Za-z0-9_.]. */
export const bpfObjectName = z
  .string()
  .max(15)
  .regex(/^[A-Za-z0-9_.]*$/, 'only letters, digits, "_" and "." are allowed')

const MAX_INSNS = 1_000_000

const loadSchema = z.object({
  type: z.enum(Object.keys(ProgramType) as [ProgramTypeName, ...ProgramTypeName[]]),
  insns: z.union([z.instanceof(Buffer), z.array(z.unknown())]),
  name: bpfObjectName.optional(),
  license: z.string().min(1).max(127).default('GPL'),
  /** Verifier log buffer for the retry after a failure (bytes). */
  logSize: z
    .number()
    .int()
    .min(4096)
    .max(2 ** 30 - 1)
    .default(16 * 1024 * 1024),
  /** Ask for the log even on success (level 1 or 2); by default only failures are logged. */
  logLevel: z.union([z.literal(0), z.literal(1), z.literal(2)]).default(0),
  expectedAttachType: z.number().int().min(0).default(0),
})

/** Options of `BpfProgram.load` / `loadProgram` (BPF_PROG_LOAD). */
export interface LoadProgramOptions {
  type: ProgramTypeName
  /** Assembler items, or an already encoded program (8 bytes per slot). */
  insns: readonly AsmItem[] | Buffer
  name?: string
  /** Default "GPL" (needed for GPL-only helpers). */
  license?: string
  /** Size of the verifier log buffer used when a load fails (default 16 MiB). */
  logSize?: number
  /** 1 or 2 keeps the verifier log of a successful load in `program.verifierLog`. */
  logLevel?: 0 | 1 | 2
  expectedAttachType?: number
}

/** What BPF_OBJ_GET_INFO_BY_FD tells about a program. */
export interface ProgramInfo {
  readonly type: ProgramTypeName | number
  readonly id: number
  /** The kernel's tag (hash of the instructions), 16 hex digits. */
  readonly tag: string
  readonly name: string
  readonly jitedLength: number
  readonly xlatedLength: number
  /** Nanoseconds since boot when it was loaded. */
  readonly loadTime: bigint
  readonly createdByUid: number
  readonly mapIds: readonly number[]
}

/** The outcome of BPF_PROG_TEST_RUN. */
export interface TestRunResult {
  /** The program's return value (R0, truncated to 32 bits). */
  readonly retval: number
  /** Average run time in nanoseconds. */
  readonly duration: number
  /** The packet after the run (the program may have changed it). */
  readonly dataOut: Buffer
}

const testRunSchema = z.object({
  data: z.instanceof(Buffer).refine((b) => b.length >= 14, 'a test packet needs at least an Ethernet header'),
  repeat: z.number().int().min(1).max(1_000_000).default(1),
})

/**
 * A loaded BPF program, owning its fd: `close()` (or `using`) releases it. The kernel keeps the
 * program alive while anything else holds it (a tun device, a tc filter, a pin).
 */
export class BpfProgram extends BpfObjectFd {
  /** The verifier log of a load asked with `logLevel` > 0; '' otherwise. */
  readonly verifierLog: string

  private constructor(
    fd: number,
    readonly type: ProgramTypeName | number,
    verifierLog = '',
  ) {
    super(fd, 'program')
    this.verifierLog = verifierLog
  }

  /**
   * Loads a program (BPF_PROG_LOAD). The first try asks for no log (fast); when it fails, the
   * load is retried with log level 1 and a large buffer, and a BpfVerifierError carries the log.
   */
  static load(options: LoadProgramOptions): BpfProgram {
    const o = parseBpfInput(loadSchema, options, 'load program')
    let code: Buffer
    try {
      code = Buffer.isBuffer(o.insns) ? o.insns : assemble(o.insns as AsmItem[]).bytes
    } catch (e) {
      throw new BpfError({
        kind: 'invalid-input',
        operation: 'load program',
        issues: [{ path: 'insns', message: e instanceof Error ? e.message : String(e) }],
      })
    }
    if (code.length === 0 || code.length % 8 !== 0 || code.length / 8 > MAX_INSNS)
      throw new BpfError({
        kind: 'invalid-input',
        operation: 'load program',
        issues: [{ path: 'insns', message: `must be 1..${MAX_INSNS} instructions of 8 bytes` }],
      })
    const license = cString(o.license)
    const typeId = ProgramType[o.type]

    const attempt = (logLevel: number, log: Buffer | undefined): { fd: number } | { error: SysError } => {
      const attr = Buffer.alloc(ATTR_SIZE)
      attr.writeUInt32LE(typeId, 0)
      attr.writeUInt32LE(code.length / 8, 4)
      attr.writeBigUInt64LE(ptr(code), 8)
      attr.writeBigUInt64LE(ptr(license), 16)
      attr.writeUInt32LE(logLevel, 24)
      attr.writeUInt32LE(log?.length ?? 0, 28)
      attr.writeBigUInt64LE(ptr(log), 32)
      if (o.name) attr.write(o.name, 48, 15, 'utf8')
      attr.writeUInt32LE(o.expectedAttachType, 68)
      try {
        return { fd: bpfSyscall(BpfCmd.progLoad, attr) }
      } catch (e) {
        if (e instanceof SysError) return { error: e }
        throw e
      }
    }

    if (o.logLevel > 0) {
      const log = Buffer.alloc(o.logSize)
      const r = attempt(o.logLevel, log)
      if ('fd' in r) return new BpfProgram(r.fd, o.type, readLog(log))
      throw loadFailure(r.error, log)
    }
    const first = attempt(0, undefined)
    if ('fd' in first) return new BpfProgram(first.fd, o.type)
    if (first.error.errno === Errno.EPERM) throw bpfFailure('load program', first.error)
    const log = Buffer.alloc(o.logSize)
    const second = attempt(1, log)
    // A program that failed once can pass on the retry (e.g. a transient ENOMEM); keep it.
    if ('fd' in second) return new BpfProgram(second.fd, o.type)
    throw loadFailure(second.error, log, first.error)
  }

  /** Opens the program pinned at `path` (BPF_OBJ_GET). */
  static fromPinned(path: string): BpfProgram {
    let fd: number
    try {
      fd = objGet(path)
    } catch (e) {
      throw bpfFailure('open pinned program', e, path)
    }
    return BpfProgram.adopt(fd, 'open pinned program')
  }

  /** Takes ownership of a program fd (for example one received over a Unix socket). */
  static fromFd(fd: number): BpfProgram {
    return BpfProgram.adopt(fd, 'adopt program fd', false)
  }

  private static adopt(fd: number, operation: string, closeOnError = true): BpfProgram {
    const kind = fdKind(fd)
    if (kind !== 'program') {
      if (closeOnError) closeQuietly(fd)
      throw new BpfError({ kind: 'wrong-object', operation, expected: 'program', actual: kind ?? 'unknown' })
    }
    try {
      return new BpfProgram(fd, readProgramInfo(fd).type)
    } catch (e) {
      if (closeOnError) closeQuietly(fd)
      throw e
    }
  }

  /** BPF_OBJ_GET_INFO_BY_FD: id, tag, name, sizes and the ids of the maps it uses. */
  info(): ProgramInfo {
    return readProgramInfo(this.fd)
  }

  /**
   * Runs the program once (or `repeat` times) on `data` with BPF_PROG_TEST_RUN. For socket
   * filters the kernel strips the Ethernet header first (skb->data is the network header), and
   * for IPv4/IPv6 EtherTypes it refuses (EINVAL) data shorter than the whole IP header.
   */
  testRun(data: Buffer, options: { repeat?: number } = {}): TestRunResult {
    const o = parseBpfInput(testRunSchema, { data, ...options }, 'test run')
    const out = Buffer.alloc(o.data.length + 256)
    const attr = Buffer.alloc(ATTR_SIZE)
    attr.writeUInt32LE(this.fd, 0)
    attr.writeUInt32LE(o.data.length, 8)
    attr.writeUInt32LE(out.length, 12)
    attr.writeBigUInt64LE(ptr(o.data), 16)
    attr.writeBigUInt64LE(ptr(out), 24)
    attr.writeUInt32LE(o.repeat, 32)
    try {
      bpfSyscall(BpfCmd.progTestRun, attr)
    } catch (e) {
      throw bpfFailure('test run', e)
    }
    return {
      retval: attr.readUInt32LE(4),
      duration: attr.readUInt32LE(36),
      dataOut: Buffer.from(out.subarray(0, attr.readUInt32LE(12))),
    }
  }
}

/** Loads a program; see BpfProgram.load. */
export function loadProgram(options: LoadProgramOptions): BpfProgram {
  return BpfProgram.load(options)
}

function readProgramInfo(fd: number): ProgramInfo {
  const mapIds = Buffer.alloc(64 * 4)
  const info = Buffer.alloc(256)
  info.writeUInt32LE(64, 52) // nr_map_ids: room for 64
  info.writeBigUInt64LE(ptr(mapIds), 56)
  try {
    objGetInfo(fd, info)
  } catch (e) {
    throw bpfFailure('program info', e)
  }
  const type = info.readUInt32LE(0)
  const nMaps = Math.min(64, info.readUInt32LE(52))
  return {
    type: PROGRAM_TYPE_NAMES.get(type) ?? type,
    id: info.readUInt32LE(4),
    tag: info.subarray(8, 16).toString('hex'),
    jitedLength: info.readUInt32LE(16),
    xlatedLength: info.readUInt32LE(20),
    loadTime: info.readBigUInt64LE(40),
    createdByUid: info.readUInt32LE(48),
    mapIds: Array.from({ length: nMaps }, (_, i) => mapIds.readUInt32LE(i * 4)),
    name: readName(info, 64),
  }
}

function readLog(log: Buffer): string {
  const end = log.indexOf(0)
  return log.subarray(0, end < 0 ? log.length : end).toString('utf8')
}

function loadFailure(err: SysError, log: Buffer, first?: SysError): BpfError {
  const text = readLog(log)
  if (err.errno === Errno.EPERM) return bpfFailure('load program', err)
  // ENOSPC: the log did not fit; the kernel keeps its tail (where the reason is) in the buffer.
  const truncated = err.errno === Errno.ENOSPC
  const errno = truncated && first ? first.code : err.code
  // The verifier says why in its log; an EINVAL with an empty log is about the attributes.
  if (text.length > 0 || err.errno === Errno.EACCES)
    return new BpfVerifierError({ operation: 'load program', errno, log: text, truncated })
  return bpfFailure('load program', err)
}
