import { expect, test } from 'vitest'
import { rssAttrs } from '../src/ethtool/attrs.ts'
import { rssRequest } from '../src/ethtool/client.ts'
import { ethtoolRxfh } from '../src/ethtool/ioctl.ts'
import { encodeRequest, messageSpec, NLMSG_HDRLEN } from '../src/netlink/codec/index.ts'
import { genlmsghdr } from '../src/netlink/generic/index.ts'

// RSS_SET exists on this host's kernel but no device here has RSS, so its bytes are checked
// against the UAPI layout written out by hand.

test('RSS_SET for context 1 of eth0: table, key, toeplitz, symmetric-xor', () => {
  const attrs = rssRequest('eth0', 1, {
    table: [0, 1, 2, 3],
    key: Uint8Array.from([0x6d, 0x5a, 0x56, 0xda]),
    hfunc: 'toeplitz',
    inputXfrm: ['symmetric-xor'],
  })
  const req = encodeRequest(messageSpec(genlmsghdr, rssAttrs), 0x15, 0, { cmd: 48, version: 1 }, attrs)
  expect(req.bytes.subarray(NLMSG_HDRLEN).toString('hex')).toBe(
    [
      '30010000', // cmd 48 ETHTOOL_MSG_RSS_SET, version 1
      // HEADER (nested): its length covers DEV_NAME "eth0" (9 bytes) and its padding
      '10000180',
      '09000200',
      '65746830',
      '00000000', // HEADER (nested) { DEV_NAME "eth0" }
      '08000200',
      '01000000', // CONTEXT u32 1
      '14000400',
      '00000000',
      '01000000',
      '02000000',
      '03000000', // INDIR: u32 per bucket
      '08000500',
      '6d5a56da', // HKEY
      '08000300',
      '01000000', // HFUNC: ETH_RSS_HASH_TOP bit
      '08000600',
      '01000000', // INPUT_XFRM: RXH_XFRM_SYM_XOR
    ].join(''),
  )
  // Context 0 is the default: no CONTEXT attribute; an empty table resets it (zero-length INDIR).
  const reset = rssAttrs.encode(rssRequest(3, 0, { table: [] }))
  expect(reset.toString('hex')).toBe('0c000180' + '08000100' + '03000000' + '04000400')
})

test('struct ethtool_rxfh is 24 bytes with hfunc at 16 and input_xfrm at 17', () => {
  expect(ethtoolRxfh.size).toBe(24)
  const b = ethtoolRxfh.encode({
    cmd: 0x47,
    rssContext: 0xffffffff,
    indirSize: 128,
    keySize: 40,
    hfunc: 1,
    inputXfrm: 0xff,
  })
  expect(b.toString('hex')).toBe('47000000' + 'ffffffff' + '80000000' + '28000000' + '01ff0000' + '00000000')
})
