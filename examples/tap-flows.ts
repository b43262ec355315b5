// Flow steering on a multi-queue tap: rules and RSS contexts from a JSON file, eBPF back end.
//
//   tsx examples/tap-flows.ts NETNS [CONFIG.json] [FRAMES]
//
// In the (existing) network namespace NETNS: creates an 8-queue tap, brings it up, validates the
// steering configuration (default: examples/tap-flows.json), attaches the generated steering
// program, sends FRAMES frames of assorted flows (IPv4/IPv6, TCP/UDP, some VLAN-tagged) through
// an AF_PACKET socket, reads every queue and prints one JSON line: frames per rule (as explain()
// names them), frames per queue, and how many landed elsewhere than explain() said (0).
// Needs CAP_NET_ADMIN and CAP_BPF (root).
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { EbpfSteering } from '../src/steering/index.ts'
import { PacketSocket, Tap } from '../src/tuntap/devices.ts'

const [netns, configPath, framesArg] = process.argv.slice(2)
if (!netns) {
  console.error('usage: tsx examples/tap-flows.ts NETNS [CONFIG.json] [FRAMES]')
  process.exit(2)
}
const config: unknown = JSON.parse(
  readFileSync(configPath ?? new URL('./tap-flows.json', import.meta.url), 'utf8'),
)
const frames = Number(framesArg ?? 2000)

let seed = 12345
const rand = () => {
  seed = (Math.imul(seed, 1103515245) + 12345) >>> 0
  return seed / 2 ** 32
}
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!
const byte = () => Math.floor(rand() * 256)

const OUR_MAC = Buffer.from('020000000001', 'hex')

/** An Ethernet frame (optionally VLAN-tagged) carrying IPv4/IPv6 TCP/UDP with these ports. */
function frame(): Buffer {
  const v6 = rand() < 0.4
  const proto = pick([6, 17])
  const vlan = rand() < 0.1 ? pick([10, 20]) : undefined
  const sport = 1024 + Math.floor(rand() * 60000)
  const dport = pick([53, 443, 4096 + Math.floor(rand() * 4096), Math.floor(rand() * 65536)])
  const l4 = Buffer.alloc(proto === 6 ? 20 : 8)
  l4.writeUInt16BE(sport, 0)
  l4.writeUInt16BE(dport, 2)
  if (proto === 6) l4[12] = 5 << 4
  else l4.writeUInt16BE(8, 4)
  let ip: Buffer
  if (v6) {
    ip = Buffer.alloc(40)
    ip.writeUInt32BE(0x60000000, 0)
    ip.writeUInt16BE(l4.length, 4)
    ip[6] = proto
    ip[7] = 64
    for (let i = 8; i < 40; i++) ip[i] = byte()
    const dst = pick([
      [0x20, 0x01, 0x0d, 0xb8, 0x00, 0x01],
      [0x20, 0x01, 0x0d, 0xb8],
      [0xfd, 0x00],
    ])
    Buffer.from(dst).copy(ip, 24)
  } else {
    ip = Buffer.alloc(20)
    ip[0] = 0x45
    ip.writeUInt16BE(20 + l4.length, 2)
    ip[8] = 64
    ip[9] = proto
    const src = pick([[10, 1], [10], [192, 168], []])
    for (let i = 12; i < 20; i++) ip[i] = byte()
    Buffer.from(src).copy(ip, 12)
  }
  const eth = Buffer.alloc(vlan === undefined ? 14 : 18)
  Buffer.from('ffffffffffff020000000001', 'hex').copy(eth, 0)
  if (vlan !== undefined) {
    eth.writeUInt16BE(0x8100, 12)
    eth.writeUInt16BE(vlan, 14)
  }
  eth.writeUInt16BE(v6 ? 0x86dd : 0x0800, eth.length - 2)
  return Buffer.concat([eth, ip, l4])
}

{
  using steering = EbpfSteering.create(config, { queues: 8 })
  using tap = Tap.create({ name: 'flows%d', queues: 8, netns })
  execFileSync('ip', ['-n', netns, 'link', 'set', tap.name, 'txqueuelen', '4000', 'up'])
  using ps = PacketSocket.open({ ifindex: tap.ifindex, netns })
  steering.attach(tap)
  const explain = steering.classifier
  const perRule: Record<string, number> = {}
  const perQueue = tap.attachedQueues.map(() => 0)
  let received = 0
  let elsewhere = 0
  const drain = () => {
    tap.attachedQueues.forEach((q, queue) => {
      for (let f = q.tryRead(); f !== null; f = q.tryRead()) {
        if (!f.subarray(6, 12).equals(OUR_MAC)) continue // the kernel's own frames (IPv6 ND…)
        const e = explain.explain(f)
        const rule = e.rule === null ? '(default RSS)' : (e.ruleName ?? `#${e.rule}`)
        perRule[rule] = (perRule[rule] ?? 0) + 1
        perQueue[queue]!++
        if (e.queue !== queue) elsewhere++
        received++
      }
    })
  }
  for (let i = 0; i < frames; i++) {
    ps.send(frame())
    if (i % 500 === 499) drain()
  }
  const deadline = Date.now() + 5000
  while (received < frames && Date.now() < deadline) {
    drain()
    await new Promise((r) => setTimeout(r, 5))
  }
  console.log(
    JSON.stringify({
      tap: tap.name,
      generation: steering.generation,
      sent: frames,
      received,
      perRule,
      perQueue,
      elsewhere,
    }),
  )
}
