// The API reference: TypeDoc (tools/typedoc, with the TypeScript 6 it needs) over src/index.ts,
// with every exported symbol required to carry documentation and warnings treated as errors.
import { spawnSync } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { expect, test } from 'vitest'

const root = fileURLToPath(new URL('..', import.meta.url))

test('typedoc.json requires documentation on every exported symbol, warnings failing the run', () => {
  const cfg = JSON.parse(readFileSync(`${root}typedoc.json`, 'utf8'))
  expect(cfg).toMatchObject({
    entryPoints: ['src/index.ts'],
    treatWarningsAsErrors: true,
    validation: { notDocumented: true },
  })
  expect(cfg.requiredToBeDocumented).toEqual(
    expect.arrayContaining(['Class', 'Interface', 'TypeAlias', 'Function', 'Variable']),
  )
})

test('npm run docs:check passes: every export of src/index.ts is documented', () => {
  const r = spawnSync('npm', ['run', '--silent', 'docs:check'], { cwd: root, encoding: 'utf8' })
  expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0)
  expect(`${r.stdout}${r.stderr}`).not.toMatch(/does not have any documentation/)
}, 180_000)

test('examples/README.md lists every example with a line of its own', () => {
  const readme = readFileSync(`${root}examples/README.md`, 'utf8')
  for (const f of readdirSync(`${root}examples`).filter((f) => f.endsWith('.ts')))
    expect(readme).toMatch(
      new RegExp(`^\\| \\[${f.replace('.', '\\.')}\\]\\(${f.replace('.', '\\.')}\\) +\\| .+\\|$`, 'm'),
    )
})
