import { describe, expect, it } from 'vitest'
import { closeFd, eventFd, poller, readFd, writeFd } from '../src/netlink/sys/index.ts'

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
})
