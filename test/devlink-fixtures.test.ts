import { readFileSync } from 'node:fs'
import { expect, test } from 'vitest'
import { devlinkAttrs } from '../src/devlink/attrs.ts'
import { fmsgTree, toDevlinkEvent } from '../src/devlink/index.ts'
import {
  toDevice,
  toEswitch,
  toHealthReporter,
  toInfo,
  toParam,
  toPort,
  toRate,
  toResources,
  toTrap,
} from '../src/devlink/model.ts'
import { DecodeError, type NetlinkMessage } from '../src/netlink/codec/index.ts'
import { decodeGeneric } from '../src/netlink/generic/index.ts'

// Replies a Debian 6.12 kernel sent for a netdevsim device (2 ports, switchdev with 2 VFs, a rate
// node with one VF under it, a health error reported and auto-recovered), recorded in the kernel lab. They pin the
// typed results on this host, where no kernel has devlink, and seed a mutation test.
const fixtures = readFileSync(new URL('./fixtures/devlink-netdevsim.hex', import.meta.url), 'utf8')
  .trim()
  .split('\n')
  .map((l) => {
    const [label = '', hex = ''] = l.split(' ')
    return { label, payload: Buffer.from(hex, 'hex') }
  })

const msg = (payload: Buffer): NetlinkMessage => ({ type: 0x20, flags: 0, seq: 0, pid: 0, payload })
const decode = (label: string) =>
  fixtures.filter((f) => f.label === label).map((f) => decodeGeneric(devlinkAttrs, msg(f.payload)))

const mappers: Record<string, (a: ReturnType<typeof decodeGeneric<typeof devlinkAttrs.decls>>) => unknown> = {
  dev: toDevice,
  info: toInfo,
  param: toParam,
  port: toPort,
  eswitch: toEswitch,
  health: toHealthReporter,
  diagnose: (a) => fmsgTree(a.fmsg ?? []),
  healthdump: (a) => fmsgTree(a.fmsg ?? []),
  rate: toRate,
  resource: (a) => toResources(a.resourceList),
  trap: toTrap,
}

test('recorded netdevsim replies decode to the typed objects devlink -j showed', () => {
  const H = 'netdevsim/netdevsim10'
  expect(decode('dev').map(toDevice)).toMatchObject([{ handle: H, reloadFailed: false }])
  expect(decode('info').map(toInfo)).toEqual([
    expect.objectContaining({ handle: H, driver: 'netdevsim', versions: expect.any(Object) }),
  ])
  expect(decode('param').map(toParam)).toEqual([
    { handle: H, name: 'max_macs', generic: true, type: 'u32', values: [{ cmode: 'driverinit', value: 32 }] },
    {
      handle: H,
      name: 'test1',
      generic: false,
      type: 'bool',
      values: [{ cmode: 'driverinit', value: true }],
    },
  ])
  const ports = decode('port').map(toPort)
  expect(ports.map((p) => [p.handle, p.flavour])).toEqual([
    [`${H}/0`, 'physical'],
    [`${H}/1`, 'physical'],
    [`${H}/128`, 'pcivf'],
    [`${H}/129`, 'pcivf'],
  ])
  expect(decode('eswitch').map(toEswitch)).toMatchObject([{ handle: H, mode: 'switchdev' }])
  const health = decode('health').map(toHealthReporter)
  expect(health.map((h) => [h.name, h.state])).toEqual([
    ['empty', 'healthy'],
    ['dummy', 'healthy'],
  ])
  // The reported error was recovered at once (auto-recover is on by default).
  expect(health[1]).toMatchObject({ errorCount: 1, recoverCount: 1, autoRecover: true })
  const [dump] = decode('healthdump').map((a) => fmsgTree(a.fmsg ?? []))
  expect(dump).toMatchObject({ break_message: 'boom', test_u32_array: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9] })
  const [diag] = decode('diagnose').map((a) => fmsgTree(a.fmsg ?? []))
  expect(diag).toMatchObject({
    test_bool: true,
    test_u8: 1,
    test_u32: 3,
    test_u64: 4,
    test_string: 'somestring',
  })
  // `devlink -j port function rate show` printed tx_share 1250000 for the node, tx_max 2500000 and
  // parent group1 for VF 128: the same numbers, in bytes per second.
  expect(decode('rate').map(toRate)).toEqual(
    expect.arrayContaining([
      expect.objectContaining({ handle: `${H}/group1`, type: 'node', txShare: 1_250_000 }),
      expect.objectContaining({ handle: `${H}/128`, type: 'leaf', txMax: 2_500_000, parent: 'group1' }),
    ]),
  )
  const [resources] = decode('resource').map((a) => toResources(a.resourceList))
  expect(resources?.map((r) => r.name)).toEqual(expect.arrayContaining(['IPv4', 'IPv6']))
  expect(resources?.find((r) => r.name === 'IPv4')?.size).toBe('unlimited')
  expect(decode('trap').length).toBe(14)
  // Notifications share the mapping.
  expect(toDevlinkEvent(7, decode('port')[0]!)).toMatchObject({ type: 'port', port: { handle: `${H}/0` } })
})

function rng(seed: number) {
  let s = seed >>> 0 || 1
  return (n: number) => {
    s ^= s << 13
    s >>>= 0
    s ^= s >>> 17
    s ^= s << 5
    s >>>= 0
    return s % n
  }
}

test('50,000 mutated devlink replies map to typed objects or DecodeError, nothing else', () => {
  const r = rng(0xde71)
  let ok = 0
  let rejected = 0
  for (let i = 0; i < 50_000; i++) {
    const f = fixtures[r(fixtures.length)]!
    const b = Buffer.from(f.payload)
    for (let e = 1 + r(4); e > 0; e--) {
      const at = r(b.length)
      if (r(3) === 0 && at + 1 < b.length) b.writeUInt16LE(r(0x200), at & ~1)
      else b[at] = r(256)
    }
    const input = r(10) === 0 ? b.subarray(0, r(b.length)) : b
    try {
      mappers[f.label]!(decodeGeneric(devlinkAttrs, msg(input)))
      ok++
    } catch (e) {
      if (!(e instanceof DecodeError))
        throw new Error(`iteration ${i} (${f.label}): ${String(e)} for ${input.toString('hex')}`)
      rejected++
    }
  }
  expect(ok).toBeGreaterThan(5_000)
  expect(rejected).toBeGreaterThan(1_000)
})
