// A small seeded PRNG (mulberry32) so randomized tests are reproducible.

export class Prng {
  private state: number
  constructor(seed: number) {
    this.state = seed >>> 0
  }
  /** Next u32. */
  u32(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0
    let t = this.state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return (t ^ (t >>> 14)) >>> 0
  }
  /** Integer in [0, n). */
  int(n: number): number {
    return this.u32() % n
  }
  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n)
    for (let i = 0; i < n; i++) out[i] = this.u32() & 0xff
    return out
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!
  }
}
