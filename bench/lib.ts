import { execFileSync, spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'

/** A throwaway namespace for a benchmark, removed on exit. */
export function benchNetns(tag: string): { name: string; remove(): void } {
  const name = `rxnl-bench-${tag}-${randomBytes(3).toString('hex')}`
  execFileSync('ip', ['netns', 'add', name])
  const remove = () => spawnSync('ip', ['netns', 'del', name])
  process.once('exit', remove)
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
  times.sort((a, b) => a - b)
  return times[Math.floor(times.length / 2)] as number
}

export function table(rows: Array<[string, number, string?]>, base: number, unit = 'ms'): void {
  const w = Math.max(...rows.map((r) => r[0].length))
  for (const [name, v, note] of rows)
    console.log(
      `${name.padEnd(w)}  ${v.toFixed(1).padStart(9)} ${unit}  ${(v / base).toFixed(2).padStart(6)}×${note ? `  ${note}` : ''}`,
    )
}
