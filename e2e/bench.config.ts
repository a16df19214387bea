import { defineConfig } from '@playwright/test';
import base from './playwright.config';

// Run by `cargo xtask bench`: timings measured in Chromium, never asserted.
export default defineConfig({
  ...base,
  testDir: './bench',
  testMatch: '**/*.bench.ts',
  workers: 1,
  reporter: [['list'], ['json', { outputFile: './output/bench-results.json' }]],
});
