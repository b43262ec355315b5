import { execFileSync, spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'

/** Namespaces still to remove when the process exits (one exit handler for all of them). */
const leftNamespaces = new Set<string>()
process.once('exit', () => {
  for (const name of leftNamespaces) spawnSync('ip', ['netns', 'del', name])
})

/** A throwaway namespace for a benchmark, removed by `remove()` or on exit. */
export function benchNetns(tag: string): { name: string; remove(): void } {
  const name = `rxnl-bench-${tag}-${randomBytes(3).toString('hex')}`
  execFileSync('ip', ['netns', 'add', name])
  leftNamespaces.add(name)
  const remove = () => {
    if (leftNamespaces.delete(name)) spawnSync('ip', ['netns', 'del', name])
  }
  return { name, remove }
}

/** Runs `ip -n NS -batch -` with the given lines. */
export function ipBatch(netns: string, lines: string[], tool: 'ip' | 'tc' = 'ip'): void {
  const r = spawnSync(tool, ['-n', netns, '-batch', '-'], { input: lines.join('\n'), maxBuffer: 1 << 28 })
  if (r.status !== 0) throw new Error(`${tool} -batch failed: ${r.stderr}`)
}

/** Median wall time in ms of `runs` runs of `fn` (after one warm-up). */
export async function median(runs: number, fn: () => unknown): Promise<number> {
  await fn()
  const times: number[] = []
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now()
    await fn()
    times.push(performance.now() - t0)
  }
  return medianOf(times)
}

/** The median of some measurements (the upper one of an even count). */
export function medianOf(xs: readonly number[]): number {
  return [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number
}

export function table(rows: Array<[string, number, string?]>, base: number, unit = 'ms'): void {
  const w = Math.max(...rows.map((r) => r[0].length))
  for (const [name, v, note] of rows)
    log(
      `${name.padEnd(w)}  ${v.toFixed(1).padStart(9)} ${unit}  ${(v / base).toFixed(2).padStart(6)}×${note ? `  ${note}` : ''}`,
    )
}

// ---- machine-readable results (`--json`), collected by bench/run.ts -----------------------------

/** `--json`: the script prints one JSON BenchResult on stdout and its human table on stderr. */
export const jsonMode = process.argv.includes('--json')
/** `--quick`: a scaled-down run (for tests and a first look), same shape of results. */
export const quick = process.argv.includes('--quick')

/** The script's human-readable output: stdout normally, stderr in `--json` mode. */
export function log(...parts: unknown[]): void {
  ;(jsonMode ? console.error : console.log)(...parts)
}

/**
 * One comparison: rxnetlink against a peer (another tool doing the same job) or the floor (the
 * same kernel work with nothing done in user space). `ratio` is rxnetlink's cost over the other's:
 * below 1 rxnetlink is cheaper, above 1 it costs that many times more.
 */
export interface Comparison {
  /** What was measured, e.g. "dump 10000 links". */
  case: string
  against: string
  kind: 'peer' | 'floor'
  unit: string
  /** rxnetlink's and the other's measurement, in `unit`. */
  ours: number
  theirs: number
  /** Whether a larger value is better (rates) or worse (times). */
  higherIsBetter: boolean
  ratio: number
  note?: string
}

export interface BenchResult {
  script: string
  title: string
  parameters: Record<string, number | string | boolean>
  comparisons: Comparison[]
}

/** A comparison with its ratio computed (NaN when the other side could not run). */
export function compare(c: Omit<Comparison, 'ratio'>): Comparison {
  const ratio = c.higherIsBetter ? c.theirs / c.ours : c.ours / c.theirs
  return { ...c, ratio }
}

/** Ends a script: in `--json` mode prints its result as one line of JSON on stdout. */
export function emit(result: BenchResult): void {
  if (jsonMode) console.log(JSON.stringify(result))
}
