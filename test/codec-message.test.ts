import { readFileSync } from 'node:fs'
import { describe, expect, test } from 'vitest'
import {
  ackError,
  DecodeError,
  decodeMessage,
  encodeRequest,
  NetlinkError,
  NLM_F_ACK_TLVS,
  NLM_F_CAPPED,
  NLMSG_ERROR,
  parseAck,
  parseMessages,
  Writer,
} from '../src/netlink/codec/index.ts'
import { RTM } from '../src/netlink/route/constants.ts'
import { linkMessage } from '../src/netlink/route/link-attrs.ts'

const fixture = readFileSync(new URL('./fixtures/link-dump.hex', import.meta.url), 'utf8')
  .trim()
  .split('\n')
  .map((h) => Buffer.from(h, 'hex'))

describe('message framing', () => {
  test('several messages in one datagram, each aligned to 4 bytes', () => {
    const a = Buffer.from('1100000010000200010000000200000061000000', 'hex') // len 17, 3 bytes of padding
    const b = Buffer.from('14000000030002000100000002000000' + '00000000', 'hex')
    const msgs = parseMessages(Buffer.concat([a, b]))
    expect(msgs.map((m) => [m.type, m.flags, m.seq, m.pid, m.payload.length])).toEqual([
      [16, 2, 1, 2, 1],
      [3, 2, 1, 2, 4],
    ])
  })

  test('a truncated header or a length past the end is a DecodeError', () => {
    expect(() => parseMessages(Buffer.alloc(10))).toThrow(DecodeError)
    const lying = Buffer.from('ff00000010000000000000000000000000', 'hex')
    expect(() => parseMessages(lying)).toThrow(/nlmsg_len 255 does not fit/)
    const tooSmall = Buffer.from('04000000100000000000000000000000', 'hex')
    expect(() => parseMessages(tooSmall)).toThrow(DecodeError)
  })

  test('requests encode the header, the fixed struct and the attributes', () => {
    const req = encodeRequest(linkMessage, RTM.NEWLINK, 0x600, { index: 7 }, { ifname: 'v0', mtu: 1400 })
    expect(req.bytes.toString('hex')).toBe(
      '30000000' +
        '1000' +
        '0006' +
        '00000000' +
        '00000000' + // nlmsghdr
        '00000000' +
        '07000000' +
        '00000000' +
        '00000000' + // ifinfomsg
        '07000300' +
        '76300000' + // IFLA_IFNAME "v0"
        '08000400' +
        '78050000', // IFLA_MTU 1400
    )
    expect(req.pathAt(32)).toBe('ifname')
    expect(req.pathAt(40)).toBe('mtu')
  })

  test('bulk requests share one writer, build no paths, and still name attributes and errors', () => {
    const into = new Writer(16, 'none')
    const a = encodeRequest(linkMessage, RTM.NEWLINK, 0x600, { index: 7 }, { ifname: 'v0', mtu: 1400 }, into)
    const b = encodeRequest(linkMessage, RTM.NEWLINK, 0x600, { index: 8 }, { mtu: 9000, ifname: 'v1' }, into)
    const single = encodeRequest(linkMessage, RTM.NEWLINK, 0x600, { index: 7 }, { ifname: 'v0', mtu: 1400 })
    expect(a.bytes.equals(single.bytes)).toBe(true)
    expect(into.len).toBe(a.bytes.length + b.bytes.length)
    expect(b.bytes.readUInt32LE(0)).toBe(b.bytes.length)
    expect([a.pathAt(32), a.pathAt(40), b.pathAt(32), b.pathAt(40)]).toEqual([
      'ifname',
      'mtu',
      'mtu',
      'ifname',
    ])
    const bad = () =>
      encodeRequest(linkMessage, RTM.NEWLINK, 0, {}, { ifname: 'v2', mtu: 2 ** 32 } as never, into)
    expect(bad).toThrow(expect.objectContaining({ name: 'EncodeError', path: 'mtu' }))
    expect(into.len).toBe(a.bytes.length + b.bytes.length)
    expect(ackError('links.create', { errno: 22, offset: 40 }, b).attrPath).toBe('ifname')
  })
})

describe('a captured link dump', () => {
  test('decodes every message, with kind-specific data', () => {
    const links = fixture.map((b) => decodeMessage(linkMessage, parseMessages(b)[0]!))
    const byName = new Map(links.map((l) => [l.attrs.ifname, l]))
    expect([...byName.keys()].sort()).toEqual(['br0', 'ifb0', 'lo', 'mv0', 'tap0', 'v0', 'v1', 'vx0'])
    expect(byName.get('vx0')?.attrs.linkinfo).toMatchObject({ kind: 'vxlan', data: { id: 42, port: 4789 } })
    expect(byName.get('mv0')?.attrs.linkinfo).toMatchObject({ kind: 'macvlan', data: { mode: 'bridge' } })
    expect(byName.get('tap0')?.attrs.linkinfo).toMatchObject({
      kind: 'tun',
      data: { type: 'tap', multiQueue: 1, persist: 1 },
    })
    expect(byName.get('v0')?.attrs.master).toBe(byName.get('br0')?.header.index)
    expect(typeof byName.get('lo')?.attrs.stats64?.rxBytes).toBe('bigint')
  })
})

describe('errors and extended acks', () => {
  // An NLMSG_ERROR for a request whose IFLA_MTU (at byte 40) the kernel rejected.
  const request = encodeRequest(linkMessage, RTM.NEWLINK, 0, {}, { ifname: 'v0', mtu: 1 })
  const errorMsg = () => {
    const tlvs = Buffer.from('0a000100' + '62616421' + '00000000' + '08000200' + '28000000', 'hex') // msg "bad!", offs 40
    const payload = Buffer.alloc(4 + 16)
    payload.writeInt32LE(-22, 0)
    request.bytes.copy(payload, 4, 0, 16)
    return {
      type: NLMSG_ERROR,
      flags: NLM_F_CAPPED | NLM_F_ACK_TLVS,
      seq: 1,
      pid: 0,
      payload: Buffer.concat([payload, tlvs]),
    }
  }

  test('an extended ack gives the message and the attribute path', () => {
    const ack = parseAck(errorMsg())
    expect(ack).toEqual({ errno: 22, extackMessage: 'bad!', offset: 40 })
    const err = ackError('links.create', ack, request)
    expect(err).toBeInstanceOf(NetlinkError)
    expect(err.code).toBe('EINVAL')
    expect(err.attrPath).toBe('mtu')
    expect(err.message).toBe('links.create: EINVAL: bad! (at mtu)')
  })

  test('a missing attribute is named', () => {
    const tlvs = Buffer.from('08000500' + '12000000', 'hex') // NLMSGERR_ATTR_MISS_TYPE = IFLA_LINKINFO
    const m = errorMsg()
    m.payload = Buffer.concat([m.payload.subarray(0, 20), tlvs])
    const err = ackError('links.create', parseAck(m), request)
    expect(err.missingAttr).toBe('linkinfo')
  })

  test('a plain ack has errno 0; a short error is a DecodeError', () => {
    const ok = { type: NLMSG_ERROR, flags: 0, seq: 1, pid: 0, payload: Buffer.alloc(20) }
    expect(parseAck(ok)).toEqual({ errno: 0 })
    expect(() => parseAck({ ...ok, payload: Buffer.alloc(2) })).toThrow(DecodeError)
  })
})
