// rxnl tc / ethtool / devlink / monitor: each command's --json output against the library's result
// and, where iproute2 has the same command, against it (tc -j, ethtool -l / -x).
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { firstValueFrom, filter as rxFilter, take, timeout, toArray } from 'rxjs'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { formatRss } from '../src/cli/ethtool-commands.ts'
import { type CliClients, run } from '../src/cli/main.ts'
import { DEVLINK_CMD, devlinkAttrs } from '../src/devlink/attrs.ts'
import type { DevlinkTransport } from '../src/devlink/index.ts'
import { DevlinkClient, ethtoolEvents$, openEthtool, openRoute, type RouteClient } from '../src/index.ts'
import type { NetlinkMessage } from '../src/netlink/codec/index.ts'
import { decodeGeneric } from '../src/netlink/generic/index.ts'
import { ethtool, ethtoolChannels } from './helpers/ethtool.ts'
import { sh, TestNetns } from './helpers/netns.ts'
import { all, tcj } from './helpers/tc-json.ts'

let ns: TestNetns
let rt: RouteClient
beforeAll(async () => {
  ns = new TestNetns('cliobj')
  rt = await openRoute({ netns: ns.name })
  ns.ip('link', 'add', 't0', 'numtxqueues', '4', 'numrxqueues', '4', 'type', 'veth', 'peer', 't1')
  ns.tc('qdisc', 'add', 'dev', 't0', 'root', 'handle', '1:', 'htb', 'default', '10', 'r2q', '7')
  ns.tc('class', 'add', 'dev', 't0', 'parent', '1:', 'classid', '1:10', 'htb', 'rate', '10mbit')
  ns.tc('qdisc', 'add', 'dev', 't0', 'clsact')
  ns.tc(
    'qdisc',
    'add',
    'dev',
    't1',
    'root',
    'handle',
    '2:',
    'tbf',
    'rate',
    '1mbit',
    'burst',
    '10k',
    'latency',
    '50ms',
  )
  ns.tc(
    ...['filter', 'add', 'dev', 't0', 'ingress', 'pref', '10', 'protocol', 'ip', 'u32'],
    ...['match', 'ip', 'dst', '10.0.0.1/32', 'action', 'mirred', 'egress', 'redirect', 'dev', 't1'],
  )
  ns.tc(
    ...['filter', 'add', 'dev', 't0', 'parent', '1:', 'pref', '5', 'protocol', 'ip', 'u32'],
    ...['match', 'ip', 'src', '10.0.0.2/32', 'classid', '1:10'],
  )
})
afterAll(() => {
  rt?.close()
  ns?.remove()
})

/** Runs rxnl in-process in the test namespace and returns its exit status and output. */
async function rxnl(
  args: string[],
  clients: Partial<CliClients> = {},
): Promise<{ status: number; out: string; err: string }> {
  const out: string[] = []
  const err: string[] = []
  const status = await run(
    ['--netns', ns.name, ...args],
    (s) => out.push(s),
    (s) => err.push(s),
    undefined,
    clients,
  )
  return { status, out: out.join('\n'), err: err.join('\n') }
}

/** What --json prints for a library value: bigints as strings, bytes as hex. */
const plain = (v: unknown) =>
  JSON.parse(
    JSON.stringify(v, (_k, x) =>
      typeof x === 'bigint' ? x.toString() : x instanceof Uint8Array ? Buffer.from(x).toString('hex') : x,
    ),
  )
/** Drops what changes between two reads: counters and action ages. */
const still = (v: unknown): unknown =>
  JSON.parse(
    JSON.stringify(v, (k, x) => (k === 'stats' || k === 'installed' || k === 'lastUsed' ? undefined : x)),
  )

describe('rxnl tc qdisc show', () => {
  test('--json equals the library, and every qdisc agrees with tc -j qdisc show', async () => {
    const r = await rxnl(['--json', 'tc', 'qdisc', 'show'])
    expect(r.status).toBe(0)
    const cli = JSON.parse(r.out) as Array<Record<string, unknown>>
    expect(still(cli)).toEqual(still(plain(await rt.tc.qdiscs.list())))
    type TcQdisc = {
      kind: string
      handle: string
      dev: string
      root?: boolean
      parent?: string
      refcnt?: number
      options: Record<string, unknown>
    }
    const tc = ns.tcJson<TcQdisc[]>('qdisc', 'show')
    expect(cli.length).toBe(tc.length)
    for (const t of tc) {
      const mine = cli.find((q) => q.dev === t.dev && q.handle === t.handle)
      expect(mine, `${t.dev} ${t.handle}`).toBeDefined()
      const parent = t.root ? 'root' : t.parent === 'ffff:fff1' ? 'ingress' : t.parent
      expect(mine).toMatchObject({ kind: t.kind, parent })
      if (t.refcnt !== undefined) expect(mine?.refcnt).toBe(t.refcnt)
    }
    const htb = cli.find((q) => q.kind === 'htb') as { options: Record<string, unknown> }
    const tcHtb = tc.find((q) => q.kind === 'htb') as TcQdisc
    expect(htb.options).toMatchObject({
      r2q: tcHtb.options.r2q,
      directQlen: tcHtb.options.direct_qlen,
      defaultClass: Number(tcHtb.options.default),
    })
  })

  test('dev DEV narrows to that device; text lines read as tc prints them', async () => {
    const r = await rxnl(['--json', 'tc', 'qdisc', 'show', 'dev', 't1'])
    expect(still(JSON.parse(r.out))).toEqual(still(plain(await rt.tc.qdiscs.list('t1'))))
    expect(ns.tcJson<Array<{ kind: string }>>('qdisc', 'show', 'dev', 't1').map((q) => q.kind)).toEqual(
      (JSON.parse(r.out) as Array<{ kind: string }>).map((q) => q.kind),
    )
    const text = await rxnl(['tc', 'qdisc', 'show'])
    expect(text.status).toBe(0)
    // tc's first words of each line: "qdisc KIND HANDLE dev DEV root|parent P [refcnt N]".
    for (const line of ns.tc('qdisc', 'show').trim().split('\n')) {
      const head = /^qdisc \S+ \S+ dev \S+ (root|parent \S+)( refcnt \d+)?/.exec(line)?.[0]
      expect(text.out).toContain(head)
    }
  })
})

describe('rxnl tc filter show', () => {
  type TcFilter = {
    protocol: string
    pref: number
    kind: string
    chain: number
    options?: {
      fh?: string
      flowid?: string
      match?: { value: string; mask: string; off: number }
      actions?: Array<{ order: number; kind: string; index: number; to_dev?: string }>
    }
  }

  function sameAsTc(cli: Array<Record<string, unknown>>, tc: TcFilter[]): void {
    expect(cli.length).toBe(tc.length)
    tc.forEach((t, i) => {
      const f = cli[i] as {
        handle?: string
        options?: { classid?: string; keys?: Array<{ value: number; mask: number; offset: number }> }
        actions?: Array<{ order: number; kind: string; index: number; options: { dev?: string } }>
      }
      expect(f).toMatchObject({ protocol: t.protocol, pref: t.pref, kind: t.kind, chain: t.chain })
      expect(f.handle).toBe(t.options?.fh)
      if (t.options?.flowid) expect(f.options?.classid).toBe(t.options.flowid)
      const m = t.options?.match
      if (m)
        expect(f.options?.keys?.[0]).toMatchObject({
          value: Number.parseInt(m.value, 16),
          mask: Number.parseInt(m.mask, 16) >>> 0,
          offset: m.off,
        })
      const acts = all(t.options?.actions)
      expect((f.actions ?? []).length).toBe(acts.length)
      acts.forEach((a, j) => {
        expect(f.actions?.[j]).toMatchObject({ order: a.order, kind: a.kind, index: a.index })
        if (a.to_dev) expect(f.actions?.[j]?.options.dev).toBe(a.to_dev)
      })
    })
  }

  test('ingress: --json equals the library and matches tc -j filter show', async () => {
    const r = await rxnl(['--json', 'tc', 'filter', 'show', 'dev', 't0', 'ingress'])
    expect(r.status).toBe(0)
    const cli = JSON.parse(r.out) as Array<Record<string, unknown>>
    expect(still(cli)).toEqual(still(plain(await rt.tc.filters.list({ dev: 't0', parent: 'ingress' }))))
    sameAsTc(cli, tcj<TcFilter[]>(ns.name, 'filter', 'show', 'dev', 't0', 'ingress'))
    expect(cli.some((f) => (f.actions as unknown[] | undefined)?.length)).toBe(true)
  })

  test('no parent means the root qdisc, as with tc; parent P names one', async () => {
    const root = await rxnl(['--json', 'tc', 'filter', 'show', 'dev', 't0'])
    const cli = JSON.parse(root.out) as Array<Record<string, unknown>>
    sameAsTc(cli, tcj<TcFilter[]>(ns.name, 'filter', 'show', 'dev', 't0'))
    expect(cli.length).toBeGreaterThan(0)
    const byParent = await rxnl(['--json', 'tc', 'filter', 'show', 'dev', 't0', 'parent', '1:'])
    expect(still(JSON.parse(byParent.out))).toEqual(
      still(plain(await rt.tc.filters.list({ dev: 't0', parent: '1:' }))),
    )
    sameAsTc(
      JSON.parse(byParent.out),
      tcj<TcFilter[]>(ns.name, 'filter', 'show', 'dev', 't0', 'parent', '1:'),
    )
    // egress has none here: tc prints nothing, and so does rxnl.
    const egress = await rxnl(['tc', 'filter', 'show', 'dev', 't0', 'egress'])
    expect(egress).toMatchObject({ status: 0, out: '' })
    expect(ns.tc('filter', 'show', 'dev', 't0', 'egress').trim()).toBe('')
  })

  test('text output: header, u32 key and action lines like tc', async () => {
    const r = await rxnl(['tc', 'filter', 'show', 'dev', 't0', 'ingress'])
    expect(r.out).toContain('filter parent ingress protocol ip pref 10 u32 chain 0 fh 800::800')
    // tc: "  match 0a000001/ffffffff at 16"
    const match = /match [0-9a-f]+\/[0-9a-f]+ at \d+/.exec(ns.tc('filter', 'show', 'dev', 't0', 'ingress'))
    expect(r.out).toContain(match?.[0])
    expect(r.out).toMatch(/\taction order 1: mirred .*dev t1 stolen/)
  })

  test('errors: usage is 2, a missing device is 1', async () => {
    expect(await rxnl(['tc', 'filter', 'show'])).toMatchObject({ status: 2, err: /needs "dev DEV"/ })
    expect(await rxnl(['tc', 'qdisc', 'frob'])).toMatchObject({ status: 2, err: /unknown tc qdisc command/ })
    expect(await rxnl(['tc', 'class', 'show'])).toMatchObject({ status: 2, err: /unknown tc object 'class'/ })
    expect(await rxnl(['tc', 'filter', 'show', 'dev', 't0', 'parent', 'zz:'])).toMatchObject({
      status: 2,
      err: /invalid argument: .*parent/,
    })
    const missing = await rxnl(['tc', 'qdisc', 'show', 'dev', 'nope0'])
    expect(missing.status).toBe(1)
    expect(missing.err).toMatch(/nope0/)
    expect(() => ns.tc('qdisc', 'show', 'dev', 'nope0')).toThrow()
  })
})

describe('rxnl ethtool', () => {
  test('channels: --json equals the library and ethtool -l; the text is ethtool -l verbatim', async () => {
    const et = await openEthtool({ netns: ns.name })
    try {
      const r = await rxnl(['--json', 'ethtool', 'channels', 't0'])
      expect(r.status).toBe(0)
      const cli = JSON.parse(r.out)
      expect(cli).toEqual(plain(await et.channels.get('t0')))
      expect(cli).toMatchObject({ ifname: 't0', ...ethtoolChannels(ns.name, 't0') })
      const text = await rxnl(['ethtool', 'channels', 't0'])
      expect(text.out).toBe(ethtool(ns.name, '-l', 't0').trim())
    } finally {
      et.close()
    }
  })

  test('channels set: what rxnl sets, ethtool -l reads; above the maximum is refused', async () => {
    const r = await rxnl(['--json', 'ethtool', 'channels', 't0', 'set', 'rx', '3', 'tx', '2'])
    expect(r.status).toBe(0)
    expect(JSON.parse(r.out)).toMatchObject({ rx: 3, tx: 2 })
    expect(ethtoolChannels(ns.name, 't0')).toMatchObject({ rx: 3, tx: 2, maxRx: 4, maxTx: 4 })
    const over = await rxnl(['ethtool', 'channels', 't0', 'set', 'rx', '9'])
    expect(over.status).toBe(1)
    expect(over.err).toMatch(/exceeds maximum|at most 4 rx/)
    expect(ethtoolChannels(ns.name, 't0')).toMatchObject({ rx: 3 })
    expect(await rxnl(['ethtool', 'channels', 't0', 'set', 'queues', '2'])).toMatchObject({
      status: 2,
      err: /unknown channel 'queues'/,
    })
    expect(await rxnl(['ethtool', 'channels', 't0', 'set', 'rx', 'x'])).toMatchObject({ status: 2 })
  })

  test('rss: a veth has none, so rxnl fails with 1 as ethtool -x fails', async () => {
    expect(() => ethtool(ns.name, '-x', 't0')).toThrow()
    const r = await rxnl(['ethtool', 'rss', 't0'])
    expect(r.status).toBe(1)
    expect(r.err).toMatch(/^rxnl: rss\.get on t0: .*not supported/i)
    const missing = await rxnl(['--json', 'ethtool', 'rss', 'nope0'])
    expect(missing).toMatchObject({ status: 1, err: /no network device "nope0"/ })
    expect(await rxnl(['ethtool', 'rings', 't0'])).toMatchObject({ status: 2 })
  })

  test('rss text is laid out as ethtool -x prints it', () => {
    const text = formatRss(
      {
        ifindex: 2,
        ifname: 'eth0',
        context: 0,
        hfunc: 'toeplitz',
        key: Uint8Array.from([0x6d, 0x5a, 0x56, 0xda]),
        table: [0, 1, 2, 3, 0, 1, 2, 3, 0, 1],
        inputXfrm: [],
      },
      4,
    )
    expect(text).toBe(
      [
        'RX flow hash indirection table for eth0 with 4 RX ring(s):',
        '    0:     0     1     2     3     0     1     2     3',
        '    8:     0     1',
        'RSS hash key:',
        '6d:5a:56:da',
        'RSS hash function:',
        '    toeplitz: on',
        '    xor: off',
        '    crc32: off',
        'RSS input transformation:',
        '    symmetric-xor: off',
        '    symmetric-or-xor: off',
      ].join('\n'),
    )
  })
})

// Replies recorded from a netdevsim device in the kernel lab (see devlink-fixtures.test.ts): this
// host's kernel has no devlink, so the commands run against a client over those replies.
const fixtures = readFileSync(new URL('./fixtures/devlink-netdevsim.hex', import.meta.url), 'utf8')
  .trim()
  .split('\n')
  .map((l) => {
    const [label = '', hex = ''] = l.split(' ')
    return { label, payload: Buffer.from(hex, 'hex') }
  })
const recorded = (label: string) =>
  fixtures
    .filter((f) => f.label === label)
    .map((f) =>
      decodeGeneric(devlinkAttrs, {
        type: 0x20,
        flags: 0,
        seq: 0,
        pid: 0,
        payload: f.payload,
      } as NetlinkMessage),
    )
const replay: DevlinkTransport = {
  dump: async (cmd: number) =>
    cmd === DEVLINK_CMD.GET ? recorded('dev') : cmd === DEVLINK_CMD.PARAM_GET ? recorded('param') : [],
  request: async (cmd: number, attrs: { paramName?: string }) =>
    cmd === DEVLINK_CMD.PARAM_GET
      ? recorded('param').filter((p) => p.param?.name === attrs.paramName)
      : cmd === DEVLINK_CMD.GET
        ? recorded('dev')
        : [],
  supports: () => true,
  close: () => {},
} as unknown as DevlinkTransport
const fake: Partial<CliClients> = { devlink: async () => DevlinkClient.overTransport(replay) }

describe('rxnl devlink', () => {
  test('without devlink in the kernel: exit 1, naming the family, like devlink itself', async () => {
    expect(() => sh('devlink', ['dev', 'show'])).toThrow(/Failed to connect to devlink Netlink/)
    for (const args of [
      ['devlink', 'dev', 'show'],
      ['--json', 'devlink', 'dev', 'param', 'show'],
    ]) {
      const r = await rxnl(args)
      expect(r.status).toBe(1)
      expect(r.err).toMatch(/^rxnl: Failed to connect to devlink Netlink: .*family 'devlink'/)
    }
  })

  test('dev show and dev param show: --json equals the library over the same replies', async () => {
    const lib = DevlinkClient.overTransport(replay)
    const dev = await rxnl(['--json', 'devlink', 'dev', 'show'], fake)
    expect(dev.status).toBe(0)
    expect(JSON.parse(dev.out)).toEqual(plain(await lib.devices.list()))
    expect(JSON.parse(dev.out)[0]).toMatchObject({ handle: 'netdevsim/netdevsim10' })
    const params = await rxnl(['--json', 'devlink', 'dev', 'param', 'show'], fake)
    expect(JSON.parse(params.out)).toEqual(plain(await lib.params.list()))
    const one = await rxnl(
      ['--json', 'devlink', 'dev', 'param', 'show', 'netdevsim/netdevsim10', 'name', 'max_macs'],
      fake,
    )
    expect(one.err).toBe('')
    expect(JSON.parse(one.out)).toEqual([plain(await lib.params.get('netdevsim/netdevsim10', 'max_macs'))])
  })

  test('text output as devlink prints it; bad handles are usage errors', async () => {
    expect((await rxnl(['devlink', 'dev', 'show'], fake)).out).toBe('netdevsim/netdevsim10')
    const text = (await rxnl(['devlink', 'dev', 'param', 'show'], fake)).out
    expect(text).toContain(
      'netdevsim/netdevsim10:\n  name max_macs type generic\n    values:\n      cmode driverinit value 32',
    )
    expect(text).toContain('type driver-specific')
    expect(await rxnl(['devlink', 'dev', 'show', 'nobus'], fake)).toMatchObject({
      status: 2,
      err: /bus\/device/,
    })
    expect(await rxnl(['devlink', 'port', 'show'], fake)).toMatchObject({ status: 2 })
  })
})

/** Starts `rxnl monitor ...`; returns its lines, a stop function and its exit status. */
function monitor(args: string[]) {
  const lines: string[] = []
  const errs: string[] = []
  let stop: () => void = () => {}
  const stopped = new Promise<void>((r) => {
    stop = r
  })
  const status = run(
    ['--netns', ns.name, ...args],
    (s) => lines.push(s),
    (s) => errs.push(s),
    stopped,
  )
  const waitFor = async (pred: (l: string) => boolean) => {
    const deadline = Date.now() + 5000
    while (!lines.some(pred) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
    return lines.find(pred)
  }
  return { lines, errs, stop, status, waitFor }
}

describe('rxnl monitor', () => {
  test('tc: a qdisc added with tc arrives as the library reports it', async () => {
    const m = monitor(['--json', 'monitor', 'tc'])
    const lib = firstValueFrom(
      rt.tc.events$.pipe(
        rxFilter((e) => e.type === 'new' && e.object === 'qdisc' && e.qdisc.dev === 'm0'),
        timeout(5000),
      ),
    )
    await new Promise((r) => setTimeout(r, 300))
    ns.ip('link', 'add', 'm0', 'type', 'ifb')
    ns.tc(
      'qdisc',
      'add',
      'dev',
      'm0',
      'root',
      'handle',
      '7:',
      'tbf',
      'rate',
      '1mbit',
      'burst',
      '10k',
      'latency',
      '50ms',
    )
    const line = await m.waitFor((l) => l.includes('"m0"') && l.includes('"tbf"'))
    m.stop()
    expect(await m.status).toBe(0)
    const event = JSON.parse(line as string)
    expect(event).toMatchObject({
      object: 'qdisc',
      type: 'new',
      qdisc: { dev: 'm0', kind: 'tbf', handle: '7:' },
    })
    expect(still(event)).toEqual(still(plain(await lib)))
  })

  test('ethtool: a channel change made with ethtool -L arrives as the library reports it', async () => {
    const m = monitor(['--json', 'monitor', 'ethtool'])
    const lib = firstValueFrom(
      ethtoolEvents$({ netns: ns.name }).pipe(
        rxFilter((e) => e.type === 'channels'),
        take(1),
        toArray(),
        timeout(5000),
      ),
    )
    await new Promise((r) => setTimeout(r, 300))
    ethtool(ns.name, '-L', 't0', 'rx', '1')
    const line = await m.waitFor((l) => l.includes('"channels"'))
    m.stop()
    expect(await m.status).toBe(0)
    expect(JSON.parse(line as string)).toEqual({ object: 'ethtool', ...plain((await lib)[0]) })
  })

  test('all: without devlink it says so on stderr and goes on with the rest', async () => {
    const m = monitor(['monitor'])
    await new Promise((r) => setTimeout(r, 300))
    ns.ip('link', 'add', 'm1', 'type', 'ifb')
    const line = await m.waitFor((l) => l.startsWith('[link]') && l.includes('m1'))
    m.stop()
    expect(await m.status).toBe(0)
    expect(line).toMatch(/^\[link\] \d+: m1: /)
    expect(m.errs.join('\n')).toMatch(/not monitoring devlink: .*'devlink'/)
  })

  test('devlink alone fails with 1; an unknown object is a usage error', async () => {
    const m = monitor(['monitor', 'devlink'])
    const status = await Promise.race([m.status, new Promise((r) => setTimeout(() => r('hung'), 5000))])
    m.stop()
    expect(status).toBe(1)
    expect(m.errs.join('\n')).toMatch(/Failed to connect to devlink Netlink: .*'devlink'/)
    const bad = monitor(['monitor', 'routes'])
    expect(await bad.status).toBe(2)
    expect(bad.errs.join('\n')).toMatch(/cannot monitor 'routes'/)
  })
})

describe('the rxnl binary', () => {
  test('exit statuses as a shell sees them: 0 ok, 1 failed, 2 usage', () => {
    const bin = new URL('../bin/rxnl.mjs', import.meta.url).pathname
    const rxnlBin = (...args: string[]) =>
      spawnSync(process.execPath, [bin, '--netns', ns.name, ...args], { encoding: 'utf8' })
    const ok = rxnlBin('--json', 'tc', 'qdisc', 'show', 'dev', 't1')
    expect(ok.status).toBe(0)
    expect(JSON.parse(ok.stdout)).toMatchObject([{ dev: 't1', kind: 'tbf' }])
    const failed = rxnlBin('devlink', 'dev', 'show')
    expect(failed.status).toBe(1)
    expect(failed.stderr).toMatch(/devlink/)
    expect(rxnlBin('tc', 'qdisc', 'frob').status).toBe(2)
  })
})
