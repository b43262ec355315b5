import { z } from 'zod'
import { bpfSyscall, Errno, SysError } from '../netlink/sys/index.ts'
import { BpfError, bpfFailure, parseBpfInput } from './errors.ts'
import { BpfObjectFd } from './object-fd.ts'
import { bpfObjectName } from './program.ts'
import { ATTR_SIZE, BpfCmd, closeQuietly, fdKind, objGet, objGetInfo, ptr, readName } from './sys.ts'

/** enum bpf_map_type, the types this project creates. */
export const MapType = {
  hash: 1,
  array: 2,
  'prog-array': 3,
  'percpu-hash': 5,
  'percpu-array': 6,
  'lru-hash': 9,
  /** Values are fds of inner maps (all like the `innerMap` given at creation). */
  'array-of-maps': 12,
} as const
/** A BPF map type by name. */
export type MapTypeName = keyof typeof MapType

const MAP_TYPE_NAMES = new Map<number, MapTypeName>(
  Object.entries(MapType).map(([k, v]) => [v, k as MapTypeName]),
)

/** Map creation flags (BPF_F_*). */
export const MapFlag = {
  noPrealloc: 1 << 0,
  /** Programs may only read it. */
  rdonlyProg: 1 << 7,
  /** Programs may only write it. */
  wronlyProg: 1 << 8,
  /** Array maps can be mmap()ed. */
  mmapable: 1 << 10,
} as const
/** A BPF_F_* map creation flag by name. */
export type MapFlagName = keyof typeof MapFlag

/** BPF_ANY / BPF_NOEXIST / BPF_EXIST for update. */
export const UpdateFlag = { any: 0, noexist: 1, exist: 2 } as const
/** How `BpfMap.update` treats an existing or missing key. */
export type UpdateMode = keyof typeof UpdateFlag

const createSchema = z
  .object({
    type: z.enum(Object.keys(MapType) as [MapTypeName, ...MapTypeName[]]),
    keySize: z.number().int().min(1).max(512),
    valueSize: z
      .number()
      .int()
      .min(1)
      .max(1 << 20),
    maxEntries: z
      .number()
      .int()
      .min(1)
      .max(2 ** 31 - 1),
    name: bpfObjectName.optional(),
    flags: z.array(z.enum(Object.keys(MapFlag) as [MapFlagName, ...MapFlagName[]])).default([]),
    innerMap: z.object({ fd: z.number().int().min(0) }).optional(),
  })
  .refine((m) => !m.type.includes('array') || m.keySize === 4, {
    message: 'array maps have 4-byte keys',
    path: ['keySize'],
  })
  .refine((m) => (m.type === 'array-of-maps') === (m.innerMap !== undefined), {
    message: 'an array-of-maps needs innerMap (a map like those it will hold), other maps take none',
    path: ['innerMap'],
  })
  .refine((m) => m.type !== 'array-of-maps' || m.valueSize === 4, {
    message: 'map-in-map values are 4-byte map fds',
    path: ['valueSize'],
  })

/** Options of `BpfMap.create` (BPF_MAP_CREATE). */
export interface CreateMapOptions {
  type: MapTypeName
  keySize: number
  valueSize: number
  maxEntries: number
  name?: string
  flags?: MapFlagName[]
  /** For `array-of-maps`: a map like the ones it will hold (type, sizes and flags must agree). */
  innerMap?: { readonly fd: number }
}

/** What BPF_OBJ_GET_INFO_BY_FD tells about a map. */
export interface MapInfo {
  readonly type: MapTypeName | number
  readonly id: number
  readonly keySize: number
  readonly valueSize: number
  readonly maxEntries: number
  readonly flags: number
  readonly name: string
}

/**
 * A BPF map owning its fd. Keys and values are Buffers of exactly the map's sizes (for per-CPU
 * maps, values hold one 8-byte-aligned slot per possible CPU). The kernel keeps the map alive
 * while a program, a pin or another fd holds it.
 */
export class BpfMap extends BpfObjectFd {
  readonly type: MapTypeName | number
  readonly keySize: number
  readonly valueSize: number
  readonly maxEntries: number
  readonly #keySchema: z.ZodType<Buffer>
  readonly #valueSchema: z.ZodType<Buffer>

  private constructor(fd: number, info: Omit<MapInfo, 'id' | 'flags' | 'name'>) {
    super(fd, 'map')
    this.type = info.type
    this.keySize = info.keySize
    this.valueSize = info.valueSize
    this.maxEntries = info.maxEntries
    this.#keySchema = sized(info.keySize)
    this.#valueSchema = sized(info.valueSize)
  }

  /** BPF_MAP_CREATE. */
  static create(options: CreateMapOptions): BpfMap {
    const o = parseBpfInput(createSchema, options, 'create map')
    const attr = Buffer.alloc(ATTR_SIZE)
    attr.writeUInt32LE(MapType[o.type], 0)
    attr.writeUInt32LE(o.keySize, 4)
    attr.writeUInt32LE(o.valueSize, 8)
    attr.writeUInt32LE(o.maxEntries, 12)
    attr.writeUInt32LE(
      o.flags.reduce((acc, f) => acc | MapFlag[f], 0),
      16,
    )
    if (o.innerMap) attr.writeUInt32LE(o.innerMap.fd, 20)
    if (o.name) attr.write(o.name, 28, 15, 'utf8')
    let fd: number
    try {
      fd = bpfSyscall(BpfCmd.mapCreate, attr)
    } catch (e) {
      throw bpfFailure('create map', e)
    }
    return new BpfMap(fd, o)
  }

  /** Opens the map pinned at `path` (BPF_OBJ_GET). */
  static fromPinned(path: string, access: 'rw' | 'ro' | 'wo' = 'rw'): BpfMap {
    let fd: number
    try {
      fd = objGet(path, access === 'ro' ? 1 << 3 : access === 'wo' ? 1 << 4 : 0)
    } catch (e) {
      throw bpfFailure('open pinned map', e, path)
    }
    try {
      return BpfMap.fromFd(fd)
    } catch (e) {
      closeQuietly(fd)
      throw e
    }
  }

  /**
   * Takes ownership of a map fd (for example one received over a Unix socket). Sizes come from
   * BPF_OBJ_GET_INFO_BY_FD unless given (a holder of only the fd can always ask).
   */
  static fromFd(fd: number, sizes?: { keySize: number; valueSize: number; maxEntries?: number }): BpfMap {
    const kind = fdKind(fd)
    if (kind !== 'map')
      throw new BpfError({
        kind: 'wrong-object',
        operation: 'adopt map fd',
        expected: 'map',
        actual: kind ?? 'unknown',
      })
    if (sizes) return new BpfMap(fd, { type: 0, maxEntries: 0, ...sizes })
    return new BpfMap(fd, readMapInfo(fd))
  }

  /** The value stored under `key`, or undefined when there is none. */
  lookup(key: Buffer): Buffer | undefined {
    const k = parseBpfInput(this.#keySchema, key, 'map lookup')
    const value = Buffer.alloc(this.valueSize)
    const r = this.elem(BpfCmd.mapLookupElem, k, value, 0, 'map lookup')
    return r ? value : undefined
  }

  /** Stores `value` under `key`. `mode`: any (default), noexist (create only), exist (replace only). */
  update(key: Buffer, value: Buffer, mode: UpdateMode = 'any'): void {
    const k = parseBpfInput(this.#keySchema, key, 'map update')
    const v = parseBpfInput(this.#valueSchema, value, 'map update')
    this.elem(BpfCmd.mapUpdateElem, k, v, UpdateFlag[mode], 'map update', true)
  }

  /** Deletes `key`; returns false when it was not there (array maps cannot delete: EINVAL). */
  delete(key: Buffer): boolean {
    const k = parseBpfInput(this.#keySchema, key, 'map delete')
    return this.elem(BpfCmd.mapDeleteElem, k, undefined, 0, 'map delete')
  }

  /** The key after `key` (the first key when undefined), or undefined at the end. */
  nextKey(key?: Buffer): Buffer | undefined {
    const k = key === undefined ? undefined : parseBpfInput(this.#keySchema, key, 'map next key')
    const next = Buffer.alloc(this.keySize)
    return this.elem(BpfCmd.mapGetNextKey, k, next, 0, 'map next key') ? next : undefined
  }

  /** Every key, in the kernel's order. */
  *keys(): Generator<Buffer> {
    let k = this.nextKey()
    while (k) {
      yield k
      k = this.nextKey(k)
    }
  }

  /** Every (key, value) pair; entries deleted meanwhile are skipped. */
  *entries(): Generator<[Buffer, Buffer]> {
    for (const k of this.keys()) {
      const v = this.lookup(k)
      if (v) yield [k, v]
    }
  }

  /** Convenience for array maps and u32-keyed hashes: the key as a little-endian u32. */
  static u32(n: number): Buffer {
    const b = Buffer.alloc(4)
    b.writeUInt32LE(n >>> 0)
    return b
  }

  /** What the kernel reports about the map (BPF_OBJ_GET_INFO_BY_FD). */
  info(): MapInfo {
    return readMapInfo(this.fd)
  }

  /** BPF_MAP_FREEZE: no more writes from user space (programs may still write). */
  freeze(): void {
    const attr = Buffer.alloc(ATTR_SIZE)
    attr.writeUInt32LE(this.fd, 0)
    try {
      bpfSyscall(BpfCmd.mapFreeze, attr)
    } catch (e) {
      throw bpfFailure('freeze map', e)
    }
  }

  /** Runs one BPF_MAP_*_ELEM command; returns false on ENOENT unless `throwMissing`. */
  private elem(
    cmd: number,
    key: Buffer | undefined,
    value: Buffer | undefined,
    flags: number,
    operation: string,
    throwMissing = false,
  ): boolean {
    const attr = Buffer.alloc(ATTR_SIZE)
    attr.writeUInt32LE(this.fd, 0)
    attr.writeBigUInt64LE(ptr(key), 8)
    attr.writeBigUInt64LE(ptr(value), 16)
    attr.writeBigUInt64LE(BigInt(flags), 24)
    try {
      bpfSyscall(cmd, attr)
      return true
    } catch (e) {
      if (!throwMissing && e instanceof SysError && e.errno === Errno.ENOENT) return false
      if (
        e instanceof SysError &&
        (e.errno === Errno.EEXIST || e.errno === Errno.ENOENT || e.errno === Errno.E2BIG)
      )
        throw new BpfError({ kind: 'system', operation, errno: e.code, cause: e })
      throw bpfFailure(operation, e)
    }
  }
}

function sized(n: number): z.ZodType<Buffer> {
  return z.instanceof(Buffer).refine((b) => b.length === n, `must be exactly ${n} bytes`)
}

function readMapInfo(fd: number): MapInfo {
  const info = Buffer.alloc(96)
  try {
    objGetInfo(fd, info)
  } catch (e) {
    throw bpfFailure('map info', e)
  }
  const type = info.readUInt32LE(0)
  return {
    type: MAP_TYPE_NAMES.get(type) ?? type,
    id: info.readUInt32LE(4),
    keySize: info.readUInt32LE(8),
    valueSize: info.readUInt32LE(12),
    maxEntries: info.readUInt32LE(16),
    flags: info.readUInt32LE(20),
    name: readName(info, 24),
  }
}
