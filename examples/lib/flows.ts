// Test traffic for the examples: one frame per flow, marked so a reader can tell ours from the
// few frames the kernel sends by itself, and numbered so each can be traced back to its flow.

const MAGIC = 0x52584e4c // "RXNL"

export interface FlowOptions {
  /** IPv6 instead of IPv4 (default: odd flows are IPv6). */
  v6?: boolean
  /** UDP instead of TCP (default: flows 2 and 3 of every 4 are UDP). */
  udp?: boolean
  /** Destination port (default 443 for TCP, 53 for UDP). */
  dport?: number
}

/** Ethernet + IPv4/IPv6 + TCP/UDP frame of flow `n`, ending with the marker and `n`. */
export function flowFrame(n: number, o: FlowOptions = {}): Buffer {
  const v6 = o.v6 ?? n % 2 === 1
  const udp = o.udp ?? n % 4 >= 2
  const l4 = Buffer.alloc((udp ? 8 : 20) + 8)
  l4.writeUInt16BE(1024 + (n % 60000), 0)
  l4.writeUInt16BE(o.dport ?? (udp ? 53 : 443), 2)
  if (udp) l4.writeUInt16BE(l4.length, 4)
  else l4[12] = 5 << 4
  l4.writeUInt32BE(MAGIC, l4.length - 8)
  l4.writeUInt32BE(n, l4.length - 4)
  const ip = Buffer.alloc(v6 ? 40 : 20)
  if (v6) {
    ip.writeUInt32BE(0x60000000, 0)
    ip.writeUInt16BE(l4.length, 4)
    ip[6] = udp ? 17 : 6
    ip[7] = 64
    Buffer.from('20010db8000000000000000000000000', 'hex').copy(ip, 8)
    ip.writeUInt32BE(n, 20)
    Buffer.from('20010db8000000010000000000000001', 'hex').copy(ip, 24)
  } else {
    ip[0] = 0x45
    ip.writeUInt16BE(20 + l4.length, 2)
    ip[8] = 64
    ip[9] = udp ? 17 : 6
    ip.writeUInt32BE((10 << 24) | (n & 0xffffff), 12)
    ip.writeUInt32BE(0xc0a80001, 16)
  }
  const eth = Buffer.alloc(14)
  Buffer.from('020000000002020000000001', 'hex').copy(eth, 0)
  eth.writeUInt16BE(v6 ? 0x86dd : 0x0800, 12)
  return Buffer.concat([eth, ip, l4])
}

/** The flow number of one of our frames, or undefined for anything else. */
export function flowOf(frame: Buffer): number | undefined {
  if (frame.length < 8 || frame.readUInt32BE(frame.length - 8) !== MAGIC) return undefined
  return frame.readUInt32BE(frame.length - 4)
}
