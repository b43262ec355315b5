import { spawn, spawnSync } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { filter, firstValueFrom, type Subscription, skip, take } from 'rxjs'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { type DeviceRss, openRoute, rss$, Tap } from '../src/index.ts'
import { deviceState$, link$, type StateUpdate } from '../src/state/index.ts'
import { sh, TestNetns } from './helpers/netns.ts'

let ns: TestNetns
beforeAll(() => {
  ns = new TestNetns('state')
})
afterAll(() => ns?.remove())

const fds = () => readdirSync('/proc/self/fd').length
const ipNames = () =>
  ns
    .ipJson<Array<{ ifname: string; ifindex: number; mtu: number }>>('link', 'show')
    .map((l) => `${l.ifindex}:${l.ifname}:${l.mtu}`)
    .sort()
const stateNames = (u: StateUpdate) =>
  [...u.state.links.values()].map((l) => `${l.index}:${l.name}:${l.mtu}`).sort()

/** Waits until `check` holds for the latest snapshot (or times out). */
async function settle(
  updates: StateUpdate[],
  check: (u: StateUpdate) => boolean,
  ms = 20_000,
): Promise<StateUpdate> {
  const deadline = Date.now() + ms
  for (;;) {
    const last = updates.at(-1)
    if (last && check(last)) return last
    if (Date.now() > deadline) throw new Error(`state did not settle; last seq ${last?.seq}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

describe('device state', () => {
  test('the first snapshot matches ip; a change made by another program appears', async () => {
    ns.ip('link', 'add', 's0', 'type', 'veth', 'peer', 'name', 's1')
    ns.ip('addr', 'add', '10.7.0.1/24', 'dev', 's0')
    const first = await firstValueFrom(deviceState$({ netns: ns.name }))
    expect(first.reason).toBe('initial')
    expect(stateNames(first)).toEqual(ipNames())
    expect([...first.state.addresses.values()].map((a) => a.address)).toContain('10.7.0.1')

    const mtu = firstValueFrom(
      link$('s0', { netns: ns.name }).pipe(
        filter((l) => l?.mtu === 1234),
        take(1),
      ),
    )
    await new Promise((r) => setTimeout(r, 100))
    ns.ip('link', 'set', 's0', 'mtu', '1234')
    expect((await mtu)?.mtu).toBe(1234)
  })

  test('each emission lists its changes', async () => {
    const updates: StateUpdate[] = []
    const sub = deviceState$({ netns: ns.name }).subscribe({
      next: (u) => updates.push(u),
      error: (e) => console.error('STATE ERROR', e),
    })
    await settle(updates, () => true)
    ns.ip('link', 'add', 'c0', 'type', 'ifb')
    const isC0 = (c: StateUpdate['changes'][number], op: string) =>
      c.kind === 'link' && c.op === op && (c.after ?? c.before)?.name === 'c0'
    const added = await settle(updates, (u) => u.changes.some((c) => isC0(c, 'add')))
    expect(added.reason).toBe('event')
    expect(added.changes.find((c) => isC0(c, 'add'))).toMatchObject({ after: { name: 'c0', kind: 'ifb' } })
    ns.ip('link', 'del', 'c0')
    const deleted = await settle(updates, (u) => u.changes.some((c) => isC0(c, 'del')))
    expect(deleted.changes.find((c) => isC0(c, 'del'))).toMatchObject({ before: { name: 'c0' } })
    expect(deleted.seq).toBeGreaterThan(added.seq)
    sub.unsubscribe()
  })

  test('start-up during a burst of changes misses nothing and applies nothing twice', async () => {
    const burst = spawn('ip', ['-n', ns.name, '-batch', '-'])
    burst.stdin.end(Array.from({ length: 1500 }, (_, i) => `link add r${i} group 77 type ifb`).join('\n'))
    const updates: StateUpdate[] = []
    const sub = deviceState$({ netns: ns.name }).subscribe({
      next: (u) => updates.push(u),
      error: (e) => console.error('STATE ERROR', e),
    })
    await new Promise((r) => burst.on('exit', r))
    const last = await settle(updates, (u) => stateNames(u).length === ipNames().length)
    expect(stateNames(last)).toEqual(ipNames())
    sub.unsubscribe()
    // One request for all of them: deleting links one by one costs the kernel an RCU grace period each.
    ns.ip('link', 'del', 'group', '77')
  }, 60_000)

  test('a storm that overruns a small receive buffer ends in a resync equal to a fresh dump and to ip', async () => {
    const updates: StateUpdate[] = []
    const sub = deviceState$({ netns: ns.name, receiveBuffer: 32 * 1024 }).subscribe({
      next: (u) => updates.push(u),
      error: (e) => console.error('STATE ERROR', e),
    })
    await settle(updates, () => true)
    // 5,000 links created and changed one by one, as fast as ip can; then 3,000 more created
    // and 5,000 deleted at once (a whole device group).
    const lines: string[] = []
    for (let i = 0; i < 2500; i++) lines.push(`link add st${i} group 42 type veth peer name su${i} group 42`)
    for (let i = 0; i < 2500; i++) lines.push(`link set st${i} mtu 1400`, `link set su${i} up`)
    for (let i = 0; i < 1500; i++) lines.push(`link add sk${i} group 43 type veth peer name sl${i} group 43`)
    lines.push('link del group 42')
    const r = spawnSync('ip', ['-n', ns.name, '-batch', '-'], { input: lines.join('\n') })
    expect(r.status).toBe(0)
    const expected = ipNames()
    const last = await settle(
      updates,
      (u) => JSON.stringify(stateNames(u)) === JSON.stringify(expected),
      60_000,
    )
    expect(updates.some((u) => u.reason === 'resync')).toBe(true)
    const rt = await openRoute({ netns: ns.name })
    const dump = (await rt.links.list()).map((l) => `${l.index}:${l.name}:${l.mtu}`).sort()
    rt.close()
    expect(stateNames(last)).toEqual(dump)
    expect(stateNames(last)).toEqual(expected)
    sub.unsubscribe()
    ns.ip('link', 'del', 'group', '43')
  }, 120_000)

  test('tc objects: a qdisc, class and filters made with tc appear, and deleting the qdisc removes its filters', async () => {
    ns.ip('link', 'add', 'tq0', 'type', 'veth', 'peer', 'name', 'tq1')
    const updates: StateUpdate[] = []
    const sub = deviceState$({ netns: ns.name }).subscribe({
      next: (u) => updates.push(u),
      error: (e) => console.error('STATE ERROR', e),
    })
    await settle(updates, () => true)
    ns.tc('qdisc', 'add', 'dev', 'tq0', 'root', 'handle', '1:', 'htb')
    ns.tc('class', 'add', 'dev', 'tq0', 'parent', '1:', 'classid', '1:10', 'htb', 'rate', '10mbit')
    ns.tc('qdisc', 'add', 'dev', 'tq0', 'clsact')
    ns.tc(
      'filter',
      'add',
      'dev',
      'tq0',
      'ingress',
      'pref',
      '5',
      'protocol',
      'ip',
      'u32',
      'match',
      'ip',
      'dport',
      '80',
      '0xffff',
      'action',
      'mirred',
      'egress',
      'redirect',
      'dev',
      'tq1',
    )
    const withTc = await settle(updates, (u) =>
      [...u.state.filters.values()].some((f) => f.dev === 'tq0' && f.handle !== undefined),
    )
    const qdiscs = [...withTc.state.qdiscs.values()]
      .filter((q) => q.dev === 'tq0')
      .map((q) => q.kind)
      .sort()
    expect(qdiscs).toEqual(
      ns
        .tcJson<Array<{ kind: string }>>('qdisc', 'show', 'dev', 'tq0')
        .map((q) => q.kind)
        .sort(),
    )
    expect([...withTc.state.classes.values()].map((c) => c.handle)).toContain('1:10')
    // Filters proper: tc also lists each classifier and u32 table, which are structure.
    const theirs = ns
      .tcJson<Array<{ pref: number; kind: string; options?: { fh?: string } }>>(
        'filter',
        'show',
        'dev',
        'tq0',
        'ingress',
      )
      .filter((f) => f.options?.fh?.includes('::'))
    const ours = [...withTc.state.filters.values()].filter((f) => f.dev === 'tq0' && f.parent === 'ingress')
    expect(ours.map((f) => `${f.pref}/${f.kind}/${f.handle ?? ''}`).sort()).toEqual(
      theirs.map((f) => `${f.pref}/${f.kind}/${f.options?.fh ?? ''}`).sort(),
    )
    ns.tc('qdisc', 'del', 'dev', 'tq0', 'clsact')
    const gone = await settle(updates, (u) => ![...u.state.filters.values()].some((f) => f.dev === 'tq0'))
    expect([...gone.state.qdiscs.values()].filter((q) => q.dev === 'tq0').map((q) => q.kind)).toEqual(['htb'])
    const index = [...gone.state.links.values()].find((l) => l.name === 'tq0')?.index
    ns.ip('link', 'del', 'tq0')
    const noLink = await settle(updates, (u) => !u.state.links.has(index as number))
    expect(
      [...noLink.state.qdiscs.values(), ...noLink.state.classes.values()].some((x) => x.index === index),
    ).toBe(false)
    sub.unsubscribe()
  })

  test('a storm of 5,000 filters created, changed and deleted ends equal to tc -j and a fresh dump', async () => {
    const storm = new TestNetns('storm')
    try {
      storm.ip('link', 'add', 'f0', 'type', 'veth', 'peer', 'name', 'f1')
      storm.tc('qdisc', 'add', 'dev', 'f0', 'clsact')
      const updates: StateUpdate[] = []
      const sub = deviceState$({ netns: storm.name, receiveBuffer: 32 * 1024 }).subscribe({
        next: (u) => updates.push(u),
        error: (e) => console.error('STATE ERROR', e),
      })
      await settle(updates, () => true)
      const lines: string[] = []
      for (let i = 0; i < 5000; i++)
        lines.push(
          `filter add dev f0 ingress pref ${1 + (i % 50)} protocol ip u32 match ip dport ${1000 + i} 0xffff action mirred egress redirect dev f1`,
        )
      // u32 gives each pref its own table (800:, 801:, … in creation order) and numbers the
      // filters in it from 800: change every other filter in place.
      const handle = (i: number) =>
        `${(0x800 + (i % 50)).toString(16)}::${(0x800 + Math.floor(i / 50)).toString(16)}`
      for (let i = 0; i < 5000; i += 2)
        lines.push(
          `filter change dev f0 ingress pref ${1 + (i % 50)} protocol ip handle ${handle(i)} u32 match ip dport ${2000 + i} 0xffff action mirred egress redirect dev f1`,
        )
      for (let p = 1; p <= 50; p += 3) lines.push(`filter del dev f0 ingress pref ${p}`)
      const r = spawnSync('tc', ['-n', storm.name, '-batch', '-'], {
        input: lines.join('\n'),
        maxBuffer: 1 << 26,
      })
      expect(r.status, String(r.stderr)).toBe(0)
      // Filters proper: tc also lists each classifier and u32 table, which are structure.
      const expected = () =>
        storm
          .tcJson<Array<{ pref: number; options?: { fh?: string } }>>(
            'filter',
            'show',
            'dev',
            'f0',
            'ingress',
          )
          .filter((f) => f.options?.fh?.includes('::'))
          .map((f) => `${f.pref}/${f.options?.fh}`)
          .sort()
      const ourFilters = (u: StateUpdate) =>
        [...u.state.filters.values()]
          .filter((f) => f.dev === 'f0')
          .map((f) => `${f.pref}/${f.handle ?? ''}`)
          .sort()
      const want = expected()
      expect(want.length).toBe(5000 - 17 * 100)
      const last = await settle(
        updates,
        (u) => JSON.stringify(ourFilters(u)) === JSON.stringify(want),
        60_000,
      )
      expect(updates.some((u) => u.reason === 'resync')).toBe(true)
      expect(ourFilters(last)).toEqual(want)
      const rt = await openRoute({ netns: storm.name })
      const dumped = (await rt.tc.filters.list({ dev: 'f0', parent: 'ingress' }))
        .filter((f) => f.handle?.includes('::'))
        .map((f) => `${f.pref}/${f.handle}`)
        .sort()
      rt.close()
      expect(ourFilters(last)).toEqual(dumped)
      sub.unsubscribe()
    } finally {
      storm.remove()
    }
  }, 180_000)

  test('ethtool channels per device, updated when ethtool changes them', async () => {
    ns.ip('link', 'add', 'eq0', 'numtxqueues', '4', 'numrxqueues', '4', 'type', 'veth', 'peer', 'name', 'eq1')
    const updates: StateUpdate[] = []
    const sub = deviceState$({ netns: ns.name }).subscribe({
      next: (u) => updates.push(u),
      error: (e) => console.error('STATE ERROR', e),
    })
    const channels = (u: StateUpdate) => [...u.state.ethtool.values()].find((e) => e.name === 'eq0')?.channels
    const first = await settle(updates, (u) => channels(u) !== undefined)
    expect(channels(first)).toMatchObject({ maxRx: 4, maxTx: 4 })
    // This kernel has no devlink family: the state says so rather than showing an empty part.
    expect(first.state.tracks).toEqual({ ethtool: true, devlink: false })
    expect(first.state.devlink.size).toBe(0)
    sh('ip', ['netns', 'exec', ns.name, 'ethtool', '-L', 'eq0', 'rx', '2', 'tx', '3'])
    const changed = await settle(updates, (u) => channels(u)?.tx === 3)
    expect(channels(changed)).toMatchObject({ rx: 2, tx: 3 })
    expect(changed.changes.some((c) => c.kind === 'ethtool' && c.op === 'change')).toBe(true)
    ns.ip('link', 'del', 'eq0')
    const gone = await settle(updates, (u) => channels(u) === undefined)
    expect(gone.changes.some((c) => c.kind === 'ethtool' && c.op === 'del')).toBe(true)
    sub.unsubscribe()
  })

  test('tap RSS managed in this process: back end and configuration per device, live, until detached', async () => {
    const tap = Tap.create({ name: 'rt0', queues: 4, netns: ns.name })
    const seen: Array<DeviceRss | undefined> = []
    const sub = rss$('rt0', { netns: ns.name }).subscribe((r) => seen.push(r))
    const last = async (check: (r: DeviceRss | undefined) => boolean) => {
      const deadline = Date.now() + 10_000
      while (!(seen.length && check(seen.at(-1))) && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 20))
      return seen.at(-1)
    }
    try {
      expect(await last((r) => r === undefined)).toBeUndefined()
      const table = Array.from({ length: 16 }, (_, i) => i % 4)
      await tap.rss.apply({ hashTypes: ['ipv4', 'tcpv4'], table, defaultQueue: 0 })
      const applied = await last((r) => r?.source === 'tap')
      expect(applied).toMatchObject({ source: 'tap', backend: 'ebpf', status: { config: { table } } })
      // What the state says is what the steering map holds (read back from the kernel).
      if (applied?.source !== 'tap') throw new Error('no tap RSS')
      expect(applied.status.config).toEqual(tap.rss.steering?.read())
      const pinned = Array.from({ length: 16 }, () => 3)
      await tap.rss.update({ table: pinned })
      const updated = await last((r) => r?.source === 'tap' && r.status.config.table[0] === 3)
      if (updated?.source !== 'tap') throw new Error('no tap RSS')
      expect(updated.status.config).toEqual(tap.rss.steering?.read())
      const state = await firstValueFrom(deviceState$({ netns: ns.name }))
      const index = ns.ipJson<Array<{ ifindex: number }>>('link', 'show', 'rt0')[0]!.ifindex
      expect(state.state.tapRss.get(index)).toMatchObject({ name: 'rt0', status: { backend: 'ebpf' } })
      await tap.rss.detach()
      expect(await last((r) => r === undefined)).toBeUndefined()
    } finally {
      sub.unsubscribe()
      tap.close()
    }
  })

  test('subscribers share one set of sockets, and 1,000 subscribe/unsubscribe cycles leak nothing', async () => {
    // Let the previous test's teardown finish (the poller closes its eventfd once idle).
    await new Promise((r) => setTimeout(r, 200))
    const before = fds()
    const a = deviceState$({ netns: ns.name })
    const s1 = a.subscribe()
    await firstValueFrom(a)
    const withOne = fds()
    const s2 = deviceState$({ netns: ns.name }).subscribe()
    const late = await firstValueFrom(deviceState$({ netns: ns.name }))
    expect(late.seq).toBeGreaterThan(0)
    // A second store would have opened two more sockets.
    expect(fds()).toBeLessThanOrEqual(withOne)
    s1.unsubscribe()
    s2.unsubscribe()
    await new Promise((r) => setTimeout(r, 50))
    expect(fds()).toBe(before)

    setFlagsFromString('--expose-gc')
    const gc = runInNewContext('gc') as () => void
    const cycles = async (n: number) => {
      for (let i = 0; i < n; i++) {
        const sub: Subscription = deviceState$({ netns: ns.name }).subscribe()
        if (i % 10 === 0) await firstValueFrom(deviceState$({ netns: ns.name }).pipe(skip(0)))
        sub.unsubscribe()
      }
      await new Promise((r) => setTimeout(r, 100))
      gc()
      return process.memoryUsage().heapUsed
    }
    // Warm up (JIT, caches), then 1,000 cycles must not grow the heap beyond noise.
    const heapBefore = await cycles(100)
    const heapAfter = await cycles(1000)
    expect(fds()).toBe(before)
    expect(heapAfter - heapBefore).toBeLessThan(4 * 1024 * 1024)
  }, 120_000)
})
