import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { addressOf, bpfSyscall, closeFd } from '../../src/netlink/sys/index.ts'

// A minimal BPF_PROG_LOAD for tests only (the shared loader in src/bpf replaces it after merge):
// `r0 = verdict; exit`, as a tc classifier or tc action program.
const BPF_PROG_LOAD = 5
const BPF_OBJ_PIN = 6
const BPF_OBJ_GET_INFO_BY_FD = 15
const PROG_TYPE = { sched_cls: 3, sched_act: 4 } as const

export interface TestProgram {
  fd: number
  id: number
  /** Hex, as the kernel and tc report it. */
  tag: string
  name: string
  close(): void
}

export function loadTestProgram(type: keyof typeof PROG_TYPE, name: string, verdict = 0): TestProgram {
  const insns = Buffer.alloc(16)
  insns.writeUInt8(0xb7, 0) // BPF_ALU64 | BPF_MOV | BPF_K, dst r0
  insns.writeInt32LE(verdict, 4)
  insns.writeUInt8(0x95, 8) // BPF_JMP | BPF_EXIT
  const license = Buffer.from('GPL\0')
  const attr = Buffer.alloc(128)
  attr.writeUInt32LE(PROG_TYPE[type], 0)
  attr.writeUInt32LE(2, 4)
  attr.writeBigUInt64LE(addressOf(insns), 8)
  attr.writeBigUInt64LE(addressOf(license), 16)
  attr.write(name.slice(0, 15), 48)
  const fd = bpfSyscall(BPF_PROG_LOAD, attr)
  const info = Buffer.alloc(256)
  const req = Buffer.alloc(16)
  req.writeUInt32LE(fd, 0)
  req.writeUInt32LE(info.length, 4)
  req.writeBigUInt64LE(addressOf(info), 8)
  bpfSyscall(BPF_OBJ_GET_INFO_BY_FD, req)
  const end = info.indexOf(0, 64)
  return {
    fd,
    id: info.readUInt32LE(4),
    tag: info.subarray(8, 16).toString('hex'),
    name: info.toString('utf8', 64, end < 0 || end > 80 ? 80 : end),
    close: () => closeFd(fd),
  }
}

export function pinObject(fd: number, path: string): void {
  const name = Buffer.from(`${path}\0`)
  const attr = Buffer.alloc(16)
  attr.writeBigUInt64LE(addressOf(name), 0)
  attr.writeUInt32LE(fd, 8)
  bpfSyscall(BPF_OBJ_PIN, attr)
}

/** A private bpffs mounted on a temporary directory, for pinning test programs. */
export class TestBpffs {
  readonly dir: string
  constructor() {
    this.dir = mkdtempSync(join(tmpdir(), 'rxnl-bpffs-'))
    execFileSync('mount', ['-t', 'bpf', 'bpf', this.dir])
  }
  path(name: string): string {
    return join(this.dir, name)
  }
  remove(): void {
    try {
      execFileSync('umount', ['-l', this.dir])
    } catch {
      // not mounted
    }
    rmSync(this.dir, { recursive: true, force: true })
  }
}
