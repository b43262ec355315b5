import type { z } from 'zod'
import { fastParse, NO_MATCH } from './fast-parse.ts'

/** Caller input that failed validation; nothing was sent to the kernel. */
export class InvalidInputError extends Error {
  override readonly name = 'InvalidInputError'
  /** The first offending field, as a path (`peer.name`, `table[5]`). */
  readonly field: string
  constructor(
    readonly operation: string,
    readonly issues: Array<{ path: string; message: string }>,
  ) {
    super(`${operation}: ${issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join('; ')}`)
    this.field = issues[0]?.path ?? ''
  }
}

/** A zod issue path as users write it: `['peer', 'name']` → `peer.name`, `['table', 5]` → `table[5]`. */
export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let out = ''
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out ? `.${String(p)}` : String(p)
  return out
}

/** A zod error's issues, each with its path formatted (formatPath). */
export function inputIssues(error: z.ZodError): Array<{ path: string; message: string }> {
  return error.issues.map((i) => ({ path: formatPath(i.path), message: i.message }))
}

/** Validates input at the public boundary; throws InvalidInputError naming each bad field. */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown, operation: string): z.output<S> {
  return parseOr(schema, input, (issues) => new InvalidInputError(operation, issues))
}

/**
 * Schemas validated once so far. Generating a fast parser (fast-parse.ts) costs as much as a few
 * dozen zod parses: a schema built for a single call (the inline ones of devlink and tc calls)
 * never repays it, unless that call brings many items.
 */
const usedOnce = new WeakSet<z.ZodType>()
const BULK = 64

/** Validates input; on failure throws the error `fail` makes of the formatted issues (each module's own class). */
export function parseOr<S extends z.ZodType>(
  schema: S,
  input: unknown,
  fail: (issues: Array<{ path: string; message: string }>) => Error,
): z.output<S> {
  if (usedOnce.has(schema) || (Array.isArray(input) && input.length >= BULK)) {
    const fast = fastParse(schema, input)
    if (fast !== NO_MATCH) return fast
  } else usedOnce.add(schema)
  // Issues come from zod itself (which also has the last word on anything the fast path refused).
  const r = schema.safeParse(input)
  if (r.success) return r.data
  throw fail(inputIssues(r.error))
}
