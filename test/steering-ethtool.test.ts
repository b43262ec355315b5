import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { ntupleRules, RXNFC_SIZE } from '../src/steering/ethtool.ts'
import { ntupleCommands } from './fixtures/ethtool-ntuple-cases.ts'
import { mixedConfig } from './helpers/steering-frames.ts'

// No device here supports ntuple rules or RSS contexts: the ETHTOOL_SRXCLSRLINS arguments are
// compared with what `ethtool -N` passes for the same rules (test/fixtures/ethtool-ntuple.json,
// captured by test/fixtures/capture-ethtool-ntuple.ts; the commands are in ethtool-ntuple-cases.ts).
const captured = JSON.parse(
  readFileSync(new URL('./fixtures/ethtool-ntuple.json', import.meta.url), 'utf8'),
) as Array<{
  ethtool: string
  hex: string
}>

describe('ethtool back end: ntuple rules', () => {
  const rules = ntupleRules(mixedConfig())

  it('one rule per flow spec, in evaluation order (rules on both IP versions take two locations)', () => {
    expect(rules.map((r) => [r.rule, r.location, r.flowType])).toEqual([
      [0, 0, 'ether'],
      [1, 1, 'tcp4'],
      [2, 2, 'ip4'],
      [3, 3, 'udp6'],
      [4, 4, 'ip6'],
      [5, 5, 'ether'],
      [6, 6, 'udp4'],
      [6, 7, 'udp6'],
      [7, 8, 'sctp4'],
      [7, 9, 'sctp6'],
      [8, 10, 'tcp4'],
    ])
    expect(rules.every((r) => r.bytes.length === RXNFC_SIZE)).toBe(true)
  })

  it('the bytes are those ethtool -N passes for the same rules', () => {
    expect(captured.map((c) => c.ethtool)).toEqual(ntupleCommands.map((c) => `ethtool -N v0 ${c}`))
    rules.forEach((r, i) => {
      const theirs = Buffer.from(captured[i]!.hex, 'hex')
      const ours = Buffer.from(r.bytes.subarray(0, 188))
      // ethtool leaves ethtool_rxnfc.data (bytes 8..16) uninitialized for SRXCLSRLINS (stack
      // garbage the kernel ignores): compare everything else
      theirs.fill(0, 8, 16)
      ours.fill(0, 8, 16)
      expect({ cmd: captured[i]!.ethtool, hex: ours.toString('hex') }).toEqual({
        cmd: captured[i]!.ethtool,
        hex: theirs.toString('hex'),
      })
    })
  })

  it('maps model contexts to the device contexts it was given', () => {
    const r = ntupleRules(mixedConfig(), { first: 100, deviceContext: (id) => id + 40 })
    expect(r[1]!.location).toBe(101)
    expect(r[1]!.bytes.readUInt32LE(16)).toBe(0x20000001) // FLOW_RSS | TCP_V4_FLOW
    expect(r[1]!.bytes.readUInt32LE(184)).toBe(42)
  })
})
