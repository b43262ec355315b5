export * from './device-state.ts'
export { deepEqual } from './equal.ts'
