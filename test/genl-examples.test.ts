import { execFileSync, spawnSync } from 'node:child_process'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { FamilyNotFoundError, openDevlink } from '../src/index.ts'
import { TestNetns } from './helpers/netns.ts'

// This host's kernel has no devlink: the client and the example say so plainly.
let ns: TestNetns
beforeAll(() => {
  ns = new TestNetns('genl-ex')
  ns.ip('link', 'add', 'v0', 'numtxqueues', '4', 'numrxqueues', '4', 'type', 'veth', 'peer', 'v1')
})
afterAll(() => ns?.remove())

const tsx = (args: string[]) =>
  spawnSync('node_modules/.bin/tsx', args, { encoding: 'utf8', timeout: 60_000 })

test('openDevlink on a kernel without devlink: FamilyNotFoundError naming the family', async () => {
  const err = await openDevlink({ netns: ns.name }).catch((e: unknown) => e)
  expect(err).toBeInstanceOf(FamilyNotFoundError)
  expect((err as FamilyNotFoundError).family).toBe('devlink')
})

test('examples/devlink.ts prints a clear message and exits 1 without devlink', () => {
  const r = tsx(['examples/devlink.ts', '--netns', ns.name])
  expect(r.status).toBe(1)
  expect(r.stderr).toMatch(/devlink is not available: this kernel has no devlink generic netlink family/)
})

test('examples/ethtool.ts prints channels, and says what the device lacks', () => {
  const json = JSON.parse(
    execFileSync(
      'node_modules/.bin/tsx',
      ['examples/ethtool.ts', '--netns', ns.name, '--dev', 'v0', '--json'],
      {
        encoding: 'utf8',
      },
    ),
  ) as {
    channels: { rx: number; maxRx: number }
    rings: { unsupported?: string }
    rss: { unsupported?: string }
  }
  expect(json.channels).toMatchObject({ rx: 4, maxRx: 4 })
  expect(json.rings.unsupported).toBeDefined()
  expect(json.rss.unsupported).toBeDefined()
  const text = tsx(['examples/ethtool.ts', '--netns', ns.name, '--dev', 'v0'])
  expect(text.status).toBe(0)
  expect(text.stdout).toMatch(/channels: rx 4\/4 tx 4\/4/)
  const missing = tsx(['examples/ethtool.ts', '--netns', ns.name, '--dev', 'nosuch'])
  expect(missing.status).toBe(1)
  expect(missing.stderr).toMatch(/no network device "nosuch"/)
})
