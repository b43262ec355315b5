import { describe, expect, test } from 'vitest'
import { type DevlinkAttrs, devlinkAttrs } from '../src/devlink/attrs.ts'
import { DevlinkClient, type DevlinkTransport, fmsgTree, toDevlinkEvent } from '../src/devlink/index.ts'
import { encodeRequest, messageSpec, NLMSG_HDRLEN } from '../src/netlink/codec/index.ts'
import { decodeGeneric, genlmsghdr } from '../src/netlink/generic/index.ts'
import { InvalidInputError } from '../src/netlink/validate.ts'

// No kernel here has devlink (and the devlink tool stops before sending when the family is
// missing), so these requests are checked against bytes written out by hand from the UAPI
// layout: nlattr = u16 len (header + payload, unpadded), u16 type, payload, zero pad to 4.

const FAMILY = 0x1234
const spec = messageSpec(genlmsghdr, devlinkAttrs)

/** One attribute, by hand. */
function nla(type: number, payload: Buffer | string): Buffer {
  const p = typeof payload === 'string' ? Buffer.from(payload.replace(/\s+/g, ''), 'hex') : payload
  const h = Buffer.alloc(4)
  h.writeUInt16LE(4 + p.length, 0)
  h.writeUInt16LE(type, 2)
  const padded = Buffer.alloc((4 + p.length + 3) & ~3)
  Buffer.concat([h, p]).copy(padded)
  return padded
}
const str = (s: string) => Buffer.from(`${s}\0`)
const u8 = (v: number) => Buffer.from([v])
const u16 = (v: number) => Buffer.from([v & 0xff, v >> 8])
const u32 = (v: number) => {
  const b = Buffer.alloc(4)
  b.writeUInt32LE(v)
  return b
}
const u64 = (v: bigint) => {
  const b = Buffer.alloc(8)
  b.writeBigUInt64LE(v)
  return b
}
const NESTED = 0x8000
/** genlmsghdr (cmd, version 1) + attributes: the payload after nlmsghdr. */
const genl = (cmd: number, ...attrs: Buffer[]) => Buffer.concat([Buffer.from([cmd, 1, 0, 0]), ...attrs])
const handle = [nla(1, str('netdevsim')), nla(2, str('netdevsim10'))]

/** A transport that records each request's bytes and answers from canned replies. */
class Recorder implements DevlinkTransport {
  sent: Array<{ cmd: number; dump: boolean; bytes: Buffer }> = []
  constructor(private readonly replies: Record<number, Buffer[]> = {}) {}
  private record(cmd: number, attrs: DevlinkAttrs, dump: boolean) {
    const req = encodeRequest(spec, FAMILY, 0, { cmd, version: 1 }, attrs)
    expect(req.bytes.readUInt32LE(0)).toBe(req.bytes.length)
    expect(req.bytes.readUInt16LE(4)).toBe(FAMILY)
    this.sent.push({ cmd, dump, bytes: Buffer.from(req.bytes.subarray(NLMSG_HDRLEN)) })
    return (this.replies[cmd] ?? []).map((payload) => {
      const hdr = Buffer.alloc(NLMSG_HDRLEN)
      hdr.writeUInt32LE(NLMSG_HDRLEN + payload.length, 0)
      hdr.writeUInt16LE(FAMILY, 4)
      return decodeGeneric(devlinkAttrs, {
        type: FAMILY,
        flags: 0,
        seq: 1,
        pid: 0,
        payload: Buffer.concat([payload]),
      })
    })
  }
  async request(cmd: number, attrs: DevlinkAttrs): Promise<DevlinkAttrs[]> {
    return this.record(cmd, attrs, false)
  }
  async dump(cmd: number, attrs: DevlinkAttrs): Promise<DevlinkAttrs[]> {
    return this.record(cmd, attrs, true)
  }
  supports(): boolean {
    return true
  }
  close(): void {}
  last(cmd: number): Buffer {
    const r = [...this.sent].reverse().find((s) => s.cmd === cmd)
    if (!r) throw new Error(`no request ${cmd} was sent`)
    return r.bytes
  }
}

const CMD = { PARAM_GET: 38, PARAM_SET: 39, RELOAD: 37, RATE_GET: 74, RATE_SET: 75, RATE_NEW: 76 } as const

/** A PARAM_GET reply as the kernel builds it: DEVLINK_ATTR_PARAM { name, [generic], type, values }. */
function paramReply(
  name: string,
  type: number,
  values: Array<[cmode: number, data?: Buffer]>,
  generic = false,
) {
  const valueNests = values.map(([cmode, data]) =>
    nla(85 | NESTED, Buffer.concat([nla(87, u8(cmode)), ...(data !== undefined ? [nla(86, data)] : [])])),
  )
  return genl(
    CMD.PARAM_GET,
    ...handle,
    nla(
      80 | NESTED,
      Buffer.concat([
        nla(81, str(name)),
        ...(generic ? [nla(82, Buffer.alloc(0))] : []),
        nla(83, u8(type)),
        nla(84 | NESTED, Buffer.concat(valueNests)),
      ]),
    ),
  )
}

describe('devlink request bytes, as `devlink` would send them', () => {
  test('dev param set netdevsim/netdevsim10 name max_macs value 16 cmode driverinit', async () => {
    const t = new Recorder({ [CMD.PARAM_GET]: [paramReply('max_macs', 3, [[1, u32(32)]], true)] })
    const dl = DevlinkClient.overTransport(t)
    await dl.params.set('netdevsim/netdevsim10', 'max_macs', 16, { cmode: 'driverinit' })
    // Written out in full once: genlmsghdr, then each attribute.
    expect(t.last(CMD.PARAM_SET).toString('hex')).toBe(
      [
        '27010000', // cmd 39 PARAM_SET, version 1
        '0e000100',
        '6e657464657673696d000000', // BUS_NAME "netdevsim"
        '10000200',
        '6e657464657673696d313000', // DEV_NAME "netdevsim10"
        '0d005100',
        '6d61785f6d61637300000000', // PARAM_NAME (81) "max_macs"
        '05005300',
        '03000000', // PARAM_TYPE (83) u8 NLA_U32
        '08005600',
        '10000000', // PARAM_VALUE_DATA (86) u32 16
        '05005700',
        '01000000', // PARAM_VALUE_CMODE (87) driverinit
      ].join(''),
    )
    // It read the parameter (its type) first: a PARAM_GET of exactly that parameter.
    expect(t.sent[0]?.bytes).toEqual(genl(CMD.PARAM_GET, ...handle, nla(81, str('max_macs'))))
  })

  test('param values of every type: u8, u16, u32, u64, string, bool true and false', async () => {
    const cases: Array<[string, number, number | bigint | string | boolean, Buffer | undefined]> = [
      ['p_u8', 1, 200, u8(200)],
      ['p_u16', 2, 0xbeef, u16(0xbeef)],
      ['p_u32', 3, 0xdeadbeef, u32(0xdeadbeef)],
      ['p_u64', 4, 2n ** 40n + 5n, u64(2n ** 40n + 5n)],
      ['p_str', 5, 'hello', str('hello')],
      ['p_on', 6, true, Buffer.alloc(0)], // a bool is a flag: present, no payload
      ['p_off', 6, false, undefined], // false: no data attribute at all
    ]
    for (const [name, type, value, data] of cases) {
      const t = new Recorder({ [CMD.PARAM_GET]: [paramReply(name, type, [[0, data]])] })
      const dl = DevlinkClient.overTransport(t)
      const p = await dl.params.set('netdevsim/netdevsim10', name, value)
      expect(t.last(CMD.PARAM_SET)).toEqual(
        genl(
          CMD.PARAM_SET,
          ...handle,
          nla(81, str(name)),
          nla(83, u8(type)),
          ...(data !== undefined ? [nla(86, data)] : []),
          nla(87, u8(0)),
        ),
      )
      // And the reply decodes to the typed value.
      expect(p).toMatchObject({
        handle: 'netdevsim/netdevsim10',
        name,
        values: [{ cmode: 'runtime', value }],
      })
      expect(p.type).toBe(['', 'u8', 'u16', 'u32', 'u64', 'string', 'bool'][type])
    }
  })

  test('every configuration mode: runtime, driverinit, permanent', async () => {
    for (const [cmode, n] of [
      ['runtime', 0],
      ['driverinit', 1],
      ['permanent', 2],
    ] as const) {
      const t = new Recorder({
        [CMD.PARAM_GET]: [
          paramReply('multi', 3, [
            [0, u32(1)],
            [1, u32(2)],
            [2, u32(3)],
          ]),
        ],
      })
      const p = await DevlinkClient.overTransport(t).params.set('pci/0000:03:00.0', 'multi', 7, { cmode })
      expect(t.last(CMD.PARAM_SET)).toEqual(
        genl(
          CMD.PARAM_SET,
          nla(1, str('pci')),
          nla(2, str('0000:03:00.0')),
          nla(81, str('multi')),
          nla(83, u8(3)),
          nla(86, u32(7)),
          nla(87, u8(n)),
        ),
      )
      expect(p.values.map((v) => v.cmode)).toEqual(['runtime', 'driverinit', 'permanent'])
    }
    // With several modes, the caller must say which.
    const t = new Recorder({
      [CMD.PARAM_GET]: [
        paramReply('multi', 3, [
          [0, u32(1)],
          [2, u32(3)],
        ]),
      ],
    })
    await expect(
      DevlinkClient.overTransport(t).params.set('pci/0000:03:00.0', 'multi', 7),
    ).rejects.toMatchObject({
      field: 'cmode',
    })
  })

  test('parameter values are checked against the parameter before anything is set', async () => {
    const t = new Recorder({ [CMD.PARAM_GET]: [paramReply('p_u8', 1, [[1, u8(1)]])] })
    const dl = DevlinkClient.overTransport(t)
    const bad: Array<[unknown, string, RegExp]> = [
      [256, 'value', /does not fit u8/],
      ['x', 'value', /integer/],
      [1.5, 'value', /integer/],
    ]
    for (const [value, field, msg] of bad) {
      const err = await dl.params
        .set('netdevsim/netdevsim10', 'p_u8', value as number)
        .catch((e: unknown) => e)
      expect(err).toBeInstanceOf(InvalidInputError)
      expect(err).toMatchObject({ field })
      expect((err as Error).message).toMatch(msg)
    }
    const err = await dl.params
      .set('netdevsim/netdevsim10', 'p_u8', 1, { cmode: 'runtime' })
      .catch((e: unknown) => e)
    expect(err).toMatchObject({ field: 'cmode' })
    expect((err as Error).message).toMatch(/no runtime mode \(it has driverinit\)/)
    expect(t.sent.every((s) => s.cmd === CMD.PARAM_GET)).toBe(true)
    // A malformed handle never reaches the transport.
    const before = t.sent.length
    await expect(dl.params.set('netdevsim', 'p_u8', 1)).rejects.toMatchObject({ name: 'InvalidInputError' })
    expect(t.sent.length).toBe(before)
  })

  test('dev reload netdevsim/netdevsim10 action driver_reinit limit no_reset', async () => {
    const t = new Recorder({
      // The reply's RELOAD_ACTIONS_PERFORMED bitfield32: value = selector = bit 1 (driver_reinit).
      [CMD.RELOAD]: [genl(CMD.RELOAD, ...handle, nla(154, Buffer.concat([u32(2), u32(2)])))],
    })
    const dl = DevlinkClient.overTransport(t)
    const r = await dl.reload('netdevsim/netdevsim10', { action: 'driver_reinit', limit: 'no_reset' })
    expect(r.actionsPerformed).toEqual(['driver_reinit'])
    expect(t.last(CMD.RELOAD).toString('hex')).toBe(
      Buffer.concat([
        Buffer.from('25010000', 'hex'),
        ...handle,
        Buffer.from('05009900' + '01000000', 'hex'), // RELOAD_ACTION (153) u8 1
        Buffer.from('0c009b00' + '02000000' + '02000000', 'hex'), // RELOAD_LIMITS (155) {value 2, selector 2}
      ]).toString('hex'),
    )
  })

  test('port function rate add netdevsim/netdevsim10/group1 tx_share 10mbit, then set a leaf', async () => {
    const t = new Recorder()
    const dl = DevlinkClient.overTransport(t)
    await dl.rates.createNode('netdevsim/netdevsim10/group1', { txShare: 1_250_000 }).catch(() => undefined)
    expect(t.last(CMD.RATE_NEW)).toEqual(
      genl(CMD.RATE_NEW, ...handle, nla(168, str('group1')), nla(166, u64(1_250_000n))),
    )
    await dl.rates
      .set('netdevsim/netdevsim10/1', { txMax: 2_500_000, parent: 'group1' })
      .catch(() => undefined)
    expect(t.last(CMD.RATE_SET)).toEqual(
      genl(CMD.RATE_SET, ...handle, nla(3, u32(1)), nla(167, u64(2_500_000n)), nla(169, str('group1'))),
    )
    // noparent: an empty parent name.
    await dl.rates.set('netdevsim/netdevsim10/1', { parent: null }).catch(() => undefined)
    expect(t.last(CMD.RATE_SET)).toEqual(genl(CMD.RATE_SET, ...handle, nla(3, u32(1)), nla(169, str(''))))
  })

  test('health set, eswitch set, port set (type, function hw_addr), port split', async () => {
    const t = new Recorder()
    const dl = DevlinkClient.overTransport(t)
    const ignore = () => undefined
    await dl.health
      .set('netdevsim/netdevsim10', 'dummy', { gracefulPeriod: 3500, autoRecover: false })
      .catch(ignore)
    expect(t.last(53)).toEqual(
      genl(53, ...handle, nla(115, str('dummy')), nla(120, u64(3500n)), nla(121, u8(0))),
    )
    await dl.health.recover('netdevsim/netdevsim10/0', 'dummy')
    expect(t.last(54)).toEqual(genl(54, ...handle, nla(3, u32(0)), nla(115, str('dummy'))))
    await dl.eswitch.set('netdevsim/netdevsim10', { mode: 'switchdev' }).catch(ignore)
    expect(t.last(30)).toEqual(genl(30, ...handle, nla(25, u16(1))))
    await dl.ports.set('netdevsim/netdevsim10/0', { type: 'eth' }).catch(ignore)
    expect(t.last(6)).toEqual(genl(6, ...handle, nla(3, u32(0)), nla(4, u16(2))))
    await dl.ports
      .set('netdevsim/netdevsim10/2', { function: { hwAddr: '00:11:22:33:44:55', state: 'active' } })
      .catch(ignore)
    expect(t.last(6)).toEqual(
      genl(
        6,
        ...handle,
        nla(3, u32(2)),
        nla(145 | NESTED, Buffer.concat([nla(1, '001122334455'), nla(2, u8(1))])),
      ),
    )
    await dl.ports.split('netdevsim/netdevsim10/0', 4)
    expect(t.last(9)).toEqual(genl(9, ...handle, nla(3, u32(0)), nla(9, u32(4))))
  })
})

describe('devlink replies decode to typed objects', () => {
  test('info: driver, serial and versions by kind; unknown attributes kept raw', async () => {
    const ver = (type: number, name: string, value: string) =>
      nla(type | NESTED, Buffer.concat([nla(103, str(name)), nla(104, str(value))]))
    const t = new Recorder({
      51: [
        genl(
          51,
          ...handle,
          nla(98, str('netdevsim')),
          nla(99, str('SN123')),
          ver(100, 'board.id', 'x1'),
          ver(101, 'fw.mgmt', '10.20.30'),
          ver(101, 'fw', '11.22.33'),
          ver(102, 'fw.mgmt', '10.20.31'),
          nla(250, u32(7)),
        ),
      ],
    })
    const info = await DevlinkClient.overTransport(t).info('netdevsim/netdevsim10')
    expect(info).toEqual({
      handle: 'netdevsim/netdevsim10',
      driver: 'netdevsim',
      serialNumber: 'SN123',
      versions: {
        fixed: { 'board.id': 'x1' },
        running: { 'fw.mgmt': '10.20.30', fw: '11.22.33' },
        stored: { 'fw.mgmt': '10.20.31' },
      },
      unknownAttrs: [expect.objectContaining({ type: 250 })],
    })
    expect(Buffer.from(info.unknownAttrs?.[0]?.data ?? [])).toEqual(u32(7))
  })

  test('health reporter, port, rate and trap', async () => {
    const reporter = nla(
      114 | NESTED,
      Buffer.concat([
        nla(115, str('dummy')),
        nla(116, u8(1)),
        nla(117, u64(3n)),
        nla(118, u64(2n)),
        nla(120, u64(3500n)),
        nla(121, u8(1)),
        nla(141, u8(1)),
      ]),
    )
    const port = genl(
      7,
      ...handle,
      nla(3, u32(1)),
      nla(4, u16(2)),
      nla(6, u32(5)),
      nla(7, str('eni10np2')),
      nla(77, u16(0)),
      nla(78, u32(2)),
      nla(148, u8(0)),
      nla(145 | NESTED, Buffer.concat([nla(1, 'aabbccddeeff'), nla(2, u8(1)), nla(3, u8(1))])),
    )
    const t = new Recorder({
      52: [genl(52, ...handle, reporter)],
      5: [port],
      74: [
        genl(
          76,
          ...handle,
          nla(168, str('group1')),
          nla(165, u16(1)),
          nla(166, u64(1_250_000n)),
          nla(167, u64(0n)),
        ),
      ],
      61: [
        genl(
          63,
          ...handle,
          nla(130, str('source_mac_is_multicast')),
          nla(132, u8(0)),
          nla(131, u8(0)),
          nla(133, Buffer.alloc(0)),
          nla(135, str('l2_drops')),
          nla(134 | NESTED, nla(0, Buffer.alloc(0))),
          nla(129 | NESTED, Buffer.concat([nla(0, u64(10n)), nla(1, u64(640n))])),
        ),
      ],
    })
    const dl = DevlinkClient.overTransport(t)
    expect(await dl.health.get('netdevsim/netdevsim10', 'dummy')).toEqual({
      handle: 'netdevsim/netdevsim10',
      name: 'dummy',
      state: 'error',
      errorCount: 3,
      recoverCount: 2,
      gracefulPeriod: 3500,
      autoRecover: true,
      autoDump: true,
    })
    expect(await dl.ports.get('netdevsim/netdevsim10/1')).toEqual({
      handle: 'netdevsim/netdevsim10/1',
      device: 'netdevsim/netdevsim10',
      index: 1,
      type: 'eth',
      netdev: { ifindex: 5, name: 'eni10np2' },
      flavour: 'physical',
      number: 2,
      splittable: false,
      function: { hwAddr: 'aa:bb:cc:dd:ee:ff', state: 'active', opstate: 'attached' },
    })
    expect(await dl.rates.get('netdevsim/netdevsim10/group1')).toEqual({
      handle: 'netdevsim/netdevsim10/group1',
      device: 'netdevsim/netdevsim10',
      type: 'node',
      node: 'group1',
      txShare: 1_250_000,
      txMax: 0,
    })
    expect(await dl.traps.list('netdevsim/netdevsim10')).toEqual([
      {
        handle: 'netdevsim/netdevsim10',
        name: 'source_mac_is_multicast',
        type: 'drop',
        action: 'drop',
        generic: true,
        group: 'l2_drops',
        metadata: ['input_port'],
        stats: { rxPackets: 10, rxBytes: 640 },
      },
    ])
    // Notifications go through the same mapping.
    expect(toDevlinkEvent(7, decodeGeneric(devlinkAttrs, msg(port)))).toMatchObject({
      type: 'port',
      action: 'new',
      port: { handle: 'netdevsim/netdevsim10/1', netdev: { name: 'eni10np2' } },
    })
  })

  test('fmsg: the items of a diagnose reply become a JSON-like tree (netdevsim dummy reporter)', async () => {
    const F = { obj: 107, pair: 108, arr: 109, end: 110, name: 111, type: 112, data: 113 }
    const flag = (t: number) => nla(t, Buffer.alloc(0))
    const pair = (name: string, type: number, data: Buffer) => [
      flag(F.pair),
      nla(F.name, str(name)),
      nla(F.type, u8(type)),
      nla(F.data, data),
      flag(F.end),
    ]
    const items = [
      flag(F.obj),
      ...pair('test_bool', 6, u8(1)),
      ...pair('test_u8', 1, u8(1)),
      ...pair('test_u32', 3, u32(3)),
      ...pair('test_u64', 4, u64(4n)),
      ...pair('test_string', 10, str('somestring')),
      // binary pair: an array pair whose values are chunks
      flag(F.pair),
      nla(F.name, str('test_binary')),
      flag(F.arr),
      nla(F.type, u8(11)),
      nla(F.data, '0102'),
      nla(F.type, u8(11)),
      nla(F.data, '0304'),
      flag(F.end),
      flag(F.end),
      // pair holding an object
      flag(F.pair),
      nla(F.name, str('test_nest')),
      flag(F.obj),
      ...pair('nested_test_bool', 6, u8(0)),
      flag(F.end),
      flag(F.end),
      // netdevsim then ends an array pair it never opened: two extra ends
      flag(F.end),
      flag(F.end),
      flag(F.pair),
      nla(F.name, str('test_u32_array')),
      flag(F.arr),
      ...[0, 1, 2].flatMap((i) => [nla(F.type, u8(3)), nla(F.data, u32(i))]),
      flag(F.end),
      flag(F.end),
      flag(F.end),
    ]
    const t = new Recorder({ 55: [genl(55, nla(106 | NESTED, Buffer.concat(items)))] })
    const tree = await DevlinkClient.overTransport(t).health.diagnose('netdevsim/netdevsim10', 'dummy')
    expect(tree).toEqual({
      test_bool: true,
      test_u8: 1,
      test_u32: 3,
      test_u64: 4,
      test_string: 'somestring',
      test_binary: Uint8Array.from([1, 2, 3, 4]),
      test_nest: { nested_test_bool: false },
      test_u32_array: [0, 1, 2],
    })
    expect(fmsgTree([])).toEqual({})
  })
})

function msg(payload: Buffer) {
  return { type: FAMILY, flags: 0, seq: 0, pid: 0, payload }
}
