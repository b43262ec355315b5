/** rtnetlink message types (linux/rtnetlink.h). */
export const RTM = {
  NEWLINK: 16,
  DELLINK: 17,
  GETLINK: 18,
  SETLINK: 19,
  NEWADDR: 20,
  DELADDR: 21,
  GETADDR: 22,
  NEWQDISC: 36,
  DELQDISC: 37,
  GETQDISC: 38,
  NEWTCLASS: 40,
  DELTCLASS: 41,
  GETTCLASS: 42,
  NEWTFILTER: 44,
  DELTFILTER: 45,
  GETTFILTER: 46,
  NEWACTION: 48,
  DELACTION: 49,
  GETACTION: 50,
  NEWCHAIN: 100,
  DELCHAIN: 101,
  GETCHAIN: 102,
} as const

/** rtnetlink multicast groups (RTNLGRP_*), joined with NETLINK_ADD_MEMBERSHIP. */
export const RTNLGRP = {
  LINK: 1,
  NOTIFY: 2,
  NEIGH: 3,
  TC: 4,
  IPV4_IFADDR: 5,
  IPV6_IFADDR: 9,
  NSID: 28,
} as const

/** IFLA_EXT_MASK bits (RTEXT_FILTER_*): what an RTM_GETLINK dump includes. */
export const RTEXT_FILTER_VF = 1
export const RTEXT_FILTER_SKIP_STATS = 1 << 3

export const AF_UNSPEC = 0
export const AF_INET = 2
export const AF_INET6 = 10
export const AF_BRIDGE = 7
