// Group messaging costs in Chromium, on the app's own wasm
// (window.wasmBindings.parleyGroupBench): Megolm encryption and decryption of
// one 100-byte message, and the sender's work for the first message to a new
// group of 1,024 member devices (Olm sessions from claimed keys, the room key
// for each, in the app's claim batches, then the one ciphertext). Writes
// e2e/output/group-bench.json for `cargo xtask bench`.
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { OUTPUT_DIR, expect, test } from '../fixtures';

test('group crypto timings in Chromium', async ({ page }) => {
  test.setTimeout(300_000);
  await page.goto('/');
  await page.waitForFunction(() => (window as any).wasmBindings?.parleyGroupBench !== undefined);
  const rounds = Number(process.env.PARLEY_BENCH_ROUNDS ?? '1000');
  const devices = Number(process.env.PARLEY_BENCH_GROUP_DEVICES ?? '1024');
  // A warm-up pass so the wasm is compiled by the optimising tier.
  await page.evaluate((n) => (window as any).wasmBindings.parleyGroupBench(64, n), Math.max(10, rounds / 10));
  const result = JSON.parse(
    await page.evaluate(([d, n]) => (window as any).wasmBindings.parleyGroupBench(d, n), [devices, rounds]),
  );
  expect(result.rounds).toBe(rounds);
  expect(result.devices).toBe(devices);
  const out = { scenario: 'browser_groups', browser: page.context().browser()!.version(), ...result };
  console.log(JSON.stringify(out));
  writeFileSync(path.join(OUTPUT_DIR, 'group-bench.json'), JSON.stringify(out));
});
