// Prints an inventory of devlink devices: ports, parameters, versions and health reporters.
//   npx tsx examples/devlink.ts [--netns NAME] [--json]
import { parseArgs } from 'node:util'
import { FamilyNotFoundError, openDevlink } from '../src/index.ts'

const { values } = parseArgs({ options: { netns: { type: 'string' }, json: { type: 'boolean' } } })

let dl: Awaited<ReturnType<typeof openDevlink>>
try {
  dl = await openDevlink(values.netns ? { netns: values.netns } : {})
} catch (e) {
  if (e instanceof FamilyNotFoundError) {
    console.error('devlink is not available: this kernel has no devlink generic netlink family')
    process.exit(1)
  }
  throw e
}

try {
  const devices = await dl.devices.list()
  const inventory = []
  for (const d of devices) {
    const [info, ports, params, health] = await Promise.all([
      dl.info(d.handle).catch((e: Error) => ({ error: e.message })),
      dl.ports.list(d.handle),
      dl.params.list(d.handle),
      dl.health.list(d.handle),
    ])
    inventory.push({ ...d, info, ports, params, health })
  }
  if (values.json) {
    const replacer = (_k: string, v: unknown) =>
      v instanceof Uint8Array ? Buffer.from(v).toString('hex') : typeof v === 'bigint' ? v.toString() : v
    console.log(JSON.stringify(inventory, replacer, 2))
  } else if (inventory.length === 0) {
    console.log('no devlink devices in this namespace')
  } else {
    for (const d of inventory) {
      console.log(`${d.handle}${d.reloadFailed ? ' (reload failed)' : ''}`)
      if ('driver' in d.info) {
        console.log(`  driver ${d.info.driver}${d.info.serialNumber ? ` serial ${d.info.serialNumber}` : ''}`)
        for (const kind of ['fixed', 'running', 'stored'] as const)
          for (const [name, value] of Object.entries(d.info.versions[kind]))
            console.log(`  ${kind} ${name} ${value}`)
      }
      for (const p of d.ports)
        console.log(
          `  port ${p.handle}: type ${p.type ?? '-'} flavour ${p.flavour ?? '-'}` +
            (p.netdev?.name ? ` netdev ${p.netdev.name}` : '') +
            (p.function?.hwAddr ? ` hw_addr ${p.function.hwAddr}` : ''),
        )
      for (const p of d.params)
        console.log(
          `  param ${p.name} (${p.generic ? 'generic' : 'driver-specific'} ${p.type}): ` +
            p.values.map((v) => `${v.cmode}=${String(v.value)}`).join(' '),
        )
      for (const h of d.health)
        console.log(
          `  health ${h.handle} ${h.name}: ${h.state} errors ${h.errorCount} recovers ${h.recoverCount}` +
            (h.gracefulPeriod !== undefined ? ` grace ${h.gracefulPeriod}ms` : '') +
            (h.autoRecover !== undefined ? ` auto_recover ${h.autoRecover}` : ''),
        )
    }
  }
} finally {
  dl.close()
}
