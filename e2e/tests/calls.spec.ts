// Voice and video calls between real Chromium pages: WebRTC with Chromium's synthetic
// camera and microphone, signalling end-to-end encrypted over the WebSocket.
import type { Page } from '@playwright/test';
import {
  addContact,
  contactItem,
  expect,
  newUser,
  openSettings,
  publishedDevices,
  screenshot,
  signIn,
  test,
  type User,
} from '../fixtures';
import {
  accept,
  caller,
  candidateTypes,
  connectionState,
  dial,
  expectRising,
  expectStage,
  inbound,
  pair,
  screen,
} from '../calls';
import { befriend, bubble, chatItem, join, openFromContacts, send, showChats } from '../chat';

function callEvent(page: Page, outcome: string) {
  return page.getByTestId('call-event').and(page.locator(`[data-outcome="${outcome}"]`));
}

test('a video call connects both ways, with picture and sound, and hanging up ends it on both sides', async ({
  newPage,
}) => {
  const { alice, bob, a, b } = await pair(newPage);
  await dial(a, bob, 'video');

  await expectStage(b, 'incoming');
  await expect(b.getByTestId('call-peer-name')).toHaveText(alice.name);
  await expect(b.getByTestId('call-status')).toHaveText('Incoming video call');
  // The caller learns that Bob's device rings.
  await expectStage(a, 'ringing');
  await screenshot(b, 'call-incoming');

  await accept(b);
  await expect.poll(() => connectionState(a)).toBe('connected');
  await expect.poll(() => connectionState(b)).toBe('connected');
  await expectStage(a, 'active');
  await expectStage(b, 'active');

  // Bob's browser decodes Alice's camera; Alice's decodes Bob's.
  await expectRising(b, 'video', 'framesDecoded');
  await expectRising(a, 'video', 'framesDecoded');
  // Alice hears Bob: his microphone's samples arrive with energy in them, and play.
  await expectRising(a, 'audio', 'totalSamplesReceived');
  await expectRising(a, 'audio', 'totalAudioEnergy');
  const playing = await a.getByTestId('remote-video').evaluate((el: HTMLVideoElement) => {
    const stream = el.srcObject as MediaStream | null;
    const audio = stream?.getAudioTracks() ?? [];
    return { live: audio.some((t) => t.readyState === 'live'), muted: el.muted, paused: el.paused };
  });
  expect(playing).toEqual({ live: true, muted: false, paused: false });
  await expect(a.getByTestId('remote-video')).toBeVisible();
  await expect(a.getByTestId('local-video')).toBeVisible();
  await expect(a.getByTestId('call-status')).toHaveText(/^0:0\d$/);
  await screenshot(a, 'call-active');

  // Muting shows on the other side.
  await a.getByTestId('toggle-mute').click();
  await expect(a.getByTestId('toggle-mute')).toHaveAttribute('aria-pressed', 'true');
  await expect(b.getByTestId('remote-muted')).toBeVisible();

  await a.getByTestId('hangup-call').click();
  await expect(screen(a)).toBeHidden();
  await expect(screen(b)).toBeHidden();
  expect(await connectionState(a)).toBe('closed');
  await expect.poll(() => connectionState(b)).toBe('closed');

  // Both chats keep the call, with its length.
  await expect(callEvent(a, 'answered')).toContainText(/Outgoing video call · 0:\d\d/);
  await openFromContacts(b, alice);
  await expect(callEvent(b, 'answered')).toContainText(/Incoming video call · 0:\d\d/);
});

test('a declined call ends for the caller, and both chats say so', async ({ newPage }) => {
  const { alice, bob, a, b } = await pair(newPage);
  await dial(a, bob, 'voice');
  await expectStage(b, 'incoming');
  await expect(b.getByTestId('call-status')).toHaveText('Incoming voice call');
  await b.getByTestId('decline-call').click();

  await expect(a.getByTestId('call-status')).toHaveText('Declined');
  await expect(screen(a)).toBeHidden();
  await expect(callEvent(a, 'declined')).toContainText('Outgoing voice call · declined');
  await openFromContacts(b, alice);
  await expect(callEvent(b, 'declined')).toContainText('Declined voice call');
  // The caller's connection is closed (camera and microphone released with it).
  expect(await connectionState(a)).toBe('closed');
});

test('a call placed while the callee is still publishing its keys rings once they are up', async ({ newPage }) => {
  const alice = newUser('Alice');
  const bob = newUser('Bob');
  const a = await caller(newPage);
  const b = await caller(newPage);
  // Hold back Bob's first key upload: his device is not reachable yet.
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  let uploads = 0;
  await b.route('**/api/v1/keys', async (route) => {
    if (route.request().method() === 'PUT' && uploads++ === 0) await held;
    await route.continue();
  });
  await join(a, alice);
  await join(b, bob);
  await befriend(a, alice, b, bob);
  await expect.poll(() => uploads).toBe(1);
  const lookup = a.waitForResponse((r) => /\/users\/[0-9a-f-]+\/keys$/.test(r.url()));
  await dial(a, bob, 'voice');
  // Alice's app looked Bob up and found no device to ring.
  expect(await (await lookup).json()).toEqual([]);
  await expectStage(a, 'calling');
  await expect(screen(b)).toBeHidden();
  release();
  // The offer goes out again and now reaches him.
  await expectStage(b, 'incoming');
  await expectStage(a, 'ringing');
  await b.getByTestId('decline-call').click();
  await expect(a.getByTestId('call-status')).toHaveText('Declined');
  // It rang once: one entry in his chat, however many copies of the offer went.
  await openFromContacts(b, alice);
  await expect(callEvent(b, 'declined')).toHaveCount(1);
  await expect(screen(b)).toBeHidden();
});

test('an unanswered call ends as missed after 45 seconds', async ({ newPage }) => {
  const alice = newUser('Alice');
  const bob = newUser('Bob');
  const a = await caller(newPage);
  const b = await caller(newPage);
  // Both clocks are Playwright's: they run normally until fast-forwarded.
  await a.clock.install();
  await b.clock.install();
  await join(a, alice);
  await join(b, bob);
  await befriend(a, alice, b, bob);

  await dial(a, bob, 'video');
  await expectStage(b, 'incoming');
  await expectStage(a, 'ringing');
  // Not yet 45 seconds: it still rings on both sides. (Timers due run inside
  // fastForward, so the stage is checked after they did; the margin covers
  // the real seconds that passed since the offer.)
  await a.clock.fastForward('00:40');
  await expectStage(a, 'ringing');
  await b.clock.fastForward('00:40');
  await expectStage(b, 'incoming');
  await a.clock.fastForward('00:06');
  await b.clock.fastForward('00:06');

  await expect(screen(b)).toBeHidden();
  await expect(screen(a)).toBeHidden();
  await expect(callEvent(a, 'noanswer')).toContainText('Outgoing video call · no answer');
  // Bob has a missed call: unread in his chat list, then in the chat.
  await showChats(b);
  await expect(chatItem(b, alice)).toContainText('Missed video call');
  await expect(chatItem(b, alice).getByTestId('unread-badge')).toHaveText('1');
  await chatItem(b, alice).click();
  await expect(callEvent(b, 'missed')).toContainText('Missed video call');
  await screenshot(b, 'call-missed');
});

test('calling someone who is in another call gets busy', async ({ newPage }) => {
  const { alice, bob, a, b } = await pair(newPage);
  const carol = newUser('Carol');
  const c = await caller(newPage);
  await join(c, carol);
  await addContact(c, bob.handle);
  await expect(contactItem(c, bob)).toBeVisible();

  await dial(a, bob, 'voice');
  await expectStage(b, 'incoming');
  await accept(b);
  await expectStage(a, 'active');

  await dial(c, bob, 'voice');
  await expect(c.getByTestId('call-status')).toHaveText('Busy');
  await expect(screen(c)).toBeHidden();
  await expect(callEvent(c, 'busy')).toContainText('Outgoing voice call · busy');
  // Bob's call with Alice goes on; Carol's call is a missed one for him.
  await expectStage(b, 'active');
  expect(await connectionState(b)).toBe('connected');
  await b.getByTestId('hangup-call').click();
  await expect(screen(a)).toBeHidden();
  await showChats(b);
  await expect(chatItem(b, carol)).toContainText('Missed voice call');
  void alice;
});

test('every device of the callee rings, and answering on one stops the other', async ({ newPage, server }) => {
  const { alice, bob, a, b } = await pair(newPage);
  const b2 = await caller(newPage);
  await b2.goto('/');
  await signIn(b2, bob);
  await expect.poll(() => publishedDevices(server, bob.handle)).toBe(2);

  await dial(a, bob, 'video');
  await expectStage(b, 'incoming');
  await expectStage(b2, 'incoming');
  await accept(b2);

  await expect(screen(b)).toBeHidden();
  await expect.poll(() => connectionState(a)).toBe('connected');
  await expect.poll(() => connectionState(b2)).toBe('connected');
  await expectRising(b2, 'video', 'framesDecoded');
  // The device that did not answer stays out of the call: nothing rings, no
  // connection, even after the call went on for a while.
  await expect(screen(b)).toBeHidden();
  expect(await b.evaluate(() => (window as unknown as { __pcs: unknown[] }).__pcs.length)).toBe(0);

  await b2.getByTestId('hangup-call').click();
  await expect(screen(a)).toBeHidden();
  expect(await connectionState(a)).toBe('closed');
  await openFromContacts(b, alice);
  await expect(callEvent(b, 'elsewhere')).toContainText('answered on another device');
});

test('a voice call can switch the camera on', async ({ newPage }) => {
  const { bob, a, b } = await pair(newPage);
  await dial(a, bob, 'voice');
  await expectStage(b, 'incoming');
  await accept(b);
  await expect.poll(() => connectionState(a)).toBe('connected');
  await expect(b.getByTestId('remote-video')).toBeHidden();
  expect(await inbound(b, 'video')).toBeNull();

  // Adding video renegotiates the call; Bob then sees Alice.
  await a.getByTestId('toggle-camera').click();
  await expect(a.getByTestId('local-video')).toBeVisible();
  await expectRising(b, 'video', 'framesDecoded');
  await expect(b.getByTestId('remote-video')).toBeVisible();
  await a.getByTestId('hangup-call').click();
  await expect(screen(b)).toBeHidden();
});

test('with "protect IP address" on, a call goes through the built-in TURN relay only', async ({ newPage }) => {
  const { bob, a, b } = await pair(newPage);
  for (const page of [a, b]) {
    await openSettings(page);
    await page.getByTestId('relay-calls-toggle').check();
  }
  await dial(a, bob, 'video');
  await expectStage(b, 'incoming');
  await accept(b);
  await expect.poll(() => connectionState(a)).toBe('connected');
  await expect.poll(() => connectionState(b)).toBe('connected');
  await expectRising(b, 'video', 'framesDecoded');
  for (const page of [a, b]) {
    const { selected, local } = await candidateTypes(page);
    expect(selected).toEqual(['relay', 'relay']);
    expect(local.length).toBeGreaterThan(0);
    expect(new Set(local)).toEqual(new Set(['relay']));
  }
  // The setting belongs to the browser and survives a reload.
  await b.reload();
  await openSettings(b);
  await expect(b.getByTestId('relay-calls-toggle')).toBeChecked();
});

test('a clear error when camera and microphone are not allowed, and no call is placed', async ({
  newPage,
}) => {
  const alice = newUser('Alice');
  const bob = newUser('Bob');
  // No permissions granted: Chromium refuses getUserMedia.
  const a = await caller(newPage, {});
  const b = await caller(newPage);
  await join(a, alice);
  await join(b, bob);
  await befriend(a, alice, b, bob);

  await dial(a, bob, 'video');
  await expect(a.getByTestId('call-error')).toContainText("isn't allowed to use your camera and microphone");
  await expect(screen(a)).toBeHidden();
  await a.getByTestId('dismiss-call-error').click();
  await expect(a.getByTestId('call-error')).toBeHidden();
  // No connection was made and the chat has no call in it.
  expect(await a.evaluate(() => (window as unknown as { __pcs: unknown[] }).__pcs.length)).toBe(0);
  await expect(a.getByTestId('call-event')).toHaveCount(0);
  // Nothing rang on Bob's side: a message sent after it reaches him (signals
  // and messages leave in order), and still no call screen there.
  await send(a, 'Call you later');
  await openFromContacts(b, alice);
  await expect(bubble(b, 'Call you later')).toBeVisible();
  await expect(b.getByTestId('call-screen')).toBeHidden();
  await expect(b.getByTestId('call-event')).toHaveCount(0);
});
