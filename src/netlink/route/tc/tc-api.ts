import { concatMap, defer, EMPTY, from, type Observable, of } from 'rxjs'
import { z } from 'zod'
import {
  decodeMessage,
  type EncodedRequest,
  encodeRequest,
  type NetlinkMessage,
  NLM_F_CREATE,
  NLM_F_ECHO,
  NLM_F_EXCL,
  Writer,
} from '../../codec/index.ts'
import { multicast$, NETLINK_ROUTE, type NetlinkSocket } from '../../socket/index.ts'
import { closeFd, type NetnsRef } from '../../sys/index.ts'
import { InvalidInputError, parseInput } from '../../validate.ts'
import { RTM, RTNLGRP } from '../constants.ts'
import { linkMessage } from '../link-attrs.ts'
import { type Action, type ActionSpec, actionSpecSchema, encodeAction } from './action-kinds.ts'
import { openPinned } from './bpf-fd.ts'
import {
  type BpfProgramRef,
  type DeviceInfo,
  type DeviceRef,
  deviceSchema,
  type EncodeContext,
  type Refs,
} from './context.ts'
import { Devices } from './devices.ts'
import {
  checkFilterSpec,
  encodeFilterOptions,
  type FilterSpec,
  type FilterSpecParsed,
  filterHandle,
  filterRefs,
  filterSpecSchema,
  MatchError,
  type U32WireKey,
} from './filter-kinds.ts'
import {
  parseClassid,
  parseFilterParent,
  parseProtocol,
  parseQdiscHandle,
  parseQdiscParent,
  parseU32Handle,
  TC_H_INGRESS,
  TC_H_ROOT,
} from './handles.ts'
import {
  type ClassSpec,
  classSpecSchema,
  encodeClassOptions,
  encodeQdiscOptions,
  type QdiscSpec,
  type QdiscSpecParsed,
  qdiscSpecSchema,
  RangeInputError,
} from './qdisc-kinds.ts'
import {
  actionMessage,
  classRequest,
  type DeviceNames,
  decodeActions,
  decodeClass,
  decodeFilter,
  decodeQdisc,
  type Filter,
  filterInfo,
  filterRequest,
  type Qdisc,
  qdiscRequest,
  type TcClass,
  type TcOperation,
} from './tc-messages.ts'

/** A qdisc, class or filter appeared/changed ('new') or went away ('del'); or events were lost. */
export type TcEvent =
  | { type: 'new' | 'del'; object: 'qdisc'; qdisc: Qdisc }
  | { type: 'new' | 'del'; object: 'class'; class: TcClass }
  | { type: 'new' | 'del'; object: 'filter'; filter: Filter }
  | { type: 'new' | 'del'; object: 'action'; actions: Action[] }
  /** The event socket's buffer overflowed: events were lost; list again to resync. */
  | { type: 'overrun' }

// ---- requests (I/O-free) ----------------------------------------------------------------------

function inputError(op: string, e: unknown): never {
  if (e instanceof MatchError || e instanceof RangeInputError)
    throw new InvalidInputError(op, [{ path: e.field, message: e.message }])
  throw e
}

/** tcmsg.tcm_ifindex sits right after the 16-byte nlmsghdr and 4 bytes of family and padding. */
function setIfindex(req: EncodedRequest, index: number): void {
  req.bytes.writeInt32LE(index, 20)
}

function withEcho(req: EncodedRequest): EncodedRequest {
  req.bytes.writeUInt16LE(req.bytes.readUInt16LE(6) | NLM_F_ECHO, 6)
  return req
}

/** Where a qdisc goes and its handle, from a validated spec. */
function qdiscPlace(s: QdiscSpecParsed): { handle: number; parent: number } {
  if (s.kind === 'clsact' || s.kind === 'ingress')
    return { handle: s.handle ? (parseQdiscHandle(s.handle) as number) : 0xffff0000, parent: TC_H_INGRESS }
  return {
    handle: s.handle ? (parseQdiscHandle(s.handle) as number) : 0,
    parent: s.parent ? (parseQdiscParent(s.parent) as number) : TC_H_ROOT,
  }
}

/** The request tc would send to add/replace/change a qdisc (`ifindex` already resolved). */
export function buildQdiscRequest(op: Exclude<TcOperation, 'delete'>, spec: QdiscSpec, ifindex: number) {
  const s = parseInput(qdiscSpecSchema, spec, `qdiscs.${op}`)
  let options: unknown
  try {
    options = encodeQdiscOptions(s)
  } catch (e) {
    inputError(`qdiscs.${op}`, e)
  }
  const attrs: Parameters<typeof qdiscRequest>[2] = { kind: s.kind }
  if (options !== undefined) attrs.options = options as never
  return qdiscRequest(op, { ifindex, ...qdiscPlace(s) }, attrs)
}

export function buildClassRequest(op: Exclude<TcOperation, 'delete'>, spec: ClassSpec, ifindex: number) {
  const s = parseInput(classSpecSchema, spec, `classes.${op}`)
  let options: ReturnType<typeof encodeClassOptions>
  try {
    options = encodeClassOptions(s)
  } catch (e) {
    inputError(`classes.${op}`, e)
  }
  return classRequest(
    op,
    { ifindex, handle: parseClassid(s.classid) as number, parent: parseClassid(s.parent) as number },
    { kind: s.kind, options },
  )
}

const parentSchema = z
  .string()
  .refine(
    (p) => parseFilterParent(p) !== undefined,
    'a parent is "ingress", "egress" or a handle such as "1:"',
  )
const protocolSchema = z
  .union([z.string(), z.number()])
  .refine(
    (p) => parseProtocol(p) !== undefined,
    'a protocol is ip, ipv6, all, 802.1q, … or an EtherType number',
  )

function checkFilterCommon(s: { parent: string; protocol?: string | number | undefined }, op: string): void {
  const issues: Array<{ path: string; message: string }> = []
  if (parseFilterParent(s.parent) === undefined)
    issues.push({ path: 'parent', message: 'a parent is "ingress", "egress" or a handle such as "1:"' })
  if (s.protocol !== undefined && parseProtocol(s.protocol) === undefined)
    issues.push({
      path: 'protocol',
      message: 'a protocol is ip, ipv6, all, 802.1q, … or an EtherType number',
    })
  if (issues.length) throw new InvalidInputError(op, issues)
}

const filterSpecsSchema = z.array(filterSpecSchema)

/** The request tc would send for a filter, once device names and programs are resolved. */
export function buildFilterRequest(
  op: Exclude<TcOperation, 'delete'>,
  spec: FilterSpec | FilterSpecParsed,
  ifindex: number,
  ctx: EncodeContext,
) {
  const name = `filters.${op}`
  const s = parseInput(filterSpecSchema, spec, name)
  checkFilterCommon(s, name)
  return encodeFilterRequest(op, s, ifindex, ctx)
}

/** As buildFilterRequest, for a spec already validated (`keys`: what checkFilterSpec returned). */
function encodeFilterRequest(
  op: Exclude<TcOperation, 'delete'>,
  s: FilterSpecParsed,
  ifindex: number,
  ctx: EncodeContext,
  keys?: U32WireKey[],
  into?: Writer,
) {
  const name = `filters.${op}`
  const protocol = parseProtocol(s.protocol ?? 'all') as number
  let options: unknown
  try {
    options = encodeFilterOptions(s, protocol, ctx, keys)
  } catch (e) {
    inputError(name, e)
  }
  const attrs: Parameters<typeof filterRequest>[2] = {}
  if (s.chain !== undefined) attrs.chain = s.chain
  attrs.kind = s.kind
  attrs.options = options as never
  return filterRequest(
    op,
    {
      ifindex,
      handle: filterHandle(s),
      parent: parseFilterParent(s.parent) as number,
      info: filterInfo(s.pref ?? 0, protocol),
    },
    attrs,
    into,
  )
}

// ---- the API ----------------------------------------------------------------------------------

/** Resolves what a spec refers to, runs `fn`, and closes the fds it opened for pinned programs. */
async function withContext<R>(
  devices: Devices,
  refs: Refs,
  op: string,
  fn: (ctx: EncodeContext, names: Map<number, string>) => Promise<R>,
): Promise<R> {
  const indexes = new Map<string, number>()
  const names = new Map<number, string>()
  for (const d of refs.devices)
    if (typeof d === 'string' && !indexes.has(d)) {
      const info = await devices.get(d, op)
      indexes.set(d, info.index)
      names.set(info.index, info.name)
    }
  const opened: number[] = []
  const fds = new Map<string, number>()
  try {
    for (const p of refs.programs) {
      if ('pinned' in p && !fds.has(p.pinned)) {
        const fd = openPinned(p.pinned)
        opened.push(fd)
        fds.set(p.pinned, fd)
      }
    }
    const ctx: EncodeContext = {
      ifindex: (d: DeviceRef) => (typeof d === 'number' ? d : (indexes.get(d) as number)),
      programFd: (p: BpfProgramRef) => ('fd' in p ? p.fd : (fds.get(p.pinned) as number)),
    }
    return await fn(ctx, names)
  } finally {
    for (const fd of opened) closeFd(fd)
  }
}

function checkQueues(op: string, dev: DeviceInfo, actions: ActionSpec[] | undefined, base = 'actions'): void {
  const n = dev.numTxQueues
  if (n === undefined || !actions) return
  const issues: Array<{ path: string; message: string }> = []
  actions.forEach((a, i) => {
    if (a.kind === 'skbedit' && a.queueMapping !== undefined && a.queueMapping >= n)
      issues.push({
        path: `${base}[${i}].queueMapping`,
        message: `${dev.name} has ${n} tx queue${n === 1 ? '' : 's'} (0…${n - 1}); queue ${a.queueMapping} does not exist`,
      })
  })
  if (issues.length) throw new InvalidInputError(op, issues)
}

const qdiscDeleteSchema = z
  .object({
    dev: deviceSchema,
    parent: z
      .string()
      .refine((p) => parseQdiscParent(p) !== undefined, 'a parent is "root", "ingress" or a class')
      .optional(),
    handle: z
      .string()
      .refine((h) => parseQdiscHandle(h) !== undefined, 'a qdisc handle such as "1:"')
      .optional(),
    kind: z.string().min(1).optional(),
  })
  .strict()
/** Which qdisc `qdiscs.delete` removes: device, and its parent, handle or kind. */
export type QdiscDelete = z.input<typeof qdiscDeleteSchema>

/** Queueing disciplines of one namespace. */
export class QdiscApi {
  constructor(
    private readonly sock: NetlinkSocket,
    private readonly devices: Devices,
  ) {}

  /** Every qdisc, or those of one device (tc qdisc show [dev X]). */
  async list(dev?: DeviceRef): Promise<Qdisc[]> {
    const d =
      dev === undefined
        ? undefined
        : await this.devices.get(parseInput(deviceSchema, dev, 'qdiscs.list'), 'qdiscs.list')
    const msgs = await this.sock.dump(qdiscRequest('get', { ifindex: d?.index ?? 0 }, {}), 'qdiscs.list')
    const names = d ? (i: number) => (i === d.index ? d.name : '') : await this.nameAll()
    const out: Qdisc[] = []
    for (const m of msgs) {
      if (m.type !== RTM.NEWQDISC) continue
      const q = decodeQdisc(m, names)
      if (!d || q.index === d.index) out.push(q)
    }
    return out
  }

  add(spec: QdiscSpec): Promise<Qdisc> {
    return this.send('add', spec)
  }
  /** Adds the qdisc, or replaces the one at the same place (tc qdisc replace). */
  replace(spec: QdiscSpec): Promise<Qdisc> {
    return this.send('replace', spec)
  }
  /** Changes the options of an existing qdisc (tc qdisc change). */
  change(spec: QdiscSpec): Promise<Qdisc> {
    return this.send('change', spec)
  }

  async delete(spec: QdiscDelete): Promise<void> {
    const s = parseInput(qdiscDeleteSchema, spec, 'qdiscs.delete')
    const index = await this.devices.index(s.dev, 'qdiscs.delete')
    const ingress = s.kind === 'ingress' || s.kind === 'clsact'
    const header = {
      ifindex: index,
      parent: s.parent ? (parseQdiscParent(s.parent) as number) : ingress ? TC_H_INGRESS : TC_H_ROOT,
      handle: s.handle ? (parseQdiscHandle(s.handle) as number) : ingress ? 0xffff0000 : 0,
    }
    await this.sock.request(
      qdiscRequest('delete', header, s.kind ? { kind: s.kind } : {}),
      `qdiscs.delete(${s.dev})`,
    )
  }

  private async send(op: Exclude<TcOperation, 'delete'>, spec: QdiscSpec): Promise<Qdisc> {
    const name = `qdiscs.${op}`
    const s = parseInput(qdiscSpecSchema, spec, name)
    // Everything is checked and encoded before the device lookup; only the ifindex is filled in after.
    const req = withEcho(buildQdiscRequest(op, spec, 0))
    const dev = await this.devices.get(s.dev, name)
    if (s.kind === 'mqprio' && s.queues && dev.numTxQueues !== undefined) {
      const n = dev.numTxQueues
      s.queues.forEach((q, i) => {
        const [count, offset] = typeof q === 'string' ? q.split('@').map(Number) : [q.count, q.offset]
        if ((count as number) + (offset as number) > n)
          throw new InvalidInputError(name, [
            {
              path: `queues[${i}]`,
              message: `${dev.name} has ${n} tx queues; ${count}@${offset} runs past them`,
            },
          ])
      })
    }
    setIfindex(req, dev.index)
    const replies = await this.sock.request(req, `${name}(${dev.name} ${s.kind})`)
    const names = (i: number) => (i === dev.index ? dev.name : '')
    const reply = replies.find((m) => m.type === RTM.NEWQDISC)
    if (!reply) throw new Error(`${name}: the kernel did not echo the qdisc`)
    return decodeQdisc(reply, names)
  }

  private async nameAll(): Promise<DeviceNames> {
    const all = await this.devices.all()
    return (i) => all.get(i) ?? ''
  }
}

const classDeleteSchema = z
  .object({
    dev: deviceSchema,
    classid: z.string().refine((c) => parseClassid(c) !== undefined, 'a classid such as "1:10"'),
    kind: z.string().min(1).optional(),
  })
  .strict()
export type ClassDelete = z.input<typeof classDeleteSchema>

/** Classes of classful qdiscs (htb). */
export class ClassApi {
  constructor(
    private readonly sock: NetlinkSocket,
    private readonly devices: Devices,
  ) {}

  async list(dev: DeviceRef, parent?: string): Promise<TcClass[]> {
    const d = await this.devices.get(parseInput(deviceSchema, dev, 'classes.list'), 'classes.list')
    const p = parent === undefined ? 0 : parseClassid(parent)
    if (p === undefined)
      throw new InvalidInputError('classes.list', [{ path: 'parent', message: 'a handle such as "1:"' }])
    const msgs = await this.sock.dump(
      classRequest('get', { ifindex: d.index, parent: p }, {}),
      'classes.list',
    )
    const names = (i: number) => (i === d.index ? d.name : '')
    return msgs.filter((m) => m.type === RTM.NEWTCLASS).map((m) => decodeClass(m, names))
  }

  add(spec: ClassSpec): Promise<TcClass> {
    return this.send('add', spec)
  }
  replace(spec: ClassSpec): Promise<TcClass> {
    return this.send('replace', spec)
  }
  change(spec: ClassSpec): Promise<TcClass> {
    return this.send('change', spec)
  }

  async delete(spec: ClassDelete): Promise<void> {
    const s = parseInput(classDeleteSchema, spec, 'classes.delete')
    const index = await this.devices.index(s.dev, 'classes.delete')
    const handle = parseClassid(s.classid) as number
    await this.sock.request(
      classRequest('delete', { ifindex: index, handle }, s.kind ? { kind: s.kind } : {}),
      `classes.delete(${s.classid})`,
    )
  }

  private async send(op: Exclude<TcOperation, 'delete'>, spec: ClassSpec): Promise<TcClass> {
    const name = `classes.${op}`
    const s = parseInput(classSpecSchema, spec, name)
    const dev = await this.devices.get(s.dev, name)
    const replies = await this.sock.request(
      withEcho(buildClassRequest(op, spec, dev.index)),
      `${name}(${s.classid})`,
    )
    const reply = replies.find((m) => m.type === RTM.NEWTCLASS)
    const names = (i: number) => (i === dev.index ? dev.name : '')
    if (!reply) throw new Error(`${name}: the kernel did not echo the class`)
    return decodeClass(reply, names)
  }
}

const filterSelectSchema = z
  .object({
    dev: deviceSchema,
    parent: parentSchema,
    pref: z.number().int().min(1).max(0xffff).optional(),
    protocol: protocolSchema.optional(),
    handle: z.union([z.string(), z.number().int().min(0).max(0xffffffff)]).optional(),
    kind: z.string().min(1).optional(),
    chain: z.number().int().min(0).max(0xffffffff).optional(),
  })
  .strict()
  .refine((s) => s.handle === undefined || s.pref !== undefined, {
    message: 'a handle needs its pref',
    path: ['pref'],
  })
  .refine((s) => s.handle === undefined || s.kind !== undefined, {
    message: 'a handle needs the filter kind (u32 handles are read differently)',
    path: ['kind'],
  })
/** Which filters a `get` or `delete` means: by parent, and optionally pref, protocol, kind and handle. */
export type FilterSelect = z.input<typeof filterSelectSchema>

function selectHeader(s: z.output<typeof filterSelectSchema>, ifindex: number, op: string) {
  let handle = 0
  if (s.handle !== undefined) {
    const h =
      typeof s.handle === 'number'
        ? s.handle
        : s.kind === 'u32'
          ? parseU32Handle(s.handle)
          : /^(0x[0-9a-fA-F]+|\d+)$/.test(s.handle)
            ? Number(s.handle)
            : undefined
    if (h === undefined)
      throw new InvalidInputError(op, [{ path: 'handle', message: `not a ${s.kind} handle` }])
    handle = h
  }
  const protocol =
    s.protocol === undefined ? (s.pref === undefined ? 0 : 0x0003) : (parseProtocol(s.protocol) as number)
  return {
    ifindex,
    handle,
    parent: parseFilterParent(s.parent) as number,
    info: filterInfo(s.pref ?? 0, protocol),
  }
}

/** Filters (classifiers) with their actions. */
export class FilterApi {
  constructor(
    private readonly sock: NetlinkSocket,
    private readonly devices: Devices,
  ) {}

  /** The filters on a device's parent (tc filter show dev X ingress). */
  async list(spec: { dev: DeviceRef; parent: string; chain?: number }): Promise<Filter[]> {
    const s = parseInput(
      z
        .object({ dev: deviceSchema, parent: parentSchema, chain: z.number().int().min(0).optional() })
        .strict(),
      spec,
      'filters.list',
    )
    const d = await this.devices.get(s.dev, 'filters.list')
    const attrs = s.chain === undefined ? {} : { chain: s.chain }
    // Names first, so that each filter is decoded as its datagram arrives.
    const names = await this.names(d)
    return this.sock.dump(
      filterRequest('get', { ifindex: d.index, parent: parseFilterParent(s.parent) as number }, attrs),
      'filters.list',
      { decode: (m) => (m.type === RTM.NEWTFILTER ? decodeFilter(m, names) : undefined) },
    )
  }

  /** One filter, by pref, protocol, kind and handle (tc filter get). */
  async get(spec: FilterSelect): Promise<Filter> {
    const s = parseInput(filterSelectSchema, spec, 'filters.get')
    const d = await this.devices.get(s.dev, 'filters.get')
    const attrs: Parameters<typeof filterRequest>[2] = {}
    if (s.chain !== undefined) attrs.chain = s.chain
    if (s.kind) attrs.kind = s.kind
    const replies = await this.sock.request(
      filterRequest('get', selectHeader(s, d.index, 'filters.get'), attrs),
      'filters.get',
    )
    const reply = replies.find((m) => m.type === RTM.NEWTFILTER)
    if (!reply) throw new Error('filters.get: the kernel sent no filter')
    return decodeFilter(reply, await this.names(d))
  }

  /** Adds a filter and its actions in one request: either all of it exists afterwards, or none. */
  add(spec: FilterSpec): Promise<Filter> {
    return this.send('add', spec)
  }
  replace(spec: FilterSpec): Promise<Filter> {
    return this.send('replace', spec)
  }
  change(spec: FilterSpec): Promise<Filter> {
    return this.send('change', spec)
  }

  /**
   * Adds many filters at once: every spec is checked before anything is sent, device names and
   * pinned programs are resolved once, and the requests go out many per datagram with one ack
   * each (NetlinkSocket.batch). Each filter is atomic on its own; if some fail, a BulkError gives
   * each one's outcome by position (the others stay installed).
   */
  async addAll(specs: FilterSpec[]): Promise<void> {
    const name = 'filters.addAll'
    const parsed = parseInput(filterSpecsSchema, specs, name)
    const keys = parsed.map((s, i) => {
      try {
        checkFilterCommon(s, name)
        return checkFilterSpec(s)
      } catch (e) {
        const issue =
          e instanceof InvalidInputError
            ? e.issues[0]
            : e instanceof MatchError
              ? { path: e.field, message: e.message }
              : undefined
        if (!issue) throw e
        throw new InvalidInputError(name, [{ path: `[${i}].${issue.path}`, message: issue.message }])
      }
    })
    const refs: Refs = { devices: [], programs: [] }
    const devs = new Map<DeviceRef, DeviceInfo>()
    for (const s of parsed) {
      filterRefs(s, refs)
      const needs = typeof s.dev === 'string' || s.actions?.some((a) => a.kind === 'skbedit')
      if (needs && !devs.has(s.dev)) devs.set(s.dev, await this.devices.get(s.dev, name))
    }
    parsed.forEach((s, i) => {
      const d = devs.get(s.dev)
      if (d) checkQueues(name, d, s.actions, `[${i}].actions`)
    })
    const results = await withContext(this.devices, refs, name, (ctx) => {
      // Everything that can fail was checked above, so requests are encoded as the socket reads
      // them: the next datagram's while the kernel adds the filters of the last.
      const into = new Writer(parsed.length * 192, 'none')
      function* requests() {
        for (let i = 0; i < parsed.length; i++) {
          const s = parsed[i] as FilterSpecParsed
          yield encodeFilterRequest('add', s, devs.get(s.dev)?.index ?? (s.dev as number), ctx, keys[i], into)
        }
      }
      return this.sock.batch(requests(), name)
    })
    if (results.some((r) => r !== undefined)) throw new BulkError(name, results)
  }

  /**
   * Deletes one filter (with pref, protocol, kind and handle), a whole classifier instance (pref
   * only), or every filter of the parent (neither).
   */
  async delete(spec: FilterSelect): Promise<void> {
    const s = parseInput(filterSelectSchema, spec, 'filters.delete')
    const index = await this.devices.index(s.dev, 'filters.delete')
    const attrs: Parameters<typeof filterRequest>[2] = {}
    if (s.chain !== undefined) attrs.chain = s.chain
    if (s.kind) attrs.kind = s.kind
    await this.sock.request(
      filterRequest('delete', selectHeader(s, index, 'filters.delete'), attrs),
      'filters.delete',
    )
  }

  private async send(op: Exclude<TcOperation, 'delete'>, spec: FilterSpec): Promise<Filter> {
    const name = `filters.${op}`
    const s = parseInput(filterSpecSchema, spec, name)
    checkFilterCommon(s, name)
    let keys: U32WireKey[] | undefined
    try {
      keys = checkFilterSpec(s)
    } catch (e) {
      inputError(name, e)
    }
    const needsDevice = typeof s.dev === 'string' || s.actions?.some((a) => a.kind === 'skbedit')
    const dev: DeviceInfo = needsDevice
      ? await this.devices.get(s.dev, name)
      : { index: s.dev as number, name: '' }
    checkQueues(name, dev, s.actions)
    const refs: Refs = { devices: [], programs: [] }
    filterRefs(s, refs)
    let names = new Map<number, string>()
    const replies = await withContext(this.devices, refs, name, (ctx, resolved) => {
      names = resolved
      return this.sock.request(
        withEcho(encodeFilterRequest(op, s, dev.index, ctx, keys)),
        `${name}(${s.kind})`,
      )
    })
    const reply = replies.find((m) => m.type === RTM.NEWTFILTER)
    if (!reply) throw new Error(`${name}: the kernel did not echo the filter`)
    names.set(dev.index, dev.name)
    const f = decodeFilter(reply, (i) => names.get(i) ?? '')
    if (!f.dev && typeof s.dev === 'string') f.dev = s.dev
    // Some classifiers (u32) echo the node they replaced rather than its successor: read it back.
    if (op !== 'add' && f.handle !== undefined)
      return this.get({
        dev: dev.index,
        parent: s.parent,
        pref: f.pref,
        protocol: f.protocol,
        kind: s.kind,
        handle: f.handle,
        ...(s.chain === undefined ? {} : { chain: s.chain }),
      })
    return f
  }

  private async names(d: DeviceInfo): Promise<DeviceNames> {
    const all = await this.devices.all()
    all.set(d.index, d.name)
    return (i) => all.get(i) ?? ''
  }
}

/** Some operations of a bulk call failed: `results` holds each one's outcome, in order. */
export class BulkError extends Error {
  override readonly name = 'BulkError'
  readonly failed: number
  constructor(
    readonly operation: string,
    /** undefined where the operation succeeded. */
    readonly results: Array<Error | undefined>,
  ) {
    const errors = results.filter((r): r is Error => r !== undefined)
    super(`${operation}: ${errors.length} of ${results.length} failed; first: ${errors[0]?.message}`)
    this.failed = errors.length
  }
}

const actionRefSchema = z
  .object({ kind: z.string().min(1), index: z.number().int().min(1).max(0xffffffff) })
  .strict()

/** Standalone (shared) actions: tc actions add/list/get/delete. */
export class ActionApi {
  constructor(
    private readonly sock: NetlinkSocket,
    private readonly devices: Devices,
  ) {}

  /** Every action of a kind (tc actions list action KIND). */
  async list(kind: string): Promise<Action[]> {
    const k = parseInput(z.string().min(1), kind, 'actions.list')
    const req = encodeRequest(actionMessage, RTM.GETACTION, 0, { family: 0 }, { tab: [{ kind: k }] })
    const msgs = await this.sock.dump(req, `actions.list(${k})`)
    const names = await this.names()
    return msgs.filter(isActionMessage).flatMap((m) => decodeActions(m, names))
  }

  async get(ref: { kind: string; index: number }): Promise<Action> {
    const r = parseInput(actionRefSchema, ref, 'actions.get')
    const req = encodeRequest(actionMessage, RTM.GETACTION, 0, { family: 0 }, { tab: [r] })
    const replies = await this.sock.request(req, `actions.get(${r.kind} ${r.index})`)
    const names = await this.names()
    const found = replies.filter(isActionMessage).flatMap((m) => decodeActions(m, names))[0]
    if (!found) throw new Error(`actions.get: the kernel sent no ${r.kind} action`)
    return found
  }

  /** Adds standalone actions (in one request: all or none). */
  async add(actions: ActionSpec | ActionSpec[]): Promise<Action[]> {
    const list = parseInput(
      z.array(actionSpecSchema).min(1).max(32),
      Array.isArray(actions) ? actions : [actions],
      'actions.add',
    )
    const refs: Refs = { devices: [], programs: [] }
    for (const a of list) {
      if (a.kind === 'mirred') refs.devices.push(a.dev)
      if (a.kind === 'bpf') refs.programs.push(a.program)
    }
    const replies = await withContext(this.devices, refs, 'actions.add', (ctx) => {
      const tab = list.map((a) => encodeAction(a, ctx))
      const req = encodeRequest(actionMessage, RTM.NEWACTION, OP_CREATE, { family: 0 }, { tab })
      return this.sock.request(withEcho(req), 'actions.add')
    })
    const names = await this.names()
    return replies.filter(isActionMessage).flatMap((m) => decodeActions(m, names))
  }

  async delete(ref: { kind: string; index: number }): Promise<void> {
    const r = parseInput(actionRefSchema, ref, 'actions.delete')
    const req = encodeRequest(actionMessage, RTM.DELACTION, 0, { family: 0 }, { tab: [r] })
    await this.sock.request(req, `actions.delete(${r.kind} ${r.index})`)
  }

  private async names(): Promise<DeviceNames> {
    const all = await this.devices.all()
    return (i) => all.get(i) ?? ''
  }
}

const OP_CREATE = NLM_F_CREATE | NLM_F_EXCL
/** Action dumps answer with the request's type (RTM_GETACTION); lookups and echoes with RTM_NEWACTION. */
const isActionMessage = (m: NetlinkMessage) => m.type === RTM.NEWACTION || m.type === RTM.GETACTION

/**
 * tc for one network namespace: qdiscs, classes, filters and actions, and a stream of their
 * changes. Mounted as `rt.tc` on a RouteClient; usable on its own with any NETLINK_ROUTE socket.
 */
export class TcApi {
  readonly qdiscs: QdiscApi
  readonly classes: ClassApi
  readonly filters: FilterApi
  readonly actions: ActionApi
  /**
   * Every qdisc, class, filter and action change in the namespace (RTNLGRP_TC). Cold: each
   * subscription opens its own socket and closes it on unsubscribe.
   */
  readonly events$: Observable<TcEvent>
  private readonly devices: Devices

  constructor(
    sock: NetlinkSocket,
    private readonly netns?: NetnsRef,
  ) {
    const devices = new Devices(sock)
    this.devices = devices
    this.qdiscs = new QdiscApi(sock, devices)
    this.classes = new ClassApi(sock, devices)
    this.filters = new FilterApi(sock, devices)
    this.actions = new ActionApi(sock, devices)
    this.events$ = this.watch()
  }

  /**
   * As `events$`, with socket options: `receiveBuffer` (bytes, default 4 MiB) bounds how many
   * events can queue before an `overrun`.
   */
  watch(options: { receiveBuffer?: number } = {}): Observable<TcEvent> {
    const devices = this.devices
    const netns = this.netns
    return defer(() => {
      const names = new Map<number, string>()
      const ready = devices.all().then((all) => {
        for (const [i, n] of all) names.set(i, n)
      })
      const resolve = async (m: NetlinkMessage): Promise<DeviceNames> => {
        await ready
        const idx = m.payload.length >= 8 ? m.payload.readInt32LE(4) : 0
        if (idx > 0 && !names.has(idx)) {
          const info = await devices.get(idx, 'tc.events').catch(() => undefined)
          names.set(idx, info?.name ?? '')
        }
        return (i) => names.get(i) ?? ''
      }
      const groups = [RTNLGRP.TC, RTNLGRP.LINK]
      const sockOptions = { ...options, ...(netns === undefined ? {} : { netns }) }
      return multicast$(NETLINK_ROUTE, groups, sockOptions).pipe(
        concatMap((e): Observable<TcEvent> => {
          if (e.kind === 'overrun') return of({ type: 'overrun' as const })
          const m = e.message
          if (m.type === RTM.NEWLINK) {
            const { header, attrs } = decodeMessage(linkMessage, m)
            if (attrs.ifname) names.set(header.index, attrs.ifname)
            return EMPTY
          }
          return from(toEvent(m, resolve)).pipe(concatMap((ev) => (ev ? of(ev) : EMPTY)))
        }),
      )
    })
  }
}

async function toEvent(
  m: NetlinkMessage,
  resolve: (m: NetlinkMessage) => Promise<DeviceNames>,
): Promise<TcEvent | undefined> {
  switch (m.type) {
    case RTM.NEWQDISC:
    case RTM.DELQDISC:
      return {
        type: m.type === RTM.NEWQDISC ? 'new' : 'del',
        object: 'qdisc',
        qdisc: decodeQdisc(m, await resolve(m)),
      }
    case RTM.NEWTCLASS:
    case RTM.DELTCLASS:
      return {
        type: m.type === RTM.NEWTCLASS ? 'new' : 'del',
        object: 'class',
        class: decodeClass(m, await resolve(m)),
      }
    case RTM.NEWTFILTER:
    case RTM.DELTFILTER:
      return {
        type: m.type === RTM.NEWTFILTER ? 'new' : 'del',
        object: 'filter',
        filter: decodeFilter(m, await resolve(m)),
      }
    case RTM.NEWACTION:
    case RTM.DELACTION:
      return {
        type: m.type === RTM.NEWACTION ? 'new' : 'del',
        object: 'action',
        actions: decodeActions(m, await resolve(m)),
      }
    default:
      return undefined
  }
}
