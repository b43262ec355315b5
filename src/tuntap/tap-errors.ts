import type { z } from 'zod'
import { Errno, SysError } from '../netlink/sys/index.ts'
import { parseOr } from '../netlink/validate.ts'

export interface TapInputIssue {
  readonly path: string
  readonly message: string
}

/** Why a tun/tap operation failed. Switch on `kind`; each case carries what is known. */
export type TapErrorReason =
  /** Caller input failed validation; nothing was sent to the kernel. */
  | { readonly kind: 'invalid-input'; readonly operation: string; readonly issues: readonly TapInputIssue[] }
  /** `Tap.create` with the name of an existing device. */
  | { readonly kind: 'exists'; readonly operation: string; readonly name: string }
  /** No such device (`Tap.open`), or no /dev/net/tun. */
  | { readonly kind: 'not-found'; readonly operation: string; readonly name: string }
  /** A single-queue device already has its queue. */
  | { readonly kind: 'busy'; readonly operation: string; readonly name: string }
  /** The existing device differs (tun vs tap, multi-queue or not) from what was asked. */
  | { readonly kind: 'mismatch'; readonly operation: string; readonly name: string }
  /** The device has its 256 queues (attached plus detached). */
  | { readonly kind: 'too-many-queues'; readonly operation: string; readonly name: string }
  | { readonly kind: 'permission-denied'; readonly operation: string; readonly errno: string }
  /** The fd given is not a tun/tap queue fd (or is not attached to a device). */
  | { readonly kind: 'not-a-tun-fd'; readonly operation: string; readonly fd: number }
  /** The queue is detached (TUNSETQUEUE IFF_DETACH_QUEUE); attach it again first. */
  | { readonly kind: 'queue-detached'; readonly operation: string }
  /** The device was deleted under the queue (its fd now reads EBADFD). */
  | { readonly kind: 'device-gone'; readonly operation: string }
  /** This kernel does not support the request (e.g. TUNSETVNETBE without cross-endian support). */
  | { readonly kind: 'unsupported'; readonly operation: string; readonly errno: string }
  /** The Tap or queue was closed. */
  | { readonly kind: 'closed'; readonly operation: string }
  | { readonly kind: 'system'; readonly operation: string; readonly errno: string; readonly cause: SysError }

/** The `kind` of a TapError. */
export type TapErrorKind = TapErrorReason['kind']

/** A failed tun/tap operation; `reason` is a tagged union (see TapErrorReason). */
export class TapError extends Error {
  override readonly name = 'TapError'
  constructor(readonly reason: TapErrorReason) {
    super(describe(reason))
  }
  get kind(): TapErrorKind {
    return this.reason.kind
  }
}

function describe(r: TapErrorReason): string {
  switch (r.kind) {
    case 'invalid-input':
      return `${r.operation}: ${r.issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join('; ')}`
    case 'exists':
      return `${r.operation}: device ${r.name} already exists`
    case 'not-found':
      return `${r.operation}: ${r.name} not found`
    case 'busy':
      return `${r.operation}: ${r.name} is single-queue and its queue is taken`
    case 'mismatch':
      return `${r.operation}: ${r.name} exists with other flags (tun/tap or multi-queue)`
    case 'too-many-queues':
      return `${r.operation}: ${r.name} has the maximum number of queues`
    case 'permission-denied':
      return `${r.operation}: permission denied (${r.errno})`
    case 'not-a-tun-fd':
      return `${r.operation}: fd ${r.fd} is not an attached tun/tap queue`
    case 'queue-detached':
      return `${r.operation}: the queue is detached`
    case 'device-gone':
      return `${r.operation}: the device no longer exists`
    case 'unsupported':
      return `${r.operation}: not supported by this kernel (${r.errno})`
    case 'closed':
      return `${r.operation}: closed`
    case 'system':
      return `${r.operation}: ${r.cause.message}`
  }
}

/** Generic mapping of a failed syscall; callers handle the errnos that mean more in context. */
export function tapFailure(operation: string, err: unknown): TapError {
  if (err instanceof TapError) return err
  if (!(err instanceof SysError)) throw err
  if (err.errno === Errno.EPERM || err.errno === Errno.EACCES)
    return new TapError({ kind: 'permission-denied', operation, errno: err.code })
  if (err.errno === Errno.EBADFD) return new TapError({ kind: 'device-gone', operation })
  return new TapError({ kind: 'system', operation, errno: err.code, cause: err })
}

export function parseTapInput<S extends z.ZodType>(
  schema: S,
  input: unknown,
  operation: string,
): z.output<S> {
  return parseOr(schema, input, (issues) => new TapError({ kind: 'invalid-input', operation, issues }))
}
