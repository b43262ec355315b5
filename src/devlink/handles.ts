import { z } from 'zod'

/**
 * devlink objects as users write them: `bus/device` (`netdevsim/netdevsim10`,
 * `pci/0000:03:00.0`), ports as `bus/device/index`, rate nodes as `bus/device/name`.
 */

const segment = /^[^/\s]+$/

export const deviceHandleSchema = z
  .string()
  .regex(/^[^/\s]+\/[^/\s]+$/, 'a devlink device is written bus/device, e.g. netdevsim/netdevsim10')
/** A devlink instance as `bus/device`, e.g. `netdevsim/netdevsim10` or `pci/0000:03:00.0`. */
export type DeviceHandle = z.input<typeof deviceHandleSchema>

export const portHandleSchema = z
  .string()
  .regex(
    /^[^/\s]+\/[^/\s]+\/\d+$/,
    'a devlink port is written bus/device/index, e.g. netdevsim/netdevsim10/0',
  )
/** A devlink port as `bus/device/index`, e.g. `netdevsim/netdevsim10/0`. */
export type PortHandle = z.input<typeof portHandleSchema>

/** A rate object: a port's leaf (`bus/device/index`) or a node (`bus/device/name`). */
export const rateHandleSchema = z
  .string()
  .regex(
    /^[^/\s]+\/[^/\s]+\/[^/\s]+$/,
    'a rate object is written bus/device/port-index or bus/device/node-name',
  )
/** A rate object: a port leaf (`bus/device/port-index`) or a node (`bus/device/node-name`). */
export type RateHandle = z.input<typeof rateHandleSchema>

export const nodeNameSchema = z
  .string()
  .regex(segment, 'a rate node name has no "/" or spaces')
  .refine((s) => !/^\d+$/.test(s), 'a rate node name cannot be all digits (that would name a port)')

export interface Dev {
  busName: string
  devName: string
}

export function splitDevice(handle: string): Dev {
  const [busName = '', devName = ''] = handle.split('/')
  return { busName, devName }
}

export function splitPort(handle: string): Dev & { portIndex: number } {
  const [busName = '', devName = '', port = ''] = handle.split('/')
  return { busName, devName, portIndex: Number(port) }
}

/** A rate handle's device and either its port index (leaf) or its node name. */
export function splitRate(handle: string): Dev & ({ portIndex: number } | { rateNodeName: string }) {
  const [busName = '', devName = '', last = ''] = handle.split('/')
  return /^\d+$/.test(last)
    ? { busName, devName, portIndex: Number(last) }
    : { busName, devName, rateNodeName: last }
}

export function joinHandle(a: { busName?: string | undefined; devName?: string | undefined }): string {
  return `${a.busName ?? ''}/${a.devName ?? ''}`
}
