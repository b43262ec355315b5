#!/usr/bin/env node
// The rxnl command: the built CLI when the package is installed, the sources in a checkout.
import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const built = join(root, 'dist/cli/main.js')
let run
if (existsSync(built)) ({ run } = await import(pathToFileURL(built).href))
else {
  const { register } = await import('tsx/esm/api')
  register()
  ;({ run } = await import(pathToFileURL(join(root, 'src/cli/main.ts')).href))
}
process.exitCode = await run(process.argv.slice(2))
