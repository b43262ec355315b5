import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { filter, firstValueFrom, take, toArray } from 'rxjs'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import {
  InvalidInputError,
  type LinkEvent,
  NetlinkError,
  namespaces,
  openRoute,
  type RouteClient,
} from '../src/index.ts'
import { sh, TestNetns } from './helpers/netns.ts'

let ns: TestNetns
let rt: RouteClient
beforeAll(async () => {
  ns = new TestNetns('addr')
  rt = await openRoute({ netns: ns.name })
  await rt.links.create({ name: 'a0', kind: 'veth', up: true, peer: { name: 'a1' } })
})
afterAll(() => {
  rt?.close()
  ns?.remove()
})

interface IpAddrInfo {
  family: string
  local: string
  prefixlen: number
  scope: string
  label?: string
  broadcast?: string
  nodad?: boolean
  noprefixroute?: boolean
}

describe('addresses', () => {
  test('IPv4 and IPv6 with prefix, scope, flags and label, compared with ip -j addr show', async () => {
    await rt.addresses.add({
      dev: 'a0',
      address: '10.20.30.1/24',
      broadcast: '10.20.30.255',
      label: 'a0:web',
    })
    await rt.addresses.add({ dev: 'a0', address: '10.20.31.1/28', scope: 'link' })
    await rt.addresses.add({ dev: 'a0', address: '2001:db8:1::5/64', flags: ['nodad', 'noprefixroute'] })
    const theirs = ns.ipJson<Array<{ ifname: string; addr_info: IpAddrInfo[] }>>(
      'addr',
      'show',
      'dev',
      'a0',
    )[0]!.addr_info
    const ours = await rt.addresses.list('a0')
    for (const t of theirs) {
      const o = ours.find((a) => a.address === t.local)
      expect(o, t.local).toBeDefined()
      expect(o?.family).toBe(t.family)
      expect(o?.prefixLength).toBe(t.prefixlen)
      expect(o?.scope).toBe(t.scope)
      expect(o?.label).toBe(t.label)
      expect(o?.broadcast).toBe(t.broadcast)
      expect(o?.flags.includes('nodad')).toBe(!!t.nodad)
      expect(o?.flags.includes('noprefixroute')).toBe(!!t.noprefixroute)
    }
    expect(ours.map((a) => a.address).sort()).toEqual(theirs.map((t) => t.local).sort())
    expect(ours.find((a) => a.address === '10.20.30.1')).toMatchObject({
      label: 'a0:web',
      broadcast: '10.20.30.255',
    })
  })

  test('addresses made by ip are read the same way, and deleted', async () => {
    ns.ip('addr', 'add', '192.0.2.7/32', 'dev', 'a1')
    ns.ip('addr', 'add', 'fd00::7/128', 'dev', 'a1', 'nodad')
    const ours = await rt.addresses.list('a1')
    expect(
      ours
        .filter((a) => a.scope === 'global')
        .map((a) => `${a.address}/${a.prefixLength}`)
        .sort(),
    ).toEqual(['192.0.2.7/32', 'fd00::7/128'])
    await rt.addresses.delete({ dev: 'a1', address: '192.0.2.7/32' })
    await rt.addresses.delete({ dev: 'a1', address: 'fd00::7/128' })
    const left = ns.ipJson<Array<{ addr_info: IpAddrInfo[] }>>('addr', 'show', 'dev', 'a1')[0]!.addr_info
    expect(left.filter((a) => a.scope === 'global')).toEqual([])
  })

  test('bad input and kernel refusals', async () => {
    await expect(rt.addresses.add({ dev: 'a0', address: '10.0.0.300/24' })).rejects.toThrow(InvalidInputError)
    await expect(rt.addresses.add({ dev: 'a0', address: '10.0.0.1/33' })).rejects.toMatchObject({
      field: 'address',
    })
    await expect(rt.addresses.add({ dev: 'a0', address: '10.20.30.1/24' })).rejects.toMatchObject({
      code: 'EEXIST',
    })
    await expect(rt.addresses.add({ dev: 'nosuch', address: '10.0.0.1/24' })).rejects.toBeInstanceOf(
      NetlinkError,
    )
  })
})

describe('namespaces', () => {
  test('created, listed and deleted where ip netns sees them', async () => {
    const name = `rxnl-nsapi-${process.pid}`
    try {
      namespaces.create(name)
      expect(namespaces.list()).toContain(name)
      expect(sh('ip', ['netns', 'list'])).toContain(name)
      // A client opened in it sees only its own loopback.
      const inner = await openRoute({ netns: name })
      expect((await inner.links.list()).map((l) => l.name)).toEqual(['lo'])
      inner.close()
      expect(() => namespaces.create(name)).toThrow(/EEXIST/)
    } finally {
      if (existsSync(`/run/netns/${name}`)) namespaces.delete(name)
    }
    expect(sh('ip', ['netns', 'list'])).not.toContain(name)
    expect(() => namespaces.create('a/b')).toThrow(InvalidInputError)
  })
})

describe('link events', () => {
  test('new and del events for links made by another program', async () => {
    const events = firstValueFrom(
      rt.links.events$.pipe(
        filter(
          (e): e is Exclude<LinkEvent, { type: 'overrun' }> => e.type !== 'overrun' && e.link.name === 'ev0',
        ),
        take(2),
        toArray(),
      ),
    )
    await new Promise((r) => setTimeout(r, 50))
    ns.ip('link', 'add', 'ev0', 'type', 'ifb')
    ns.ip('link', 'del', 'ev0')
    const [created, deleted] = await events
    expect(created).toMatchObject({ type: 'new', link: { name: 'ev0', kind: 'ifb' } })
    expect(deleted).toMatchObject({ type: 'del', link: { name: 'ev0' } })
  })

  test('flapping 2,000 links up and down produces every event, in order', async () => {
    const n = 1000
    spawnSync('ip', ['-n', ns.name, '-batch', '-'], {
      input: Array.from({ length: n / 2 }, (_, i) => `link add fl${i} type veth peer name fm${i}`).join('\n'),
    })
    // Each link goes up then down: two events per link, 2,000 links, 4,000 events.
    const expected: string[] = []
    const cmds: string[] = []
    for (let i = 0; i < n / 2; i++) {
      for (const name of [`fl${i}`, `fm${i}`]) {
        cmds.push(`link set ${name} up`, `link set ${name} down`)
      }
    }
    const seen: string[] = []
    let overruns = 0
    const sub = rt.links.events$.subscribe((e) => {
      if (e.type === 'overrun') overruns++
      else if (/^f[lm]\d+$/.test(e.link.name)) seen.push(`${e.link.name}:${e.link.up ? 'up' : 'down'}`)
    })
    await new Promise((r) => setTimeout(r, 50))
    const r = spawnSync('ip', ['-n', ns.name, '-batch', '-'], { input: cmds.join('\n') })
    expect(r.status).toBe(0)
    for (const c of cmds) {
      const [, , name, state] = c.split(' ')
      expected.push(`${name}:${state}`)
    }
    const deadline = Date.now() + 20_000
    while (Date.now() < deadline) {
      // A veth going down also changes its peer's carrier: keep only the state transitions.
      const transitions = dedupe(seen)
      if (transitions.length >= expected.length) break
      await new Promise((r) => setTimeout(r, 50))
    }
    sub.unsubscribe()
    expect(overruns).toBe(0)
    expect(dedupePerLink(seen)).toEqual(dedupePerLink(expected))
    expect(firstIndexOrder(seen, expected)).toBe(true)
  }, 60_000)
})

/** Per link, the sequence of distinct states it went through. */
function dedupePerLink(events: string[]): Record<string, string[]> {
  const out: Record<string, string[]> = {}
  for (const e of events) {
    const [name = '', state = ''] = e.split(':')
    const list = (out[name] ??= [])
    if (list.at(-1) !== state) list.push(state)
  }
  return out
}

function dedupe(events: string[]): string[] {
  return Object.values(dedupePerLink(events)).flat()
}

/** The links' first 'up' events arrive in the order the commands were given. */
function firstIndexOrder(seen: string[], expected: string[]): boolean {
  const order = (list: string[]) => [...new Set(list.filter((e) => e.endsWith(':up')))]
  return JSON.stringify(order(seen)) === JSON.stringify(order(expected))
}
