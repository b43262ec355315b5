// RSS on a 4-queue tap, through the best back end this kernel offers.
//
//   tsx examples/tap-rss.ts [--flows N] [--backend auto|kernel|ebpf] [--json] [--hold]
//
// Creates a network namespace of its own and a 4-queue tap in it, applies RSS (all nine hash
// types, the standard key, a 128-entry table over the 4 queues), sends N flows (default 4000:
// IPv4 and IPv6, TCP and UDP) through an AF_PACKET socket, reads every frame back from its queue
// fd and prints the per-queue distribution, the back end used (and why), and how many frames
// landed where rxnetlink predicted. `--hold` waits for Ctrl-C before cleaning up. The namespace
// and the tap go away at the end, on errors and on Ctrl-C (SIGINT/SIGTERM). Needs root.
import { parseArgs } from 'node:util'
import { HASH_TYPES, openRoute, PacketSocket, Tap, type TapRssBackend } from '../src/index.ts'
import { flowFrame, flowOf } from './lib/flows.ts'
import { runInThrowawayNetns } from './lib/throwaway-netns.ts'

const { values } = parseArgs({
  options: {
    flows: { type: 'string', default: '4000' },
    backend: { type: 'string', default: 'auto' },
    json: { type: 'boolean', default: false },
    hold: { type: 'boolean', default: false },
  },
})
const flows = Number(values.flows)
const backend = values.backend as 'auto' | TapRssBackend
if (
  !Number.isInteger(flows) ||
  flows < 1 ||
  flows > 1_000_000 ||
  !['auto', 'kernel', 'ebpf'].includes(backend)
) {
  console.error('usage: tsx examples/tap-rss.ts [--flows N] [--backend auto|kernel|ebpf] [--json] [--hold]')
  process.exit(2)
}

async function main(netns: string): Promise<void> {
  using tap = Tap.create({ name: 'tap-rss0', queues: 4, netns })
  const rt = await openRoute({ netns })
  try {
    await rt.links.set('tap-rss0', { up: true })
  } finally {
    rt.close()
  }
  using ps = PacketSocket.open({ ifname: 'tap-rss0', netns })

  const status = await tap.rss.apply(
    { hashTypes: [...HASH_TYPES], table: Array.from({ length: 128 }, (_, i) => i % 4), defaultQueue: 0 },
    { backend },
  )

  const perQueue = [0, 0, 0, 0]
  let predicted = 0
  let seen = 0
  const queues = tap.attachedQueues
  const drain = (): void => {
    queues.forEach((q, i) => {
      for (let f = q.tryRead(); f !== null; f = q.tryRead()) {
        const n = flowOf(f)
        if (n === undefined) continue
        seen++
        perQueue[i]!++
        if (tap.rss.reportFor(f).queue === i) predicted++
      }
    })
  }
  const started = performance.now()
  for (let n = 0; n < flows; n++) {
    while (!ps.send(flowFrame(n))) {
      drain()
      await new Promise((r) => setTimeout(r, 1))
    }
    if (n % 256 === 255) drain() // keep the queues (500 frames each) from overflowing
  }
  const deadline = Date.now() + 5000
  while (seen < flows && Date.now() < deadline) {
    drain()
    if (seen < flows) await new Promise((r) => setTimeout(r, 2))
  }
  const ms = performance.now() - started

  const summary = {
    tap: 'tap-rss0',
    netns,
    backend: status.backend,
    ...(status.fallbackReason ? { fallbackReason: status.fallbackReason } : {}),
    hashTypes: status.config.hashTypes,
    tableLength: status.config.table.length,
    flows,
    received: seen,
    asPredicted: predicted,
    perQueue,
    ms: Math.round(ms),
  }
  if (values.json) console.log(JSON.stringify(summary))
  else {
    console.log(`tap ${summary.tap} in ${netns}: RSS through the ${status.backend} back end`)
    if (status.fallbackReason) console.log(`  (not kernel: ${status.fallbackReason})`)
    console.log(
      `  ${flows} flows sent, ${seen} received, ${predicted} on the predicted queue, ${summary.ms} ms`,
    )
    perQueue.forEach((n, i) => {
      console.log(
        `  queue ${i}: ${String(n).padStart(6)}  ${'#'.repeat(Math.round((40 * n) / Math.max(1, seen)))}`,
      )
    })
  }
  if (values.hold) {
    if (!values.json) console.log('holding; Ctrl-C to clean up')
    setInterval(() => {}, 1 << 30) // keeps the process alive until a signal cleans up and exits
    await new Promise(() => {})
  }
}

runInThrowawayNetns('rxnl-tap-rss', main)
