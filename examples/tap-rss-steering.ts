// RSS on a multi-queue tap with the eBPF steering program.
//
//   tsx examples/tap-rss-steering.ts NETNS [FRAMES]
//
// In the (existing) network namespace NETNS: creates a 4-queue tap, brings it up, attaches the
// RSS steering program (Toeplitz with the standard key, TCP/UDP/IP over IPv4 and IPv6), sends
// FRAMES TCP frames of distinct flows through an AF_PACKET socket and counts where they land;
// then points the whole indirection table at queue 0, live, and sends them again. Prints one
// JSON summary line. Needs CAP_NET_ADMIN and CAP_BPF (root).
import { execFileSync } from 'node:child_process'
import { PacketSocket, RssSteering, Tap } from '../src/tuntap/devices.ts'

const [netns, framesArg] = process.argv.slice(2)
if (!netns) {
  console.error('usage: tsx examples/tap-rss-steering.ts NETNS [FRAMES]')
  process.exit(2)
}
const frames = Number(framesArg ?? 200)

const key = Buffer.from(
  '6d5a56da255b0ec24167253d43a38fb0d0ca2bcbae7b30b477cb2da38030f20c6a42b73bbeac01fa',
  'hex',
)
const table = Array.from({ length: 128 }, (_, i) => i % 4)

/** An Ethernet + IPv4 + TCP frame of flow number `n`. */
function tcpFrame(n: number): Buffer {
  const f = Buffer.alloc(14 + 20 + 20)
  Buffer.from('ffffffffffff020000000001', 'hex').copy(f, 0)
  f.writeUInt16BE(0x0800, 12)
  f[14] = 0x45
  f.writeUInt16BE(40, 16)
  f[22] = 64
  f[23] = 6
  Buffer.from([10, 0, (n >> 8) & 0xff, n & 0xff]).copy(f, 26)
  Buffer.from([10, 1, 0, 1]).copy(f, 30)
  f.writeUInt16BE(1024 + n, 34)
  f.writeUInt16BE(443, 36)
  f[46] = 5 << 4
  return f
}

async function countLandings(tap: Tap, ps: PacketSocket, n: number): Promise<number[]> {
  const counts = tap.attachedQueues.map(() => 0)
  let seen = 0
  const subs = tap.attachedQueues.map((q, i) =>
    q.frames$.subscribe(() => {
      counts[i]!++
      seen++
    }),
  )
  for (let i = 0; i < n; i++) ps.send(tcpFrame(i))
  const deadline = Date.now() + 5000
  while (seen < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5))
  for (const s of subs) s.unsubscribe()
  return counts
}

{
  using tap = Tap.create({ name: 'rss%d', queues: 4, netns })
  execFileSync('ip', ['-n', netns, 'link', 'set', tap.name, 'up'])
  using ps = PacketSocket.open({ ifindex: tap.ifindex, netns })
  using rss = RssSteering.create(
    { layer: 'l2' },
    { hashTypes: ['ipv4', 'tcpv4', 'udpv4', 'ipv6', 'tcpv6', 'udpv6'], key, table, defaultQueue: 0 },
  )
  tap.setSteeringProgram(rss)
  const spread = await countLandings(tap, ps, frames)
  rss.apply({ ...rss.read(), table: [0] })
  const pinned = await countLandings(tap, ps, frames)
  console.log(JSON.stringify({ tap: tap.name, program: rss.program.info().tag, spread, pinned }))
}
