import { defineConfig } from '@playwright/test';

// Run by `cargo xtask test`, which builds everything and sets PARLEY_SERVER_BIN,
// PARLEY_DIST, PARLEY_PG_URL and CHROMIUM_PATH (see e2e/fixtures.ts for defaults).
export default defineConfig({
  testDir: './tests',
  outputDir: './test-results',
  workers: 2,
  retries: 0,
  fullyParallel: false,
  forbidOnly: !!process.env.CI,
  timeout: 60_000,
  expect: { timeout: 15_000 },
  // xtask reads the counts from the JSON report.
  reporter: [['list'], ['json', { outputFile: './output/results.json' }]],
  use: {
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/lib/chromium/chromium',
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        // Calls: a synthetic camera (test pattern) and microphone (beeps); whether a page
        // may use them is still decided per context (`permissions`).
        '--use-fake-device-for-media-stream',
        '--autoplay-policy=no-user-gesture-required',
      ],
    },
    trace: 'retain-on-failure',
    video: 'off',
    screenshot: 'only-on-failure',
    actionTimeout: 15_000,
    navigationTimeout: 30_000,
  },
  projects: [{ name: 'chromium', use: { browserName: 'chromium' } }],
});
