export * from './device-state.ts'
export type { DevlinkInstance } from './devlink-tracker.ts'
export { deepEqual } from './equal.ts'
export type { DeviceEthtool } from './ethtool-tracker.ts'
