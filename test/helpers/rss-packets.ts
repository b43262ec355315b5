// Frame builders for the steering-program tests, and a minimal bitwise Toeplitz written
// independently of src/tuntap (the tests check the program against the library's `rssHash`,
// and the standard vectors against this).
import { isIPv4 } from 'node:net'

export function ipBytes(addr: string): Buffer {
  if (isIPv4(addr)) return Buffer.from(addr.split('.').map(Number))
  const [head, tail] = addr.includes('::') ? addr.split('::') : [addr, undefined]
  const h = head ? head.split(':') : []
  const t = tail ? tail.split(':') : []
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t]
  const b = Buffer.alloc(16)
  groups.forEach((g, i) => {
    b.writeUInt16BE(Number.parseInt(g || '0', 16), i * 2)
  })
  return b
}

/** Toeplitz hash of `input` with `key` (key bits past its end count as 0). */
export function toeplitz(key: Buffer, input: Buffer): number {
  const keyBit = (n: number) => (n >> 3 < key.length ? (key[n >> 3]! >> (7 - (n & 7))) & 1 : 0)
  let window = key.readUInt32BE(0)
  let next = 32
  let result = 0
  for (const byte of input) {
    for (let b = 7; b >= 0; b--) {
      if ((byte >> b) & 1) result = (result ^ window) >>> 0
      window = ((window << 1) | keyBit(next++)) >>> 0
    }
  }
  return result >>> 0
}

export const STANDARD_KEY = Buffer.from(
  '6d5a56da255b0ec24167253d43a38fb0d0ca2bcbae7b30b477cb2da38030f20c6a42b73bbeac01fa',
  'hex',
)

export type Ext =
  | { type: 'hop'; len8?: number }
  | { type: 'dst'; hao?: string; pad?: 'pad1' | 'padn' }
  | { type: 'rt2'; addr: string }
  | { type: 'rt0'; addrs: string[] }
  | { type: 'frag'; offset?: number; more?: boolean }

const EXT_NUM = { hop: 0, dst: 60, rt2: 43, rt0: 43, frag: 44 } as const

export interface PacketSpec {
  /** TPIDs of VLAN tags, outermost first (e.g. [0x88a8, 0x8100]). */
  vlan?: number[]
  ip:
    | {
        v: 4
        src: string
        dst: string
        proto: number
        /** IPv4 options (padded to 4 bytes). */
        options?: Buffer
        mf?: boolean
        fragOffset?: number
        df?: boolean
      }
    | { v: 6; src: string; dst: string; proto: number; ext?: Ext[] }
  /** Ports for TCP (6) or UDP (17). */
  ports?: { src: number; dst: number }
  payload?: Buffer
  /** Cut the frame to this length (after building). */
  truncate?: number
}

function extHeader(e: Ext, next: number): Buffer {
  switch (e.type) {
    case 'hop': {
      const n = e.len8 ?? 0
      const b = Buffer.alloc((n + 1) * 8)
      b[0] = next
      b[1] = n
      b[2] = 1 // PadN covering the rest
      b[3] = b.length - 4
      return b
    }
    case 'dst': {
      const opts: Buffer[] = []
      if (e.hao) {
        // HAO wants 8n+6 alignment: 4 bytes of padding after the 2-byte header
        opts.push(e.pad === 'pad1' ? Buffer.alloc(4) : Buffer.from([1, 2, 0, 0]))
        opts.push(Buffer.concat([Buffer.from([0xc9, 16]), ipBytes(e.hao)]))
      } else {
        opts.push(Buffer.from([0x1e, 2, 0xaa, 0xbb])) // an unknown option (skippable)
      }
      let body = Buffer.concat(opts)
      const total = Math.ceil((body.length + 2) / 8) * 8
      const padLen = total - 2 - body.length
      if (padLen === 1) body = Buffer.concat([body, Buffer.alloc(1)])
      else if (padLen > 1)
        body = Buffer.concat([body, Buffer.from([1, padLen - 2]), Buffer.alloc(padLen - 2)])
      return Buffer.concat([Buffer.from([next, total / 8 - 1]), body])
    }
    case 'rt2':
      return Buffer.concat([Buffer.from([next, 2, 2, 1, 0, 0, 0, 0]), ipBytes(e.addr)])
    case 'rt0':
      return Buffer.concat([
        Buffer.from([next, e.addrs.length * 2, 0, e.addrs.length, 0, 0, 0, 0]),
        ...e.addrs.map(ipBytes),
      ])
    case 'frag': {
      const b = Buffer.alloc(8)
      b[0] = next
      b.writeUInt16BE(((e.offset ?? 0) << 3) | (e.more ? 1 : 0), 2)
      b.writeUInt32BE(0x12345678, 4)
      return b
    }
  }
}

export function buildFrame(spec: PacketSpec): Buffer {
  const payload = spec.payload ?? Buffer.alloc(8, 0x5a)
  let l4: Buffer = payload
  if (spec.ports && (spec.ip.proto === 6 || spec.ip.proto === 17)) {
    const h = Buffer.alloc(spec.ip.proto === 6 ? 20 : 8)
    h.writeUInt16BE(spec.ports.src, 0)
    h.writeUInt16BE(spec.ports.dst, 2)
    if (spec.ip.proto === 6) h[12] = 5 << 4
    else h.writeUInt16BE(8 + payload.length, 4)
    l4 = Buffer.concat([h, payload])
  }
  let l3: Buffer
  let ethertype: number
  if (spec.ip.v === 4) {
    const opts = spec.ip.options ?? Buffer.alloc(0)
    const h = Buffer.alloc(20 + opts.length)
    h[0] = 0x40 | ((20 + opts.length) / 4)
    h.writeUInt16BE(h.length + l4.length, 2)
    h.writeUInt16BE(
      (spec.ip.df ? 0x4000 : 0) | (spec.ip.mf ? 0x2000 : 0) | ((spec.ip.fragOffset ?? 0) & 0x1fff),
      6,
    )
    h[8] = 64
    h[9] = spec.ip.proto
    ipBytes(spec.ip.src).copy(h, 12)
    ipBytes(spec.ip.dst).copy(h, 16)
    opts.copy(h, 20)
    l3 = Buffer.concat([h, l4])
    ethertype = 0x0800
  } else {
    const ext = spec.ip.ext ?? []
    const parts: Buffer[] = []
    for (let i = 0; i < ext.length; i++) {
      const next = i + 1 < ext.length ? EXT_NUM[ext[i + 1]!.type] : spec.ip.proto
      parts.push(extHeader(ext[i]!, next))
    }
    const body = Buffer.concat([...parts, l4])
    const h = Buffer.alloc(40)
    h.writeUInt32BE(0x60000000, 0)
    h.writeUInt16BE(body.length, 4)
    h[6] = ext.length > 0 ? EXT_NUM[ext[0]!.type] : spec.ip.proto
    h[7] = 64
    ipBytes(spec.ip.src).copy(h, 8)
    ipBytes(spec.ip.dst).copy(h, 24)
    l3 = Buffer.concat([h, body])
    ethertype = 0x86dd
  }
  const tags = spec.vlan ?? []
  const eth = Buffer.alloc(14 + tags.length * 4)
  Buffer.from('ffffffffffff020000000001', 'hex').copy(eth, 0)
  tags.forEach((tpid, i) => {
    eth.writeUInt16BE(tpid, 12 + i * 4)
    eth.writeUInt16BE(100 + i, 14 + i * 4)
  })
  eth.writeUInt16BE(ethertype, 12 + tags.length * 4)
  const frame = Buffer.concat([eth, l3])
  return spec.truncate !== undefined ? frame.subarray(0, spec.truncate) : frame
}

/** A small deterministic PRNG (mulberry32) for reproducible random frames. */
export function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** A random frame of any kind the program handles (and some it does not). */
export function randomSpec(rand: () => number): PacketSpec {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!
  const byte = () => Math.floor(rand() * 256)
  const v4 = () => [byte(), byte(), byte(), byte()].join('.')
  const v6 = () =>
    Array.from({ length: 8 }, () =>
      Math.floor(rand() * 65536)
        .toString(16)
        .padStart(4, '0'),
    ).join(':')
  const port = () => Math.floor(rand() * 65536)
  const proto = pick([6, 6, 17, 17, 1, 58])
  const vlan = pick([[], [], [0x8100], [0x88a8, 0x8100]])
  const ports = { src: port(), dst: port() }
  if (rand() < 0.5) {
    const frag = rand() < 0.15
    return {
      vlan,
      ip: {
        v: 4,
        src: v4(),
        dst: v4(),
        proto,
        options: rand() < 0.2 ? Buffer.alloc(4 * (1 + Math.floor(rand() * 4)), 1) : undefined,
        mf: frag && rand() < 0.5,
        fragOffset: frag ? Math.floor(rand() * 100) : 0,
        df: rand() < 0.5,
      },
      ports,
    }
  }
  const ext: Ext[] = []
  const n = pick([0, 0, 1, 2, 3])
  for (let i = 0; i < n; i++) {
    const kind = pick(['hop', 'dst', 'dst', 'rt2', 'rt0', 'frag'] as const)
    if (kind === 'hop') ext.push({ type: 'hop', len8: Math.floor(rand() * 3) })
    else if (kind === 'dst')
      ext.push(
        rand() < 0.7 ? { type: 'dst', hao: v6(), pad: pick(['pad1', 'padn'] as const) } : { type: 'dst' },
      )
    else if (kind === 'rt2') ext.push({ type: 'rt2', addr: v6() })
    else if (kind === 'rt0') ext.push({ type: 'rt0', addrs: [v6()] })
    else ext.push({ type: 'frag', offset: Math.floor(rand() * 4), more: rand() < 0.5 })
  }
  return { vlan, ip: { v: 6, src: v6(), dst: v6(), proto, ext }, ports }
}
