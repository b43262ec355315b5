// virtio-net hash types (VIRTIO_NET_RSS_HASH_TYPE_*, bit numbers) and hash report values
// (VIRTIO_NET_HASH_REPORT_*), with conversions between names, bits and masks. No I/O.

/** Hash type names, in virtio bit order (bit 0 .. bit 8). */
export const HASH_TYPES = [
  'ipv4',
  'tcpv4',
  'udpv4',
  'ipv6',
  'tcpv6',
  'udpv6',
  'ipv6_ex',
  'tcpv6_ex',
  'udpv6_ex',
] as const

/** A hash type: `ipv6_ex`, `tcpv6_ex`, `udpv6_ex` are virtio's IP_EX, TCP_EX, UDP_EX. */
export type HashType = (typeof HASH_TYPES)[number]

/** Bit number of each hash type in virtio's `hash_types` / the tun ioctls' masks: its position. */
export const HASH_TYPE_BIT = Object.fromEntries(HASH_TYPES.map((t, bit) => [t, bit])) as Readonly<
  Record<HashType, number>
>

/** Every defined hash type bit (0x1ff). */
export const ALL_HASH_TYPES_MASK = 0x1ff

/** Hash report names, by report value (0 .. 9): `none`, then each hash type at its bit + 1. */
export const HASH_REPORTS = ['none', ...HASH_TYPES] as const

/** What a computed hash covered (`hash_report` in the vnet header); `none` when nothing was hashed. */
export type HashReport = (typeof HASH_REPORTS)[number]

/** `VIRTIO_NET_HASH_REPORT_*` value of each report name: its position. */
export const HASH_REPORT_VALUE = Object.fromEntries(HASH_REPORTS.map((r, value) => [r, value])) as Readonly<
  Record<HashReport, number>
>

/** The report name of a `hash_report` value, or undefined for values virtio does not define. */
export function hashReportName(value: number): HashReport | undefined {
  return HASH_REPORTS[value]
}

/** The report a hash of the given type produces (virtio: report = bit + 1). */
export function reportForHashType(type: HashType): Exclude<HashReport, 'none'> {
  return type
}

/** Mask of the given hash types. */
export function hashTypesToMask(types: Iterable<HashType>): number {
  let mask = 0
  for (const t of types) mask |= 1 << HASH_TYPE_BIT[t]
  return mask >>> 0
}

/** Hash types set in `mask`, in bit order. Bits virtio does not define are ignored. */
export function maskToHashTypes(mask: number): HashType[] {
  return HASH_TYPES.filter((_, bit) => (mask >>> bit) & 1)
}

/** Bits in `mask` that virtio does not define (non-zero means a newer or broken peer). */
export function unknownHashTypeBits(mask: number): number {
  return (mask & ~ALL_HASH_TYPES_MASK) >>> 0
}
