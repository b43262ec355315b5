import { DataType, load, open } from 'ffi-rs'
import { SysError } from './errno.ts'

// The single binding to libc. Every syscall in the project goes through `libcCall`, so the
// choice of FFI stays this folder's business.
const LIBRARY = 'libc'
open({ library: LIBRARY, path: 'libc.so.6' })

export const T = DataType

type Ret = typeof DataType.I32 | typeof DataType.I64 | typeof DataType.BigInt

interface Call {
  library: string
  funcName: string
  retType: Ret
  paramsType: DataType[]
  paramsValue: unknown[]
  errno: true
}

interface Result<V> {
  value: V
  errnoCode: number
}

/**
 * Declares one libc function. The returned caller reuses one parameter object (the cheapest
 * way through ffi-rs) and throws `SysError` when the function returns -1.
 */
export function libcFunction(name: string, retType: Ret, paramsType: DataType[]) {
  const call: Call = { library: LIBRARY, funcName: name, retType, paramsType, paramsValue: [], errno: true }
  const raw = (...args: unknown[]): Result<number> => {
    call.paramsValue = args
    const r = load(call as Parameters<typeof load>[0]) as unknown as Result<number | bigint>
    return { value: Number(r.value), errnoCode: r.errnoCode }
  }
  /** Returns the result, or throws SysError(errno) on -1. */
  const checked = (...args: unknown[]): number => {
    const r = raw(...args)
    if (r.value === -1) throw new SysError(name, r.errnoCode)
    return r.value
  }
  /** Returns the result, or -errno on failure (for callers that expect EAGAIN etc.). */
  const tryCall = (...args: unknown[]): number => {
    const r = raw(...args)
    return r.value === -1 ? -r.errnoCode : r.value
  }
  return { checked, tryCall }
}

/** Runs a libc function on a helper thread: the shared poll() wait, and bulk netlink sends. */
export function libcFunctionThreaded(name: string, retType: Ret, paramsType: DataType[]) {
  return async (...args: unknown[]): Promise<number> => {
    const r = (await load({
      library: LIBRARY,
      funcName: name,
      retType,
      paramsType,
      paramsValue: args,
      errno: true,
      runInNewThread: true,
    } as Parameters<typeof load>[0])) as unknown as Result<number | bigint>
    return Number(r.value) === -1 ? -r.errnoCode : Number(r.value)
  }
}

const memcpy = libcFunction('memcpy', T.BigInt, [T.U8Array, T.U8Array, T.U64])

/**
 * The address of a Buffer's first byte, for structures that hold pointers (bpf attrs, msghdr).
 * Valid while the caller keeps a reference to the Buffer: ffi-rs passes Buffers without copying,
 * and user-space addresses on x86-64 fit in a double exactly.
 */
export function addressOf(buf: Buffer): bigint {
  if (buf.length === 0) throw new RangeError('addressOf: an empty buffer has no stable address')
  return BigInt(memcpy.checked(buf, buf, 0))
}
