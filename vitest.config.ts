import { defineConfig } from 'vitest/config'

// Lab tests need the QEMU guest's kernel (netdevsim, devlink, flower...); they run only
// through `npm run test:lab`, which selects vitest.lab.config.ts inside the guest.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['test/lab/**', 'node_modules/**'],
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
})
