// Crypto costs in Chromium, on the app's own wasm (window.wasmBindings.parleyCryptoBench):
// session set-up, encryption and decryption of one 100-byte message. Also the bundle's
// size as served. Writes e2e/output/crypto-bench.json for `cargo xtask bench`.
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import { OUTPUT_DIR, expect, test } from '../fixtures';

test('crypto timings in Chromium', async ({ page, baseURL }) => {
  await page.goto('/');
  await page.waitForFunction(() => (window as any).wasmBindings?.parleyCryptoBench !== undefined);
  const rounds = Number(process.env.PARLEY_BENCH_ROUNDS ?? '1000');
  // One warm-up pass so the wasm is compiled by the optimising tier.
  await page.evaluate((n) => (window as any).wasmBindings.parleyCryptoBench(n), Math.max(10, rounds / 10));
  const result = JSON.parse(
    await page.evaluate((n) => (window as any).wasmBindings.parleyCryptoBench(n), rounds),
  );
  expect(result.rounds).toBe(rounds);

  const html = await (await fetch(`${baseURL}/`)).text();
  const wasmPath = html.match(/href="([^"]+_bg\.wasm)"/)?.[1] ?? html.match(/'([^']+_bg\.wasm)'/)?.[1];
  expect(wasmPath, 'the wasm bundle named in index.html').toBeTruthy();
  const wasm = Buffer.from(await (await fetch(new URL(wasmPath!, `${baseURL}/`))).arrayBuffer());
  const browser = page.context().browser()!.version();
  const out = {
    scenario: 'browser_crypto',
    browser,
    ...result,
    wasm_bytes: wasm.length,
    wasm_gzip_bytes: gzipSync(wasm, { level: 9 }).length,
  };
  console.log(JSON.stringify(out));
  writeFileSync(path.join(OUTPUT_DIR, 'crypto-bench.json'), JSON.stringify(out));
});
