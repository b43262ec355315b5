import { mkdtempSync, readdirSync, rmdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  AsmError,
  add64Imm,
  add64Reg,
  assemble,
  BpfError,
  BpfHelper,
  BpfMap,
  BpfProgram,
  BpfVerifierError,
  be,
  call,
  exit,
  ja,
  jeqImm,
  jgtImm,
  jleImm,
  label,
  ld64Imm,
  ldMapFd,
  ldxB,
  ldxW,
  loadProgram,
  lsh64Imm,
  mov64Imm,
  mov64Reg,
  or64Reg,
  R0,
  R1,
  R2,
  R6,
  R10,
  stW,
  stxDW,
} from '../src/bpf/index.ts'
import { dupFd, inNetns } from '../src/netlink/sys/index.ts'
import { sh, TestNetns } from './helpers/netns.ts'

const hex = (b: Buffer) => b.toString('hex')
const openFds = () => readdirSync('/proc/self/fd').length

describe('assembler', () => {
  it('encodes instructions as the kernel lays them out', () => {
    expect(hex(assemble([mov64Imm(R0, 2)]).bytes)).toBe('b700000002000000')
    expect(hex(assemble([exit()]).bytes)).toBe('9500000000000000')
    expect(hex(assemble([call(BpfHelper.skbLoadBytes)]).bytes)).toBe('850000001a000000')
    expect(hex(assemble([ldxW(R0, R1, 4)]).bytes)).toBe('6110040000000000')
    expect(hex(assemble([stxDW(R10, -8, R1)]).bytes)).toBe('7b1af8ff00000000')
    expect(hex(assemble([be(R0, 16)]).bytes)).toBe('dc00000010000000')
    expect(hex(assemble([mov64Reg(R6, R1)]).bytes)).toBe('bf16000000000000')
    // lddw with BPF_PSEUDO_MAP_FD: two slots, src_reg 1
    expect(hex(assemble([ldMapFd(R1, 5)]).bytes)).toBe('18110000050000000000000000000000')
    expect(hex(assemble([ld64Imm(R2, 0x1122334455667788n)]).bytes)).toBe('18020000887766550000000044332211')
    expect(hex(assemble([mov64Imm(R0, 0xffffffff)]).bytes)).toBe('b7000000ffffffff')
  })

  it('resolves labels forwards and backwards, counting lddw as two slots', () => {
    const a = assemble([
      label('top'),
      jeqImm(R1, 7, 'out'), // 0 → 4: off = 4 - 1 = 3
      ld64Imm(R0, 1), // 1, 2
      ja('top'), // 3 → 0: off = -4
      label('out'),
      exit(), // 4
    ])
    expect(a.length).toBe(5)
    expect(a.labels.get('out')).toBe(4)
    expect(a.bytes.readInt16LE(2)).toBe(3)
    expect(a.bytes.readInt16LE(3 * 8 + 2)).toBe(-4)
  })

  it('accepts nested lists, so fragments compose', () => {
    const fragment = [mov64Imm(R0, 1), add64Imm(R0, 2)]
    expect(assemble([fragment, [[exit()]]]).length).toBe(3)
  })

  it('rejects undefined or repeated labels and fields that do not fit', () => {
    expect(() => assemble([ja('nowhere')])).toThrow(AsmError)
    expect(() => assemble([label('a'), label('a'), exit()])).toThrow(/twice/)
    expect(() => assemble([mov64Imm(R0, 2 ** 32)])).toThrow(/32 bits/)
    expect(() => assemble([ldxW(R0, R1, 40000)])).toThrow(/16 bits/)
    expect(() => assemble([mov64Imm(11 as 0, 1)])).toThrow(/register/)
  })
})

describe('programs and maps in the kernel', () => {
  let ns: TestNetns
  let mnt: string
  beforeAll(() => {
    ns = new TestNetns('bpf')
    // A private bpf filesystem for the pinning tests, unmounted in afterAll.
    mnt = mkdtempSync(join(tmpdir(), 'rxnl-bpffs-'))
    sh('mount', ['-t', 'bpf', 'bpf', mnt])
  })
  afterAll(() => {
    for (const args of [[mnt], ['-l', mnt]]) {
      try {
        sh('umount', args)
        break
      } catch {
        // busy or gone: try a lazy unmount, then give up
      }
    }
    try {
      rmdirSync(mnt)
    } catch {
      // already gone
    }
    ns?.remove()
  })

  // An Ethernet + IPv4 frame for test runs (socket filters see skb->data at the IP header).
  const frame = Buffer.concat([Buffer.alloc(12, 0xaa), Buffer.from([0x08, 0x00]), Buffer.alloc(40, 0x45)])
  const run = (p: BpfProgram) => inNetns(ns.name, () => p.testRun(frame).retval)

  it('loads a socket filter and runs it', () => {
    using p = loadProgram({ type: 'socket-filter', insns: [mov64Imm(R0, 2), exit()], name: 'const2' })
    expect(p.fd).toBeGreaterThan(2)
    expect(run(p)).toBe(2)
    const info = p.info()
    expect(info.type).toBe('socket-filter')
    expect(info.name).toBe('const2')
    expect(info.tag).toMatch(/^[0-9a-f]{16}$/)
    expect(info.id).toBeGreaterThan(0)
    expect(info.xlatedLength).toBe(16)
  })

  it('loads tc programs too; under test run a sched_cls program sees the frame from its L2 header', () => {
    // return the EtherType read at offset 12 (socket filters would see the IP header there)
    const insns = [
      mov64Reg(R6, R1),
      mov64Reg(R1, R6),
      mov64Imm(R2, 12),
      mov64Reg(3, R10),
      add64Imm(3, -8),
      mov64Imm(4, 2),
      call(BpfHelper.skbLoadBytes),
      ldxB(R0, R10, -8),
      ldxB(R1, R10, -7),
      lsh64Imm(R0, 8),
      or64Reg(R0, R1),
      exit(),
    ]
    using cls = loadProgram({ type: 'sched-cls', insns })
    using act = loadProgram({ type: 'sched-act', insns })
    using sock = loadProgram({ type: 'socket-filter', insns })
    expect(run(cls)).toBe(0x0800)
    expect(run(act)).toBe(0x0800)
    expect(run(sock)).toBe(0x4545) // IP header bytes: skb->data is the network header here
    expect(cls.info().type).toBe('sched-cls')
  })

  it('runs a bounded loop with backward jumps (kernel ≥ 5.3)', () => {
    // r0 = sum of 1..10
    using p = loadProgram({
      type: 'socket-filter',
      insns: [
        mov64Imm(R0, 0),
        mov64Imm(R1, 1),
        label('loop'),
        add64Reg(R0, R1),
        add64Imm(R1, 1),
        jleImm(R1, 10, 'loop'),
        exit(),
      ],
    })
    expect(run(p)).toBe(55)
  })

  it('reads packet bytes with bpf_skb_load_bytes', () => {
    // skb_load_bytes(skb, 0, fp-8, 4); return the first byte (the IPv4 version/IHL 0x45)
    using p = loadProgram({
      type: 'socket-filter',
      insns: [
        mov64Reg(R6, R1),
        mov64Reg(R1, R6),
        mov64Imm(R2, 0),
        mov64Reg(3, R10),
        add64Imm(3, -8),
        mov64Imm(4, 4),
        call(BpfHelper.skbLoadBytes),
        jeqImm(R0, 0, 'ok'),
        mov64Imm(R0, 0xee),
        exit(),
        label('ok'),
        ldxB(R0, R10, -8),
        exit(),
      ],
    })
    expect(run(p)).toBe(0x45)
  })

  it('reports a verifier rejection with the log, after a first try without one', () => {
    const fds = openFds()
    let err: unknown
    try {
      loadProgram({ type: 'socket-filter', insns: [mov64Reg(R0, R2), exit()] })
    } catch (e) {
      err = e
    }
    expect(err).toBeInstanceOf(BpfVerifierError)
    const v = err as BpfVerifierError
    expect(v.kind).toBe('verifier')
    expect(v.reason.errno).toBe('EACCES')
    expect(v.log).toMatch(/R2 !read_ok/)
    expect(v.message).toMatch(/R2 !read_ok/)
    expect(openFds()).toBe(fds)
  })

  it('rejects a program without exit (falls off the end)', () => {
    expect(() => loadProgram({ type: 'socket-filter', insns: [mov64Imm(R0, 1)] })).toThrow(BpfVerifierError)
  })

  it('keeps the log of a successful load when asked', () => {
    using p = loadProgram({ type: 'socket-filter', insns: [mov64Imm(R0, 0), exit()], logLevel: 2 })
    expect(p.verifierLog).toMatch(/processed 2 insns/)
  })

  it('validates input before any syscall', () => {
    const bad = (f: () => unknown) => {
      try {
        f()
      } catch (e) {
        expect(e).toBeInstanceOf(BpfError)
        return (e as BpfError).reason
      }
      throw new Error('did not throw')
    }
    const r1 = bad(() =>
      loadProgram({ type: 'socket-filter', insns: [exit()], name: 'a-name-that-is-too-long' }),
    )
    expect(r1.kind).toBe('invalid-input')
    expect(r1.kind === 'invalid-input' && r1.issues[0]?.path).toBe('name')
    expect(bad(() => loadProgram({ type: 'socket-filter', insns: [ja('x')] })).kind).toBe('invalid-input')
    expect(bad(() => loadProgram({ type: 'socket-filter', insns: Buffer.alloc(7) })).kind).toBe(
      'invalid-input',
    )
    expect(bad(() => BpfMap.create({ type: 'array', keySize: 8, valueSize: 4, maxEntries: 1 })).kind).toBe(
      'invalid-input',
    )
    using m = BpfMap.create({ type: 'hash', keySize: 4, valueSize: 8, maxEntries: 4 })
    const r2 = bad(() => m.update(Buffer.alloc(4), Buffer.alloc(4)))
    expect(r2.kind === 'invalid-input' && r2.issues[0]?.message).toMatch(/exactly 8 bytes/)
  })

  it('array and hash maps: update, lookup, delete, keys, update modes', () => {
    using arr = BpfMap.create({ type: 'array', keySize: 4, valueSize: 8, maxEntries: 4, name: 'arr' })
    expect(arr.lookup(BpfMap.u32(1))).toEqual(Buffer.alloc(8))
    arr.update(BpfMap.u32(1), Buffer.from('0102030405060708', 'hex'))
    expect(hex(arr.lookup(BpfMap.u32(1))!)).toBe('0102030405060708')
    expect(arr.lookup(BpfMap.u32(9))).toBeUndefined()
    expect([...arr.keys()].map((k) => k.readUInt32LE(0))).toEqual([0, 1, 2, 3])
    expect(arr.info()).toMatchObject({ type: 'array', keySize: 4, valueSize: 8, maxEntries: 4, name: 'arr' })

    using h = BpfMap.create({ type: 'hash', keySize: 4, valueSize: 4, maxEntries: 8 })
    expect(h.lookup(BpfMap.u32(7))).toBeUndefined()
    h.update(BpfMap.u32(7), BpfMap.u32(70), 'noexist')
    h.update(BpfMap.u32(8), BpfMap.u32(80))
    expect(h.lookup(BpfMap.u32(7))?.readUInt32LE(0)).toBe(70)
    expect(() => h.update(BpfMap.u32(7), BpfMap.u32(1), 'noexist')).toThrow(/EEXIST/)
    expect(() => h.update(BpfMap.u32(9), BpfMap.u32(1), 'exist')).toThrow(/ENOENT/)
    expect(
      [...h.entries()].map(([k, v]) => [k.readUInt32LE(0), v.readUInt32LE(0)]).sort((a, b) => a[0]! - b[0]!),
    ).toEqual([
      [7, 70],
      [8, 80],
    ])
    expect(h.delete(BpfMap.u32(7))).toBe(true)
    expect(h.delete(BpfMap.u32(7))).toBe(false)
    expect([...h.keys()].length).toBe(1)
  })

  it('a program reads a map through ldMapFd; a map update changes its result live', () => {
    using m = BpfMap.create({ type: 'array', keySize: 4, valueSize: 4, maxEntries: 1 })
    m.update(BpfMap.u32(0), BpfMap.u32(3))
    using p = loadProgram({
      type: 'socket-filter',
      insns: [
        stW(R10, -4, 0), // key = 0
        ldMapFd(R1, m),
        mov64Reg(R2, R10),
        add64Imm(R2, -4),
        call(BpfHelper.mapLookupElem),
        jeqImm(R0, 0, 'none'),
        ldxW(R0, R0, 0),
        exit(),
        label('none'),
        mov64Imm(R0, 0),
        exit(),
      ],
    })
    expect(run(p)).toBe(3)
    m.update(BpfMap.u32(0), BpfMap.u32(1))
    expect(run(p)).toBe(1)
    expect(p.info().mapIds).toEqual([m.info().id])
  })

  it('jgt with an unsigned immediate above 2^31 compares as the kernel sign-extends it', () => {
    // imm 0xffffffff is -1 sign-extended to 64 bits: r1 = 5 is not > 0xffffffffffffffff
    using p = loadProgram({
      type: 'socket-filter',
      insns: [
        mov64Imm(R1, 5),
        mov64Imm(R0, 1),
        jgtImm(R1, 0xffffffff, 'out'),
        mov64Imm(R0, 2),
        label('out'),
        exit(),
      ],
    })
    expect(run(p)).toBe(2)
  })

  it('pins a map and a program, opens them again, and tells them apart', () => {
    const mapPath = join(mnt, 'm')
    const progPath = join(mnt, 'p')
    {
      using m = BpfMap.create({ type: 'array', keySize: 4, valueSize: 4, maxEntries: 2 })
      m.update(BpfMap.u32(1), BpfMap.u32(42))
      m.pin(mapPath)
      using p = loadProgram({ type: 'socket-filter', insns: [mov64Imm(R0, 9), exit()], name: 'pinned' })
      p.pin(progPath)
    }
    using m2 = BpfMap.fromPinned(mapPath)
    expect(m2.keySize).toBe(4)
    expect(m2.lookup(BpfMap.u32(1))?.readUInt32LE(0)).toBe(42)
    using p2 = BpfProgram.fromPinned(progPath)
    expect(p2.type).toBe('socket-filter')
    expect(p2.info().name).toBe('pinned')
    expect(run(p2)).toBe(9)

    const fds = openFds()
    expect(() => BpfMap.fromPinned(progPath)).toThrow(expect.objectContaining({ kind: 'wrong-object' }))
    expect(() => BpfProgram.fromPinned(mapPath)).toThrow(expect.objectContaining({ kind: 'wrong-object' }))
    expect(() => BpfMap.fromPinned(join(mnt, 'nothing'))).toThrow(
      expect.objectContaining({ kind: 'not-found' }),
    )
    expect(openFds()).toBe(fds)
  })

  it('a read-only pinned map refuses writes', () => {
    const path = join(mnt, 'ro')
    using m = BpfMap.create({ type: 'array', keySize: 4, valueSize: 4, maxEntries: 1 })
    m.pin(path)
    using ro = BpfMap.fromPinned(path, 'ro')
    expect(ro.lookup(BpfMap.u32(0))).toEqual(Buffer.alloc(4))
    expect(() => ro.update(BpfMap.u32(0), BpfMap.u32(1))).toThrow(
      expect.objectContaining({ kind: 'permission-denied' }),
    )
  })

  it('owns its fd: close is idempotent and a closed object says so', () => {
    const fds = openFds()
    const m = BpfMap.create({ type: 'array', keySize: 4, valueSize: 4, maxEntries: 1 })
    const p = loadProgram({ type: 'socket-filter', insns: [mov64Imm(R0, 0), exit()] })
    expect(openFds()).toBe(fds + 2)
    m.close()
    m.close()
    p[Symbol.dispose]()
    expect(openFds()).toBe(fds)
    expect(m.closed).toBe(true)
    expect(() => m.lookup(BpfMap.u32(0))).toThrow(expect.objectContaining({ kind: 'closed' }))
    expect(() => p.fd).toThrow(expect.objectContaining({ kind: 'closed' }))
  })

  it('adopts a map fd by asking the kernel for its sizes', () => {
    using m = BpfMap.create({ type: 'hash', keySize: 8, valueSize: 16, maxEntries: 3 })
    using same = BpfMap.fromFd(dupFd(m.fd))
    expect([same.keySize, same.valueSize, same.maxEntries]).toEqual([8, 16, 3])
    same.update(Buffer.alloc(8, 1), Buffer.alloc(16, 2))
    expect(m.lookup(Buffer.alloc(8, 1))).toEqual(Buffer.alloc(16, 2))
    expect(() => BpfProgram.fromFd(m.fd)).toThrow(expect.objectContaining({ kind: 'wrong-object' }))
  })
})
