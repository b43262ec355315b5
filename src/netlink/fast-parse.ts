import type { z } from 'zod'
import { compile } from '../util/codegen.ts'

/**
 * Validation at bulk rates, with zod's results. zod's runtime parser allocates a result object and
 * an issue array per schema node it visits, and z.compile's generated code a closure context per
 * optional field: for the 10,000 specs of a bulk filter install that is 13–40 MB of garbage and
 * 8–30 ms. The parser generated here reads the input at known property names, builds the output
 * zod would (same keys in the same order, fresh objects and arrays) and allocates nothing else.
 *
 * It stays zod's semantics by construction: containers (objects, arrays, unions, optional and
 * nullable) are modelled after zod's own; a leaf is accepted at once only when a condition that
 * implies zod's checks holds (a string within a length that even counted in code points fits, a
 * safe integer in range, a refinement returning true, …), and otherwise zod checks it; any node
 * not modelled is parsed by zod. NO_MATCH means zod might reject the input: the caller then parses
 * with zod, for the issues.
 */
export const NO_MATCH: unique symbol = Symbol('no match')
type Parse = (input: unknown) => unknown

/** The input parsed as `schema` would parse it, or NO_MATCH where zod might not accept it. */
export function fastParse<S extends z.ZodType>(schema: S, input: unknown): z.output<S> | typeof NO_MATCH {
  return compiled(schema as unknown as Node).parse(input) as z.output<S> | typeof NO_MATCH
}

/** The parts of zod's internal node (`schema._zod`) this reads. */
interface Node {
  _zod: {
    def: {
      type: string
      coerce?: boolean
      checks?: CheckNode[]
      shape?: Record<string, Node>
      catchall?: Node
      element?: Node
      options?: Node[]
      innerType?: Node
      discriminator?: string
      inclusive?: boolean
      unionFallback?: boolean
    }
    traits: Set<string>
    optin?: 'optional' | 'defaulted'
    optout?: 'optional'
    values?: Set<unknown>
    propValues?: Record<string, Set<unknown>>
    run(payload: Payload, ctx: object): Payload | Promise<Payload>
  }
}
interface CheckNode {
  _zod: {
    def: {
      check?: string
      when?: (p: Payload) => boolean
      value?: unknown
      inclusive?: boolean
      format?: string
      maximum?: number
      minimum?: number
      pattern?: RegExp
      fn?: (v: unknown) => unknown
    }
    check(p: Payload): unknown
  }
}
interface Payload {
  value: unknown
  issues: unknown[]
}

/**
 * A condition in generated code that, when true of the value in `x`, means zod accepts it as it
 * is. `ref` names a constant the code needs.
 */
type Test = (x: string, ref: (value: unknown) => string) => string

interface Compiled {
  parse: Parse
  /** For nodes whose output is their input (leaves, unions of them, optional or nullable ones). */
  test?: Test | undefined
}

const CTX = { async: false }
const cache = new WeakMap<Node, Compiled>()

function compiled(node: Node): Compiled {
  let c = cache.get(node)
  if (!c) {
    // A recursive schema reaches itself while being compiled: the stand-in defers to the result.
    let done: Compiled | undefined
    cache.set(node, { parse: (v) => (done as Compiled).parse(v) })
    done = build(node)
    cache.set(node, done)
    c = done
  }
  return c
}

function build(node: Node): Compiled {
  const test = leafTest(node)
  if (test) return { parse: fromTest(test, byZod(node)), test }
  const modelled = container(node)
  if (!modelled) return { parse: byZod(node) }
  const checks = ownChecks(node)
  if (!checks.length) return modelled
  // The container's own refinements run on its output, as zod runs them after parsing it.
  const quick = checks.map((ch) => quickCheck(ch, node._zod.def.type))
  const exact = (out: unknown) => {
    const p: Payload = { value: out, issues: [] }
    for (const ch of checks) {
      const when = ch._zod.def.when
      if (when && !when(p)) continue
      if (ch._zod.check(p) instanceof Promise || p.issues.length) return NO_MATCH
    }
    return p.value
  }
  const passes = quick.every((q) => q !== undefined)
    ? generate(['x'], (ref) => `return ${joinTests(quick as Test[], 'x', ref)}`)
    : undefined
  const parse = modelled.parse
  return {
    parse: (v) => {
      const out = parse(v)
      if (out === NO_MATCH) return NO_MATCH
      return passes?.(out) ? out : exact(out)
    },
  }
}

function ownChecks(node: Node): CheckNode[] {
  const checks = node._zod.def.checks ?? []
  // A custom schema (z.instanceof, z.custom) is itself its first check.
  return node._zod.traits.has('$ZodCheck') ? [node as unknown as CheckNode, ...checks] : checks
}

/** zod's own parse of one node, for what is not modelled here and for values in doubt. */
function byZod(node: Node): Parse {
  return (v) => {
    const r = node._zod.run({ value: v, issues: [] }, CTX)
    if (r instanceof Promise || r.issues.length) return NO_MATCH
    return r.value
  }
}

function fromTest(test: Test, exact: Parse): Parse {
  // Generated on first use: most leaves are only ever read inline, in their object's parser.
  let passes: Parse | undefined
  return (v) => ((passes ??= generate(['x'], (ref) => `return ${test('x', ref)}`))(v) ? v : exact(v))
}

// ---- leaves -------------------------------------------------------------------------------------

function leafTest(node: Node): Test | undefined {
  const def = node._zod.def
  if (def.coerce) return undefined
  let type: Test
  switch (def.type) {
    case 'string':
      type = (x) => `typeof ${x} === "string"`
      break
    case 'number':
      // x - x is 0 only for finite numbers (NaN and ±Infinity are what zod refuses).
      type = (x) => `(typeof ${x} === "number" && ${x} - ${x} === 0)`
      break
    case 'boolean':
      type = (x) => `typeof ${x} === "boolean"`
      break
    case 'literal':
    case 'enum': {
      const values = node._zod.values
      if (!values) return undefined
      type = (x, ref) => `${ref(values)}.has(${x})`
      break
    }
    case 'custom':
      // What it accepts is its own check, which ownChecks puts first.
      if (!node._zod.traits.has('$ZodCheck')) return undefined
      type = () => 'true'
      break
    default:
      return undefined
  }
  const quick = ownChecks(node).map((ch) => quickCheck(ch, def.type))
  if (quick.some((q) => q === undefined)) return undefined
  return (x, ref) => joinTests([type, ...(quick as Test[])], x, ref)
}

/** A condition implying that zod's check passes, for the checks whose rules are simple. */
function quickCheck(ch: CheckNode, type: string): Test | undefined {
  const d = ch._zod.def
  switch (d.check) {
    case 'less_than':
      return typeof d.value === 'number' ? (x) => `${x} ${d.inclusive ? '<=' : '<'} ${d.value}` : undefined
    case 'greater_than':
      return typeof d.value === 'number' ? (x) => `${x} ${d.inclusive ? '>=' : '>'} ${d.value}` : undefined
    case 'number_format':
      return d.format === 'safeint' ? (x) => `Number.isSafeInteger(${x})` : undefined
    // zod counts a string's length in code points, at least half its UTF-16 units.
    case 'max_length':
      return (x) => `${x}.length <= ${d.maximum}`
    case 'min_length': {
      const min = d.minimum as number
      return (x) => `${x}.length >= ${type === 'string' ? Math.max(0, 2 * min - 1) : min}`
    }
    case 'string_format': {
      const p = d.pattern
      if (d.format !== 'regex' || !p || p.global || p.sticky) return undefined
      return (x, ref) => `${ref(p)}.test(${x})`
    }
    case 'custom': {
      const fn = d.fn
      return fn && d.when === undefined ? (x, ref) => `${ref(fn)}(${x}) === true` : undefined
    }
    default:
      return undefined
  }
}

function joinTests(tests: Test[], x: string, ref: (value: unknown) => string): string {
  return tests.map((t) => `(${t(x, ref)})`).join(' && ')
}

// ---- containers ---------------------------------------------------------------------------------

/** The parser of a container modelled here (its own refinements aside), or undefined. */
function container(node: Node): Compiled | undefined {
  const def = node._zod.def
  switch (def.type) {
    case 'object':
      return object(node)
    case 'array':
      return array(compiled(def.element as Node))
    case 'union':
      return union(node)
    case 'optional': {
      // Only `.optional()` around a default substitutes for undefined; zod does that itself.
      if ((def.innerType as Node)._zod.optin === 'defaulted') return undefined
      const inner = compiled(def.innerType as Node)
      if (node._zod.traits.has('$ZodExactOptional')) return inner
      return orValue(inner, undefined)
    }
    case 'nullable':
      return orValue(compiled(def.innerType as Node), null)
    default:
      return undefined
  }
}

/** `inner`, which also lets `value` (undefined or null) through as it is. */
function orValue(inner: Compiled, value: undefined | null): Compiled {
  const { parse, test } = inner
  const literal = String(value)
  return {
    parse: (v) => (v === value ? value : parse(v)),
    test: test && ((x, ref) => `(${x} === ${literal} || ${test(x, ref)})`),
  }
}

function array(element: Compiled): Compiled {
  const { parse, test } = element
  const body = (ref: (value: unknown) => string) => `
    if (!Array.isArray(v)) return NO_MATCH
    const n = v.length
    const out = new Array(n)
    for (let i = 0; i < n; i++) {
      let e = v[i]
      if (!(${test ? test('e', ref) : 'false'})) {
        e = ${ref(parse)}(e)
        if (e === NO_MATCH) return NO_MATCH
      }
      out[i] = e
    }
    return out`
  return { parse: generate(['v'], body) }
}

function union(node: Node): Compiled | undefined {
  const def = node._zod.def
  const options = def.options as Node[]
  if (def.discriminator !== undefined) {
    if (def.unionFallback) return undefined
    const key = def.discriminator
    const byTag = new Map<unknown, Parse>()
    for (const o of options) {
      const tags = o._zod.propValues?.[key]
      if (!tags) return undefined
      for (const t of tags) {
        // zod drops a tag that several options share (an optional discriminator): it decides those.
        if (byTag.has(t)) return undefined
        byTag.set(t, compiled(o).parse)
      }
    }
    return {
      parse: (v) => {
        if (typeof v !== 'object' || v === null || Array.isArray(v)) return NO_MATCH
        const parse = byTag.get((v as Record<string, unknown>)[key])
        return parse ? parse(v) : NO_MATCH
      },
    }
  }
  // z.xor wants exactly one option to match: all must be tried, which zod does.
  if (def.inclusive === false) return undefined
  // The first option that accepts the value gives the output, as in zod.
  const compiledOptions = options.map(compiled)
  const parses = compiledOptions.map((o) => o.parse)
  const tests = compiledOptions.map((o) => o.test)
  return {
    parse: (v) => {
      for (const parse of parses) {
        const r = parse(v)
        if (r !== NO_MATCH) return r
      }
      return NO_MATCH
    },
    // Options that are all leaves output the value itself, whichever accepts it.
    test: tests.every((t) => t !== undefined)
      ? (x, ref) => `(${(tests as Test[]).map((t) => t(x, ref)).join(' || ')})`
      : undefined,
  }
}

/**
 * An object's parser, generated with its keys as literals (reads at known names are what make it
 * fast). Keys are copied in the shape's order, as zod does; a strict object refuses unknown keys.
 */
function object(node: Node): Compiled | undefined {
  const def = node._zod.def
  const shape = def.shape as Record<string, Node>
  const keys = Object.keys(shape)
  const catchall = def.catchall
  const strict = catchall?._zod.def.type === 'never'
  if ((catchall && !strict) || Object.getOwnPropertySymbols(shape).length > 0 || keys.includes('__proto__'))
    return undefined
  const fields = keys.map((key) => {
    const child = shape[key] as Node
    const { optin, optout } = child._zod
    return { key, child: compiled(child), optional: optin === 'optional' && optout === 'optional', optin }
  })
  // A defaulted key (or a default under an optional) is zod's to fill in.
  if (fields.some((f) => f.optin !== undefined && !f.optional)) return undefined
  const body = (ref: (value: unknown) => string) => {
    const lines = [
      'if (typeof input !== "object" || input === null || Array.isArray(input)) return NO_MATCH',
      'const out = {}',
      'let x',
    ]
    for (const { key, child, optional } of fields) {
      const k = JSON.stringify(key)
      const value = [
        `if (!(${child.test ? child.test('x', ref) : 'false'})) {`,
        `  x = ${ref(child.parse)}(x)`,
        '  if (x === NO_MATCH) return NO_MATCH',
        '}',
        `out[${k}] = x`,
      ]
      lines.push(`x = input[${k}]`)
      if (optional) lines.push(`if (x !== undefined || ${k} in input) {`, ...value, '}')
      else lines.push(`if (x === undefined && !(${k} in input)) return NO_MATCH`, ...value)
    }
    if (strict && keys.length === 0) lines.push('for (const k in input) return NO_MATCH')
    else if (strict) {
      const known = keys.map((key) => `case ${JSON.stringify(key)}:`).join(' ')
      lines.push(`for (const k in input) switch (k) { ${known} break; default: return NO_MATCH }`)
    }
    lines.push('return out')
    return lines.join('\n')
  }
  return { parse: generate(['input'], body) }
}

/** A parser generated from `body`, which names its constants through `ref`. */
function generate(params: string[], body: (ref: (value: unknown) => string) => string): Parse {
  return compile<Parse>((ref) => `return function (${params.join(', ')}) {\n${body(ref)}\n}`, { NO_MATCH })
}
