export * from './multicast.ts'
export * from './netlink-socket.ts'
