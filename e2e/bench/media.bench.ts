// Attachments in Chromium: WebCrypto's throughput sealing and opening a file
// the app's way (AES-256-GCM per 1 MiB chunk and a SHA-256 of each sealed
// chunk), and the time from choosing a 10 MB photo to its recipient seeing
// it. Writes e2e/output/media-bench.json for `cargo xtask bench`.
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { OUTPUT_DIR, expect, test } from '../fixtures';
import { friends, openFromContacts } from '../chat';
import { noisyPng } from '../png';

const CHUNK = 1 << 20;
const TAG = 16;

test('attachments in Chromium', async ({ page: a, newPage }) => {
  test.setTimeout(180_000);
  const mib = Number(process.env.PARLEY_BENCH_MEDIA_MIB ?? '256');
  const rounds = Number(process.env.PARLEY_BENCH_PHOTO_ROUNDS ?? '3');
  const { alice, bob, b } = await friends(a, newPage);

  // WebCrypto alone, the app's way, on `mib` MiB held in memory.
  const crypto = await a.evaluate(
    async ({ mib, chunk, tag }) => {
      const plain = new Uint8Array(chunk - tag);
      for (let i = 0; i < plain.length; i += 65536) globalThis.crypto.getRandomValues(plain.subarray(i, i + 65536));
      const key = await globalThis.crypto.subtle.importKey(
        'raw',
        globalThis.crypto.getRandomValues(new Uint8Array(32)),
        'AES-GCM',
        false,
        ['encrypt', 'decrypt'],
      );
      const nonce = (i: number) => {
        const iv = new Uint8Array(12);
        new DataView(iv.buffer).setUint32(4, i);
        return iv;
      };
      const sealed: ArrayBuffer[] = [];
      let started = performance.now();
      for (let i = 0; i < mib; i++) {
        const c = await globalThis.crypto.subtle.encrypt({ name: 'AES-GCM', iv: nonce(i) }, key, plain);
        await globalThis.crypto.subtle.digest('SHA-256', c);
        if (i < 8) sealed.push(c);
      }
      const sealSeconds = (performance.now() - started) / 1000;
      started = performance.now();
      for (let i = 0; i < mib; i++) {
        const c = sealed[i % sealed.length];
        await globalThis.crypto.subtle.digest('SHA-256', c);
        await globalThis.crypto.subtle.decrypt({ name: 'AES-GCM', iv: nonce(i % sealed.length) }, key, c);
      }
      const openSeconds = (performance.now() - started) / 1000;
      const bytes = mib * (chunk - tag);
      return {
        seal_mb_per_sec: Math.round(bytes / sealSeconds / 1e6),
        open_mb_per_sec: Math.round(bytes / openSeconds / 1e6),
      };
    },
    { mib, chunk: CHUNK, tag: TAG },
  );

  // A 10 MB photo, chosen by Alice, until Bob sees it (its thumbnail or
  // the picture itself, whichever comes first).
  await openFromContacts(a, bob);
  await openFromContacts(b, alice);
  const photo = noisyPng(10_000_000);
  const times: number[] = [];
  for (let round = 0; round < rounds; round++) {
    // Timed in the pages (one browser, one clock): from the click on Send
    // in the dialog of chosen files (handing Playwright's 10 MB to the page
    // is not the app's time) to the moment Bob's page shows the photo's
    // bubble with its picture.
    await a.getByTestId('file-input').setInputFiles([
      { name: `photo-${round}.png`, mimeType: 'image/png', buffer: photo },
    ]);
    const sendButton = a.getByTestId('send-files-send');
    await sendButton.evaluate((button) => {
      button.addEventListener('click', () => ((window as any).chosenAt = Date.now()), { once: true });
    });
    await b.evaluate((n) => {
      const shown = () =>
        document.querySelectorAll('[data-testid="attachment-photo"] img').length > n;
      (window as any).seenAt = undefined;
      const observer = new MutationObserver(() => {
        if (shown()) {
          (window as any).seenAt = Date.now();
          observer.disconnect();
        }
      });
      observer.observe(document.body, { childList: true, subtree: true });
    }, round);
    await sendButton.click();
    const seen = b.getByTestId('attachment-photo').nth(round);
    await expect(seen.getByTestId('photo-thumb').or(seen.getByTestId('photo-full'))).toBeVisible({
      timeout: 60_000,
    });
    const chosenAt = await a.evaluate(() => (window as any).chosenAt as number);
    await expect.poll(() => b.evaluate(() => (window as any).seenAt as number | undefined)).toBeDefined();
    const seenAt = await b.evaluate(() => (window as any).seenAt as number);
    times.push(seenAt - chosenAt);
  }
  times.sort((x, y) => x - y);
  const out = {
    scenario: 'browser_media',
    browser: a.context().browser()!.version(),
    mib,
    ...crypto,
    photo_bytes: photo.length,
    photo_rounds: rounds,
    photo_to_recipient_ms: { median: times[Math.floor(times.length / 2)], min: times[0], max: times[times.length - 1] },
  };
  console.log(JSON.stringify(out));
  writeFileSync(path.join(OUTPUT_DIR, 'media-bench.json'), JSON.stringify(out));
});
