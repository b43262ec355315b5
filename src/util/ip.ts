import { isIPv4, isIPv6 } from 'node:net'

/** Parses a textual IPv4 or IPv6 address into its network-order bytes; undefined if invalid. */
export function parseIp(text: string): Uint8Array | undefined {
  if (isIPv4(text)) return Uint8Array.from(text.split('.').map(Number))
  if (!isIPv6(text)) return undefined
  let s = text
  const out = new Uint8Array(16)
  // An embedded IPv4 tail (::ffff:1.2.3.4) becomes two hex groups.
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(s)
  if (v4?.[1]) {
    const b = v4[1].split('.').map(Number) as [number, number, number, number]
    s = `${s.slice(0, -v4[1].length)}${((b[0] << 8) | b[1]).toString(16)}:${((b[2] << 8) | b[3]).toString(16)}`
  }
  const [head = '', tail] = s.split('::') as [string, string | undefined]
  const h = head ? head.split(':') : []
  const t = tail ? tail.split(':') : []
  const groups =
    tail === undefined ? h : [...h, ...new Array<string>(8 - h.length - t.length).fill('0'), ...t]
  groups.forEach((g, i) => {
    const n = Number.parseInt(g, 16)
    out[2 * i] = n >> 8
    out[2 * i + 1] = n & 0xff
  })
  return out
}

/** `10.0.0.1/24` → address bytes and prefix length (default: full length). */
export function parsePrefix(text: string): { address: Uint8Array; prefixLength: number } | undefined {
  const [addr = '', len] = text.split('/')
  const address = parseIp(addr)
  if (!address) return undefined
  const max = address.length * 8
  const prefixLength = len === undefined ? max : Number(len)
  if (!/^\d+$/.test(len ?? String(max)) || prefixLength > max) return undefined
  return { address, prefixLength }
}
