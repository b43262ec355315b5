import { readFileSync } from 'node:fs'
import { describe, expect, test } from 'vitest'
import { decodeMessage, NLM_F_ACK, NLM_F_REQUEST, parseMessages } from '../src/netlink/codec/index.ts'
import {
  buildClassRequest,
  buildFilterRequest,
  buildQdiscRequest,
  filterMessage,
  staticContext,
} from '../src/netlink/route/tc/index.ts'
import { tcCases } from './fixtures/tc-cases.ts'

const captured = JSON.parse(
  readFileSync(new URL('./fixtures/tc-requests.json', import.meta.url), 'utf8'),
) as Record<string, { tc: string; devices: Record<string, number>; hex: string }>

/** The fd tc passed for a pinned program (its own fd number; ours is whatever the context says). */
function pinnedFd(msg: ReturnType<typeof parseMessages>[number]): number {
  const { attrs } = decodeMessage(filterMessage, msg)
  const o = attrs.options as { fd?: number; act?: Array<{ options?: { fd?: number } }> } | undefined
  return o?.fd ?? o?.act?.find((a) => a.options?.fd !== undefined)?.options?.fd ?? -1
}

describe('requests are byte for byte what tc sends', () => {
  test('every case has a capture', () => {
    expect(Object.keys(captured).sort()).toEqual(tcCases.map((c) => c.name).sort())
  })

  for (const c of tcCases) {
    test(c.name, () => {
      const cap = captured[c.name]
      if (!cap) throw new Error(`no capture for ${c.name}: run test/fixtures/capture-tc-requests.ts`)
      expect(cap.tc).toBe(c.tc)
      const [theirs] = parseMessages(Buffer.from(cap.hex, 'hex'))
      if (!theirs) throw new Error('empty capture')
      const index = cap.devices[c.spec.dev as string] as number
      const req =
        c.object === 'qdisc'
          ? buildQdiscRequest('add', c.spec, index)
          : c.object === 'class'
            ? buildClassRequest('add', c.spec, index)
            : buildFilterRequest('add', c.spec, index, staticContext(cap.devices, pinnedFd(theirs)))
      const [ours] = parseMessages(req.bytes)
      expect(ours?.type).toBe(theirs.type)
      expect((ours?.flags ?? 0) | NLM_F_REQUEST | NLM_F_ACK).toBe(theirs.flags)
      expect(ours?.payload.toString('hex')).toBe(theirs.payload.toString('hex'))
    })
  }
})
