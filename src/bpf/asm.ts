// A small eBPF assembler. Opcodes are data (the tables below); the helper functions only pick
// table entries. Jumps name labels, which `assemble` resolves into relative offsets.
//
// Encoding of one instruction (8 bytes, little endian):
//   u8 code | u8 (src_reg << 4 | dst_reg) | s16 off | s32 imm
// `lddw` (64-bit immediate) takes two slots; the second carries the high 32 bits in imm.

export const InsnClass = {
  ld: 0x00,
  ldx: 0x01,
  st: 0x02,
  stx: 0x03,
  alu: 0x04,
  jmp: 0x05,
  jmp32: 0x06,
  alu64: 0x07,
} as const

export const InsnSize = { w: 0x00, h: 0x08, b: 0x10, dw: 0x18 } as const
export type InsnSizeName = keyof typeof InsnSize

export const InsnMode = { imm: 0x00, abs: 0x20, ind: 0x40, mem: 0x60, atomic: 0xc0 } as const

/** Operand source: `k` = the immediate, `x` = the source register. */
export const InsnSource = { k: 0x00, x: 0x08 } as const

export const AluOp = {
  add: 0x00,
  sub: 0x10,
  mul: 0x20,
  div: 0x30,
  or: 0x40,
  and: 0x50,
  lsh: 0x60,
  rsh: 0x70,
  neg: 0x80,
  mod: 0x90,
  xor: 0xa0,
  mov: 0xb0,
  arsh: 0xc0,
  end: 0xd0,
} as const
export type AluOpName = keyof typeof AluOp

export const JmpOp = {
  ja: 0x00,
  jeq: 0x10,
  jgt: 0x20,
  jge: 0x30,
  jset: 0x40,
  jne: 0x50,
  jsgt: 0x60,
  jsge: 0x70,
  call: 0x80,
  exit: 0x90,
  jlt: 0xa0,
  jle: 0xb0,
  jslt: 0xc0,
  jsle: 0xd0,
} as const
export type JmpOpName = keyof typeof JmpOp
/** The conditional jumps. */
export type CondOpName = Exclude<JmpOpName, 'ja' | 'call' | 'exit'>

/** Byte-swap direction for `end`: to little endian (`le`) or big endian (`be`). */
export const EndianSource = { le: 0x00, be: 0x08 } as const

/** Values of the src_reg field with a special meaning. */
export const PseudoSrc = {
  /** lddw: imm is a map fd. */
  mapFd: 1,
  /** lddw: imm is a map fd, second imm an offset into its value (array maps). */
  mapValue: 2,
  /** call: imm is the relative offset of a bpf-to-bpf function. */
  call: 1,
} as const

/** Kernel helper function ids (enum bpf_func_id), those this project uses. */
export const BpfHelper = {
  mapLookupElem: 1,
  mapUpdateElem: 2,
  mapDeleteElem: 3,
  ktimeGetNs: 5,
  tracePrintk: 6,
  getPrandomU32: 7,
  getSmpProcessorId: 8,
  skbStoreBytes: 9,
  tailCall: 12,
  skbLoadBytes: 26,
  getHashRecalc: 34,
  getSocketCookie: 46,
  getSocketUid: 47,
  skbLoadBytesRelative: 68,
  loop: 181,
} as const

/** `start_header` values for bpf_skb_load_bytes_relative. */
export const HdrStart = { mac: 0, net: 1 } as const

/** Offsets of the `struct __sk_buff` fields (the context of socket filters and tc programs). */
export const SkBuff = {
  len: 0,
  pktType: 4,
  mark: 8,
  queueMapping: 12,
  protocol: 16,
  vlanPresent: 20,
  vlanTci: 24,
  vlanProto: 28,
  priority: 32,
  ingressIfindex: 36,
  ifindex: 40,
  tcIndex: 44,
  cb: 48,
  hash: 68,
  tcClassid: 72,
  data: 76,
  dataEnd: 80,
  napiId: 84,
} as const

export type Reg = 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9 | 10
export const R0: Reg = 0
export const R1: Reg = 1
export const R2: Reg = 2
export const R3: Reg = 3
export const R4: Reg = 4
export const R5: Reg = 5
export const R6: Reg = 6
export const R7: Reg = 7
export const R8: Reg = 8
export const R9: Reg = 9
/** The read-only frame pointer; the stack is the 512 bytes below it. */
export const R10: Reg = 10

/** One instruction before assembly. `target` (a label) becomes `off` (or `imm` for calls). */
export interface Insn {
  readonly kind: 'insn'
  readonly code: number
  readonly dst: Reg
  readonly src: number
  readonly off: number
  readonly imm: number
  /** A label whose position is resolved into `off` (jumps) or `imm` (bpf-to-bpf calls). */
  readonly target?: string
  /** Set for the two-slot lddw: the second slot's imm (high 32 bits, or a map value offset). */
  readonly imm2?: number
}

export interface LabelDef {
  readonly kind: 'label'
  readonly name: string
}

/** What `assemble` accepts: instructions, labels and (nested) lists of them. */
export type AsmItem = Insn | LabelDef | readonly AsmItem[]

/** Anything with a map fd (a BpfMap, or `{ fd }`). */
export interface HasFd {
  readonly fd: number
}

export class AsmError extends Error {
  override readonly name = 'AsmError'
}

function insn(code: number, dst: Reg, src: number, off: number, imm: number, target?: string): Insn {
  return target === undefined
    ? { kind: 'insn', code, dst, src, off, imm }
    : { kind: 'insn', code, dst, src, off, imm, target }
}

/** Defines a jump target at this point of the program. */
export function label(name: string): LabelDef {
  return { kind: 'label', name }
}

// --- ALU -------------------------------------------------------------------------------------

export function alu64Imm(op: AluOpName, dst: Reg, imm: number): Insn {
  return insn(InsnClass.alu64 | AluOp[op] | InsnSource.k, dst, 0, 0, imm)
}
export function alu64Reg(op: AluOpName, dst: Reg, src: Reg): Insn {
  return insn(InsnClass.alu64 | AluOp[op] | InsnSource.x, dst, src, 0, 0)
}
export function alu32Imm(op: AluOpName, dst: Reg, imm: number): Insn {
  return insn(InsnClass.alu | AluOp[op] | InsnSource.k, dst, 0, 0, imm)
}
export function alu32Reg(op: AluOpName, dst: Reg, src: Reg): Insn {
  return insn(InsnClass.alu | AluOp[op] | InsnSource.x, dst, src, 0, 0)
}

export const mov64Imm = (dst: Reg, imm: number): Insn => alu64Imm('mov', dst, imm)
export const mov64Reg = (dst: Reg, src: Reg): Insn => alu64Reg('mov', dst, src)
export const add64Imm = (dst: Reg, imm: number): Insn => alu64Imm('add', dst, imm)
export const add64Reg = (dst: Reg, src: Reg): Insn => alu64Reg('add', dst, src)
export const sub64Imm = (dst: Reg, imm: number): Insn => alu64Imm('sub', dst, imm)
export const sub64Reg = (dst: Reg, src: Reg): Insn => alu64Reg('sub', dst, src)
export const mul64Imm = (dst: Reg, imm: number): Insn => alu64Imm('mul', dst, imm)
export const and64Imm = (dst: Reg, imm: number): Insn => alu64Imm('and', dst, imm)
export const and64Reg = (dst: Reg, src: Reg): Insn => alu64Reg('and', dst, src)
export const or64Imm = (dst: Reg, imm: number): Insn => alu64Imm('or', dst, imm)
export const or64Reg = (dst: Reg, src: Reg): Insn => alu64Reg('or', dst, src)
export const xor64Imm = (dst: Reg, imm: number): Insn => alu64Imm('xor', dst, imm)
export const xor64Reg = (dst: Reg, src: Reg): Insn => alu64Reg('xor', dst, src)
export const lsh64Imm = (dst: Reg, imm: number): Insn => alu64Imm('lsh', dst, imm)
export const lsh64Reg = (dst: Reg, src: Reg): Insn => alu64Reg('lsh', dst, src)
export const rsh64Imm = (dst: Reg, imm: number): Insn => alu64Imm('rsh', dst, imm)
export const rsh64Reg = (dst: Reg, src: Reg): Insn => alu64Reg('rsh', dst, src)
export const arsh64Imm = (dst: Reg, imm: number): Insn => alu64Imm('arsh', dst, imm)
export const mod64Imm = (dst: Reg, imm: number): Insn => alu64Imm('mod', dst, imm)
export const mod64Reg = (dst: Reg, src: Reg): Insn => alu64Reg('mod', dst, src)
export const div64Imm = (dst: Reg, imm: number): Insn => alu64Imm('div', dst, imm)
export const neg64 = (dst: Reg): Insn => alu64Imm('neg', dst, 0)

export const mov32Imm = (dst: Reg, imm: number): Insn => alu32Imm('mov', dst, imm)
export const mov32Reg = (dst: Reg, src: Reg): Insn => alu32Reg('mov', dst, src)
export const add32Imm = (dst: Reg, imm: number): Insn => alu32Imm('add', dst, imm)
export const add32Reg = (dst: Reg, src: Reg): Insn => alu32Reg('add', dst, src)
export const and32Imm = (dst: Reg, imm: number): Insn => alu32Imm('and', dst, imm)
export const and32Reg = (dst: Reg, src: Reg): Insn => alu32Reg('and', dst, src)
export const or32Reg = (dst: Reg, src: Reg): Insn => alu32Reg('or', dst, src)
export const xor32Imm = (dst: Reg, imm: number): Insn => alu32Imm('xor', dst, imm)
export const xor32Reg = (dst: Reg, src: Reg): Insn => alu32Reg('xor', dst, src)
export const lsh32Imm = (dst: Reg, imm: number): Insn => alu32Imm('lsh', dst, imm)
export const rsh32Imm = (dst: Reg, imm: number): Insn => alu32Imm('rsh', dst, imm)
export const mod32Imm = (dst: Reg, imm: number): Insn => alu32Imm('mod', dst, imm)

/** Converts the low `bits` of `dst` from host order to big endian (network order) and back. */
export function be(dst: Reg, bits: 16 | 32 | 64): Insn {
  return insn(InsnClass.alu | AluOp.end | EndianSource.be, dst, 0, 0, bits)
}
/** As `be`, to little endian (on x86-64 this only truncates to `bits`). */
export function le(dst: Reg, bits: 16 | 32 | 64): Insn {
  return insn(InsnClass.alu | AluOp.end | EndianSource.le, dst, 0, 0, bits)
}

// --- memory ----------------------------------------------------------------------------------

/** dst = *(size *)(src + off) */
export function ldx(size: InsnSizeName, dst: Reg, src: Reg, off: number): Insn {
  return insn(InsnClass.ldx | InsnMode.mem | InsnSize[size], dst, src, off, 0)
}
/** *(size *)(dst + off) = src */
export function stx(size: InsnSizeName, dst: Reg, off: number, src: Reg): Insn {
  return insn(InsnClass.stx | InsnMode.mem | InsnSize[size], dst, src, off, 0)
}
/** *(size *)(dst + off) = imm */
export function st(size: InsnSizeName, dst: Reg, off: number, imm: number): Insn {
  return insn(InsnClass.st | InsnMode.mem | InsnSize[size], dst, 0, off, imm)
}

export const ldxB = (dst: Reg, src: Reg, off: number): Insn => ldx('b', dst, src, off)
export const ldxH = (dst: Reg, src: Reg, off: number): Insn => ldx('h', dst, src, off)
export const ldxW = (dst: Reg, src: Reg, off: number): Insn => ldx('w', dst, src, off)
export const ldxDW = (dst: Reg, src: Reg, off: number): Insn => ldx('dw', dst, src, off)
export const stxB = (dst: Reg, off: number, src: Reg): Insn => stx('b', dst, off, src)
export const stxH = (dst: Reg, off: number, src: Reg): Insn => stx('h', dst, off, src)
export const stxW = (dst: Reg, off: number, src: Reg): Insn => stx('w', dst, off, src)
export const stxDW = (dst: Reg, off: number, src: Reg): Insn => stx('dw', dst, off, src)
export const stB = (dst: Reg, off: number, imm: number): Insn => st('b', dst, off, imm)
export const stH = (dst: Reg, off: number, imm: number): Insn => st('h', dst, off, imm)
export const stW = (dst: Reg, off: number, imm: number): Insn => st('w', dst, off, imm)
export const stDW = (dst: Reg, off: number, imm: number): Insn => st('dw', dst, off, imm)

/** dst = a 64-bit constant (two slots). */
export function ld64Imm(dst: Reg, value: bigint | number): Insn {
  const v = BigInt.asUintN(64, BigInt(value))
  return {
    kind: 'insn',
    code: InsnClass.ld | InsnMode.imm | InsnSize.dw,
    dst,
    src: 0,
    off: 0,
    imm: Number(BigInt.asIntN(32, v & 0xffffffffn)),
    imm2: Number(BigInt.asIntN(32, v >> 32n)),
  }
}

/** dst = the map (two-slot lddw with BPF_PSEUDO_MAP_FD); the kernel swaps the fd for the map. */
export function ldMapFd(dst: Reg, map: HasFd | number): Insn {
  const fd = typeof map === 'number' ? map : map.fd
  return {
    kind: 'insn',
    code: InsnClass.ld | InsnMode.imm | InsnSize.dw,
    dst,
    src: PseudoSrc.mapFd,
    off: 0,
    imm: fd,
    imm2: 0,
  }
}

/** dst = &value_of_entry_0 + offset of an array map (BPF_PSEUDO_MAP_VALUE). */
export function ldMapValue(dst: Reg, map: HasFd | number, offset = 0): Insn {
  const fd = typeof map === 'number' ? map : map.fd
  return {
    kind: 'insn',
    code: InsnClass.ld | InsnMode.imm | InsnSize.dw,
    dst,
    src: PseudoSrc.mapValue,
    off: 0,
    imm: fd,
    imm2: offset,
  }
}

// --- jumps -----------------------------------------------------------------------------------

/** Unconditional jump to `target`. */
export function ja(target: string): Insn {
  return insn(InsnClass.jmp | JmpOp.ja, 0, 0, 0, 0, target)
}

/** if (dst OP imm) goto target; a 64-bit compare, or 32-bit (jmp32 class) with `width` 32. */
export function jmpImm(op: CondOpName, dst: Reg, imm: number, target: string, width: 64 | 32 = 64): Insn {
  const cls = width === 64 ? InsnClass.jmp : InsnClass.jmp32
  return insn(cls | JmpOp[op] | InsnSource.k, dst, 0, 0, imm, target)
}
/** if (dst OP src) goto target */
export function jmpReg(op: CondOpName, dst: Reg, src: Reg, target: string, width: 64 | 32 = 64): Insn {
  const cls = width === 64 ? InsnClass.jmp : InsnClass.jmp32
  return insn(cls | JmpOp[op] | InsnSource.x, dst, src, 0, 0, target)
}

export const jeqImm = (dst: Reg, imm: number, target: string): Insn => jmpImm('jeq', dst, imm, target)
export const jeqReg = (dst: Reg, src: Reg, target: string): Insn => jmpReg('jeq', dst, src, target)
export const jneImm = (dst: Reg, imm: number, target: string): Insn => jmpImm('jne', dst, imm, target)
export const jneReg = (dst: Reg, src: Reg, target: string): Insn => jmpReg('jne', dst, src, target)
export const jgtImm = (dst: Reg, imm: number, target: string): Insn => jmpImm('jgt', dst, imm, target)
export const jgtReg = (dst: Reg, src: Reg, target: string): Insn => jmpReg('jgt', dst, src, target)
export const jgeImm = (dst: Reg, imm: number, target: string): Insn => jmpImm('jge', dst, imm, target)
export const jgeReg = (dst: Reg, src: Reg, target: string): Insn => jmpReg('jge', dst, src, target)
export const jltImm = (dst: Reg, imm: number, target: string): Insn => jmpImm('jlt', dst, imm, target)
export const jltReg = (dst: Reg, src: Reg, target: string): Insn => jmpReg('jlt', dst, src, target)
export const jleImm = (dst: Reg, imm: number, target: string): Insn => jmpImm('jle', dst, imm, target)
export const jleReg = (dst: Reg, src: Reg, target: string): Insn => jmpReg('jle', dst, src, target)
export const jsetImm = (dst: Reg, imm: number, target: string): Insn => jmpImm('jset', dst, imm, target)
export const jsgtImm = (dst: Reg, imm: number, target: string): Insn => jmpImm('jsgt', dst, imm, target)
export const jsltImm = (dst: Reg, imm: number, target: string): Insn => jmpImm('jslt', dst, imm, target)

/** Calls kernel helper `helperId` (see BpfHelper); arguments in R1..R5, result in R0. */
export function call(helperId: number): Insn {
  return insn(InsnClass.jmp | JmpOp.call, 0, 0, 0, helperId)
}

/** Calls a bpf-to-bpf function starting at `target` (R1..R5 arguments, R6..R9 preserved). */
export function callLocal(target: string): Insn {
  return insn(InsnClass.jmp | JmpOp.call, 0, PseudoSrc.call, 0, 0, target)
}

/** Returns R0. */
export function exit(): Insn {
  return insn(InsnClass.jmp | JmpOp.exit, 0, 0, 0, 0)
}

// --- assembly --------------------------------------------------------------------------------

export interface Assembled {
  /** The encoded program: 8 bytes per slot. */
  readonly bytes: Buffer
  /** Slot count (lddw counts two). */
  readonly length: number
  /** Label name → slot index. */
  readonly labels: ReadonlyMap<string, number>
}

function* flatten(items: readonly AsmItem[]): Generator<Insn | LabelDef> {
  for (const item of items) {
    if (Array.isArray(item)) yield* flatten(item as readonly AsmItem[])
    else yield item as Insn | LabelDef
  }
}

const isWide = (i: Insn): boolean => i.code === (InsnClass.ld | InsnMode.imm | InsnSize.dw)

/** Offsets are signed 16-bit; immediates may also be given as unsigned 32-bit (they wrap, as in C). */
function checkInt(value: number, bits: 16 | 32, what: string, at: number): number {
  const min = -(2 ** (bits - 1))
  const max = bits === 32 ? 2 ** 32 - 1 : 2 ** 15 - 1
  if (!Number.isInteger(value) || value < min || value > max)
    throw new AsmError(`slot ${at}: ${what} ${value} does not fit in ${bits} bits`)
  return bits === 32 ? value | 0 : value
}

/**
 * Resolves labels and encodes the program. Throws AsmError on an undefined or repeated label,
 * an out-of-range field or register, or a jump that does not fit in 16 bits.
 */
export function assemble(items: readonly AsmItem[]): Assembled {
  const labels = new Map<string, number>()
  const insns: Array<{ at: number; insn: Insn }> = []
  let pc = 0
  for (const item of flatten(items)) {
    if (item.kind === 'label') {
      if (labels.has(item.name)) throw new AsmError(`label "${item.name}" is defined twice`)
      labels.set(item.name, pc)
      continue
    }
    insns.push({ at: pc, insn: item })
    pc += isWide(item) ? 2 : 1
  }
  const bytes = Buffer.alloc(pc * 8)
  for (const { at, insn: i } of insns) {
    if (!Number.isInteger(i.dst) || i.dst < 0 || i.dst > 10)
      throw new AsmError(`slot ${at}: bad dst register ${i.dst}`)
    if (!Number.isInteger(i.src) || i.src < 0 || i.src > 15)
      throw new AsmError(`slot ${at}: bad src field ${i.src}`)
    let off = i.off
    let imm = i.imm
    if (i.target !== undefined) {
      const dest = labels.get(i.target)
      if (dest === undefined) throw new AsmError(`slot ${at}: undefined label "${i.target}"`)
      const rel = dest - (at + 1)
      if ((i.code & 0x07) === InsnClass.jmp && (i.code & 0xf0) === JmpOp.call) imm = rel
      else off = rel
      if (rel < -32768 || rel > 32767)
        throw new AsmError(`slot ${at}: jump to "${i.target}" is too far (${rel})`)
    }
    const o = at * 8
    bytes.writeUInt8(i.code, o)
    bytes.writeUInt8(((i.src & 0xf) << 4) | (i.dst & 0xf), o + 1)
    bytes.writeInt16LE(checkInt(off, 16, 'offset', at), o + 2)
    bytes.writeInt32LE(checkInt(imm, 32, 'immediate', at), o + 4)
    if (isWide(i)) bytes.writeInt32LE(checkInt(i.imm2 ?? 0, 32, 'immediate', at + 1), o + 12)
  }
  return { bytes, length: pc, labels }
}
