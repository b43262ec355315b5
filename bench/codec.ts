// The codec alone: decoding a captured dump of 10,000 links (messages/s) against receiving the
// same dump from the kernel without decoding it (messages/s), in one run.
//   npx tsx bench/codec.ts [--links 10000] [--runs 7] [--quick] [--json]
import { parseArgs } from 'node:util'
import { decodeMessage, parseMessages } from '../src/netlink/codec/index.ts'
import { linkMessage } from '../src/netlink/route/index.ts'
import { benchNetns, compare, emit, ipBatch, log, median, quick } from './lib.ts'
import { rawLinkDump } from './raw-dump.ts'

const { values } = parseArgs({
  options: {
    links: { type: 'string', default: quick ? '1000' : '10000' },
    runs: { type: 'string', default: quick ? '3' : '7' },
    json: { type: 'boolean' },
    quick: { type: 'boolean' },
  },
})
const ns = benchNetns('codec')
ipBatch(
  ns.name,
  Array.from({ length: Number(values.links) / 2 }, (_, i) => `link add b${i} type veth peer name c${i}`),
)
const runs = Number(values.runs)

const { datagrams, messages } = await rawLinkDump(ns.name, true)
const receive = await median(runs, () => rawLinkDump(ns.name))
const frame = await median(runs, () => {
  for (const d of datagrams) parseMessages(d)
})
const decode = await median(runs, () => {
  for (const d of datagrams)
    for (const m of parseMessages(d)) if (m.type === 16) decodeMessage(linkMessage, m)
})
const rate = (ms: number) => messages / (ms / 1000)
const bytes = datagrams.reduce((a, d) => a + d.length, 0)
log(
  `${messages} RTM_NEWLINK messages in ${datagrams.length} datagrams (${(bytes / 1e6).toFixed(1)} MB); median of ${runs}\n`,
)
log(
  `kernel dump, receive only       ${receive.toFixed(1).padStart(7)} ms  ${(rate(receive) / 1e3).toFixed(0).padStart(6)}k msg/s`,
)
log(
  `framing only (parseMessages)    ${frame.toFixed(1).padStart(7)} ms  ${(rate(frame) / 1e3).toFixed(0).padStart(6)}k msg/s`,
)
log(
  `framing + full decode           ${decode.toFixed(1).padStart(7)} ms  ${(rate(decode) / 1e3).toFixed(0).padStart(6)}k msg/s`,
)
log(`\ndecode rate / receive rate: ${(rate(decode) / rate(receive)).toFixed(2)}`)
const rates = { unit: 'k msg/s', higherIsBetter: true } as const
emit({
  script: 'codec',
  title: `Decoding a dump of ${messages} links`,
  parameters: { links: messages, runs },
  comparisons: [
    compare({
      case: `framing + full decode, ${messages} RTM_NEWLINK`,
      against: 'kernel dump, receive only',
      kind: 'floor',
      ours: rate(decode) / 1e3,
      theirs: rate(receive) / 1e3,
      note: 'decode alone, on captured datagrams',
      ...rates,
    }),
  ],
})
ns.remove()
