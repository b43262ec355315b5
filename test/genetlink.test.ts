import { afterAll, beforeAll, expect, test } from 'vitest'
import { attrSet } from '../src/netlink/codec/index.ts'
import { FamilyNotFoundError, GenericSocket } from '../src/netlink/generic/index.ts'
import { TestNetns } from './helpers/netns.ts'

let ns: TestNetns
beforeAll(() => {
  ns = new TestNetns('genl')
})
afterAll(() => ns?.remove())

const none = attrSet('none', {})

test('nlctrl resolves a family with its operations and multicast groups', async () => {
  using ethtool = await GenericSocket.open('ethtool', none, { netns: ns.name })
  expect(ethtool.family.id).toBeGreaterThan(0x10)
  expect(ethtool.family.groups.has('monitor')).toBe(true)
  // ETHTOOL_MSG_CHANNELS_GET (17) can be done and dumped.
  expect(ethtool.supports(17, 'do')).toBe(true)
  expect(ethtool.supports(17, 'dump')).toBe(true)
  expect(ethtool.supports(250)).toBe(false)
})

test('an absent family is a clear error naming it', async () => {
  const err = await GenericSocket.open('no-such-family', none, { netns: ns.name }).catch((e: unknown) => e)
  expect(err).toBeInstanceOf(FamilyNotFoundError)
  expect((err as Error).message).toBe(
    "generic netlink family 'no-such-family' is not available in this kernel",
  )
})
