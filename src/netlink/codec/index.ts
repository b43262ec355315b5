// I/O-free netlink codec: message framing, attribute sets, C structs, extended acks.
export * from './attrs.ts'
export * from './errors.ts'
export * from './message.ts'
export * from './netlink-error.ts'
export * from './request.ts'
export * from './sequence.ts'
export * from './struct.ts'
export { Writer } from './writer.ts'
