// Toeplitz throughput: rxnetlink (TypeScript) against a table-driven C implementation compiled in
// this run with `cc -O2`. Run: npx tsx bench/toeplitz.ts [--quick] [--json]
//
// Times are CPU time of the measuring process (CLOCK_PROCESS_CPUTIME_ID / process.cpuUsage), best
// of REPS runs, so that other load on the machine does not count.
//
// Both sides do the same work per hash: change one of the first 8 input bytes (so nothing can be hoisted out of
// the loop), hash 12 bytes (IPv4 + ports) or 36 bytes (IPv6 + ports), fold the result into a
// checksum that is printed (so nothing can be dropped). The checksums must agree.

import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseRssConfig } from '../src/tuntap/rss-config.ts'
import { type RssSteering, rssSteering } from '../src/tuntap/rss-hash.ts'
import { microsoftRssKey, type ToeplitzHasher, toeplitz, toeplitzHasher } from '../src/tuntap/toeplitz.ts'
import { buildFrame } from '../test/helpers/frames.ts'
import { type Comparison, compare, emit, log, quick } from './lib.ts'

const ITERATIONS = quick ? 500_000 : 5_000_000
const LENGTHS = [12, 36]

const C_SOURCE = String.raw`
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define REPS 9

static const uint8_t key[40] = {
  0x6d,0x5a,0x56,0xda,0x25,0x5b,0x0e,0xc2,0x41,0x67,0x25,0x3d,0x43,0xa3,0x8f,0xb0,
  0xd0,0xca,0x2b,0xcb,0xae,0x7b,0x30,0xb4,0x77,0xcb,0x2d,0xa3,0x80,0x30,0xf2,0x0c,
  0x6a,0x42,0xb7,0x3b,0xbe,0xac,0x01,0xfa };

static uint32_t table[36][256];

static void build(void) {
  for (int p = 0; p < 36; p++) {
    uint32_t hi = (uint32_t)key[p] << 24 | (uint32_t)key[p+1] << 16 | (uint32_t)key[p+2] << 8 | key[p+3];
    uint32_t w[8];
    for (int j = 0; j < 8; j++) w[j] = j ? (hi << j) | (key[p+4] >> (8 - j)) : hi;
    for (int b = 0; b < 256; b++) {
      uint32_t h = 0;
      for (int j = 0; j < 8; j++) if (b & (0x80 >> j)) h ^= w[j];
      table[p][b] = h;
    }
  }
}

static inline uint32_t hash(const uint8_t *in, int n) {
  uint32_t h = 0;
  for (int i = 0; i < n; i++) h ^= table[i][in[i]];
  return h;
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
  long iterations = atol(argv[1]);
  build();
  for (int a = 2; a < argc; a++) {
    int n = atoi(argv[a]);
    uint8_t in[36];
    uint32_t sum = 0;
    double best = 1e30;
    for (int rep = 0; rep < REPS; rep++) {
      for (int i = 0; i < 36; i++) in[i] = (uint8_t)(i * 7 + 1);
      sum = 0;
      double t0 = now();
      for (long i = 0; i < iterations; i++) {
        in[i & 7] = (uint8_t)i;
        sum ^= hash(in, n) + (uint32_t)i;
      }
      double t = now() - t0;
      if (t < best) best = t;
    }
    printf("%d %.0f %08x\n", n, iterations / best, sum);
  }
  return 0;
}
`

function runC(): Map<number, { rate: number; sum: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'rxnl-toeplitz-'))
  try {
    writeFileSync(join(dir, 'toeplitz.c'), C_SOURCE)
    execFileSync('cc', ['-O2', '-o', join(dir, 'toeplitz'), join(dir, 'toeplitz.c')])
    const out = execFileSync(join(dir, 'toeplitz'), [String(ITERATIONS), ...LENGTHS.map(String)], {
      encoding: 'utf8',
    })
    const result = new Map<number, { rate: number; sum: string }>()
    for (const line of out.trim().split('\n')) {
      const [n, rate, sum] = line.split(' ')
      result.set(Number(n), { rate: Number(rate), sum: sum! })
    }
    return result
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

const REPS = quick ? 3 : 9

function cpuSeconds(since: NodeJS.CpuUsage): number {
  const u = process.cpuUsage(since)
  return (u.user + u.system) / 1e6
}

function fill(n: number): Uint8Array {
  const input = new Uint8Array(n)
  for (let i = 0; i < n; i++) input[i] = (i * 7 + 1) & 0xff
  return input
}

// One loop per variant (not one loop taking a callback) so that each call site stays
// monomorphic, as it is in real code. Best of REPS runs, like the C side.
function loopHasher(n: number, hasher: ToeplitzHasher): { rate: number; sum: string } {
  let best = Number.POSITIVE_INFINITY
  let sum = 0
  for (let rep = 0; rep < REPS; rep++) {
    const input = fill(n)
    sum = 0
    const t0 = process.cpuUsage()
    for (let i = 0; i < ITERATIONS; i++) {
      input[i & 7] = i & 0xff
      sum = (sum ^ ((hasher(input) + i) >>> 0)) >>> 0
    }
    best = Math.min(best, cpuSeconds(t0))
  }
  return { rate: ITERATIONS / best, sum: sum.toString(16).padStart(8, '0') }
}

function loopCached(n: number, key: Uint8Array): { rate: number; sum: string } {
  let best = Number.POSITIVE_INFINITY
  let sum = 0
  for (let rep = 0; rep < REPS; rep++) {
    const input = fill(n)
    sum = 0
    const t0 = process.cpuUsage()
    for (let i = 0; i < ITERATIONS; i++) {
      input[i & 7] = i & 0xff
      sum = (sum ^ ((toeplitz(key, input) + i) >>> 0)) >>> 0
    }
    best = Math.min(best, cpuSeconds(t0))
  }
  return { rate: ITERATIONS / best, sum: sum.toString(16).padStart(8, '0') }
}

function fmt(rate: number): string {
  return `${(rate / 1e6).toFixed(1)} M/s`
}

const key = microsoftRssKey()
const hasher = toeplitzHasher(key)
const c = runC()
const comparisons: Comparison[] = []
log(`Toeplitz, best of ${REPS} x ${ITERATIONS.toLocaleString('en')} hashes, node ${process.version}`)
log('input  C (cc -O2, tables)   TS toeplitzHasher      TS toeplitz(key, input)')
for (const n of LENGTHS) {
  const cr = c.get(n)!
  const viaHasher = loopHasher(n, hasher)
  const viaCache = loopCached(n, key)
  if (viaHasher.sum !== cr.sum || viaCache.sum !== cr.sum) {
    throw new Error(`checksums differ for ${n} bytes: C ${cr.sum}, TS ${viaHasher.sum}/${viaCache.sum}`)
  }
  const rates = { unit: 'M hashes/s', higherIsBetter: true, kind: 'peer' } as const
  comparisons.push(
    compare({
      case: `toeplitzHasher, ${n} B`,
      against: 'C, cc -O2, tables',
      ours: viaHasher.rate / 1e6,
      theirs: cr.rate / 1e6,
      ...rates,
    }),
    compare({
      case: `toeplitz(key, input), ${n} B`,
      against: 'C, cc -O2, tables',
      ours: viaCache.rate / 1e6,
      theirs: cr.rate / 1e6,
      ...rates,
    }),
  )
  const pct = (r: number): string => `${((r / cr.rate) * 100).toFixed(0)}%`
  log(
    `${String(n).padStart(2)} B   ${fmt(cr.rate).padEnd(22)} ${`${fmt(viaHasher.rate)} (${pct(viaHasher.rate)})`.padEnd(22)} ${fmt(viaCache.rate)} (${pct(viaCache.rate)})`,
  )
}

// For reference: whole-frame RSS in user space (parse, pick the hash type, hash, look up the table).
function loopSteering(frame: Buffer, steering: RssSteering): number {
  let best = Number.POSITIVE_INFINITY
  let sum = 0
  for (let rep = 0; rep < REPS; rep++) {
    const t0 = process.cpuUsage()
    for (let i = 0; i < ITERATIONS / 5; i++) {
      frame[frame.length - 1] = i & 0xff
      sum = (sum + steering.queue(frame)) | 0
    }
    best = Math.min(best, cpuSeconds(t0))
  }
  if (sum === -1) log(sum)
  return ITERATIONS / 5 / best
}

const steering = rssSteering(
  parseRssConfig({
    hashTypes: ['ipv4', 'tcpv4', 'udpv4', 'ipv6', 'tcpv6', 'udpv6', 'ipv6_ex', 'tcpv6_ex', 'udpv6_ex'],
    table: Array.from({ length: 128 }, (_, i) => i % 8),
    defaultQueue: 0,
  }),
)
const l4 = { proto: 'tcp', srcPort: 40000, dstPort: 443 } as const
const frames: [string, Buffer][] = [
  [
    'IPv4/TCP',
    buildFrame({ ip: { version: 4, src: '10.0.0.1', dst: '10.0.0.2' }, l4, payload: new Uint8Array(1) }),
  ],
  [
    'VLAN/IPv4/TCP',
    buildFrame({
      vlans: [{ vid: 5 }],
      ip: { version: 4, src: '10.0.0.1', dst: '10.0.0.2' },
      l4,
      payload: new Uint8Array(1),
    }),
  ],
  [
    'IPv6/TCP',
    buildFrame({
      ip: { version: 6, src: '2001:db8::1', dst: '2001:db8::2' },
      l4,
      payload: new Uint8Array(1),
    }),
  ],
  [
    'IPv6+HAO/TCP',
    buildFrame({
      ip: {
        version: 6,
        src: '2001:db8::1',
        dst: '2001:db8::2',
        extensions: [{ type: 'destination', homeAddress: '2001:db8::9' }],
      },
      l4,
      payload: new Uint8Array(1),
    }),
  ],
]
log('\nrssSteering(config).queue(frame), whole frames:')
for (const [name, frame] of frames) log(`  ${name.padEnd(14)} ${fmt(loopSteering(frame, steering))}`)

emit({
  script: 'toeplitz',
  title: 'Toeplitz hash throughput',
  parameters: { iterations: ITERATIONS, reps: REPS },
  comparisons,
})
