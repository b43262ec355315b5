import { sh } from './netns.ts'

/**
 * `tc -j` output parsed so that repeated keys are kept: tc prints one "match" key per u32 key in
 * the same object, which JSON.parse would collapse to the last. A repeated key becomes an array.
 */
export function parseTcJson(text: string): unknown {
  let i = 0
  const ws = () => {
    while (i < text.length && /\s/.test(text[i] as string)) i++
  }
  const value = (): unknown => {
    ws()
    const c = text[i]
    if (c === '{') {
      i++
      const out: Record<string, unknown> = {}
      const seen = new Set<string>()
      ws()
      if (text[i] === '}') {
        i++
        return out
      }
      for (;;) {
        ws()
        const k = value() as string
        ws()
        i++ // ':'
        const v = value()
        if (seen.has(k)) {
          const prev = out[k]
          out[k] = Array.isArray(prev) && (prev as { repeated?: true }).repeated ? [...prev, v] : [prev, v]
          Object.defineProperty(out[k], 'repeated', { value: true })
        } else {
          out[k] = v
          seen.add(k)
        }
        ws()
        if (text[i++] === '}') return out
      }
    }
    if (c === '[') {
      i++
      const out: unknown[] = []
      ws()
      if (text[i] === ']') {
        i++
        return out
      }
      for (;;) {
        out.push(value())
        ws()
        if (text[i++] === ']') return out
      }
    }
    if (c === '"') {
      let j = i + 1
      while (text[j] !== '"') j += text[j] === '\\' ? 2 : 1
      const s = JSON.parse(text.slice(i, j + 1)) as string
      i = j + 1
      return s
    }
    const m = /^(true|false|null|-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)/.exec(text.slice(i))
    if (!m?.[1]) throw new Error(`tc -j: unexpected ${text.slice(i, i + 20)}`)
    i += m[1].length
    return JSON.parse(m[1])
  }
  ws()
  if (i >= text.length) return []
  return value()
}

/** A value that tc printed once or several times under one key, as a list. */
export function all<T>(v: T | T[] | undefined): T[] {
  return v === undefined ? [] : Array.isArray(v) ? v : [v]
}

export function tcj<T = unknown>(netns: string, ...args: string[]): T {
  return parseTcJson(sh('tc', ['-j', '-n', netns, ...args])) as T
}

/** tc sizes as printed (`15337b`, `10Kb`, `2Mb`, optionally `/cell`) → bytes. */
export function tcSize(s: string | number): number {
  if (typeof s === 'number') return s
  const m = /^(\d+(?:\.\d+)?)(b|Kb|Mb|Gb)?(?:\/\d+)?$/.exec(s)
  if (!m) throw new Error(`not a tc size: ${s}`)
  const scale = { b: 1, Kb: 1024, Mb: 1024 * 1024, Gb: 1024 * 1024 * 1024 }[m[2] ?? 'b'] as number
  return Math.round(Number(m[1]) * scale)
}

/** tc rates as printed in text (`100Mbit`, `50Gbit`, `800bit`) → bits/s. */
export function tcRate(s: string): number {
  const m = /^(\d+(?:\.\d+)?)(bit|Kbit|Mbit|Gbit|Tbit)$/.exec(s)
  if (!m) throw new Error(`not a tc rate: ${s}`)
  const scale = { bit: 1, Kbit: 1e3, Mbit: 1e6, Gbit: 1e9, Tbit: 1e12 }[m[2] as 'bit'] as number
  return Math.round(Number(m[1]) * scale)
}

/**
 * `tc -d class show` for htb, which iproute2 6.1 prints only as text: one record per class with
 * the `key value` pairs of its first line.
 */
export function htbClasses(netns: string, dev: string): Array<Record<string, string>> {
  const out: Array<Record<string, string>> = []
  for (const line of sh('tc', ['-n', netns, '-d', 'class', 'show', 'dev', dev]).split('\n')) {
    const m = /^class htb (\S+) (root|parent (\S+))(?: leaf (\S+))? (.*)$/.exec(line.trim())
    if (!m) continue
    const rec: Record<string, string> = { classid: m[1] as string, parent: m[3] ?? 'root' }
    if (m[4]) rec.leaf = m[4]
    const words = (m[5] as string).trim().split(/\s+/)
    for (let i = 0; i + 1 < words.length; i += 2) {
      const k = words[i] as string
      if (rec[k] === undefined) rec[k] = words[i + 1] as string
      else rec[`c${k}`] = words[i + 1] as string // the second "mpu" follows cburst
    }
    out.push(rec)
  }
  return out
}
