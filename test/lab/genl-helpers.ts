import { execFileSync } from 'node:child_process'
import { existsSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs'
import { sh } from '../helpers/netns.ts'

/** Runs a command; returns { ok, out, err } instead of throwing. */
export function run(cmd: string, args: string[]): { ok: boolean; out: string; err: string } {
  try {
    return {
      ok: true,
      out: execFileSync(cmd, args, { encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] }),
      err: '',
    }
  } catch (e) {
    const x = e as { stdout?: string; stderr?: string }
    return { ok: false, out: x.stdout ?? '', err: x.stderr ?? String(e) }
  }
}

/** `devlink -j …` in a namespace, parsed. */
export function devlinkJson<T = Record<string, unknown>>(netns: string, ...args: string[]): T {
  return JSON.parse(sh('ip', ['netns', 'exec', netns, 'devlink', '-j', ...args]) || '{}') as T
}

/** `devlink …` in a namespace, for changes made through the tool. */
export function devlink(netns: string, ...args: string[]): { ok: boolean; out: string; err: string } {
  return run('ip', ['netns', 'exec', netns, 'devlink', ...args])
}

export function ethtoolIn(netns: string, ...args: string[]): string {
  return sh('ip', ['netns', 'exec', netns, 'ethtool', ...args])
}

/**
 * A netdevsim device made for one test file (`echo "ID PORTS QUEUES" > new_device`), moved with
 * its ports into the test's namespace, and removed in afterAll.
 */
export class Netdevsim {
  readonly id: number
  readonly handle: string
  /** `id` is the first one tried: test files run side by side, one may take it first. */
  constructor(id: number, ports: number, queues: number) {
    if (!existsSync('/sys/bus/netdevsim/new_device'))
      throw new Error('netdevsim is not loaded: lab tests run only inside the kernel lab guest')
    for (let tries = 1; ; tries++, id++) {
      try {
        writeFileSync('/sys/bus/netdevsim/new_device', `${id} ${ports} ${queues}`)
        break
      } catch (e) {
        // the kernel's answer to a taken id
        if ((e as NodeJS.ErrnoException).code !== 'ENOSPC' || tries === 8) throw e
      }
    }
    this.id = id
    this.handle = `netdevsim/netdevsim${id}`
  }
  get sysfs(): string {
    return `/sys/bus/netdevsim/devices/netdevsim${this.id}`
  }
  /** The debugfs folder of the device (mounting debugfs first if needed). */
  get debugfs(): string {
    if (!existsSync('/sys/kernel/debug/netdevsim'))
      run('mount', ['-t', 'debugfs', 'none', '/sys/kernel/debug'])
    return `/sys/kernel/debug/netdevsim/netdevsim${this.id}`
  }
  /** Netdevs of the device, by port index, wherever they are (from sysfs). */
  netdevNames(): string[] {
    const dir = `${this.sysfs}/net`
    return existsSync(dir) ? readdirSync(dir) : []
  }
  remove(): void {
    try {
      writeFileSync('/sys/bus/netdevsim/del_device', `${this.id}`)
    } catch {
      // already gone
    }
  }
}

/** A free netdevsim id (ids of existing devices are taken). */
export function freeNetdevsimId(): number {
  const taken = new Set(
    existsSync('/sys/bus/netdevsim/devices')
      ? readdirSync('/sys/bus/netdevsim/devices').map((d) => Number(d.replace('netdevsim', '')))
      : [],
  )
  let id = 100 + (process.pid % 800)
  while (taken.has(id)) id++
  return id
}

/** Network interfaces whose driver is `driver` (from sysfs, as `ethtool -i` reports it). */
export function interfacesByDriver(driver: string): string[] {
  return readdirSync('/sys/class/net').filter((n) => {
    try {
      return readlinkSync(`/sys/class/net/${n}/device/driver`).endsWith(`/${driver}`)
    } catch {
      try {
        return new RegExp(`^driver: ${driver}$`, 'm').test(sh('ethtool', ['-i', n]))
      } catch {
        return false
      }
    }
  })
}

export function readText(path: string): string {
  return readFileSync(path, 'utf8').trim()
}

/** `ethtool -x` text parsed: table, key, hash functions that are on, input transform. */
export function parseEthtoolX(text: string): {
  table: number[]
  key: string
  hfuncs: string[]
  inputXfrm: string[]
} {
  const table: number[] = []
  for (const m of text.matchAll(/^\s*\d+:((?:\s+\d+)+)\s*$/gm))
    table.push(...(m[1] ?? '').trim().split(/\s+/).map(Number))
  const key = /RSS hash key:\s*\n\s*([0-9a-f:]+)/i.exec(text)?.[1]?.replace(/:/g, '') ?? ''
  const section = (title: RegExp) => {
    const m = title.exec(text)
    if (!m) return []
    const rest = text.slice(m.index + m[0].length).split('\n')
    const on: string[] = []
    for (const line of rest) {
      const x = /^\s+(\S+):\s+(on|off)\s*$/.exec(line)
      if (!x) {
        if (line.trim() === '') continue
        break
      }
      if (x[2] === 'on') on.push(x[1] as string)
    }
    return on
  }
  return {
    table,
    key,
    hfuncs: section(/RSS hash function:\s*\n/),
    inputXfrm: section(/RSS input transformation:\s*\n/),
  }
}
