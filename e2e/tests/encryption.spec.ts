// End-to-end encryption as people meet it: nothing readable leaves the browser, safety
// numbers match on both sides, new devices get new messages, identity changes are shown,
// and a message a device cannot decrypt is recovered.
import type { Page } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  dbUrl,
  expect,
  pgBin,
  screenshot,
  sql,
  test,
  type ParleyServer,
} from '../fixtures';
import { bubble, chatItem, friends, openFromContacts, secondBrowser, send, showChats, tick } from '../chat';

/** Every WebSocket frame a page sends or receives, as bytes. */
function recordFrames(page: Page, into: Buffer[]): void {
  page.on('websocket', (ws) => {
    const keep = (frame: { payload: string | Buffer }) =>
      into.push(typeof frame.payload === 'string' ? Buffer.from(frame.payload) : frame.payload);
    ws.on('framesent', keep);
    ws.on('framereceived', keep);
  });
}

/** Every row of every table of the server's database, as pg_dump prints them. */
function dumpDatabase(server: ParleyServer): string {
  return execFileSync(pgBin('pg_dump'), ['--data-only', '--no-owner', dbUrl(server)], {
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
  });
}


/** The sentinel as text, as bytea hex (how pg_dump prints bytes) and as base64. */
function forms(sentinel: string): string[] {
  const bytes = Buffer.from(sentinel, 'utf8');
  return [sentinel, bytes.toString('hex'), bytes.toString('base64').replace(/=+$/, '')];
}

function expectAbsent(haystack: string, sentinel: string, where: string): void {
  for (const form of forms(sentinel)) {
    expect(haystack.includes(form), `${where} contains ${form}`).toBe(false);
  }
}

async function safetyNumber(page: Page): Promise<string> {
  await page.getByTestId('open-safety').click();
  const number = page.getByTestId('safety-number');
  await expect(number).toHaveAttribute('data-number', /^\d{60}$/);
  await expect(page.getByTestId('safety-qr').locator('svg')).toBeVisible();
  return (await number.getAttribute('data-number'))!;
}

test('no plaintext in any WebSocket frame or database row', async ({ page: a, newPage, server }) => {
  const frames: Buffer[] = [];
  recordFrames(a, frames);
  const { alice, bob, b } = await friends(a, newPage);
  recordFrames(b, frames);
  const live = `sentinel-live-${randomBytes(8).toString('hex')}`;
  const queued = `sentinel-queued-${randomBytes(8).toString('hex')}`;

  await openFromContacts(a, bob);
  await send(a, live);
  await showChats(b);
  await chatItem(b, alice).click();
  await expect(bubble(b, live)).toBeVisible();
  await expect(tick(a, live)).toHaveAttribute('data-status', 'read');

  // Bob goes away: the next message waits in his queue in PostgreSQL.
  const bobContext = b.context();
  await b.close();
  await send(a, queued);
  await expect(tick(a, queued)).toHaveAttribute('data-status', 'sent');
  expect(Number(sql(server, 'SELECT count(*) FROM queue'))).toBeGreaterThan(0);
  const whileQueued = dumpDatabase(server);
  expect(whileQueued).toContain(bob.handle); // the dump does hold the tables' rows
  expectAbsent(whileQueued, live, 'the database');
  expectAbsent(whileQueued, queued, 'the database');

  const b2 = await bobContext.newPage();
  recordFrames(b2, frames);
  await b2.goto('/');
  await chatItem(b2, alice).click();
  await expect(bubble(b2, queued)).toBeVisible();
  await expect(tick(a, queued)).toHaveAttribute('data-status', 'read');

  expectAbsent(dumpDatabase(server), queued, 'the database');
  expect(frames.length).toBeGreaterThan(10);
  const wire = Buffer.concat(frames);
  for (const sentinel of [live, queued]) {
    for (const form of forms(sentinel)) {
      expect(wire.includes(Buffer.from(form)), `a WebSocket frame contains ${form}`).toBe(false);
    }
  }
});

test('both sides see the same safety number, and can mark each other verified', async ({
  page: a,
  newPage,
}) => {
  const { alice, bob, b } = await friends(a, newPage);
  await openFromContacts(a, bob);
  await send(a, 'shall we compare numbers?');
  await showChats(b);
  await chatItem(b, alice).click();
  await expect(bubble(b, 'shall we compare numbers?')).toBeVisible();

  const fromAlice = await safetyNumber(a);
  const fromBob = await safetyNumber(b);
  expect(fromAlice).toBe(fromBob);
  await expect(a.getByTestId('safety-number').locator('span')).toHaveCount(12);
  await screenshot(a, 'safety-number');

  await expect(a.getByTestId('verified-badge')).toHaveCount(0);
  await a.getByTestId('verify-toggle').click();
  await expect(a.getByTestId('safety-status')).toContainText('You verified');
  await expect(a.getByTestId('verified-badge')).toBeVisible();
  await a.reload();
  await chatItem(a, bob).click();
  await expect(a.getByTestId('verified-badge')).toBeVisible();
});

/**
 * Alice and Bob are friends; Alice wrote `text`, Bob read it, and Alice marked
 * Bob verified with his chat open. Returns her safety number then.
 */
async function verifiedChat(a: Page, newPage: () => Promise<Page>, text: string) {
  const { alice, bob, b } = await friends(a, newPage);
  await openFromContacts(a, bob);
  await send(a, text);
  await showChats(b);
  await chatItem(b, alice).click();
  await expect(bubble(b, text)).toBeVisible();
  const before = await safetyNumber(a);
  await a.getByTestId('verify-toggle').click();
  await expect(a.getByTestId('verified-badge')).toBeVisible();
  await a.getByTestId('close-safety').click();
  await expect(a.getByTestId('safety-changed')).toHaveCount(0);
  return { alice, bob, b, before };
}

test('a new device gets new messages, and the contact sees the safety number change', async ({
  page: a,
  newPage,
  server,
}) => {
  const { alice, bob, b, before } = await verifiedChat(a, newPage, 'before the new device');

  // Bob signs in on a second browser.
  const b2 = await secondBrowser(newPage, server, bob);

  await send(a, 'after the new device');
  await expect(a.getByTestId('safety-changed')).toBeVisible();
  await expect(a.getByTestId('verified-badge')).toHaveCount(0);
  await expect(bubble(b, 'after the new device')).toBeVisible();
  await showChats(b2);
  await chatItem(b2, alice).click();
  await expect(bubble(b2, 'after the new device')).toBeVisible();
  await screenshot(a, 'safety-changed');

  // The new device writes too: Alice gets it, and so does Bob's first device.
  await send(b2, 'hello from the laptop');
  await expect(bubble(a, 'hello from the laptop')).toBeVisible();
  await expect(bubble(b, 'hello from the laptop')).toHaveAttribute('data-outgoing', 'true');

  const after = await safetyNumber(a);
  expect(after).not.toBe(before);
  expect(await safetyNumber(b2)).toBe(after);
});

test('with the chat open, the safety number change shows when the contact signs in on a new browser', async ({
  page: a,
  newPage,
  server,
}) => {
  const { bob } = await verifiedChat(a, newPage, 'before the new browser');

  // Bob signs in on a second browser; Alice keeps his chat open and writes nothing.
  await secondBrowser(newPage, server, bob);

  // The server tells Alice's device that Bob's devices changed: the notice
  // comes with no message sent either way.
  await expect(a.getByTestId('safety-changed')).toBeVisible();
  await expect(a.getByTestId('verified-badge')).toHaveCount(0);
  await expect(a.getByTestId('message')).toHaveCount(1);
});

/**
 * The sealed Olm state in `page`'s IndexedDB: every `olm:…` entry of `meta` (the account
 * and one per peer device), as JSON. With `value`, puts that snapshot back in place of
 * what is there. Read or written from a page that does not run the app.
 */
async function olmState(page: Page, value?: string): Promise<string> {
  return page.evaluate(async (value) => {
    const dbs = await indexedDB.databases();
    const name = dbs.map((d) => d.name!).find((n) => n.startsWith('parley-'))!;
    const db = await new Promise<IDBDatabase>((resolve, reject) => {
      const open = indexedDB.open(name);
      open.onsuccess = () => resolve(open.result);
      open.onerror = () => reject(open.error);
    });
    const tx = db.transaction('meta', value === undefined ? 'readonly' : 'readwrite');
    const store = tx.objectStore('meta');
    const olm = IDBKeyRange.bound('olm', 'olm\uffff');
    const request = <T>(req: IDBRequest<T>) =>
      new Promise<T>((resolve, reject) => {
        req.onsuccess = () => resolve(req.result);
        req.onerror = () => reject(req.error);
      });
    let result: string;
    if (value === undefined) {
      const keys = (await request(store.getAllKeys(olm))) as string[];
      const values = await request(store.getAll(olm));
      result = JSON.stringify(Object.fromEntries(keys.map((k, i) => [k, values[i]])));
    } else {
      await request(store.delete(olm));
      for (const [k, v] of Object.entries(JSON.parse(value))) await request(store.put(v, k));
      result = value;
    }
    await new Promise((resolve) => (tx.oncomplete = resolve));
    db.close();
    return result;
  }, value);
}

test('a message that cannot be decrypted waits, then is sent again and shown', async ({
  page: a,
  newPage,
}) => {
  const { alice, bob, b } = await friends(a, newPage);
  const bobContext = b.context();
  await openFromContacts(a, bob);
  await send(a, 'one');
  await showChats(b);
  await chatItem(b, alice).click();
  await expect(bubble(b, 'one')).toBeVisible();
  await send(b, 'two');
  await expect(bubble(a, 'two')).toBeVisible();

  // Bob's browser keeps a copy of its state from now...
  await b.close();
  const offApp = await bobContext.newPage();
  await offApp.goto('/healthz');
  const snapshot = await olmState(offApp);
  const b2 = await bobContext.newPage();
  await b2.goto('/');
  await chatItem(b2, alice).click();
  // ...while both ratchets move on...
  await send(a, 'three');
  await expect(bubble(b2, 'three')).toBeVisible();
  await send(b2, 'four');
  await expect(bubble(a, 'four')).toBeVisible();
  await b2.close();
  // ...and comes back with the old one, which cannot read what Alice sends next.
  await olmState(offApp, snapshot);
  const b3 = await bobContext.newPage();
  const failures: string[] = [];
  b3.on('console', (msg) => {
    if (msg.text().includes('cannot decrypt')) failures.push(msg.text());
  });
  await b3.goto('/');
  await chatItem(b3, alice).click();
  await send(a, 'five');
  await expect.poll(() => failures.length).toBeGreaterThan(0);
  await expect(bubble(b3, 'five')).toBeVisible();
  await expect(b3.getByTestId('message-waiting')).toHaveCount(0);
  // And the conversation goes on both ways.
  await send(b3, 'six');
  await expect(bubble(a, 'six')).toBeVisible();
  await send(a, 'seven');
  await expect(bubble(b3, 'seven')).toBeVisible();
});
