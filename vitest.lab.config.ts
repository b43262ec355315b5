import { defineConfig } from 'vitest/config'

// The kernel lab's tests (test/lab/*.test.ts): run only inside the QEMU guest by `test/lab/run`
// (`npm run test:lab`). The host's / is mounted read-only there; /tmp/lab-cache is a writable
// share kept between runs (test/lab/.cache/<kernel>/vitest-cache), so transformed modules are
// cached across runs. The guest's CPUs are emulated (TCG): one worker that keeps its module cache
// from file to file (isolate: false) costs far less than a fresh process per file.
export default defineConfig({
  cacheDir: '/tmp/lab-cache/vite',
  test: {
    include: ['test/lab/*.test.ts'],
    pool: 'forks',
    maxWorkers: 1,
    isolate: false,
    testTimeout: 120_000,
    hookTimeout: 120_000,
    experimental: { fsModuleCache: true, fsModuleCachePath: '/tmp/lab-cache/modules' },
  },
})
