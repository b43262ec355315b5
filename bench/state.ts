// Device state at scale: start-up to the first consistent snapshot with 10,000 links, the rate at
// which link notifications are applied, and how long a resync after lost notifications takes to
// reach a consistent snapshot — rxnetlink's deviceState$ against pyroute2's NDB in the same run.
import { spawn, spawnSync } from 'node:child_process'
import { filter, firstValueFrom, timeout } from 'rxjs'
import { deviceState$, type StateUpdate } from '../src/index.ts'
import { benchNetns, compare, emit, ipBatch, log, quick, table } from './lib.ts'

const pairs = Number(process.env.PAIRS ?? (quick ? 500 : 5000))
const N = pairs * 2
const ns = benchNetns('state')
ipBatch(
  ns.name,
  Array.from({ length: pairs }, (_, i) => `link add a${i} group 7 type veth peer name b${i} group 7`),
)
const mtuLines = (mtu: number) =>
  Array.from({ length: pairs }, (_, i) => [`link set a${i} mtu ${mtu}`, `link set b${i} mtu ${mtu}`]).flat()

/** Runs ip -batch without blocking the event loop; resolves with its wall time. */
function ipBatchAsync(lines: string[]): Promise<number> {
  const t0 = performance.now()
  return new Promise((resolve, reject) => {
    const p = spawn('ip', ['-n', ns.name, '-batch', '-'], { stdio: ['pipe', 'ignore', 'inherit'] })
    p.on('exit', (code) =>
      code === 0 ? resolve(performance.now() - t0) : reject(new Error(`ip exited ${code}`)),
    )
    p.stdin.end(lines.join('\n'))
  })
}

const ours = (u: StateUpdate, mtu: number) => {
  let n = 0
  for (const l of u.state.links.values()) if (l.group === 7 && l.mtu === mtu) n++
  return n
}
const opts = { netns: ns.name, ethtool: false, devlink: false }

// 1. Start-up: subscribe → first snapshot holding every link.
let t0 = performance.now()
const first = await firstValueFrom(deviceState$(opts).pipe(timeout(120_000)))
const startup = performance.now() - t0
if (ours(first, 1500) !== N) throw new Error(`first snapshot has ${ours(first, 1500)} of ${N} links`)
t0 = performance.now()
const withEthtool = await firstValueFrom(deviceState$({ netns: ns.name }).pipe(timeout(120_000)))
const startupEthtool = performance.now() - t0
void withEthtool

// 2. Notifications: every link's MTU changed by ip; time until the state shows them all.
async function converge(
  o: Parameters<typeof deviceState$>[0],
  mtu: number,
): Promise<{ total: number; ip: number; resyncs: number }> {
  const updates: StateUpdate[] = []
  const sub = deviceState$(o).subscribe((u) => updates.push(u))
  await firstValueFrom(deviceState$(o))
  const start = performance.now()
  const done = firstValueFrom(
    deviceState$(o).pipe(
      filter((u) => ours(u, mtu) === N),
      timeout(300_000),
    ),
  )
  const ip = await ipBatchAsync(mtuLines(mtu))
  await done
  const total = performance.now() - start
  sub.unsubscribe()
  return { total, ip, resyncs: updates.filter((u) => u.reason === 'resync').length }
}
const events = await converge({ ...opts, receiveBuffer: 256 * 1024 * 1024 }, 1400)
// 2b. Applying alone: ip runs while the event loop is blocked, so every notification waits in the
// socket; then the time to drain and apply them is the store's own rate.
async function drain(mtu: number): Promise<number> {
  const o = { ...opts, receiveBuffer: 256 * 1024 * 1024 }
  const sub = deviceState$(o).subscribe()
  await firstValueFrom(deviceState$(o))
  ipBatch(ns.name, mtuLines(mtu))
  const start = performance.now()
  await firstValueFrom(
    deviceState$(o).pipe(
      filter((u) => ours(u, mtu) === N),
      timeout(300_000),
    ),
  )
  const took = performance.now() - start
  sub.unsubscribe()
  return took
}
const drained = await drain(1450)
// 3. The same storm into a 64 KiB buffer: notifications are lost and the state re-dumps.
const lossy = await converge({ ...opts, receiveBuffer: 64 * 1024 }, 1300)

// pyroute2 NDB, the same three measurements.
const py = spawnSync(
  '/usr/bin/python3',
  [
    '-c',
    `
import sys, time, subprocess, json
from pyroute2 import NDB
ns, n, pairs, was = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
def count(ndb, mtu):
    return sum(1 for r in ndb.interfaces.dump() if r.mtu == mtu and r.ifname[0] in 'ab')
t0 = time.perf_counter()
ndb = NDB(sources=[{'target': 'ns', 'kind': 'netns', 'netns': ns}], log='off')
while count(ndb, was) < n: time.sleep(0.02)
startup = (time.perf_counter() - t0) * 1000
lines = '\\n'.join(f'link set a{i} mtu 1400\\nlink set b{i} mtu 1400' for i in range(pairs))
t0 = time.perf_counter()
subprocess.run(['ip', '-n', ns, '-batch', '-'], input=lines.encode(), check=True)
deadline = time.perf_counter() + 300
while count(ndb, 1400) < n and time.perf_counter() < deadline: time.sleep(0.05)
total = (time.perf_counter() - t0) * 1000
print(json.dumps({'startup': startup, 'total': total, 'complete': count(ndb, 1400) == n}))
ndb.close()
`,
    ns.name,
    String(N),
    String(pairs),
    '1300',
  ],
  { encoding: 'utf8', timeout: 900_000 },
)
let ndb: { startup: number; total: number; complete: boolean } | undefined
const pyLast = py.stdout?.trim().split('\n').pop() ?? ''
if (pyLast.startsWith('{')) ndb = JSON.parse(pyLast)
else
  console.error(
    `pyroute2 NDB failed (status ${py.status}, ${py.signal ?? ''}): ${py.stderr} ${py.error ?? ''}`,
  )

log(`device state with ${N} links (${pairs} veth pairs), ${new Date().toISOString()}\n`)
log('start-up to the first consistent snapshot:')
table(
  [
    ['rxnetlink deviceState$ (links, addresses, tc)', startup],
    ['rxnetlink deviceState$ (+ ethtool per device)', startupEthtool],
    ['pyroute2 NDB', ndb?.startup ?? Number.NaN],
  ],
  startup,
)
log(`\n${N} MTU changes by ip -batch until the state shows all (ip itself: ${events.ip.toFixed(0)} ms):`)
table(
  [
    [
      'rxnetlink, 256 MiB buffer',
      events.total,
      `${((N / events.total) * 1000).toFixed(0)} notifications/s, ${events.resyncs} resyncs`,
    ],
    [
      'rxnetlink, applying only (ip ran first)',
      drained,
      `${((N / drained) * 1000).toFixed(0)} notifications/s applied`,
    ],
    [
      'rxnetlink, 64 KiB buffer (overrun)',
      lossy.total,
      `${lossy.resyncs} resync(s) to a consistent snapshot`,
    ],
    ['pyroute2 NDB', ndb?.total ?? Number.NaN, ndb?.complete === false ? 'did not converge in 300 s' : ''],
  ],
  events.total,
)
if (ndb)
  log(
    `\nNDB / rxnetlink: start-up ${(ndb.startup / startup).toFixed(1)}×, notifications ${(ndb.total / events.total).toFixed(1)}×`,
  )
const ms = { unit: 'ms', higherIsBetter: false } as const
const rate = { unit: 'notifications/s', higherIsBetter: true } as const
const ndbNote = ndb ? {} : { note: 'pyroute2 NDB did not run' }
emit({
  script: 'state',
  title: `Device state with ${N} links`,
  parameters: { links: N },
  comparisons: [
    compare({
      case: `deviceState$ start-up, ${N} links`,
      against: 'pyroute2 NDB start-up',
      kind: 'peer',
      ours: startup,
      theirs: ndb?.startup ?? Number.NaN,
      ...ndbNote,
      ...ms,
    }),
    compare({
      case: `${N} MTU changes until the state shows all`,
      against: 'pyroute2 NDB',
      kind: 'peer',
      ours: events.total,
      theirs: ndb?.total ?? Number.NaN,
      ...ndbNote,
      ...ms,
    }),
    compare({
      case: `${N} MTU changes until the state shows all`,
      against: 'ip -batch making them (floor)',
      kind: 'floor',
      ours: events.total,
      theirs: events.ip,
      ...ms,
    }),
    compare({
      case: 'resync after overrun (64 KiB buffer)',
      against: 'no overrun (256 MiB buffer)',
      kind: 'floor',
      ours: lossy.total,
      theirs: events.total,
      note: `${lossy.resyncs} resyncs`,
      ...ms,
    }),
    compare({
      case: 'notifications applied, ip run first',
      against: 'ip -batch producing them',
      kind: 'floor',
      ours: (N / drained) * 1000,
      theirs: (N / events.ip) * 1000,
      ...rate,
    }),
  ],
})
ns.remove()
process.exit(0)
