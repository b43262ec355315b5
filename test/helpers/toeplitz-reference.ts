// Bit-by-bit Toeplitz, straight from the definition, used only to check the table-driven one.
// For every set input bit i (MSB of byte 0 first), XOR in the 32 key bits starting at key bit i.

function keyBit(key: Uint8Array, bit: number): number {
  const byte = key[bit >> 3]
  return byte === undefined ? 0 : (byte >> (7 - (bit & 7))) & 1
}

export function toeplitzReference(key: Uint8Array, input: Uint8Array): number {
  let result = 0
  for (let i = 0; i < input.length * 8; i++) {
    if (((input[i >> 3]! >> (7 - (i & 7))) & 1) === 0) continue
    let window = 0
    for (let k = 0; k < 32; k++) window = ((window << 1) | keyBit(key, i + k)) >>> 0
    result = (result ^ window) >>> 0
  }
  return result
}
