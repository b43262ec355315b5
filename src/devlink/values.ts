import { DecodeError, EncodeError } from '../netlink/codec/index.ts'
import { type FMSG_TYPES, type FmsgItem, PARAM_TYPES } from './attrs.ts'

/**
 * devlink's "dynamic" attributes: DEVLINK_ATTR_PARAM_VALUE_DATA and DEVLINK_ATTR_FMSG_OBJ_VALUE_DATA
 * carry a value whose type is named by another attribute (the parameter's type, the fmsg item's
 * value type). The attribute sets declare them as bytes; these two functions are the one place
 * that reads and writes those bytes by type.
 */

export type ParamType = keyof typeof PARAM_TYPES
/** A parameter value: numbers for u8/u16/u32, bigint for u64, string, boolean. */
export type ParamValue = number | bigint | string | boolean

type ValueType = ParamType | keyof typeof FMSG_TYPES | number

/** Reads a value of `type` (absent data means `false` for booleans/flags). */
export function readTyped(
  type: ValueType,
  data: Uint8Array | undefined,
  path: string,
): ParamValue | Uint8Array {
  if (type === 'bool' || type === 'flag') {
    // Parameters encode true as a zero-length flag; fmsg puts booleans as one byte.
    if (data === undefined) return false
    return data.length === 0 ? true : data[0] !== 0
  }
  const b = data ? Buffer.from(data.buffer, data.byteOffset, data.byteLength) : Buffer.alloc(0)
  const need = (n: number) => {
    if (b.length < n) throw new DecodeError(`${String(type)} needs ${n} bytes, has ${b.length}`, path, 0)
  }
  switch (type) {
    case 'u8':
      need(1)
      return b.readUInt8(0)
    case 'u16':
      need(2)
      return b.readUInt16LE(0)
    case 'u32':
      need(4)
      return b.readUInt32LE(0)
    case 'u64':
      need(8)
      return b.readBigUInt64LE(0)
    case 'string':
    case 'nulString': {
      let end = b.length
      while (end > 0 && b[end - 1] === 0) end--
      return b.toString('utf8', 0, end)
    }
    default:
      return Uint8Array.from(b)
  }
}

/** Encodes a parameter value as DEVLINK_ATTR_PARAM_VALUE_DATA (undefined: send no data = false). */
export function writeParam(type: ParamType, value: ParamValue, path: string): Uint8Array | undefined {
  const fail = (why: string): never => {
    throw new EncodeError(why, path)
  }
  switch (type) {
    case 'bool':
      if (typeof value !== 'boolean') fail('a bool parameter takes true or false')
      return value ? new Uint8Array(0) : undefined
    case 'string':
      if (typeof value !== 'string') fail('a string parameter takes a string')
      return Uint8Array.from(Buffer.from(`${value as string}\0`, 'utf8'))
    case 'u64': {
      if (typeof value !== 'bigint' && typeof value !== 'number')
        fail('a u64 parameter takes a number or bigint')
      const v = BigInt(value as number | bigint)
      if (v < 0n || v > 0xffffffffffffffffn) fail(`${v} does not fit u64`)
      const b = Buffer.alloc(8)
      b.writeBigUInt64LE(v)
      return Uint8Array.from(b)
    }
    default: {
      const width = { u8: 1, u16: 2, u32: 4 }[type]
      if (typeof value !== 'number' || !Number.isInteger(value))
        return fail(`a ${type} parameter takes an integer`)
      if (value < 0 || value >= 2 ** (8 * width)) fail(`${value} does not fit ${type}`)
      const b = Buffer.alloc(width)
      b.writeUIntLE(value, 0, width)
      return Uint8Array.from(b)
    }
  }
}

/** A formatted message as a JSON-like tree (what `devlink -j health diagnose` prints). */
export type FmsgValue = null | boolean | number | bigint | string | Uint8Array | FmsgValue[] | FmsgObject
/** An object in a formatted message (a health reporter's diagnose or dump output). */
export interface FmsgObject {
  [name: string]: FmsgValue
}

type Frame =
  | { kind: 'obj'; value: FmsgObject }
  | { kind: 'pair'; obj: FmsgObject; name?: string; filled: boolean }
  | { kind: 'arr'; value: FmsgValue[] }

/**
 * Builds the tree from fmsg items in order. Drivers are not always balanced (netdevsim ends an
 * object pair with an array-pair end): extra ends never close the outermost object, and a value
 * with no pair to hold it is kept under the key '' rather than dropped.
 */
export function fmsgTree(items: readonly FmsgItem[]): FmsgObject {
  const root: FmsgObject = {}
  const stack: Frame[] = [{ kind: 'obj', value: root }]
  let sawOuterObject = false
  let type: FmsgItem['valueType']
  const top = () => stack[stack.length - 1] as Frame
  const put = (v: FmsgValue) => {
    const t = top()
    if (t.kind === 'arr') t.value.push(v)
    else if (t.kind === 'pair') {
      const key = t.name ?? ''
      if (!t.filled) t.obj[key] = v
      else {
        const prev = t.obj[key]
        t.obj[key] = Array.isArray(prev) ? [...prev, v] : [prev as FmsgValue, v]
      }
      t.filled = true
    } else {
      const prev = t.value['']
      t.value[''] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v]
    }
  }
  items.forEach((item, i) => {
    if (item.objNestStart) {
      // The first object is the message itself.
      if (!sawOuterObject && stack.length === 1) {
        sawOuterObject = true
        return
      }
      const obj: FmsgObject = {}
      put(obj)
      stack.push({ kind: 'obj', value: obj })
    } else if (item.pairNestStart) {
      const t = top()
      const obj = t.kind === 'obj' ? t.value : root
      stack.push({ kind: 'pair', obj, filled: false })
    } else if (item.objName !== undefined) {
      const t = top()
      if (t.kind === 'pair' && t.name === undefined) t.name = item.objName
    } else if (item.arrNestStart) {
      const arr: FmsgValue[] = []
      put(arr)
      stack.push({ kind: 'arr', value: arr })
    } else if (item.nestEnd) {
      if (stack.length > 1) {
        const closed = stack.pop() as Frame
        if (closed.kind === 'arr') collapseBinary(closed.value, stack)
      }
    } else if (item.valueType !== undefined) {
      type = item.valueType
    } else if (item.valueData !== undefined) {
      const v = readTyped(type ?? 'binary', item.valueData, `fmsg[${i}]`)
      put(typeof v === 'bigint' && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v)
      type = undefined
    }
  })
  return root
}

/** A binary pair arrives as an array of chunks: join them into one byte string. */
function collapseBinary(arr: FmsgValue[], stack: Frame[]): void {
  if (arr.length === 0 || !arr.every((x) => x instanceof Uint8Array)) return
  const joined = Uint8Array.from(Buffer.concat(arr as Uint8Array[]))
  const parent = stack[stack.length - 1]
  if (parent?.kind === 'pair' && parent.name !== undefined && parent.obj[parent.name] === arr)
    parent.obj[parent.name] = joined
}

export { PARAM_TYPES }
