import type { DevlinkClient, DevlinkDevice, DevlinkEvent, DevlinkParam } from '../index.ts'
import { toJson, UsageError, type Words } from './args.ts'

/** `devlink dev show`: one handle a line, and a reload failure when there was one. */
export function formatDevlinkDevice(d: DevlinkDevice): string {
  return `${d.handle}${d.reloadFailed ? ': reload_failed true' : ''}`
}

const value = (v: unknown) =>
  v instanceof Uint8Array ? Buffer.from(v).toString('hex') : typeof v === 'bigint' ? v.toString() : String(v)

/** `devlink dev param show` grouped by device, as devlink prints it. */
export function formatDevlinkParams(params: readonly DevlinkParam[]): string {
  const lines: string[] = []
  let last: string | undefined
  for (const p of params) {
    if (p.handle !== last) lines.push(`${p.handle}:`)
    last = p.handle
    lines.push(`  name ${p.name} type ${p.generic ? 'generic' : 'driver-specific'}`)
    lines.push('    values:')
    for (const v of p.values) lines.push(`      cmode ${v.cmode} value ${value(v.value)}`)
  }
  return lines.join('\n')
}

/** One devlink notification as a line of `rxnl monitor devlink`. */
export function formatDevlinkEvent(e: DevlinkEvent): string {
  switch (e.type) {
    case 'overrun':
      return '[devlink] events lost (overrun): re-read with "devlink dev show"'
    case 'dev':
      return `[devlink] ${e.action} dev ${formatDevlinkDevice(e.device)}`
    case 'port':
      return `[devlink] ${e.action} port ${e.port.handle}`
    case 'param':
      return `[devlink] ${e.action} param ${e.param.handle} name ${e.param.name} ${e.param.values
        .map((v) => `cmode ${v.cmode} value ${value(v.value)}`)
        .join(' ')}`
    case 'rate':
      return `[devlink] ${e.action} rate ${e.rate.handle}`
    case 'trap':
      return `[devlink] ${e.action} trap ${e.trap.handle} name ${e.trap.name}`
    case 'health':
      return `[devlink] health ${e.reporter.handle} reporter ${e.reporter.name} state ${e.reporter.state}`
    case 'other':
      return `[devlink] message ${e.cmd} ${e.handle}`
  }
}

/** `devlink dev show [DEV]`, `devlink dev param show [DEV [name NAME]]`. */
export async function devlinkCommand(
  dl: DevlinkClient,
  w: Words,
  json: boolean,
  out: (s: string) => void,
): Promise<void> {
  const object = w.next('devlink object (dev)')
  if (object !== 'dev') throw new UsageError(`unknown devlink object '${object}' (dev)`)
  let cmd = w.optional() ?? 'show'
  if (cmd === 'param') {
    const sub = w.optional() ?? 'show'
    if (sub !== 'show') throw new UsageError(`unknown devlink dev param command '${sub}' (show)`)
    cmd = 'param show'
  }
  switch (cmd) {
    case 'show': {
      const dev = w.optional()
      const devices = dev === undefined ? await dl.devices.list() : [await dl.devices.get(dev)]
      out(json ? toJson(devices) : devices.map(formatDevlinkDevice).join('\n'))
      return
    }
    case 'param show': {
      const dev = w.optional()
      let name: string | undefined
      if (dev !== undefined && !w.done) {
        const k = w.next('option')
        if (k !== 'name') throw new UsageError(`unknown option '${k}' for devlink dev param show (name NAME)`)
        name = w.next('parameter name')
      }
      const params =
        dev !== undefined && name !== undefined ? [await dl.params.get(dev, name)] : await dl.params.list(dev)
      out(json ? toJson(params) : formatDevlinkParams(params))
      return
    }
    default:
      throw new UsageError(`unknown devlink dev command '${cmd}' (show, param show)`)
  }
}
