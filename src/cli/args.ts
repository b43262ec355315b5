/** A usage error: exit status 2, like iproute2. */
export class UsageError extends Error {
  override readonly name = 'UsageError'
}

/** iproute2-style words: `mtu 1400 up master br0` → pairs and flags, consumed in order. */
export class Words {
  private i = 0
  constructor(private readonly words: readonly string[]) {}
  get done(): boolean {
    return this.i >= this.words.length
  }
  peek(): string | undefined {
    return this.words[this.i]
  }
  next(what: string): string {
    const w = this.words[this.i++]
    if (w === undefined) throw new UsageError(`missing ${what}`)
    return w
  }
  optional(): string | undefined {
    return this.done ? undefined : this.words[this.i++]
  }
  number(what: string): number {
    const w = this.next(what)
    const n = Number(w)
    if (!Number.isFinite(n) || w.trim() === '') throw new UsageError(`${what}: '${w}' is not a number`)
    return n
  }
}

export interface GlobalOptions {
  netns?: string
  json: boolean
}

/** Splits the global options (anywhere before the object) from the command words. */
export function parseGlobal(argv: readonly string[]): { options: GlobalOptions; words: string[] } {
  const options: GlobalOptions = { json: false }
  const words: string[] = []
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string
    if (a === '--json' || a === '-j') options.json = true
    else if (a === '--netns' || a === '-n') {
      const v = argv[++i]
      if (!v) throw new UsageError('--netns needs a namespace name')
      options.netns = v
    } else if (a.startsWith('--netns=')) options.netns = a.slice(8)
    else words.push(a)
  }
  return { options, words }
}

/** One line of JSON, bigints as decimal strings and byte arrays as hex (what `--json` prints). */
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_k, v) =>
    typeof v === 'bigint' ? v.toString() : v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v,
  )
}
