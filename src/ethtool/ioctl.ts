import { cstring, pad, struct } from '../netlink/codec/index.ts'
import {
  AF_INET,
  addressOf,
  closeFd,
  inNetns,
  ioctl,
  type NetnsRef,
  SOCK_CLOEXEC,
  SOCK_DGRAM,
  socket,
} from '../netlink/sys/index.ts'

/**
 * The SIOCETHTOOL ioctl: what kernels without (some of) the ethtool netlink operations offer.
 * Structures are declared as data like the netlink ones; the ioctl argument is a `struct ifreq`
 * whose `ifr_data` points at the ethtool structure.
 */

const SIOCETHTOOL = 0x8946
const SIOCGIFNAME = 0x8910
const SIOCGIFINDEX = 0x8933

export const ETHTOOL_CMD = {
  /** Insert an ntuple (flow steering) rule: struct ethtool_rxnfc. */
  SRXCLSRLINS: 0x32,
  GRINGPARAM: 0x10,
  SRINGPARAM: 0x11,
  GCHANNELS: 0x3c,
  SCHANNELS: 0x3d,
  GRSSH: 0x46,
  SRSSH: 0x47,
} as const

export const ETH_RXFH_CONTEXT_ALLOC = 0xffffffff
export const ETH_RXFH_INDIR_NO_CHANGE = 0xffffffff
export const ETH_RSS_HASH_NO_CHANGE = 0
export const RXH_XFRM_NO_CHANGE = 0xff

/** struct ifreq with the name and an ifr_data pointer (x86-64: 40 bytes). */
const ifreqData = struct('ifreq', { name: cstring(16), data: 'u64', _pad: pad(16) })
/** struct ifreq with ifr_ifindex. */
const ifreqIndex = struct('ifreq', { name: cstring(16), index: 's32', _pad: pad(20) })

export const ethtoolChannels = struct('ethtool_channels', {
  cmd: 'u32',
  maxRx: 'u32',
  maxTx: 'u32',
  maxOther: 'u32',
  maxCombined: 'u32',
  rx: 'u32',
  tx: 'u32',
  other: 'u32',
  combined: 'u32',
})

export const ethtoolRingparam = struct('ethtool_ringparam', {
  cmd: 'u32',
  maxRx: 'u32',
  maxRxMini: 'u32',
  maxRxJumbo: 'u32',
  maxTx: 'u32',
  rx: 'u32',
  rxMini: 'u32',
  rxJumbo: 'u32',
  tx: 'u32',
})

/** struct ethtool_rxfh: followed by u32 indir[indir_size] and then u8 key[key_size]. */
export const ethtoolRxfh = struct('ethtool_rxfh', {
  cmd: 'u32',
  rssContext: 'u32',
  indirSize: 'u32',
  keySize: 'u32',
  hfunc: 'u8',
  inputXfrm: 'u8',
  _rsvd8: pad(2),
  _rsvd32: pad(4),
})

export interface RxfhValue {
  context: number
  hfunc: number
  inputXfrm: number
  table: number[]
  key: Uint8Array
}

export interface RxfhChange {
  context: number
  /** undefined: keep; []: reset to default (context 0) or delete (other contexts). */
  table?: number[]
  key?: Uint8Array
  hfunc?: number
  inputXfrm?: number
}

/** An AF_INET datagram socket in a namespace, used only as the target of ethtool ioctls. */
export class EthtoolIoctl {
  readonly fd: number
  private closed = false

  constructor(netns: NetnsRef | undefined) {
    this.fd = inNetns(netns, () => socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0))
  }

  /** ifindex → name (SIOCGIFNAME). */
  nameOf(index: number): string {
    const req = ifreqIndex.encode({ index })
    ioctl(this.fd, SIOCGIFNAME, req)
    return ifreqIndex.decode(req).name
  }

  /** name → ifindex (SIOCGIFINDEX). */
  indexOf(name: string): number {
    const req = ifreqIndex.encode({ name })
    ioctl(this.fd, SIOCGIFINDEX, req)
    return ifreqIndex.decode(req).index
  }

  /** Runs one SIOCETHTOOL command on `data` in place. */
  call(ifname: string, data: Buffer): void {
    const req = ifreqData.encode({ name: ifname, data: addressOf(data) })
    // Every caller reads `data` after this returns, so it stays alive (and in place) meanwhile.
    ioctl(this.fd, SIOCETHTOOL, req)
  }

  getChannels(ifname: string) {
    const buf = ethtoolChannels.encode({ cmd: ETHTOOL_CMD.GCHANNELS })
    this.call(ifname, buf)
    return ethtoolChannels.decode(buf)
  }

  setChannels(ifname: string, v: { rx: number; tx: number; other: number; combined: number }): void {
    this.call(ifname, ethtoolChannels.encode({ cmd: ETHTOOL_CMD.SCHANNELS, ...v }))
  }

  getRings(ifname: string) {
    const buf = ethtoolRingparam.encode({ cmd: ETHTOOL_CMD.GRINGPARAM })
    this.call(ifname, buf)
    return ethtoolRingparam.decode(buf)
  }

  setRings(ifname: string, v: { rx: number; rxMini: number; rxJumbo: number; tx: number }): void {
    this.call(ifname, ethtoolRingparam.encode({ cmd: ETHTOOL_CMD.SRINGPARAM, ...v }))
  }

  /** Sizes of the indirection table and key (ETHTOOL_GRSSH with zero sizes). */
  rssSizes(ifname: string, context: number): { indirSize: number; keySize: number } {
    const buf = ethtoolRxfh.encode({ cmd: ETHTOOL_CMD.GRSSH, rssContext: context })
    this.call(ifname, buf)
    const h = ethtoolRxfh.decode(buf)
    return { indirSize: h.indirSize, keySize: h.keySize }
  }

  getRss(ifname: string, context: number): RxfhValue {
    const { indirSize, keySize } = this.rssSizes(ifname, context)
    const buf = Buffer.alloc(ethtoolRxfh.size + indirSize * 4 + keySize)
    ethtoolRxfh.encode({ cmd: ETHTOOL_CMD.GRSSH, rssContext: context, indirSize, keySize }, buf, 0)
    this.call(ifname, buf)
    const h = ethtoolRxfh.decode(buf)
    const table: number[] = []
    for (let i = 0; i < h.indirSize; i++) table.push(buf.readUInt32LE(ethtoolRxfh.size + i * 4))
    const keyAt = ethtoolRxfh.size + h.indirSize * 4
    return {
      context,
      hfunc: h.hfunc,
      inputXfrm: h.inputXfrm,
      table,
      key: Uint8Array.prototype.slice.call(buf, keyAt, keyAt + h.keySize),
    }
  }

  /** ETHTOOL_SRSSH; returns the context the kernel used (a new one for ETH_RXFH_CONTEXT_ALLOC). */
  setRss(ifname: string, c: RxfhChange): number {
    const indirSize = c.table === undefined ? ETH_RXFH_INDIR_NO_CHANGE : c.table.length
    const indirBytes = c.table ? c.table.length * 4 : 0
    const keySize = c.key?.length ?? 0
    const buf = Buffer.alloc(ethtoolRxfh.size + indirBytes + keySize)
    ethtoolRxfh.encode(
      {
        cmd: ETHTOOL_CMD.SRSSH,
        rssContext: c.context,
        indirSize,
        keySize,
        hfunc: c.hfunc ?? ETH_RSS_HASH_NO_CHANGE,
        inputXfrm: c.inputXfrm ?? RXH_XFRM_NO_CHANGE,
      },
      buf,
      0,
    )
    c.table?.forEach((q, i) => {
      buf.writeUInt32LE(q, ethtoolRxfh.size + i * 4)
    })
    if (c.key) buf.set(c.key, ethtoolRxfh.size + indirBytes)
    this.call(ifname, buf)
    return ethtoolRxfh.decode(buf).rssContext
  }

  close(): void {
    if (this.closed) return
    this.closed = true
    closeFd(this.fd)
  }
}
