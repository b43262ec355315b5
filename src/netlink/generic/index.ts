export * from './generic-socket.ts'
export * from './nlctrl.ts'
