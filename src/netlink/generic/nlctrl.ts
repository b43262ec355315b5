import { attr, attrSet, messageSpec, pad, struct } from '../codec/index.ts'

/** struct genlmsghdr */
export const genlmsghdr = struct('genlmsghdr', { cmd: 'u8', version: 'u8', _reserved: pad(2) })

export const GENL_ID_CTRL = 0x10
export const CTRL_CMD = { NEWFAMILY: 1, DELFAMILY: 2, GETFAMILY: 3, GETPOLICY: 10 } as const

/** Operation flags (GENL_*) as nlctrl reports them. */
export const GENL_OP_FLAGS = {
  adminPerm: 0x1,
  cmdCapDo: 0x2,
  cmdCapDump: 0x4,
  cmdCapHaspol: 0x8,
  unsAdminPerm: 0x10,
} as const

const opAttrs = attrSet('ctrl_op', {
  id: attr.u32(1),
  flags: attr.flags(2, 'u32', GENL_OP_FLAGS),
})

const mcastGroupAttrs = attrSet('ctrl_mcast_group', {
  name: attr.string(1),
  id: attr.u32(2),
})

/** CTRL_ATTR_*: a generic netlink family as nlctrl describes it. */
export const ctrlAttrs = attrSet('ctrl', {
  familyId: attr.u16(1),
  familyName: attr.string(2),
  version: attr.u32(3),
  hdrsize: attr.u32(4),
  maxattr: attr.u32(5),
  ops: attr.indexed(6, { kind: 'codec', get: () => opAttrs }),
  mcastGroups: attr.indexed(7, { kind: 'codec', get: () => mcastGroupAttrs }),
})

export const ctrlMessage = messageSpec(genlmsghdr, ctrlAttrs)
