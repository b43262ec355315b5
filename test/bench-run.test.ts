// npm run bench: the runner finds every script, runs each with --json, and writes RESULTS.md and
// the SVG chart. Here in --quick mode into a temporary directory (the committed files stay).
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { basename, join } from 'node:path'
import { afterAll, expect, test } from 'vitest'
import { benchScripts, machine, resultsMarkdown, resultsSvg } from '../bench/run.ts'

const dir = mkdtempSync(join(tmpdir(), 'rxnl-bench-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

test('every bench script is found; helpers (modules that export) are not', () => {
  expect(benchScripts().map((f) => basename(f))).toEqual([
    'codec.ts',
    'dump-links.ts',
    'state.ts',
    'steering.ts',
    'tc-bulk.ts',
    'toeplitz.ts',
  ])
})

test('ratios: below 1 where rxnetlink is cheaper, a failed peer is n/a, bars only for numbers', () => {
  const outcomes = [
    {
      script: 'x',
      seconds: 1,
      result: {
        script: 'x',
        title: 'T',
        parameters: { n: 1 },
        comparisons: [
          {
            case: 'a',
            against: 'tool',
            kind: 'peer',
            unit: 'ms',
            ours: 5,
            theirs: 10,
            higherIsBetter: false,
            ratio: 0.5,
          },
          {
            case: 'b',
            against: 'floor',
            kind: 'floor',
            unit: 'ms',
            ours: 30,
            theirs: 10,
            higherIsBetter: false,
            ratio: 3,
          },
          {
            case: 'c',
            against: 'py',
            kind: 'peer',
            unit: 'ms',
            ours: 5,
            theirs: Number.NaN,
            higherIsBetter: false,
            ratio: Number.NaN,
            note: 'missing',
          },
        ],
      },
    },
    { script: 'y', seconds: 2, error: 'exit 1: boom' },
  ] as const
  const m = machine()
  const md = resultsMarkdown(outcomes as never, m, false)
  expect(md).toContain('| a | tool | peer | 5.00 | 10.0 | ms | 0.50× |')
  expect(md).toContain('| c | py (missing) | peer | 5.00 | n/a | ms | n/a |')
  expect(md).toContain('Failed after 2 s: exit 1: boom')
  expect(md).toContain(`| kernel | ${m.kernel} |`)
  const svg = resultsSvg(outcomes as never, m)
  expect(svg.match(/<rect /g)?.length).toBe(3) // background + two bars
  expect(svg).toContain('0.50×')
  expect(svg).toContain('#3a9d5d') // green: cheaper
})

test('npm run bench -- --quick writes RESULTS.md and results.svg with every script', () => {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'bench/run.ts', '--quick', '--out', dir], {
    encoding: 'utf8',
    maxBuffer: 1 << 26,
  })
  expect(r.status, r.stderr.slice(-2000)).toBe(0)
  const md = readFileSync(join(dir, 'RESULTS.md'), 'utf8')
  for (const s of ['codec', 'dump-links', 'tc-bulk', 'toeplitz'])
    expect(md).toMatch(new RegExp(`^## ${s}: `, 'm'))
  expect(md).toMatch(/\| ip -j link show .*\| peer \|/)
  expect(md).toMatch(/\| tc -batch \| peer \|/)
  expect(md).toMatch(/\| raw dump, no decode \| floor \|/)
  expect(md).toContain(`| node | ${process.version} |`)
  const svg = readFileSync(join(dir, 'results.svg'), 'utf8')
  expect(svg).toMatch(/^<svg [^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/)
  const bars = (svg.match(/<rect /g)?.length ?? 0) - 1
  expect(bars).toBeGreaterThanOrEqual(10)
}, 300_000)
