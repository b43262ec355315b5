// Prints the links of a namespace.  npx tsx examples/links.ts [--netns NAME] [--json]
import { parseArgs } from 'node:util'
import { openRoute } from '../src/index.ts'

const { values } = parseArgs({ options: { netns: { type: 'string' }, json: { type: 'boolean' } } })
const rt = await openRoute(values.netns ? { netns: values.netns } : {})
try {
  const links = await rt.links.list()
  if (values.json) {
    console.log(JSON.stringify(links, (_k, v) => (typeof v === 'bigint' ? v.toString() : v), 2))
  } else {
    for (const l of links) {
      const kind = l.kind ? ` ${l.kind}` : ''
      const master = l.master ? ` master ${links.find((m) => m.index === l.master)?.name ?? l.master}` : ''
      const queues = l.numTxQueues ? ` txq ${l.numTxQueues} rxq ${l.numRxQueues}` : ''
      console.log(
        `${l.index}: ${l.name}:${kind} <${l.flags.join(',')}> mtu ${l.mtu} state ${String(l.operstate).toUpperCase()}${master}${queues}`,
      )
      if (l.address) console.log(`    link/${l.type} ${l.address}`)
    }
  }
} finally {
  rt.close()
}
