// Building blocks shared by the socket-filter programs rxnetlink generates (tap RSS steering and
// flow steering). Conventions: R6 holds the skb, R10 the frame pointer; stack slots are
// negative offsets from R10.
import {
  type AsmItem,
  add64Imm,
  and64Imm,
  and64Reg,
  BpfHelper,
  be,
  call,
  type HasFd,
  jeqImm,
  jneImm,
  label,
  ldMapFd,
  ldxB,
  ldxDW,
  mov32Reg,
  mov64Imm,
  mov64Reg,
  neg64,
  R0,
  R1,
  R2,
  R3,
  R4,
  R5,
  R6,
  R7,
  R8,
  R9,
  R10,
  type Reg,
  rsh64Imm,
  stxDW,
  xor64Reg,
} from './asm.ts'

/**
 * Stack slots laid out downwards from `top` (an offset from R10, 0 or negative): each named slot
 * gets its offset, sizes rounded up to 8 bytes (the verifier wants aligned 8-byte slots), and
 * `bottom` is where the next caller's slots start. Blocks sharing the stack chain their layouts
 * this way instead of hand-counting offsets.
 */
export function stackSlots<K extends string>(
  top: number,
  sizes: Readonly<Record<K, number>>,
): Readonly<Record<K, number>> & { readonly bottom: number } {
  let at = top
  const slots: Record<string, number> = {}
  for (const [name, size] of Object.entries(sizes) as Array<[K, number]>) {
    at -= Math.ceil(size / 8) * 8
    slots[name] = at
  }
  return { ...(slots as Record<K, number>), bottom: at }
}

/**
 * A record of 8-byte aligned fields in the order given (sizes rounded up to 8): each field's
 * offset, and the record's size. For records that live on the stack and are copied elsewhere
 * whole (a map value), so both places share one layout.
 */
export function recordLayout<K extends string>(
  sizes: Readonly<Record<K, number>>,
): { readonly offsets: Readonly<Record<K, number>>; readonly size: number } {
  let size = 0
  const offsets: Record<string, number> = {}
  for (const [name, bytes] of Object.entries(sizes) as Array<[K, number]>) {
    offsets[name] = size
    size += Math.ceil(bytes / 8) * 8
  }
  return { offsets: offsets as Record<K, number>, size }
}

/**
 * R0 = bpf_map_lookup_elem(map, fp + key), `map` an fd or a register holding the map (an inner
 * map's pointer); goto `miss` when there is no entry.
 */
export function mapLookup(map: HasFd | Reg, key: number, miss: string): AsmItem[] {
  return [
    typeof map === 'number' ? mov64Reg(R1, map) : ldMapFd(R1, map),
    mov64Reg(R2, R10),
    add64Imm(R2, key),
    call(BpfHelper.mapLookupElem),
    jeqImm(R0, 0, miss),
  ]
}

/** bpf_skb_load_bytes(skb, R2, fp + dst, len), R2 set by the caller; on error goto `fail`. */
export function skbLoadR2(dst: number, len: number, fail: string): AsmItem[] {
  return [
    mov64Reg(R1, R6),
    mov64Reg(R3, R10),
    add64Imm(R3, dst),
    mov64Imm(R4, len),
    call(BpfHelper.skbLoadBytes),
    jneImm(R0, 0, fail),
  ]
}

/** As skbLoadR2 with R2 = *(u64 *)(fp + slot) + add: an offset kept on the stack. */
export function skbLoadAt(slot: number, add: number, dst: number, len: number, fail: string): AsmItem[] {
  return [ldxDW(R2, R10, slot), ...(add !== 0 ? [add64Imm(R2, add)] : []), ...skbLoadR2(dst, len, fail)]
}

/** Copies 16 bytes (an IPv6 address) from `base + from` to the stack slot `to`; clobbers R2. */
export function copy16(base: Reg, from: number, to: number): AsmItem[] {
  return [ldxDW(R2, base, from), stxDW(R10, to, R2), ldxDW(R2, base, from + 8), stxDW(R10, to + 8, R2)]
}

/**
 * Toeplitz over the hash input at `fp + input` (R8 bytes: 8, 12, 32 or 36) with the key at
 * `R7 + key`, result in R9 (label `hash_done` ends it). Unrolled: for input byte i, the 64 key
 * bits from bit 8i are loaded big-endian; for bit b of the byte (most significant first) the
 * 32-bit window starting at key bit 8i+b is the low half of (k >> (32 - b)), XORed into R9 when
 * the bit is set — branch-free, the bit becomes an all-ones or zero mask.
 */
export function toeplitzAsm(input: number, key: number): AsmItem[] {
  const out: AsmItem[] = [mov64Imm(R9, 0)]
  for (let i = 0; i < 36; i++) {
    if (i === 8 || i === 12 || i === 32) out.push(jeqImm(R8, i, 'hash_done'))
    out.push(ldxB(R2, R10, input + i), ldxDW(R3, R7, key + i), be(R3, 64))
    for (let b = 0; b < 8; b++)
      out.push(
        mov64Reg(R4, R2),
        rsh64Imm(R4, 7 - b),
        and64Imm(R4, 1),
        neg64(R4),
        mov64Reg(R5, R3),
        rsh64Imm(R5, 32 - b),
        and64Reg(R5, R4),
        xor64Reg(R9, R5),
      )
  }
  out.push(label('hash_done'), mov32Reg(R9, R9))
  return out
}
