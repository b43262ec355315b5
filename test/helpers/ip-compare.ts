import { expect } from 'vitest'
import type { Link } from '../../src/index.ts'
import { sh } from './netns.ts'

/** One entry of `ip -j -d link show`. */
export interface IpLink {
  ifindex: number
  ifname: string
  link?: string | null
  link_index?: number
  link_netnsid?: number
  master?: string
  flags: string[]
  mtu: number
  min_mtu?: number
  max_mtu?: number
  qdisc?: string
  operstate: string
  txqlen?: number
  link_type: string
  address?: string
  broadcast?: string
  promiscuity?: number
  group?: string
  num_tx_queues?: number
  num_rx_queues?: number
  linkinfo?: { info_kind?: string; info_data?: Record<string, unknown> }
}

/** Asserts that rxnetlink's Link says what iproute2 says, field by field. */
export function expectSameLink(ours: Link, theirs: IpLink, all: IpLink[]): void {
  const nameOf = (i: number | undefined) => all.find((l) => l.ifindex === i)?.ifname
  expect(ours.index, 'ifindex').toBe(theirs.ifindex)
  expect(ours.name, 'ifname').toBe(theirs.ifname)
  expect(ours.mtu, `${ours.name} mtu`).toBe(theirs.mtu)
  expect(ours.minMtu, `${ours.name} min_mtu`).toBe(theirs.min_mtu)
  expect(ours.maxMtu, `${ours.name} max_mtu`).toBe(theirs.max_mtu)
  expect(String(ours.operstate).toUpperCase(), `${ours.name} operstate`).toBe(theirs.operstate)
  expect(ours.txqlen, `${ours.name} txqlen`).toBe(theirs.txqlen)
  expect(ours.type, `${ours.name} link_type`).toBe(theirs.link_type)
  expect(ours.address, `${ours.name} address`).toBe(theirs.address)
  expect(ours.broadcast, `${ours.name} broadcast`).toBe(theirs.broadcast)
  expect(ours.qdisc, `${ours.name} qdisc`).toBe(theirs.qdisc)
  expect(ours.promiscuity, `${ours.name} promiscuity`).toBe(theirs.promiscuity)
  expect(ours.numTxQueues, `${ours.name} num_tx_queues`).toBe(theirs.num_tx_queues)
  expect(ours.numRxQueues, `${ours.name} num_rx_queues`).toBe(theirs.num_rx_queues)
  expect(nameOf(ours.master), `${ours.name} master`).toBe(theirs.master)
  if (theirs.link_netnsid !== undefined)
    expect(ours.linkNetnsid, `${ours.name} link_netnsid`).toBe(theirs.link_netnsid)
  else if (theirs.link) expect(nameOf(ours.parent), `${ours.name} link`).toBe(theirs.link)
  // iproute2 hides RUNNING and adds NO-CARRIER / M-DOWN of its own.
  const ourFlags = ours.flags.filter((f) => f !== 'RUNNING').sort()
  const theirFlags = theirs.flags.filter((f) => f !== 'NO-CARRIER' && f !== 'M-DOWN').sort()
  expect(ourFlags, `${ours.name} flags`).toEqual(theirFlags)
  expect(ours.kind, `${ours.name} kind`).toBe(theirs.linkinfo?.info_kind)
  const d = theirs.linkinfo?.info_data ?? {}
  const info = ours.info as Record<string, unknown> | undefined
  switch (ours.kind) {
    case 'bridge':
      expect(
        [info?.forwardDelay, info?.helloTime, info?.maxAge, info?.ageingTime, info?.stpState, info?.priority],
        'bridge data',
      ).toEqual([d.forward_delay, d.hello_time, d.max_age, d.ageing_time, d.stp_state, d.priority])
      expect(Number(info?.vlanFiltering ?? 0)).toBe(d.vlan_filtering)
      break
    case 'macvlan':
    case 'macvtap':
      expect(info?.mode, 'macvlan mode').toBe(d.mode)
      break
    case 'vxlan':
      expect(
        [info?.id, info?.port, info?.remote, info?.group, info?.local, info?.ttl, info?.learning],
        'vxlan data',
      ).toEqual([
        d.id,
        d.port,
        d.remote ?? d.remote6,
        d.group ?? d.group6,
        d.local ?? d.local6,
        d.ttl,
        d.learning,
      ])
      break
    case 'vlan':
      expect([info?.id, info?.protocol], 'vlan data').toEqual([d.id, d.protocol])
      break
    case 'tun':
      expect(
        [
          info?.type,
          info?.pi,
          info?.vnetHdr,
          info?.multiQueue,
          info?.persist,
          info?.numQueues,
          info?.numDisabledQueues,
        ],
        'tun data',
      ).toEqual([d.type, d.pi, d.vnet_hdr, d.multi_queue, d.persist, d.numqueues, d.numdisabled])
      // iproute2 prints owner and group by name.
      expect(info?.owner, 'tun owner').toBe(
        d.user === undefined ? undefined : Number(sh('id', ['-u', String(d.user)])),
      )
      expect(info?.group, 'tun group').toBe(
        d.group === undefined ? undefined : Number(sh('getent', ['group', String(d.group)]).split(':')[2]),
      )
      break
  }
}
