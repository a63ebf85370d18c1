// Playwright for the web UI (`make e2e`): Debian's chromium (never a downloaded browser), one
// local worker per test process (fixtures.ts starts it), traces and screenshots on failure.

import { defineConfig } from '@playwright/test';

export default defineConfig({
  testDir: '.',
  testMatch: '*.spec.ts',
  outputDir: '../test-results',
  timeout: 60_000,
  expect: { timeout: 10_000 },
  fullyParallel: false,
  // Two cores: one test process (and its wrangler) is the fastest here. E2E_WORKERS=2 elsewhere.
  workers: Number(process.env.E2E_WORKERS ?? 1),
  retries: 0,
  forbidOnly: !!process.env.CI,
  // The JSON report is what `make e2e` prints a digest of when a test fails (digest.ts).
  reporter: [
    ['list'],
    ['html', { open: 'never', outputFolder: '../playwright-report' }],
    ['json', { outputFile: '../../target/e2e-report.json' }],
  ],
  use: {
    browserName: 'chromium',
    trace: 'retain-on-failure',
    screenshot: 'only-on-failure',
    actionTimeout: 10_000,
    launchOptions: {
      executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
      // What works on these machines: no sandbox as root, no GPU, and nothing that phones home
      // (the network is closed; Chromium would retry its background connections forever).
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    },
  },
});
