// Prints a device's channels, rings and RSS.
//   npx tsx examples/ethtool.ts --netns NAME --dev DEV [--json] [--backend auto|netlink|ioctl]
import { parseArgs } from 'node:util'
import { NoSuchDeviceError, NotSupportedError, openEthtool } from '../src/index.ts'

const { values } = parseArgs({
  options: {
    netns: { type: 'string' },
    dev: { type: 'string' },
    json: { type: 'boolean' },
    backend: { type: 'string' },
  },
})
if (!values.dev) {
  console.error('usage: examples/ethtool.ts [--netns NAME] --dev DEV [--json] [--backend auto|netlink|ioctl]')
  process.exit(2)
}
const dev = values.dev
const et = await openEthtool({
  ...(values.netns ? { netns: values.netns } : {}),
  ...(values.backend ? { backend: values.backend as 'auto' | 'netlink' | 'ioctl' } : {}),
})

/** A section's value, or why the device has none (other errors propagate). */
async function part<T>(fn: () => Promise<T>): Promise<T | { unsupported: string }> {
  try {
    return await fn()
  } catch (e) {
    if (e instanceof NotSupportedError) return { unsupported: e.detail }
    throw e
  }
}

try {
  await et.channels.get(dev).catch((e: unknown) => {
    if (e instanceof NoSuchDeviceError) {
      console.error(e.message)
      process.exit(1)
    }
  })
  const channels = await part(() => et.channels.get(dev))
  const rings = await part(() => et.rings.get(dev))
  const rss = await part(async () => {
    if (et.backends.rssContextList === 'netlink') return et.rss.contexts.list(dev)
    return [await et.rss.get(dev)]
  })
  if (values.json) {
    const hex = (_k: string, v: unknown) =>
      v instanceof Uint8Array ? Buffer.from(v).toString('hex') : typeof v === 'bigint' ? v.toString() : v
    console.log(JSON.stringify({ device: dev, backends: et.backends, channels, rings, rss }, hex, 2))
  } else {
    console.log(`${dev} (backends: ${JSON.stringify(et.backends)})`)
    if ('unsupported' in channels) console.log(`channels: not supported (${channels.unsupported})`)
    else
      console.log(
        `channels: rx ${channels.rx}/${channels.maxRx} tx ${channels.tx}/${channels.maxTx} ` +
          `other ${channels.other}/${channels.maxOther} combined ${channels.combined}/${channels.maxCombined}`,
      )
    if ('unsupported' in rings) console.log(`rings: not supported (${rings.unsupported})`)
    else console.log(`rings: rx ${rings.rx}/${rings.maxRx} tx ${rings.tx}/${rings.maxTx}`)
    if ('unsupported' in rss) console.log(`rss: not supported (${rss.unsupported})`)
    else
      for (const r of rss) {
        console.log(`rss context ${r.context}: hfunc ${r.hfunc} input-xfrm [${r.inputXfrm.join(', ')}]`)
        console.log(
          `  key ${Buffer.from(r.key)
            .toString('hex')
            .replace(/(..)(?!$)/g, '$1:')}`,
        )
        for (let i = 0; i < r.table.length; i += 8)
          console.log(
            `  ${String(i).padStart(5)}: ${r.table
              .slice(i, i + 8)
              .map((q) => String(q).padStart(4))
              .join('')}`,
          )
      }
  }
} finally {
  et.close()
}
