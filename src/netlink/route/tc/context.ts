import { z } from 'zod'
import { type DeviceRef, deviceSchema } from '../link-schema.ts'

/** A BPF program for a bpf filter or action: an fd the caller owns, or a path on a bpffs. */
export const bpfProgramSchema = z.union([
  z.object({ fd: z.number().int().nonnegative() }).strict(),
  z
    .object({ pinned: z.string().min(1).startsWith('/', 'a pinned program is an absolute path on a bpffs') })
    .strict(),
])
export type BpfProgramRef = z.input<typeof bpfProgramSchema>

export { type DeviceRef, deviceSchema }

/** A device as far as tc needs to know it. */
export interface DeviceInfo {
  index: number
  name: string
  numTxQueues?: number
}

/**
 * What encoding needs from outside a spec: the ifindex of every device it names and an fd for
 * every BPF program. TcApi resolves these before encoding; byte-level tests pass fixed values.
 */
export interface EncodeContext {
  ifindex(dev: DeviceRef): number
  programFd(program: BpfProgramRef): number
}

/** Everything a spec refers to that must be resolved first. */
export interface Refs {
  devices: DeviceRef[]
  programs: BpfProgramRef[]
}

/** A fixed context: names map to the given indexes, programs to their fd (or `pinnedFd`). */
export function staticContext(devices: Record<string, number>, pinnedFd = -1): EncodeContext {
  return {
    ifindex(dev) {
      if (typeof dev === 'number') return dev
      const i = devices[dev]
      if (i === undefined) throw new Error(`no index for device ${dev}`)
      return i
    },
    programFd(p) {
      return 'fd' in p ? p.fd : pinnedFd
    },
  }
}
