// Encrypted attachments between two people: a photo (thumbnail at once,
// then the full picture), a document with a caption downloaded on a click,
// nothing readable on the server, and files kept across a reload after the
// server deleted its copy.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import type { CDPSession, Page } from '@playwright/test';
import { expect, openSettings, screenshot, sql, test } from '../fixtures';
import { attach, friends, openFromContacts, send, showChats } from '../chat';
import { png } from '../png';

const PHOTO_SENTINEL = 'PARLEY-SENTINEL-PHOTO-7c1f';
const DOC_SENTINEL = 'PARLEY-SENTINEL-DOC-93ab';

/** Every file under `dir`. */
function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    return statSync(full).isDirectory() ? filesUnder(full) : [full];
  });
}

/** SHA-256 (hex) of every file `page`'s device keeps in its files store. */
async function keptDigests(page: Page): Promise<string[]> {
  return page.evaluate(async () => {
    const name = (await indexedDB.databases()).map((d) => d.name ?? '').find((n) => n.startsWith('parley-files-'));
    const db = await new Promise<IDBDatabase>((resolve, reject) => {
      const open = indexedDB.open(name ?? 'missing');
      open.onsuccess = () => resolve(open.result);
      open.onerror = () => reject(open.error);
    });
    const files = await new Promise<Blob[]>((resolve, reject) => {
      const all = db.transaction('files').objectStore('files').getAll();
      all.onsuccess = () => resolve(all.result as Blob[]);
      all.onerror = () => reject(all.error);
    });
    db.close();
    const hex = (hash: ArrayBuffer) => Array.from(new Uint8Array(hash), (x) => x.toString(16).padStart(2, '0')).join('');
    return Promise.all(files.map(async (f) => hex(await crypto.subtle.digest('SHA-256', await f.arrayBuffer()))));
  });
}

/** One DevTools session per page: a page's network conditions are its session's. */
const devtools = new WeakMap<Page, CDPSession>();

/** Limits `page`'s network (bytes per second, -1 for no limit), or cuts it. */
async function line(
  page: Page,
  { up = -1, down = -1, offline = false }: { up?: number; down?: number; offline?: boolean },
): Promise<void> {
  let cdp = devtools.get(page);
  if (!cdp) {
    cdp = await page.context().newCDPSession(page);
    devtools.set(page, cdp);
  }
  await cdp.send('Network.emulateNetworkConditions', {
    offline,
    latency: 0,
    downloadThroughput: down,
    uploadThroughput: up,
  });
}

/**
 * Alice and Bob with their chat open, and Alice sending a file of `mib`
 * MiB named `name` on a line of `upRate` bytes/s up (2 MiB/s): still
 * uploading on return.
 */
async function slowUpload(
  a: Page,
  newPage: Parameters<typeof friends>[1],
  name: string,
  mib: number,
  upRate = 2 * 1024 * 1024,
) {
  const { alice, bob, b } = await friends(a, newPage);
  await openFromContacts(a, bob);
  await openFromContacts(b, alice);
  await line(a, { up: upRate });
  const doc = Buffer.alloc(mib * 1024 * 1024, name.length);
  const file = test.info().outputPath(name);
  writeFileSync(file, doc);
  await attach(a, [file]);
  await expect(a.getByTestId('upload')).toContainText(name);
  return { alice, bob, b, doc };
}

/** How many blobs `user` has on the server. */
function blobsOf(server: Parameters<typeof sql>[0], user: { handle: string }): string {
  return sql(server, `SELECT count(*) FROM blobs b JOIN users u ON u.id = b.owner_user WHERE u.handle = lower('${user.handle}')`);
}

/** The attachment bubble holding `testId` on `page`. */
function fileBubble(page: Page, testId: string) {
  return page.getByTestId('message').filter({ has: page.getByTestId(testId) });
}

test('a photo and a document travel encrypted, and stay after the server let them go', async ({
  page: a,
  newPage,
  server,
}) => {
  const { alice, bob, b: first } = await friends(a, newPage);
  // Bob closes the app: what Alice sends waits for him, queued.
  const bobContext = first.context();
  await first.close();
  await openFromContacts(a, bob);

  // A photo: Alice sees hers at once.
  const photo = png(320, 200, PHOTO_SENTINEL);
  await attach(a, [{ name: 'beach.png', mimeType: 'image/png', buffer: photo }]);
  await expect(fileBubble(a, 'attachment-photo').getByTestId('photo-full')).toBeVisible();

  // A document with a caption; three chunks of ciphertext. What is typed
  // in the composer stays there, a draft of its own.
  const doc = Buffer.alloc(2_600_000);
  for (let at = 0; at < doc.length; at += 64) doc.write(`${DOC_SENTINEL} line ${at}\n`, at, 'latin1');
  await a.getByTestId('composer').fill('a draft');
  await attach(a, [{ name: 'plan.txt', mimeType: 'text/plain', buffer: doc }], ['the plan']);
  await expect(a.getByTestId('composer')).toHaveValue('a draft');
  const sent = fileBubble(a, 'attachment-document');
  await expect(sent.getByTestId('message-text')).toHaveText('the plan');
  await expect(sent.getByTestId('document-name')).toHaveText('plan.txt');
  await expect(sent.getByTestId('tick')).toHaveAttribute('data-status', 'sent');

  // On the server, only ciphertext: both files' chunks and both messages
  // wait there, and neither sentinel is anywhere in them.
  const ids = sql(
    server,
    `SELECT b.id FROM blobs b JOIN users u ON u.id = b.owner_user WHERE u.handle = lower('${alice.handle}')`,
  ).split('\n');
  expect(ids).toHaveLength(2);
  // One chunk of photo, three of document, each an object under its blob.
  const stored = ids.flatMap((id) => filesUnder(path.join(server.blobDir, id)));
  expect(stored).toHaveLength(4);
  for (const file of stored) {
    const bytes = readFileSync(file);
    expect(bytes.includes(DOC_SENTINEL), file).toBe(false);
    expect(bytes.includes(PHOTO_SENTINEL), file).toBe(false);
  }
  const bobsQueue = `FROM queue q JOIN devices d ON d.id = q.device_id JOIN users u ON u.id = d.user_id
    WHERE u.handle = lower('${bob.handle}') AND q.kind = 0`;
  expect(sql(server, `SELECT count(*) ${bobsQueue}`)).toBe('2');
  // Rows as text show bytea in hex: look for the sentinels both ways.
  const hex = (text: string) => Buffer.from(text, 'latin1').toString('hex');
  for (const table of ['queue', 'blobs', 'blob_readers']) {
    const dump = sql(server, `SELECT string_agg(t::text, '') FROM ${table} t`);
    for (const sentinel of [DOC_SENTINEL, PHOTO_SENTINEL]) {
      expect(dump.includes(sentinel), table).toBe(false);
      expect(dump.includes(hex(sentinel)), table).toBe(false);
    }
  }

  // Bob comes back: the thumbnail, then the picture.
  const b = await bobContext.newPage();
  await b.goto('/');
  await openFromContacts(b, alice);
  const received = fileBubble(b, 'attachment-photo');
  await expect(received).toBeVisible();
  const full = received.getByTestId('photo-full');
  await expect(full).toBeVisible();
  await expect.poll(() => full.evaluate((img: HTMLImageElement) => img.naturalWidth)).toBe(320);
  await expect(fileBubble(a, 'attachment-photo').getByTestId('tick')).toHaveAttribute('data-status', 'read');
  // A photo without a caption has no text line.
  await expect(received.getByTestId('message-text')).toHaveCount(0);

  // Bob downloads it on a click, and gets the same bytes.
  const arrived = fileBubble(b, 'attachment-document');
  await expect(arrived.getByTestId('message-text')).toHaveText('the plan');
  await expect(arrived).toContainText('2.6 MB · TXT');
  await screenshot(b, 'attachments-received');
  await arrived.getByTestId('download').click();
  const save = arrived.getByTestId('document-save');
  await expect(save).toBeVisible();
  await expect(save).toHaveAttribute('download', 'plan.txt');
  // The page's policy lets nothing fetch a blob: URL; the file it links to
  // is the one kept in this device's store.
  const digests = await keptDigests(b);
  expect(digests).toContain(createHash('sha256').update(doc).digest('hex'));
  expect(digests).toContain(createHash('sha256').update(photo).digest('hex'));

  // Every reader holds both files: the server deleted its copies.
  await expect.poll(() => filesUnder(server.blobDir).length).toBe(0);
  await expect.poll(() => sql(server, 'SELECT count(*) FROM blobs')).toBe('0');

  // After a reload both are still here, from this device's own copy.
  await b.reload();
  await expect(fileBubble(b, 'attachment-photo').getByTestId('photo-full')).toBeVisible();
  await fileBubble(b, 'attachment-document').getByTestId('download').click();
  await expect(fileBubble(b, 'attachment-document').getByTestId('document-save')).toBeVisible();
  await expect(b.getByTestId('chat-item').first()).toContainText('📄 plan.txt · the plan');
  await screenshot(b, 'attachments-after-reload');

  // Alice deletes the photo for everyone: Bob's device lets go of its copy.
  const photoHash = createHash('sha256').update(photo).digest('hex');
  expect(await keptDigests(b)).toContain(photoHash);
  const mine = fileBubble(a, 'attachment-photo');
  await mine.hover();
  await mine.getByTestId('message-menu-button').click();
  await a.getByTestId('message-menu').getByTestId('menu-delete-for-everyone').click();
  await a.getByTestId('confirm-yes').click();
  await expect(fileBubble(b, 'attachment-photo')).toHaveCount(0);
  await expect(b.getByTestId('message-deleted')).toBeVisible();
  await expect.poll(() => keptDigests(b)).not.toContain(photoHash);
  expect(await keptDigests(b)).toContain(createHash('sha256').update(doc).digest('hex'));
});

test('a 50 MB document resumes after a reload during its upload', async ({ page: a, newPage, server }) => {
  const { alice, bob, b } = await friends(a, newPage);
  await openFromContacts(a, bob);
  await openFromContacts(b, alice);

  // Slow Alice's uploads down, so the reload lands in the middle of one.
  await line(a, { up: 4 * 1024 * 1024 });
  const doc = Buffer.alloc(50 * 1024 * 1024);
  for (let at = 0; at < doc.length; at += 4096) doc.write(`${DOC_SENTINEL} block ${at}\n`, at, 'latin1');
  // Playwright takes a file this large by path only.
  const big = test.info().outputPath('big.bin');
  writeFileSync(big, doc);
  await attach(a, [big]);
  const progress = a.getByTestId('upload-progress');
  await expect(progress).toBeVisible();
  await screenshot(a, 'attachments-uploading');
  await expect
    .poll(() => progress.evaluate((p: HTMLProgressElement) => p.value), { timeout: 30_000 })
    .toBeGreaterThan(0.1);
  const alices = `FROM blobs b JOIN users u ON u.id = b.owner_user WHERE u.handle = lower('${alice.handle}')`;
  const before = Number(sql(server, `SELECT max(received_count) ${alices}`));
  expect(before).toBeGreaterThan(0);

  await a.reload();
  await line(a, {});
  // The same upload goes on (one blob, not a second from the start).
  await expect(a.getByTestId('upload')).toContainText('big.bin');
  const arrived = fileBubble(b, 'attachment-document');
  await expect(arrived.getByTestId('document-name')).toHaveText('big.bin', { timeout: 60_000 });
  expect(sql(server, `SELECT count(*) ${alices}`)).toBe('1');
  await expect(a.getByTestId('upload')).toHaveCount(0);

  // Bob starts the download on a slow line and stops it: back to
  // "Download", nothing kept; then he fetches it whole.
  await line(b, { down: 4 * 1024 * 1024 });
  await arrived.getByTestId('download').click();
  await expect(arrived.getByTestId('download-progress')).toBeVisible();
  await arrived.getByTestId('download-cancel').click();
  await expect(arrived.getByTestId('download')).toBeVisible();
  expect(await keptDigests(b)).toHaveLength(0);
  await line(b, {});
  await arrived.getByTestId('download').click();
  await expect(arrived.getByTestId('document-save')).toBeVisible({ timeout: 60_000 });
  const digests = await keptDigests(b);
  expect(digests).toContain(createHash('sha256').update(doc).digest('hex'));
});

test('an upload cut off by a lost connection says why, and a retry finishes it', async ({
  page: a,
  newPage,
  server,
}) => {
  const { alice, b, doc } = await slowUpload(a, newPage, 'cut.bin', 12);
  const progress = a.getByTestId('upload-progress');
  await expect.poll(() => progress.evaluate((p: HTMLProgressElement) => p.value)).toBeGreaterThan(0.1);
  await line(a, { offline: true });
  // Tried again a few times, then it says why and offers a retry.
  await expect(a.getByTestId('upload-error')).toContainText('No connection', { timeout: 60_000 });
  await screenshot(a, 'attachments-upload-failed');
  await line(a, {});
  await a.getByTestId('upload-retry').click();
  const arrived = fileBubble(b, 'attachment-document');
  await expect(arrived.getByTestId('document-name')).toHaveText('cut.bin', { timeout: 60_000 });
  await expect(a.getByTestId('upload')).toHaveCount(0);
  // The same blob went on: nothing uploaded twice from the start.
  expect(blobsOf(server, alice)).toBe('1');
  await arrived.getByTestId('download').click();
  await expect(arrived.getByTestId('document-save')).toBeVisible({ timeout: 60_000 });
  expect(await keptDigests(b)).toContain(createHash('sha256').update(doc).digest('hex'));
});

test('a voice message recorded with the microphone plays on the other side', async ({ page: a, newPage }) => {
  const { alice, bob, b } = await friends(a, newPage);
  // Chromium's fake microphone (beeps), allowed for Alice's page.
  await a.context().grantPermissions(['microphone']);
  await openFromContacts(a, bob);
  await openFromContacts(b, alice);

  await a.getByTestId('voice-record').click();
  await expect(a.getByTestId('voice-recording')).toBeVisible();
  await expect(a.getByTestId('voice-elapsed')).toHaveText(/^0:0[2-9]$/, { timeout: 15_000 });
  await screenshot(a, 'voice-recording');
  await a.getByTestId('voice-send').click();
  await expect(a.getByTestId('voice-recording')).toHaveCount(0);
  await expect(fileBubble(a, 'attachment-voice').getByTestId('voice-player')).toBeVisible();

  // Bob gets it at once, with its length and a waveform of the beeps.
  const note = fileBubble(b, 'attachment-voice');
  await expect(note.getByTestId('voice-player')).toBeVisible();
  await expect(note.getByTestId('voice-time')).toHaveText(/^0:0[2-9]$/);
  const heights = await note.locator('.voice-bar').evaluateAll((bars) => bars.map((bar) => (bar as HTMLElement).style.height));
  expect(heights.length).toBeGreaterThanOrEqual(15);
  expect(new Set(heights).size, `the bars follow the sound: ${heights.join(' ')}`).toBeGreaterThan(1);

  // It plays, and faster on a click.
  const audio = note.getByTestId('voice-audio');
  await note.getByTestId('voice-play').click();
  await expect.poll(() => audio.evaluate((el: HTMLAudioElement) => el.currentTime)).toBeGreaterThan(0.2);
  await note.getByTestId('voice-speed').click();
  await expect(note.getByTestId('voice-speed')).toHaveText('1.5×');
  expect(await audio.evaluate((el: HTMLAudioElement) => el.playbackRate)).toBe(1.5);
  await screenshot(b, 'voice-received');
  await showChats(b);
  await expect(b.getByTestId('chat-item').first()).toContainText('🎤 Voice message (0:0');
});

/** A short WebM video made in `page` the way browsers record (MediaRecorder, no length in its header). */
async function recordedVideo(page: Page, width: number, height: number): Promise<Buffer> {
  const base64 = await page.evaluate(
    async ({ width, height }) => {
      const canvas = document.createElement('canvas');
      canvas.width = width;
      canvas.height = height;
      const ctx = canvas.getContext('2d')!;
      const recorder = new MediaRecorder(canvas.captureStream(30), { mimeType: 'video/webm' });
      const parts: Blob[] = [];
      recorder.ondataavailable = (e) => parts.push(e.data);
      const stopped = new Promise((resolve) => (recorder.onstop = resolve));
      recorder.start();
      // Ninety frames of changing colour (about 1.5 s), one per animation frame.
      await new Promise<void>((done) => {
        let frame = 0;
        const draw = () => {
          ctx.fillStyle = `hsl(${frame * 6}, 80%, 50%)`;
          ctx.fillRect(0, 0, width, height);
          frame += 1;
          if (frame < 90) requestAnimationFrame(draw);
          else done();
        };
        draw();
      });
      recorder.stop();
      await stopped;
      const bytes = new Uint8Array(await new Blob(parts).arrayBuffer());
      let text = '';
      for (const byte of bytes) text += String.fromCharCode(byte);
      return btoa(text);
    },
    { width, height },
  );
  return Buffer.from(base64, 'base64');
}

test('photos and a video with a caption each, the viewer, and what comes without a click', async ({
  page: a,
  newPage,
}) => {
  const { alice, bob, b } = await friends(a, newPage);
  // Bob lets photos wait for a click (desktop Chromium names no network:
  // the Wi-Fi choices apply).
  await openSettings(b);
  const photos = b.getByTestId('auto-other-photos');
  await expect(photos).toBeChecked();
  await expect(b.getByTestId('auto-other-videos')).not.toBeChecked();
  await photos.uncheck();
  await screenshot(b, 'settings-auto-download');
  await openFromContacts(a, bob);
  await openFromContacts(b, alice);

  // Alice chooses two photos and a video, drops a fourth file she chose
  // by mistake, and gives each of the others a caption.
  const video = await recordedVideo(a, 160, 120);
  const red = png(320, 200, 'red');
  const blue = png(200, 320, 'blue');
  await a.getByTestId('file-input').setInputFiles([
    { name: 'red.png', mimeType: 'image/png', buffer: red },
    { name: 'oops.txt', mimeType: 'text/plain', buffer: Buffer.from('not this one') },
    { name: 'blue.png', mimeType: 'image/png', buffer: blue },
    { name: 'clip.webm', mimeType: 'video/webm', buffer: video },
  ]);
  const dialog = a.getByTestId('send-files');
  await expect(dialog).toContainText('Send 4 files');
  await expect(dialog.getByTestId('file-caption').first()).toBeFocused();
  await dialog.getByTestId('chosen-file').filter({ hasText: 'oops.txt' }).getByTestId('chosen-remove').click();
  await expect(dialog).toContainText('Send 3 files');
  await screenshot(a, 'send-files-dialog');
  const captions = ['first', 'second', 'the clip'];
  for (const [at, caption] of captions.entries()) await dialog.getByTestId('file-caption').nth(at).fill(caption);
  await dialog.getByTestId('file-caption').last().press('Enter');
  await expect(dialog).toHaveCount(0);
  // The video plays in place on Alice's side at once.
  await expect(fileBubble(a, 'attachment-video').getByTestId('video')).toBeVisible();

  // Bob: each with its caption; the photos wait for a click (his choice),
  // the video too (the default), each showing its thumbnail.
  // In the order chosen, whichever upload finished first.
  await expect(b.getByTestId('message-text')).toHaveText(captions);
  const clip = fileBubble(b, 'attachment-video');
  await expect(clip.getByTestId('video-thumb')).toBeVisible();
  await expect(clip).toContainText('0:01');
  await expect(fileBubble(b, 'attachment-photo').getByTestId('photo-thumb')).toHaveCount(2);
  await expect(fileBubble(b, 'attachment-photo').getByTestId('download')).toHaveCount(2);
  expect(await b.getByTestId('photo-full').count()).toBe(0);
  await screenshot(b, 'attachments-waiting-for-click');

  // The first photo on a click, then the viewer: each one large, in order,
  // by the arrow keys, each fetched as it is shown.
  const first = b.getByTestId('message').filter({ hasText: 'first' });
  await first.getByTestId('download').click();
  await first.getByTestId('photo-open').click();
  const viewer = b.getByTestId('media-viewer');
  await expect(viewer.getByTestId('viewer-position')).toHaveText('1 of 3');
  await expect(viewer.getByTestId('viewer-caption')).toHaveText('first');
  await expect(viewer.getByTestId('viewer-sender')).toHaveText(alice.name);
  await expect(viewer.getByTestId('viewer-previous')).toBeDisabled();
  await expect.poll(() => viewer.getByTestId('viewer-photo').evaluate((img: HTMLImageElement) => img.naturalWidth)).toBe(320);
  await b.keyboard.press('ArrowRight');
  await expect(viewer.getByTestId('viewer-position')).toHaveText('2 of 3');
  await expect(viewer.getByTestId('viewer-caption')).toHaveText('second');
  await expect.poll(() => viewer.getByTestId('viewer-photo').evaluate((img: HTMLImageElement) => img.naturalWidth)).toBe(200);
  await screenshot(b, 'media-viewer-photo');
  await viewer.getByTestId('viewer-next').click();
  await expect(viewer.getByTestId('viewer-position')).toHaveText('3 of 3');
  await expect(viewer.getByTestId('viewer-next')).toBeDisabled();
  const played = viewer.getByTestId('viewer-video');
  await expect.poll(() => played.evaluate((v: HTMLVideoElement) => v.videoWidth)).toBe(160);
  await expect(viewer.getByTestId('viewer-save')).toHaveAttribute('download', 'clip.webm');
  await screenshot(b, 'media-viewer-video');
  await b.keyboard.press('ArrowLeft');
  await expect(viewer.getByTestId('viewer-position')).toHaveText('2 of 3');
  await b.keyboard.press('Escape');
  await expect(viewer).toHaveCount(0);
  // Everything shown in the viewer is here now: the video plays in place.
  await expect(clip.getByTestId('video')).toBeVisible();
  await expect(b.getByTestId('photo-full')).toHaveCount(2);

  // Cancelling the dialog sends nothing: a message sent after it is the
  // next thing Bob gets.
  await a.getByTestId('file-input').setInputFiles([{ name: 'no.txt', mimeType: 'text/plain', buffer: Buffer.from('no') }]);
  await a.getByTestId('send-files-cancel').click();
  await expect(a.getByTestId('send-files')).toHaveCount(0);
  await send(a, 'after the cancel');
  await expect(b.getByTestId('message-text')).toHaveText([...captions, 'after the cancel']);
  await expect(fileBubble(b, 'attachment-document')).toHaveCount(0);
});

test('a second tab waits for the first one’s upload, and takes it over when that tab closes', async ({
  page: a,
  newPage,
  server,
}) => {
  const { alice, bob, b } = await slowUpload(a, newPage, 'shared.bin', 16, 512 * 1024);

  // A second tab of the same browser starts: it finds the unfinished
  // upload and waits for its lock instead of uploading it too.
  const second = await a.context().newPage();
  await second.goto('/');
  await openFromContacts(second, bob);
  await expect
    .poll(() =>
      second.evaluate(async () => (await navigator.locks.query()).pending?.map((lock) => lock.name) ?? []),
    )
    .toContainEqual(expect.stringMatching(/^parley-upload-/));
  await expect(second.getByTestId('upload')).toHaveCount(0);

  // The first tab closes mid-way: the second resumes the upload, and the
  // file reaches Bob once.
  await a.close();
  await expect(second.getByTestId('upload')).toContainText('shared.bin');
  const arrived = fileBubble(b, 'attachment-document');
  await expect(arrived.getByTestId('document-name')).toHaveText('shared.bin', { timeout: 60_000 });
  await expect(second.getByTestId('upload')).toHaveCount(0);
  expect(blobsOf(server, alice)).toBe('1');
  await expect(arrived).toHaveCount(1);
});
