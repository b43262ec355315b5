// rxnetlink in one screen: a throwaway namespace, a 4-queue tap with RSS and a flow rule through
// the eBPF steering program (kernel RSS when the kernel has it is probed and reported), a tc
// filter, a few thousand flows, and per-queue bars of where frames land next to where rxnetlink
// predicted them, with the link and tc events as they happen. Removes everything it
// made when done, on errors and on Ctrl-C.
//
//   npm run demo [-- --flows N] [--once]     (root; --once: no animation, one final report)
import { parseArgs } from 'node:util'
import {
  EbpfSteering,
  HASH_TYPES,
  type KernelRssSupport,
  type LinkEvent,
  openRoute,
  PacketSocket,
  type RouteClient,
  Tap,
  type TcEvent,
} from '../src/index.ts'
import { flowFrame, flowOf } from './lib/flows.ts'
import { runInThrowawayNetns } from './lib/throwaway-netns.ts'

const { values } = parseArgs({
  options: { flows: { type: 'string', default: '3000' }, once: { type: 'boolean', default: false } },
})
const flows = Number(values.flows)
if (!Number.isInteger(flows) || flows < 1 || flows > 1_000_000) {
  console.error('usage: npm run demo [-- --flows N] [--once]')
  process.exit(2)
}
if (process.getuid?.() !== 0) {
  console.error(
    'The demo creates a network namespace, a tap and tc filters, which needs root: run it as root (sudo npm run demo).',
  )
  process.exit(1)
}

const QUEUES = 4
const TAP = 'demo0'
const SINK = 'sink0'
/** UDP to this port is what the tc filter takes away from the tap (redirected to SINK). */
const DISCARD_PORT = 9
/** TCP to this port is what the flow rule pins to the last queue. */
const SSH_PORT = 22
const STEERING = {
  rss: {
    hashTypes: [...HASH_TYPES],
    table: Array.from({ length: 64 }, (_, i) => i % QUEUES),
    defaultQueue: 0,
  },
  rules: [{ name: 'ssh', match: { ipProto: 'tcp', dstPort: SSH_PORT }, action: { queue: QUEUES - 1 } }],
}
let netns = ''
const live = process.stdout.isTTY && !values.once

const landed = new Array<number>(QUEUES + 1).fill(0) // last slot: the tc redirect
const predicted = new Array<number>(QUEUES + 1).fill(0)
let sent = 0
let received = 0
let mismatched = 0
const events: string[] = []
let kernelRss: KernelRssSupport | undefined
const byRule = new Map<string, number>()

function note(line: string): void {
  events.push(line)
  if (events.length > 8) events.shift()
}

function bar(n: number, total: number, width = 36): string {
  const full = Math.round((width * n) / Math.max(1, total))
  return '█'.repeat(full) + '░'.repeat(width - full)
}

function screen(): string {
  const total = Math.max(1, sent)
  const rows = [
    `rxnetlink demo — namespace ${netns}, tap ${TAP} with ${QUEUES} queues`,
    `steering: ebpf program, RSS over ${QUEUES} queues (9 hash types, 64-entry table) + rule "ssh": tcp dport ${SSH_PORT} → queue ${QUEUES - 1}`,
    `kernel tun RSS ioctls: ${kernelRss === undefined ? '…' : kernelRss.available ? 'present' : `absent (${kernelRss.errno})`}`,
    `tc: clsact on ${TAP}, egress u32 "udp dport ${DISCARD_PORT}" → mirred redirect to ${SINK}`,
    '',
    `           ${'landed'.padEnd(36)}   landed  predicted`,
  ]
  for (let i = 0; i <= QUEUES; i++) {
    const name = i < QUEUES ? `queue ${i}` : `tc→${SINK}`
    rows.push(
      `${name.padEnd(10)} ${bar(landed[i] as number, total)} ${String(landed[i]).padStart(8)} ${String(predicted[i]).padStart(10)}`,
    )
  }
  rows.push(
    '',
    `${sent} frames sent from ${flows} flows, ${received} read back, ${mismatched} off their predicted queue`,
    `by rule: ${[...byRule].map(([r, n]) => `${r} ${n}`).join(', ') || '…'}`,
    '',
    'events:',
    ...events.map((e) => `  ${e}`),
  )
  return rows.join('\n')
}

function draw(): void {
  if (live) process.stdout.write(`\x1b[H\x1b[2J${screen()}\n`)
}

function linkEvent(e: LinkEvent): void {
  if (e.type === 'overrun') {
    note('! link events lost (overrun)')
    return
  }
  const l = e.link
  note(`${e.type === 'new' ? '+' : '-'} link ${l.name} ${l.kind ?? ''} ${l.up ? 'UP' : 'DOWN'} mtu ${l.mtu}`)
}

function tcEvent(e: TcEvent): void {
  const sign = e.type === 'new' ? '+' : e.type === 'del' ? '-' : '!'
  if (e.type === 'overrun') note('! tc events lost (overrun)')
  else if (e.object === 'qdisc') note(`${sign} qdisc ${e.qdisc.kind} ${e.qdisc.handle} on ${e.qdisc.dev}`)
  else if (e.object === 'filter')
    note(`${sign} filter ${e.filter.kind} pref ${e.filter.pref} on ${e.filter.dev} ${e.filter.parent}`)
  else if (e.object === 'class') note(`${sign} class ${e.class.handle} on ${e.class.dev}`)
  else note(`${sign} actions ${e.actions.map((a) => a.kind).join(',')}`)
}

async function main(ns: string): Promise<void> {
  netns = ns
  const rt: RouteClient = await openRoute({ netns })
  const subs = [rt.links.events$.subscribe(linkEvent), rt.tc.events$.subscribe(tcEvent)]
  const ticker = live ? setInterval(draw, 100) : undefined
  try {
    using tap = Tap.create({ name: TAP, queues: QUEUES, netns })
    await rt.links.create({ name: SINK, kind: 'veth', peer: { name: 'sink1' } })
    for (const name of [TAP, SINK, 'sink1']) await rt.links.set(name, { up: true })
    kernelRss = tap.rss.probe()
    using steering = EbpfSteering.create(STEERING, { queues: QUEUES })
    steering.attach(tap)
    const predict = steering.classifier
    await rt.tc.qdiscs.add({ dev: TAP, kind: 'clsact' })
    await rt.tc.filters.add({
      dev: TAP,
      parent: 'egress',
      kind: 'u32',
      protocol: 'ip',
      pref: 1,
      match: { ip: { protocol: 'udp', dport: DISCARD_PORT } },
      actions: [{ kind: 'mirred', direction: 'egress', action: 'redirect', dev: SINK }],
    })
    const sinkBefore = (await rt.links.get(SINK)).stats?.txPackets ?? 0n

    using ps = PacketSocket.open({ ifname: TAP, netns })
    const queues = tap.attachedQueues
    const drain = (): void => {
      queues.forEach((q, i) => {
        for (let f = q.tryRead(); f !== null; f = q.tryRead()) {
          if (flowOf(f) === undefined) continue
          received++
          landed[i]!++
          if (predict.explain(f).queue !== i) mismatched++
        }
      })
    }
    // Every tenth flow is UDP to the discard port (IPv4): the tc filter takes it; every seventh is
    // TCP to the ssh port: the rule pins it; the rest is spread by RSS over the queues.
    for (let n = 0; n < flows; n++) {
      const discard = n % 10 === 9
      const ssh = !discard && n % 7 === 6
      const frame = discard
        ? flowFrame(n, { v6: false, udp: true, dport: DISCARD_PORT })
        : ssh
          ? flowFrame(n, { udp: false, dport: SSH_PORT })
          : flowFrame(n)
      const e = predict.explain(frame)
      const rule = discard ? 'tc redirect' : (e.ruleName ?? 'default RSS')
      byRule.set(rule, (byRule.get(rule) ?? 0) + 1)
      predicted[discard ? QUEUES : e.queue]!++
      while (!ps.send(frame)) {
        drain()
        await new Promise((r) => setTimeout(r, 1))
      }
      sent++
      if (n % 64 === 63) {
        drain()
        // Slow enough to watch; as fast as it goes otherwise, still letting Ctrl-C in.
        await new Promise((r) => (live ? setTimeout(r, 4) : setImmediate(r)))
      }
    }
    const deadline = Date.now() + 5000
    while (received < sent - (predicted[QUEUES] as number) && Date.now() < deadline) {
      drain()
      await new Promise((r) => setTimeout(r, 2))
    }
    const sinkAfter = (await rt.links.get(SINK)).stats?.txPackets ?? 0n
    landed[QUEUES] = Number(sinkAfter - sinkBefore)
    await new Promise((r) => setTimeout(r, 100)) // the last events
  } finally {
    if (ticker) clearInterval(ticker)
    for (const s of subs) s.unsubscribe()
    rt.close()
  }
  if (live) draw()
  else console.log(screen())
  const ok = mismatched === 0 && landed.every((n, i) => n === predicted[i])
  console.log(
    ok ? '\nevery frame landed where rxnetlink predicted it' : '\nsome frames did not land as predicted',
  )
  if (!ok) process.exitCode = 1
}

runInThrowawayNetns('rxnl-demo', main)
