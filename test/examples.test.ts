import { execFileSync, spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { sh, TestNetns } from './helpers/netns.ts'

const ROOT = fileURLToPath(new URL('..', import.meta.url))

const namespacesNow = (): string[] =>
  sh('ip', ['netns', 'list'])
    .split('\n')
    .map((l) => l.split(' ')[0]!)
    .filter(Boolean)

describe('examples/tap-rss.ts (makes and removes its own namespace)', () => {
  it('--json: 3000 flows over a 4-queue tap, the back end said, every frame where predicted', () => {
    const out = execFileSync(
      process.execPath,
      ['--import', 'tsx', 'examples/tap-rss.ts', '--json', '--flows', '3000'],
      {
        cwd: ROOT,
        encoding: 'utf8',
        timeout: 60_000,
      },
    )
    const r = JSON.parse(out.trim().split('\n').pop()!) as {
      netns: string
      backend: string
      fallbackReason?: string
      flows: number
      received: number
      asPredicted: number
      perQueue: number[]
    }
    expect(r.backend).toBe('ebpf') // this kernel has no tun RSS ioctls
    expect(r.fallbackReason).toMatch(/TUNGETVNETHASHTYPES: EINVAL/)
    expect(r).toMatchObject({ flows: 3000, received: 3000, asPredicted: 3000 })
    expect(r.perQueue).toHaveLength(4)
    expect(r.perQueue.every((n) => n > 500)).toBe(true)
    expect(namespacesNow()).not.toContain(r.netns)
  })

  it('prints a table, and cleans up on Ctrl-C (--hold)', async () => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'examples/tap-rss.ts', '--flows', '500', '--hold'],
      {
        cwd: ROOT,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    )
    let out = ''
    child.stdout.on('data', (d) => {
      out += d
    })
    const deadline = Date.now() + 30_000
    while (!out.includes('Ctrl-C') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50))
    expect(out).toMatch(/RSS through the ebpf back end/)
    expect(out).toMatch(/500 flows sent, 500 received, 500 on the predicted queue/)
    expect(out).toMatch(/queue 3: +\d+/)
    const netns = /in (rxnl-tap-rss-\d+)/.exec(out)![1]!
    expect(namespacesNow()).toContain(netns)
    const code = await new Promise<number | null>((resolve) => {
      child.on('exit', (c) => resolve(c))
      child.kill('SIGINT')
    })
    expect(code).toBe(130)
    expect(namespacesNow()).not.toContain(netns)
  }, 60_000)

  it('a forced kernel back end fails clearly here and still cleans up', () => {
    let err: { status?: number; stderr?: string } = {}
    try {
      execFileSync(process.execPath, ['--import', 'tsx', 'examples/tap-rss.ts', '--backend', 'kernel'], {
        cwd: ROOT,
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
        timeout: 60_000,
      })
    } catch (e) {
      err = e as typeof err
    }
    expect(err.status).toBe(1)
    expect(err.stderr).toMatch(/rss apply \(kernel\): not supported by this kernel \(EINVAL\)/)
    expect(namespacesNow().filter((n) => n.startsWith('rxnl-tap-rss-'))).toEqual([])
  })
})

describe('examples/watch-state.ts', () => {
  let ns: TestNetns
  beforeAll(() => {
    ns = new TestNetns('ex-ws')
  })
  afterAll(() => ns?.remove())

  it('watch-state prints one line per device with qdiscs and filters, and JSON change records', () => {
    ns.ip('link', 'add', 'ws0', 'numtxqueues', '4', 'numrxqueues', '4', 'type', 'veth', 'peer', 'name', 'ws1')
    ns.tc('qdisc', 'add', 'dev', 'ws0', 'clsact')
    ns.tc(
      'filter',
      'add',
      'dev',
      'ws0',
      'ingress',
      'u32',
      'match',
      'u32',
      '0',
      '0',
      'action',
      'mirred',
      'egress',
      'redirect',
      'dev',
      'ws1',
    )
    const run = (...args: string[]) =>
      execFileSync(
        process.execPath,
        ['--import', 'tsx', 'examples/watch-state.ts', '--netns', ns.name, '--once', ...args],
        {
          cwd: ROOT,
          encoding: 'utf8',
          timeout: 60_000,
        },
      )
    const lines = run().trim().split('\n')
    const ws0 = lines.find((l) => / ws0 /.test(l))?.split(/\s{2,}/)
    expect(ws0?.slice(1)).toEqual(['ws0', 'veth', 'DOWN/down', '1500', '4/4', '-+clsact', '1 (u32)', '-'])
    // Every device ip lists has its line.
    const names = ns.ipJson<Array<{ ifname: string }>>('link', 'show').map((l) => l.ifname)
    for (const n of names) expect(lines.some((l) => l.split(/\s{2,}/)[1] === n)).toBe(true)
    const records = run('--json')
      .trim()
      .split('\n')
      .map(
        (l) =>
          JSON.parse(l) as {
            reason: string
            kind: string
            op: string
            after?: { name?: string; kind?: string }
          },
      )
    expect(records.every((r) => r.reason === 'initial')).toBe(true)
    expect(
      records
        .filter((r) => r.kind === 'link')
        .map((r) => r.after?.name)
        .sort(),
    ).toEqual([...names].sort())
    expect(records.some((r) => r.kind === 'filter' && r.after?.kind === 'u32')).toBe(true)
    ns.ip('link', 'del', 'ws0')
  })
})

describe('npm run demo (examples/demo.ts)', () => {
  const demo = (...args: string[]) =>
    execFileSync(process.execPath, ['--import', 'tsx', 'examples/demo.ts', ...args], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 120_000,
    })

  it('--once: every frame on its predicted queue or taken by the tc filter, and nothing left behind', () => {
    const out = demo('--once', '--flows', '2000')
    expect(out).toMatch(
      /^steering: ebpf program, RSS over 4 queues .* \+ rule "ssh": tcp dport 22 → queue 3$/m,
    )
    expect(out).toMatch(/^kernel tun RSS ioctls: absent \(EINVAL\)$/m)
    const ssh = Number(/by rule: .*\bssh (\d+)/.exec(out)?.[1])
    expect(ssh).toBeGreaterThan(200) // every seventh flow that the tc filter does not take
    const rows = [...out.matchAll(/^(queue \d|tc→sink0)\s+[█░]+\s+(\d+)\s+(\d+)$/gm)].map((m) => ({
      name: m[1],
      landed: Number(m[2]),
      predicted: Number(m[3]),
    }))
    expect(rows.map((r) => r.name)).toEqual(['queue 0', 'queue 1', 'queue 2', 'queue 3', 'tc→sink0'])
    for (const r of rows) expect(r.landed).toBe(r.predicted)
    expect(rows.reduce((a, r) => a + r.landed, 0)).toBe(2000)
    expect(rows[4]?.landed).toBe(200) // every tenth flow is UDP to the discard port
    for (const r of rows.slice(0, 4)) expect(r.landed).toBeGreaterThan(300)
    expect(out).toMatch(/2000 frames sent from 2000 flows, 1800 read back, 0 off their predicted queue/)
    expect(out).toMatch(/\+ filter u32 pref 1 on demo0 egress/)
    expect(out).toMatch(/every frame landed where rxnetlink predicted it/)
    expect(namespacesNow().filter((n) => n.startsWith('rxnl-demo-'))).toEqual([])
  })

  it('cleans up when interrupted', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'examples/demo.ts', '--flows', '1000000'], {
      cwd: ROOT,
      stdio: 'ignore',
    })
    const mine = `rxnl-demo-${child.pid}`
    const deadline = Date.now() + 20_000
    while (!namespacesNow().includes(mine) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 100))
    expect(namespacesNow()).toContain(mine)
    await new Promise((r) => setTimeout(r, 1000))
    const code = new Promise<number | null>((r) => child.on('exit', r))
    child.kill('SIGINT')
    expect(await code).toBe(130)
    expect(namespacesNow()).not.toContain(mine)
  }, 60_000)

  it('without root it says so and exits non-zero', () => {
    let err: { status?: number; stderr?: string } = {}
    try {
      execFileSync(
        'setpriv',
        [
          '--reuid=65534',
          '--regid=65534',
          '--clear-groups',
          process.execPath,
          '--import',
          'tsx',
          'examples/demo.ts',
        ],
        { cwd: ROOT, encoding: 'utf8', stdio: 'pipe', timeout: 60_000 },
      )
    } catch (e) {
      err = e as typeof err
    }
    expect(err.status).toBe(1)
    expect(err.stderr).toMatch(/needs root/)
  })
})
