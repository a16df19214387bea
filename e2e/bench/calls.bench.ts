// Call set-up in Chromium, as a person sees it: two pages with the synthetic camera and
// microphone, the caller's offer → the callee's incoming-call screen (ring), and the
// callee's accept click → both peer connections `connected`. Once with host candidates,
// once with "protect IP address" on (relay only, through the server's built-in TURN).
// Writes e2e/output/calls-bench.json for `cargo xtask bench`; nothing is asserted on speed.
import type { Page } from '@playwright/test';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { accept, candidateTypes, connectionState, dial, expectStage, pair, screen, type PcMarks } from '../calls';
import { OUTPUT_DIR, expect, openSettings, test } from '../fixtures';
import { showChats } from '../chat';

/** Records (Date.now()) when the incoming-call screen shows and when accept is clicked. */
async function watchCallScreen(page: Page): Promise<void> {
  await page.evaluate(() => {
    const w = window as unknown as { __incoming: number[]; __accepted: number[] };
    w.__incoming = [];
    w.__accepted = [];
    let ringing = false;
    new MutationObserver(() => {
      const now = !!document.querySelector('[data-testid="call-screen"][data-stage="incoming"]');
      if (now && !ringing) w.__incoming.push(Date.now());
      ringing = now;
    }).observe(document.body, { subtree: true, childList: true, attributes: true, attributeFilter: ['data-stage'] });
    document.addEventListener(
      'click',
      (e) => {
        if ((e.target as Element).closest('[data-testid="accept-call"]')) w.__accepted.push(Date.now());
      },
      true,
    );
  });
}

function lastMarks(page: Page): Promise<PcMarks> {
  return page.evaluate(() => {
    const marks = (window as unknown as { __pcMarks: PcMarks[] }).__pcMarks;
    return marks[marks.length - 1];
  });
}

function lastOf(page: Page, key: '__incoming' | '__accepted'): Promise<number> {
  return page.evaluate((k) => {
    const list = (window as unknown as Record<string, number[]>)[k];
    return list[list.length - 1];
  }, key);
}

interface Round {
  ring_ms: number;
  accept_to_connected_ms: number;
  offer_to_connected_ms: number;
}

function summary(rounds: Round[], key: keyof Round) {
  const v = rounds.map((r) => r[key]).sort((x, y) => x - y);
  return { min: v[0], median: v[Math.floor(v.length / 2)], max: v[v.length - 1] };
}

test('call set-up in Chromium', async ({ newPage }) => {
  test.setTimeout(600_000);
  const rounds = Number(process.env.PARLEY_BENCH_CALL_ROUNDS ?? '5');
  const { bob, a, b } = await pair(newPage);
  await watchCallScreen(b);
  const out: Record<string, unknown> = { scenario: 'browser_calls', browser: a.context().browser()!.version(), rounds };

  for (const relay of [false, true]) {
    if (relay) {
      for (const page of [a, b]) {
        await openSettings(page);
        await page.getByTestId('relay-calls-toggle').check();
        await showChats(page);
      }
    }
    const results: Round[] = [];
    // One warm-up call first (media devices, codecs), not counted.
    for (let i = 0; i <= rounds; i++) {
      await dial(a, bob, 'video');
      await expectStage(b, 'incoming');
      await accept(b);
      await expect.poll(() => connectionState(a)).toBe('connected');
      await expect.poll(() => connectionState(b)).toBe('connected');
      if (relay) {
        // The figures are for the path they claim to be.
        expect((await candidateTypes(a)).selected).toEqual(['relay', 'relay']);
      }
      const [ma, mb] = [await lastMarks(a), await lastMarks(b)];
      const incoming = await lastOf(b, '__incoming');
      const accepted = await lastOf(b, '__accepted');
      const connected = Math.max(ma.connected, mb.connected);
      if (i > 0) {
        results.push({
          ring_ms: incoming - ma.offer,
          accept_to_connected_ms: connected - accepted,
          // Without the time the callee took to click accept.
          offer_to_connected_ms: connected - ma.offer - (accepted - incoming),
        });
      }
      await a.getByTestId('hangup-call').click();
      await expect(screen(a)).toBeHidden();
      await expect(screen(b)).toBeHidden();
    }
    const path_ = relay ? 'relay' : 'host';
    out[path_] = {
      ring_ms: summary(results, 'ring_ms'),
      accept_to_connected_ms: summary(results, 'accept_to_connected_ms'),
      offer_to_connected_ms: summary(results, 'offer_to_connected_ms'),
    };
  }
  console.log(JSON.stringify(out));
  writeFileSync(path.join(OUTPUT_DIR, 'calls-bench.json'), JSON.stringify(out));
});
