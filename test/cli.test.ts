import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { run } from '../src/cli/main.ts'
import { openRoute, type RouteClient } from '../src/index.ts'
import { sh, TestNetns } from './helpers/netns.ts'

let ns: TestNetns
let rt: RouteClient
beforeAll(async () => {
  ns = new TestNetns('cli')
  rt = await openRoute({ netns: ns.name })
})
afterAll(() => {
  rt?.close()
  ns?.remove()
})

/** Runs rxnl in-process and returns its exit status and output. */
async function rxnl(...args: string[]): Promise<{ status: number; out: string; err: string }> {
  const out: string[] = []
  const err: string[] = []
  const status = await run(
    ['--netns', ns.name, ...args],
    (s) => out.push(s),
    (s) => err.push(s),
  )
  return { status, out: out.join('\n'), err: err.join('\n') }
}
const strip = (v: unknown) =>
  JSON.parse(JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? x.toString() : x)))

describe('rxnl link', () => {
  test('add, set and show --json agree with the library and with ip', async () => {
    expect((await rxnl('link', 'add', 'c0', 'type', 'veth', 'peer', 'c1', 'mtu', '1400')).status).toBe(0)
    expect(
      (await rxnl('link', 'set', 'c0', 'up', 'txqlen', '700', 'address', '02:01:02:03:04:05')).status,
    ).toBe(0)
    const shown = await rxnl('--json', 'link', 'show', 'c0')
    expect(shown.status).toBe(0)
    const [cli] = JSON.parse(shown.out) as Array<Record<string, unknown>>
    const lib = strip(await rt.links.get('c0'))
    // Counters may tick between the two reads; everything else must be identical.
    expect({ ...cli, stats: undefined }).toEqual({ ...lib, stats: undefined })
    const ip = ns.ipJson<Array<{ mtu: number; txqlen: number; address: string; flags: string[] }>>(
      'link',
      'show',
      'c0',
    )[0]
    expect(cli).toMatchObject({ mtu: ip?.mtu, txqlen: ip?.txqlen, address: ip?.address, up: true })
    const all = JSON.parse((await rxnl('--json', 'link', 'show')).out) as Array<{ name: string }>
    expect(all.map((l) => l.name).sort()).toEqual(
      ns
        .ipJson<Array<{ ifname: string }>>('link', 'show')
        .map((l) => l.ifname)
        .sort(),
    )
  })

  test('text output names every link', async () => {
    const r = await rxnl('link', 'show')
    for (const l of ns.ipJson<Array<{ ifname: string }>>('link', 'show'))
      expect(r.out).toContain(`: ${l.ifname}`)
  })

  test('del, and errors with shell-style exit codes', async () => {
    expect((await rxnl('link', 'del', 'c0')).status).toBe(0)
    expect(ns.ipJson<Array<{ ifname: string }>>('link', 'show').map((l) => l.ifname)).not.toContain('c0')
    const missing = await rxnl('link', 'del', 'c0')
    expect(missing.status).toBe(1)
    expect(missing.err).toMatch(/^rxnl: links.delete\(c0\): ENODEV/)
    const usage = await rxnl('link', 'frobnicate')
    expect(usage.status).toBe(2)
    expect(usage.err).toMatch(/unknown link command/)
    const invalid = await rxnl('link', 'add', 'x'.repeat(20), 'type', 'ifb')
    expect(invalid.status).toBe(2)
    expect(invalid.err).toMatch(/name: a device name is at most 15 bytes/)
    const unknown = await rxnl('link', 'set', 'c1', 'colour', 'red')
    expect(unknown.status).toBe(2)
    expect(unknown.err).toMatch(/unknown option 'colour' for link set/)
    const noKind = await rxnl('link', 'add', 'c5', 'mtu', '1400')
    expect(noKind.status).toBe(2)
    expect(noKind.err).toMatch(/link add needs "type KIND"/)
    // Inherited object keys are not options.
    expect((await rxnl('link', 'add', 'c5', 'toString', 'type', 'ifb')).status).toBe(2)
  })

  test('set takes iproute2 options: down, master, nomaster, name, alias', async () => {
    expect((await rxnl('link', 'add', 'cb0', 'type', 'bridge')).status).toBe(0)
    expect((await rxnl('link', 'add', 'c6', 'type', 'ifb', 'up', 'master', 'cb0')).status).toBe(0)
    const linked = ns.ipJson<Array<{ master?: string; flags: string[] }>>('link', 'show', 'c6')[0]
    expect(linked?.master).toBe('cb0')
    expect(linked?.flags).toContain('UP')
    const set = await rxnl('link', 'set', 'c6', 'down', 'nomaster', 'name', 'c7', 'alias', 'spare')
    expect(set.status).toBe(0)
    const after = ns.ipJson<Array<{ master?: string; flags: string[]; ifalias?: string }>>(
      'link',
      'show',
      'c7',
    )[0]
    expect(after?.master).toBeUndefined()
    expect(after?.flags).not.toContain('UP')
    expect(after?.ifalias).toBe('spare')
  })
})

describe('rxnl addr', () => {
  test('show --json equals the library; text matches ip', async () => {
    await rt.links.create({ name: 'a0', kind: 'ifb', up: true })
    ns.ip('addr', 'add', '10.99.0.1/24', 'dev', 'a0')
    const r = await rxnl('--json', 'addr', 'show', 'dev', 'a0')
    expect(JSON.parse(r.out)).toEqual(strip(await rt.addresses.list('a0')))
    const text = await rxnl('addr', 'show')
    expect(text.out).toContain('inet 10.99.0.1/24')
  })
})

describe('rxnl monitor', () => {
  test('prints link events as JSON lines until stopped', async () => {
    const lines: string[] = []
    let stop: () => void = () => {}
    const stopped = new Promise<void>((r) => {
      stop = r
    })
    const done = run(
      ['--netns', ns.name, '--json', 'monitor', 'link'],
      (s) => lines.push(s),
      () => {},
      stopped,
    )
    await new Promise((r) => setTimeout(r, 200))
    sh('ip', ['-n', ns.name, 'link', 'add', 'm0', 'type', 'ifb'])
    const deadline = Date.now() + 5000
    while (!lines.some((l) => l.includes('"m0"')) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20))
    stop()
    expect(await done).toBe(0)
    const event = JSON.parse(lines.find((l) => l.includes('"m0"')) as string)
    expect(event).toMatchObject({ object: 'link', type: 'new', link: { name: 'm0', kind: 'ifb' } })
  })
})
