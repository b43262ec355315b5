import { filter, firstValueFrom, timeout } from 'rxjs'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { deviceState$, type StateUpdate } from '../../src/index.ts'
import { TestNetns } from '../helpers/netns.ts'
import { devlink, devlinkJson, freeNetdevsimId, Netdevsim, run } from './genl-helpers.ts'

// Runs in the kernel lab guest: devlink instances in the device state, compared with `devlink -j`.

let ns: TestNetns
let nsim: Netdevsim

beforeAll(() => {
  ns = new TestNetns('state-dl')
  nsim = new Netdevsim(freeNetdevsimId(), 2, 4)
  const moved = run('devlink', ['dev', 'reload', nsim.handle, 'netns', ns.name])
  if (!moved.ok) throw new Error(`devlink dev reload ${nsim.handle} netns ${ns.name}: ${moved.err}`)
})

afterAll(() => {
  nsim?.remove()
  ns?.remove()
})

const until = (p: (u: StateUpdate) => boolean) =>
  firstValueFrom(deviceState$({ netns: ns.name }).pipe(filter(p), timeout(20_000)))

test('devlink instances, ports, parameters and reporters follow the kernel', async () => {
  const sub = deviceState$({ netns: ns.name }).subscribe()
  try {
    const H = nsim.handle
    const first = await until((u) => (u.state.devlink.get(H)?.ports.length ?? 0) === 2)
    expect(first.state.tracks.devlink).toBe(true)
    const inst = first.state.devlink.get(H)
    const tool = devlinkJson<{ port: Record<string, { netdev?: string }> }>(ns.name, 'port', 'show')
    expect(inst?.ports.map((p) => p.handle).sort()).toEqual(
      Object.keys(tool.port)
        .filter((k) => k.startsWith(`${H}/`))
        .sort(),
    )
    for (const p of inst?.ports ?? []) expect(p.netdev?.name).toBe(tool.port[p.handle]?.netdev)
    const reporters = devlinkJson<{ health: Record<string, Array<{ reporter?: string; name?: string }>> }>(
      ns.name,
      'health',
      'show',
    ).health[H]
    expect(inst?.health.map((r) => r.name).sort()).toEqual(
      (reporters ?? []).map((r) => r.reporter ?? r.name).sort(),
    )

    // A parameter changed with the tool reaches the state.
    expect(
      devlink(ns.name, 'dev', 'param', 'set', H, 'name', 'max_macs', 'value', '40', 'cmode', 'driverinit').ok,
    ).toBe(true)
    const changed = await until(
      (u) => u.state.devlink.get(H)?.params.find((p) => p.name === 'max_macs')?.values[0]?.value === 40,
    )
    expect(changed.changes.some((c) => c.kind === 'devlink' && c.op === 'change')).toBe(true)

    // Removing the device removes the instance.
    nsim.remove()
    const gone = await until((u) => !u.state.devlink.has(H))
    expect(gone.changes.some((c) => c.kind === 'devlink' && c.op === 'del')).toBe(true)
  } finally {
    sub.unsubscribe()
  }
}, 60_000)
