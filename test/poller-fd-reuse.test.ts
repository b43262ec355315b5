import { describe, expect, it } from 'vitest'
import {
  AF_UNIX,
  closeFd,
  eventFd,
  poller,
  readFd,
  SOCK_CLOEXEC,
  SOCK_NONBLOCK,
  SOCK_STREAM,
  socketPair,
  writeFd,
} from '../src/netlink/sys/index.ts'

const one = Buffer.alloc(8)
one.writeBigUInt64LE(1n)
/** Keeps the JS thread busy so the poll thread runs on its own meanwhile. */
const spin = (ms: number) => {
  const end = Date.now() + ms
  while (Date.now() < end) {
    // busy
  }
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

describe('poller', () => {
  it('a new watch on a reused fd number survives a poll that saw the old file closed (POLLNVAL)', async () => {
    let lost = 0
    for (let round = 0; round < 20; round++) {
      const a = eventFd()
      poller.watch(a, () => {})() // the poll armed with `a` may start only after the close below
      closeFd(a)
      spin(5)
      const b = eventFd() // gets a's number
      let got = false
      const unwatch = poller.watch(b, () => {
        if (readFd(b, Buffer.alloc(8)) !== null) got = true
      })
      await sleep(5)
      writeFd(b, one)
      const deadline = Date.now() + 1000
      while (!got && Date.now() < deadline) await sleep(2)
      unwatch()
      closeFd(b)
      if (!got) lost++
    }
    expect(lost).toBe(0)
  })

  it('never calls back inside watch(): an fd already readable is reported once watch() has returned', async () => {
    for (let round = 0; round < 5; round++) {
      await sleep(20) // the poller has stopped: watch() starts it
      const fd = eventFd()
      writeFd(fd, one)
      let returned = false
      let early = false
      let unwatch = (): void => {}
      await new Promise<void>((resolve) => {
        unwatch = poller.watch(fd, () => {
          if (!returned) early = true
          readFd(fd, Buffer.alloc(8))
          resolve()
        })
        returned = true
      })
      unwatch()
      closeFd(fd)
      expect(early).toBe(false)
    }
  })

  it('lets what a callback settled run before polling again (an owner can stop wanting in time)', async () => {
    // Two bytes queued; each call takes one and hands it to whoever waits. The waiter takes one
    // and unwatches: the fd must not be reported again before the waiter has run.
    const [a, b] = socketPair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC)
    try {
      writeFd(a, Buffer.from('xy'))
      let calls = 0
      let unwatch = (): void => {}
      const first = await new Promise<string>((resolve) => {
        unwatch = poller.watch(b, () => {
          calls++
          const byte = Buffer.alloc(1)
          if (readFd(b, byte) !== null) resolve(byte.toString())
        })
      })
      unwatch()
      expect(first).toBe('x')
      expect(calls).toBe(1)
    } finally {
      closeFd(a)
      closeFd(b)
    }
  })
})
