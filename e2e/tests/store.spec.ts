// The client core's store suite (frontend/core/src/store/suite.rs) on IndexedDB in
// Chromium: the same cases the in-memory store passes natively, through the app's own
// wasm (window.wasmBindings.parleyStoreSuite).
import { expect, test } from '../fixtures';

test('the IndexedDB message store passes the core store suite', async ({ page }) => {
  await page.goto('/');
  await page.waitForFunction(() => (window as any).wasmBindings?.parleyStoreSuite !== undefined);
  const outcomes: { name: string; error: string | null }[] = JSON.parse(
    await page.evaluate(() => (window as any).wasmBindings.parleyStoreSuite()),
  );
  expect(outcomes.length).toBeGreaterThanOrEqual(9);
  expect(outcomes.filter((o) => o.error !== null)).toEqual([]);
  // Each case deleted its database.
  const left = await page.evaluate(async () =>
    (await indexedDB.databases()).map((d) => d.name).filter((n) => n?.startsWith('parley-suite-')),
  );
  expect(left).toEqual([]);
});
