import { sh } from './netns.ts'

/** `ethtool -l` parsed from text (ethtool 6.1 has no JSON for it); "n/a" reads as 0. */
export function ethtoolChannels(netns: string, dev: string) {
  const text = sh('ip', ['netns', 'exec', netns, 'ethtool', '-l', dev])
  const [maxPart = '', curPart = ''] = text.split(/Current hardware settings:/)
  const read = (part: string, label: string): number => {
    const m = new RegExp(`^${label}:\\s+(\\S+)`, 'm').exec(part)
    if (!m?.[1]) throw new Error(`ethtool -l ${dev}: no ${label} line in:\n${text}`)
    return m[1] === 'n/a' ? 0 : Number(m[1])
  }
  return {
    maxRx: read(maxPart, 'RX'),
    maxTx: read(maxPart, 'TX'),
    maxOther: read(maxPart, 'Other'),
    maxCombined: read(maxPart, 'Combined'),
    rx: read(curPart, 'RX'),
    tx: read(curPart, 'TX'),
    other: read(curPart, 'Other'),
    combined: read(curPart, 'Combined'),
  }
}

/** Runs ethtool in the namespace; resolves to its stdout or rejects with its stderr. */
export function ethtool(netns: string, ...args: string[]): string {
  return sh('ip', ['netns', 'exec', netns, 'ethtool', ...args])
}
