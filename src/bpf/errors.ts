import type { z } from 'zod'
import { SysError } from '../netlink/sys/index.ts'
import { parseOr } from '../netlink/validate.ts'

/** One field of caller input that failed validation (`key`, `table[5]`). */
export interface InputIssue {
  readonly path: string
  readonly message: string
}

/** Why a BPF operation failed. `kind` tells them apart; each kind carries what is known. */
export type BpfErrorReason =
  /** Caller input failed validation; nothing was sent to the kernel. */
  | { readonly kind: 'invalid-input'; readonly operation: string; readonly issues: readonly InputIssue[] }
  /** The program was rejected; `log` is the verifier's (level 1) log. */
  | {
      readonly kind: 'verifier'
      readonly operation: string
      readonly errno: string
      readonly log: string
      readonly truncated: boolean
    }
  /** The caller lacks the right (CAP_BPF / CAP_NET_ADMIN, or the object's mode). */
  | { readonly kind: 'permission-denied'; readonly operation: string; readonly errno: string }
  /** No such pinned path, or not a BPF object of the expected kind. */
  | { readonly kind: 'not-found'; readonly operation: string; readonly what: string }
  | {
      readonly kind: 'wrong-object'
      readonly operation: string
      readonly expected: BpfObjectKind
      readonly actual: BpfObjectKind | 'unknown'
    }
  /** The owning object was closed already. */
  | { readonly kind: 'closed'; readonly operation: string }
  /** Any other failed bpf() call. */
  | { readonly kind: 'system'; readonly operation: string; readonly errno: string; readonly cause: SysError }

/** The kinds of BPF object an fd can refer to. */
export type BpfObjectKind = 'map' | 'program' | 'link'
/** The `kind` of a BpfError. */
export type BpfErrorKind = BpfErrorReason['kind']

/** A failed BPF operation. Switch on `reason.kind` to get the details of each case. */
export class BpfError extends Error {
  override readonly name: string = 'BpfError'
  constructor(readonly reason: BpfErrorReason) {
    super(describe(reason))
  }
  get kind(): BpfErrorKind {
    return this.reason.kind
  }
}

/** The kernel's verifier rejected a program; `log` holds what it said. */
export class BpfVerifierError extends BpfError {
  override readonly name = 'BpfVerifierError'
  declare readonly reason: Extract<BpfErrorReason, { kind: 'verifier' }>
  constructor(reason: Omit<Extract<BpfErrorReason, { kind: 'verifier' }>, 'kind'>) {
    super({ kind: 'verifier', ...reason })
  }
  get log(): string {
    return this.reason.log
  }
  /** The last meaningful lines of the log: usually the rejected instruction and the reason. */
  get summary(): string {
    const lines = this.reason.log.trimEnd().split('\n')
    return lines.slice(-6).join('\n')
  }
}

function describe(r: BpfErrorReason): string {
  switch (r.kind) {
    case 'invalid-input':
      return `${r.operation}: ${r.issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join('; ')}`
    case 'verifier': {
      const tail = r.log.trimEnd().split('\n').slice(-3).join(' | ')
      return `${r.operation}: verifier rejected the program (${r.errno})${tail ? `: ${tail}` : ''}`
    }
    case 'permission-denied':
      return `${r.operation}: permission denied (${r.errno})`
    case 'not-found':
      return `${r.operation}: ${r.what} not found`
    case 'wrong-object':
      return `${r.operation}: expected a BPF ${r.expected}, got ${r.actual}`
    case 'closed':
      return `${r.operation}: the object is closed`
    case 'system':
      return `${r.operation}: ${r.cause.message}`
  }
}

/** Maps a SysError from bpf() to the matching reason. */
export function bpfFailure(operation: string, err: unknown, what = 'object'): BpfError {
  if (err instanceof BpfError) return err
  if (!(err instanceof SysError)) throw err
  if (err.code === 'EPERM' || err.code === 'EACCES')
    return new BpfError({ kind: 'permission-denied', operation, errno: err.code })
  if (err.code === 'ENOENT') return new BpfError({ kind: 'not-found', operation, what })
  return new BpfError({ kind: 'system', operation, errno: err.code, cause: err })
}

/** Validates caller input; throws BpfError('invalid-input') naming each bad field. */
export function parseBpfInput<S extends z.ZodType>(
  schema: S,
  input: unknown,
  operation: string,
): z.output<S> {
  return parseOr(schema, input, (issues) => new BpfError({ kind: 'invalid-input', operation, issues }))
}
