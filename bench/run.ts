// Runs every benchmark script in bench/ (each bench/*.ts that exports nothing; the modules that
// export are helpers), one after the other, collects their `--json` results and writes
// bench/RESULTS.md (tables of rxnetlink against each peer and the floor, with ratios, and the
// machine) and bench/results.svg (a bar chart of the ratios).
//   npm run bench [-- --quick] [--out DIR] [--only NAME[,NAME]]        (root: the scripts make namespaces)
import { execFileSync, spawn } from 'node:child_process'
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { cpus, loadavg, release } from 'node:os'
import { basename, dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import type { BenchResult, Comparison } from './lib.ts'

const here = dirname(fileURLToPath(import.meta.url))

/** The benchmark scripts: bench/*.ts except this runner and the helper modules (they export). */
export function benchScripts(dir = here): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.ts') && f !== 'run.ts')
    .filter((f) => !/^export /m.test(readFileSync(join(dir, f), 'utf8')))
    .sort()
    .map((f) => join(dir, f))
}

export interface Outcome {
  script: string
  seconds: number
  result?: BenchResult
  error?: string
}

/** Busy and total CPU time so far, in jiffies, from /proc/stat's first line. */
function cpuTimes(): { busy: number; total: number } {
  const f = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').trim().split(/\s+/).slice(1).map(Number)
  const total = f.reduce((a, b) => a + b, 0)
  // idle and iowait
  return { busy: total - (f[3] ?? 0) - (f[4] ?? 0), total }
}

/**
 * Waits (up to 30 s) until the machine's CPUs are at least 90% idle over half a second: the kernel
 * tears down the namespaces a script leaves (10,000 links, 10,000 filters) in the background, and
 * that work would fall on the next script's runs. Returns the seconds waited.
 */
async function settle(): Promise<number> {
  const t0 = performance.now()
  for (;;) {
    const a = cpuTimes()
    await new Promise((r) => setTimeout(r, 500))
    const b = cpuTimes()
    const seconds = (performance.now() - t0) / 1000
    if ((b.busy - a.busy) / Math.max(1, b.total - a.total) < 0.1 || seconds > 30) return seconds
  }
}

/** Runs one script with `--json` under tsx; its human output goes to our stderr as it comes. */
function runScript(file: string, quick: boolean): Promise<Outcome> {
  const script = basename(file, '.ts')
  const t0 = performance.now()
  return new Promise((resolve) => {
    const args = ['--import', 'tsx', file, '--json', ...(quick ? ['--quick'] : [])]
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => (stdout += d))
    child.stderr.on('data', (d: Buffer) => {
      stderr += d
      process.stderr.write(d)
    })
    child.on('close', (code) => {
      const seconds = (performance.now() - t0) / 1000
      const line = stdout.trim().split('\n').at(-1) ?? ''
      if (code !== 0) {
        const why = stderr.trim().split('\n').slice(-3).join(' ')
        return resolve({ script, seconds, error: `exit ${code}: ${why}` })
      }
      try {
        resolve({ script, seconds, result: JSON.parse(line) as BenchResult })
      } catch {
        resolve({ script, seconds, error: `no JSON result on stdout (${line.slice(0, 80)})` })
      }
    })
  })
}

export interface Machine {
  cpu: string
  cores: number
  kernel: string
  node: string
  iproute2: string
  date: string
  load: string
}

export function machine(): Machine {
  let iproute2 = 'unknown'
  try {
    iproute2 = execFileSync('ip', ['-V'], { encoding: 'utf8' }).trim()
  } catch {}
  return {
    cpu: cpus()[0]?.model.trim() ?? 'unknown',
    cores: cpus().length,
    kernel: release(),
    node: process.version,
    iproute2,
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    load: loadavg()
      .map((l) => l.toFixed(2))
      .join(' '),
  }
}

const num = (v: number) =>
  !Number.isFinite(v) ? 'n/a' : v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2)
const ratioText = (c: Comparison) => (Number.isFinite(c.ratio) ? `${c.ratio.toFixed(2)}×` : 'n/a')

/** bench/RESULTS.md: the machine, then one table per script. */
export function resultsMarkdown(outcomes: readonly Outcome[], m: Machine, quick: boolean): string {
  const lines = [
    '# Benchmark results',
    '',
    `Written by \`npm run bench${quick ? ' -- --quick' : ''}\` (bench/run.ts), ${m.date}${quick ? ', **quick mode** (scaled-down inputs)' : ''}.`,
    '',
    '| machine | |',
    '|---|---|',
    `| CPU | ${m.cpu}, ${m.cores} cores |`,
    `| kernel | ${m.kernel} |`,
    `| node | ${m.node} |`,
    `| iproute2 | ${m.iproute2} |`,
    `| load average at the end | ${m.load} |`,
    '',
    "**ratio** = rxnetlink's cost ÷ the other's (time ÷ time; for rates, their rate ÷ ours): below 1× rxnetlink",
    'is cheaper, above 1× it costs that many times more. A **peer** is another tool doing the same job; the',
    '**floor** is the same kernel work with nothing done in user space (what no library can beat).',
    'Each script prints its own detailed table too (`npx tsx bench/NAME.ts`); notes on reading them are in',
    'bench/NOTES.md. The machine is a shared 2-CPU development box: wall times swing with its load.',
    '',
    '![ratios](results.svg)',
    '',
  ]
  for (const o of outcomes) {
    if (!o.result) {
      lines.push(`## ${o.script}`, '', `Failed after ${o.seconds.toFixed(0)} s: ${o.error}`, '')
      continue
    }
    const r = o.result
    const params = Object.entries(r.parameters)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')
    lines.push(`## ${o.script}: ${r.title}`, '', `${params}; ran ${o.seconds.toFixed(0)} s.`, '')
    lines.push(
      '| case | against | kind | rxnetlink | other | unit | ratio |',
      '|---|---|---|---:|---:|---|---:|',
    )
    for (const c of r.comparisons)
      lines.push(
        `| ${c.case} | ${c.against}${c.note ? ` (${c.note})` : ''} | ${c.kind} | ${num(c.ours)} | ${num(c.theirs)} | ${c.unit} | ${ratioText(c)} |`,
      )
    lines.push('')
  }
  return `${lines.join('\n')}`
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')

/**
 * A horizontal bar chart of every ratio on a log scale centred on 1× (parity): bars to the left,
 * green, where rxnetlink is cheaper; to the right, orange (peer) or grey (floor), where it costs more.
 */
export function resultsSvg(outcomes: readonly Outcome[], m: Machine): string {
  const rows = outcomes.flatMap((o) =>
    (o.result?.comparisons ?? []).map((c) => ({ label: `${o.script}: ${c.case} vs ${c.against}`, c })),
  )
  const width = 1000
  const labelW = 520
  const x0 = labelW + 20
  const x1 = width - 70
  const rowH = 22
  const top = 60
  const height = top + rows.length * rowH + 50
  const minL = -3
  const maxL = 5 // 1/8× … 32×
  const xOf = (ratio: number) => {
    const l = Math.min(maxL, Math.max(minL, Math.log2(ratio)))
    return x0 + ((l - minL) / (maxL - minL)) * (x1 - x0)
  }
  const one = xOf(1)
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12" role="img">`,
    `<title>rxnetlink benchmark ratios: cost against peers and the floor</title>`,
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    `<text x="10" y="22" font-size="15" font-weight="bold">rxnetlink cost ÷ peer or floor (log scale; left of 1× rxnetlink is cheaper)</text>`,
    `<text x="10" y="42" fill="#555">${esc(`${m.date} · ${m.cpu}, ${m.cores} cores · Linux ${m.kernel} · node ${m.node}`)}</text>`,
  ]
  for (let l = minL; l <= maxL; l++) {
    const x = xOf(2 ** l)
    const label = l < 0 ? `1/${2 ** -l}×` : `${2 ** l}×`
    out.push(
      `<line x1="${x.toFixed(1)}" y1="${top - 6}" x2="${x.toFixed(1)}" y2="${top + rows.length * rowH}" stroke="${l === 0 ? '#000' : '#ddd'}"/>`,
      `<text x="${x.toFixed(1)}" y="${top + rows.length * rowH + 16}" text-anchor="middle" fill="#555">${label}</text>`,
    )
  }
  rows.forEach(({ label, c }, i) => {
    const y = top + i * rowH
    out.push(`<text x="${labelW + 10}" y="${y + 15}" text-anchor="end">${esc(label)}</text>`)
    if (!Number.isFinite(c.ratio)) {
      out.push(
        `<text x="${one + 6}" y="${y + 15}" fill="#999">n/a${c.note ? ` (${esc(c.note)})` : ''}</text>`,
      )
      return
    }
    const x = xOf(c.ratio)
    const fill = c.ratio <= 1 ? '#3a9d5d' : c.kind === 'floor' ? '#8a8f98' : '#e08a2c'
    out.push(
      `<rect x="${Math.min(x, one).toFixed(1)}" y="${y + 4}" width="${Math.max(1, Math.abs(x - one)).toFixed(1)}" height="${rowH - 8}" fill="${fill}"/>`,
      `<text x="${(Math.max(x, one) + 4).toFixed(1)}" y="${y + 15}">${c.ratio.toFixed(2)}×</text>`,
    )
  })
  out.push(
    `<text x="10" y="${height - 10}" fill="#555">green: rxnetlink cheaper · orange: costlier than a peer · grey: above the floor (the kernel's own cost)</text>`,
    '</svg>',
  )
  return `${out.join('\n')}\n`
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      out: { type: 'string', default: here },
      only: { type: 'string' },
    },
  })
  const only = values.only?.split(',')
  const scripts = benchScripts().filter((f) => !only || only.includes(basename(f, '.ts')))
  if (!scripts.length) throw new Error(`no benchmark script matches ${values.only}`)
  const outcomes: Outcome[] = []
  for (const file of scripts) {
    const waited = await settle()
    console.error(
      `\n== ${basename(file)}${values.quick ? ' --quick' : ''} (machine idle after ${waited.toFixed(1)} s)`,
    )
    const o = await runScript(file, values.quick)
    console.error(`== ${o.script}: ${o.result ? 'ok' : o.error} (${o.seconds.toFixed(1)} s)`)
    outcomes.push(o)
  }
  const m = machine()
  mkdirSync(values.out, { recursive: true })
  writeFileSync(join(values.out, 'RESULTS.md'), resultsMarkdown(outcomes, m, values.quick))
  writeFileSync(join(values.out, 'results.svg'), resultsSvg(outcomes, m))
  console.log(`wrote ${join(values.out, 'RESULTS.md')} and ${join(values.out, 'results.svg')}`)
  for (const o of outcomes)
    if (o.result)
      for (const c of o.result.comparisons)
        console.log(`${o.script.padEnd(11)} ${`${c.case} vs ${c.against}`.padEnd(70)} ${ratioText(c)}`)
  if (outcomes.some((o) => !o.result)) process.exitCode = 1
}

if (import.meta.url === `file://${process.argv[1]}`) await main()
