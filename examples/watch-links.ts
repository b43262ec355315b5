// Prints link events as they happen until interrupted.
//   npx tsx examples/watch-links.ts [--netns NAME] [--json]
import { parseArgs } from 'node:util'
import { openRoute } from '../src/index.ts'

const { values } = parseArgs({ options: { netns: { type: 'string' }, json: { type: 'boolean' } } })
const rt = await openRoute(values.netns ? { netns: values.netns } : {})
const sub = rt.links.events$.subscribe({
  next(e) {
    if (values.json) {
      console.log(JSON.stringify(e, (_k, v) => (typeof v === 'bigint' ? v.toString() : v)))
    } else if (e.type === 'overrun') {
      console.log('!! events were lost (receive buffer overrun): re-list to resync')
    } else {
      const l = e.link
      console.log(
        `${e.type === 'new' ? '+' : '-'} ${l.index}: ${l.name} ${l.kind ?? ''} ${l.up ? 'UP' : 'DOWN'} mtu ${l.mtu}`,
      )
    }
  },
  error(err) {
    console.error(String(err))
    process.exitCode = 1
  },
})
const stop = () => {
  sub.unsubscribe()
  rt.close()
}
process.once('SIGINT', stop)
process.once('SIGTERM', stop)
