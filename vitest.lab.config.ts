import { availableParallelism } from 'node:os'
import { defineConfig } from 'vitest/config'

// The kernel lab's tests (test/lab/*.test.ts): run only inside the QEMU guest by `test/lab/run`
// (`npm run test:lab`), which bundles them first (test/lab/.cache/build: a .test.js per file and
// the chunks they share, with source maps, which vitest reads for failures). The guest's CPUs are
// emulated (TCG), where JavaScript runs 20–50× slower: node loads the bundles as they are (no vite
// transform, no module runner round trip per module), the workers keep modules from file to file
// (isolate: false), and there is a worker per vCPU: test files own their namespaces and netdevsim
// devices, so they can run side by side.
// /tmp/lab-cache is a writable share kept between runs (test/lab/.cache/<kernel>/vitest-cache):
// vitest's record of file durations there lets it start the slowest file first.
export default defineConfig({
  cacheDir: '/tmp/lab-cache/vite',
  test: {
    include: ['test/lab/.cache/build/*.test.js'],
    server: { deps: { external: [/\/test\/lab\/\.cache\/build\//] } },
    pool: 'forks',
    maxWorkers: availableParallelism(),
    isolate: false,
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
})
