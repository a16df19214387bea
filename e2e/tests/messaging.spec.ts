// Real-time 1:1 messaging between two people (two browser contexts).
import type { BrowserContextOptions, Page } from '@playwright/test';
import {
  addContact,
  contactItem,
  expect,
  newUser,
  openContacts,
  openSettings,
  screenshot,
  signOut,
  signUp,
  test,
  type User,
} from '../fixtures';
import { join, befriend, friends, showChats, chatItem, openFromContacts, send, bubble, tick, seed, contactId } from '../chat';

test('live chat both ways, with ticks ending in read', async ({ page: a, newPage }) => {
  const { alice, bob, b } = await friends(a, newPage, { colorScheme: 'dark' });

  await openFromContacts(a, bob);
  await send(a, 'Hello Bob');
  await expect(bubble(a, 'Hello Bob')).toHaveAttribute('data-outgoing', 'true');
  await expect(a.getByTestId('composer')).toHaveValue('');

  await showChats(b);
  await expect(chatItem(b, alice)).toContainText('Hello Bob');
  await chatItem(b, alice).click();
  await expect(bubble(b, 'Hello Bob')).toHaveAttribute('data-outgoing', 'false');
  await expect(tick(a, 'Hello Bob')).toHaveAttribute('data-status', 'read');
  await expect(a.getByTestId('presence')).toHaveText('online');

  // Shift+Enter starts a new line; Enter sends.
  await b.getByTestId('composer').pressSequentially('Hi Alice');
  await b.getByTestId('composer').press('Shift+Enter');
  await b.getByTestId('composer').pressSequentially('how are you?');
  await expect(b.getByTestId('composer')).toHaveValue('Hi Alice\nhow are you?');
  await b.getByTestId('composer').press('Enter');
  await expect(bubble(a, 'Hi Alice')).toBeVisible();
  await expect(bubble(a, 'Hi Alice').getByTestId('message-text')).toHaveText('Hi Alice\nhow are you?');
  await expect(tick(b, 'Hi Alice')).toHaveAttribute('data-status', 'read');
  // Whitespace never sends.
  await b.getByTestId('composer').fill('   \n ');
  await expect(b.getByTestId('send')).toBeDisabled();
  await b.getByTestId('composer').press('Enter');
  await expect(b.getByTestId('message')).toHaveCount(2);
  await b.getByTestId('composer').fill('');
  await screenshot(b, 'dark-conversation');
  await screenshot(a, 'conversation-live');
});

test('ticks go sent → delivered → read as the recipient comes back', async ({ page: a, newPage }) => {
  const { alice, bob, b } = await friends(a, newPage);

  // Bob closes the app; his browser keeps his session.
  const bobContext = b.context();
  await b.close();

  await openFromContacts(a, bob);
  const texts = ['first one', 'second one', 'third one'];
  for (const text of texts) await send(a, text);
  for (const text of texts) await expect(tick(a, text)).toHaveAttribute('data-status', 'sent');
  await screenshot(a, 'ticks-sent');

  const b2 = await bobContext.newPage();
  await b2.goto('/');
  await expect(b2.getByTestId('main-screen')).toBeVisible();
  for (const text of texts) await expect(tick(a, text)).toHaveAttribute('data-status', 'delivered');

  await expect(chatItem(b2, alice).getByTestId('unread-badge')).toHaveText('3');
  await expect(chatItem(b2, alice)).toContainText('third one');
  await screenshot(b2, 'chat-list-unread');
  await chatItem(b2, alice).click();
  await expect(b2.getByTestId('message-text')).toHaveText(texts);
  await expect(b2.getByTestId('unread-marker')).toContainText('3 unread messages');
  for (const text of texts) await expect(tick(a, text)).toHaveAttribute('data-status', 'read');
  await expect(chatItem(b2, alice).getByTestId('unread-badge')).toHaveCount(0);
});

test('history survives a reload on both sides', async ({ page: a, newPage }) => {
  const { alice, bob, b } = await friends(a, newPage);

  await openFromContacts(a, bob);
  await send(a, 'kept one');
  await openFromContacts(b, alice);
  await expect(bubble(b, 'kept one')).toBeVisible();
  await send(b, 'kept two');
  await expect(bubble(a, 'kept two')).toBeVisible();
  await expect(tick(a, 'kept one')).toHaveAttribute('data-status', 'read');

  for (const page of [a, b]) {
    await page.reload();
    await expect(page.getByTestId('main-screen')).toBeVisible();
  }
  await expect(a.getByTestId('chat-list-empty')).toHaveCount(0);
  await expect(chatItem(a, bob)).toContainText('kept two');
  await expect(chatItem(b, alice)).toContainText('kept two');
  await expect(chatItem(b, alice).getByTestId('tick')).toHaveAttribute('data-status', 'read');

  await chatItem(a, bob).click();
  await expect(a.getByTestId('message-text')).toHaveText(['kept one', 'kept two']);
  await expect(tick(a, 'kept one')).toHaveAttribute('data-status', 'read');
  await chatItem(b, alice).click();
  await expect(b.getByTestId('message-text')).toHaveText(['kept one', 'kept two']);

  await a.setViewportSize({ width: 390, height: 844 });
  await expect(a.getByTestId('composer')).toBeInViewport();
  await screenshot(a, 'phone-chat');
});

test('typing indicator shows while typing and goes away', async ({ page: a, newPage }) => {
  const { alice, bob, b } = await friends(a, newPage);
  await openFromContacts(a, bob);
  await openFromContacts(b, alice);

  await a.getByTestId('composer').pressSequentially('I am typ');
  await expect(b.getByTestId('typing-indicator')).toBeVisible();
  await screenshot(b, 'typing');
  // Idle: the indicator goes away by itself.
  await expect(b.getByTestId('typing-indicator')).toBeHidden({ timeout: 12_000 });

  await a.getByTestId('composer').pressSequentially('ing again');
  await expect(b.getByTestId('typing-indicator')).toBeVisible();
  await a.getByTestId('composer').press('Enter');
  await expect(bubble(b, 'I am typing again')).toBeVisible();
  await expect(b.getByTestId('typing-indicator')).toBeHidden();
});

test('a message written offline is sent once the server is back', async ({ ownServer, newPage }) => {
  const alice = newUser('Alice');
  const bob = newUser('Bob');
  const a = await newPage({ baseURL: ownServer.url });
  const b = await newPage({ baseURL: ownServer.url });
  await join(a, alice);
  await join(b, bob);
  await befriend(a, alice, b, bob);
  await openFromContacts(a, bob);
  await openFromContacts(b, alice);
  await send(a, 'before the outage');
  await expect(bubble(b, 'before the outage')).toBeVisible();

  await ownServer.stop();
  await expect(a.getByTestId('offline-banner')).toBeVisible({ timeout: 30_000 });
  await expect(a.getByTestId('presence')).toHaveCount(0);
  await send(a, 'written offline');
  await expect(tick(a, 'written offline')).toHaveAttribute('data-status', 'pending');
  await screenshot(a, 'outbox-pending');

  await ownServer.start();
  await expect(tick(a, 'written offline')).toHaveAttribute('data-status', /sent|delivered|read/, {
    timeout: 45_000,
  });
  await expect(bubble(b, 'written offline')).toHaveCount(1, { timeout: 45_000 });
  await expect(tick(a, 'written offline')).toHaveAttribute('data-status', 'read');
  await b.reload();
  await showChats(b);
  await chatItem(b, alice).click();
  await expect(bubble(b, 'written offline')).toHaveCount(1);
  await expect(b.getByTestId('message')).toHaveCount(2);
});

test('with read receipts off, no blue ticks either way', async ({ page: a, newPage }) => {
  const { alice, bob, b } = await friends(a, newPage);

  await openSettings(b);
  const toggle = b.getByTestId('read-receipts-toggle');
  await expect(toggle).toBeChecked();
  await toggle.uncheck();
  await expect(b.getByTestId('privacy-saved')).toBeVisible();
  await expect(toggle).not.toBeChecked();
  await b.getByTestId('last-seen-select').selectOption('nobody');
  await expect(b.getByTestId('last-seen-select')).toHaveValue('nobody');
  await screenshot(b, 'settings-privacy');

  await openFromContacts(b, alice);
  await openFromContacts(a, bob);
  await send(a, 'do you read me');
  await expect(bubble(b, 'do you read me')).toBeVisible();
  await expect(tick(a, 'do you read me')).toHaveAttribute('data-status', 'delivered');
  expect(await b.evaluate(() => document.visibilityState)).toBe('visible');

  // Bob answers; once Alice has his answer, Bob has long processed her message.
  await send(b, 'loud and clear');
  await expect(bubble(a, 'loud and clear')).toBeVisible();
  await expect(tick(a, 'do you read me')).toHaveAttribute('data-status', 'delivered');

  // Alice has receipts on and the chat open, yet Bob's message never goes blue.
  await expect(tick(b, 'loud and clear')).toHaveAttribute('data-status', 'delivered');
  await send(a, 'over');
  await expect(bubble(b, 'over')).toBeVisible();
  await expect(tick(b, 'loud and clear')).toHaveAttribute('data-status', 'delivered');
  await expect(tick(a, 'do you read me')).toHaveAttribute('data-status', 'delivered');
});

/** Alice on `a` adds Bob (who signs up on a new page); Bob's id, for seeding her store. */
async function aliceAddsBob(
  a: Page,
  newPage: () => Promise<Page>,
): Promise<{ alice: User; bob: User; peer: string }> {
  const alice = newUser('Alice');
  const bob = newUser('Bob');
  const b = await newPage();
  await join(a, alice);
  await join(b, bob);
  await addContact(a, bob.handle);
  await expect(contactItem(a, bob)).toBeVisible();
  return { alice, bob, peer: await contactId(a, bob) };
}

test('a chat with 10,000 messages opens at the end and pages back', async ({ page: a, newPage }) => {
  const { bob, peer } = await aliceAddsBob(a, newPage);

  const start = Date.now() - 10_000 * 60_000;
  const messages = Array.from({ length: 10_000 }, (_, i) => ({
    text: `Message #${i}`,
    outgoing: i % 3 === 0,
    status: 'Read',
    at: start + i * 60_000,
  }));
  await seed(a, peer, messages);
  await a.reload();
  await showChats(a);
  await expect(chatItem(a, bob)).toContainText('Message #9999');
  await chatItem(a, bob).click();
  await expect(bubble(a, 'Message #9999')).toBeInViewport();
  const count = () => a.getByTestId('message').count();
  expect(await count()).toBeLessThan(200);

  const list = a.getByTestId('conversation').locator('.messages');
  // Loading a page above keeps what is on screen where it was.
  const firstText = (await a.getByTestId('message-text').first().textContent()) ?? '';
  expect(firstText).toBe('Message #9940');
  const top = (scroll: boolean) =>
    list.evaluate(
      (el, [text, scroll]) => {
        if (scroll) el.scrollTo(0, 0);
        const node = [...el.querySelectorAll('[data-testid="message-text"]')].find((n) => n.textContent === text);
        return node?.getBoundingClientRect().top ?? NaN;
      },
      [firstText, scroll] as const,
    );
  const yBefore = await top(true);
  await expect(a.getByTestId('message-text').first()).not.toHaveText(firstText);
  expect(Math.abs((await top(false)) - yBefore)).toBeLessThan(2);

  const target = bubble(a, 'Message #9500');
  await expect
    .poll(
      async () => {
        if ((await target.count()) > 0) return true;
        await list.evaluate((el) => el.scrollTo(0, 0));
        expect(await count()).toBeLessThan(200);
        return false;
      },
      { timeout: 30_000, intervals: [100] },
    )
    .toBe(true);
  await target.scrollIntoViewIfNeeded();
  await expect(target).toBeInViewport();
  expect(await count()).toBeLessThan(200);
  await screenshot(a, 'large-chat-paged');
});

test('a chat with 100 unread messages opens at the first of them, with the marker', async ({ page: a, newPage }) => {
  const { bob, peer } = await aliceAddsBob(a, newPage);
  const start = Date.now() - 300 * 60_000;
  await seed(
    a,
    peer,
    Array.from({ length: 300 }, (_, i) => ({
      text: `Note #${i}`,
      outgoing: false,
      status: 'Sent',
      seen: i < 200,
      at: start + i * 60_000,
    })),
  );
  await a.reload();
  await showChats(a);
  await chatItem(a, bob).click();
  await expect(a.getByTestId('unread-marker')).toContainText('100 unread messages');
  await expect(a.getByTestId('unread-marker')).toBeInViewport();
  await expect(bubble(a, 'Note #200')).toBeInViewport();
  expect(await a.getByTestId('message').count()).toBeLessThan(200);
  await screenshot(a, 'chat-opens-at-unread');
});

test('live messages keep the open chat to a bounded window', async ({ page: a, newPage }) => {
  // 160 sends through the composer take about 35 s alone, and more while
  // the suite runs beside it: the default minute is too tight.
  test.setTimeout(120_000);
  const { bob, peer } = await aliceAddsBob(a, newPage);
  const start = Date.now() - 200 * 60_000;
  await seed(
    a,
    peer,
    Array.from({ length: 200 }, (_, i) => ({
      text: `Earlier #${i}`,
      outgoing: i % 2 === 0,
      status: 'Read',
      at: start + i * 60_000,
    })),
  );
  await a.reload();
  await showChats(a);
  await chatItem(a, bob).click();
  await expect(bubble(a, 'Earlier #199')).toBeInViewport();
  // 160 more, live: the window holds at most 150, the newest in view.
  for (let i = 0; i < 160; i++) await send(a, `Live #${i}`);
  await expect(bubble(a, 'Live #159')).toBeInViewport();
  expect(await a.getByTestId('message').count()).toBeLessThanOrEqual(150);
  await expect(bubble(a, 'Earlier #199')).toHaveCount(0);
});

test('every tick state renders', async ({ page: a, newPage }) => {
  const { bob, peer } = await aliceAddsBob(a, newPage);
  const now = Date.now();
  await seed(a, peer, [
    { text: 'Are you coming tonight?', outgoing: false, status: 'Sent', at: now - 86_400_000 - 60_000 },
    { text: 'Read: yes, at eight', outgoing: true, status: 'Read', at: now - 86_400_000 },
    { text: 'Delivered: bringing snacks', outgoing: true, status: 'Delivered', at: now - 300_000 },
    { text: 'Sent: see you there', outgoing: true, status: 'Sent', at: now - 200_000 },
    { text: 'Failed: this one was refused', outgoing: true, status: 'Sent', failed: true, at: now - 100_000 },
    { text: 'Pending: still in the outbox', outgoing: true, status: 'Pending', at: now - 1_000 },
  ]);
  await a.reload();
  await showChats(a);
  await chatItem(a, bob).click();
  for (const [text, status] of [
    ['Read:', 'read'],
    ['Delivered:', 'delivered'],
    ['Sent:', 'sent'],
    ['Failed:', 'failed'],
    ['Pending:', 'pending'],
  ]) {
    await expect(tick(a, text)).toHaveAttribute('data-status', status);
  }
  await expect(bubble(a, 'Are you coming').getByTestId('tick')).toHaveCount(0);
  await screenshot(a, 'chat-ticks');
});

test('signing out deletes this device\'s message store', async ({ page: a, newPage }) => {
  const { alice, bob, b } = await friends(a, newPage);
  await openFromContacts(a, bob);
  await send(a, 'soon forgotten here');
  await expect(tick(a, 'soon forgotten here')).toHaveAttribute('data-status', /sent|delivered|read/);

  const name = await a.evaluate(
    () => `parley-${JSON.parse(localStorage.getItem('parley.session') ?? '{}').profile.user_id}`,
  );
  const stores = () => a.evaluate(async () => (await indexedDB.databases()).map((d) => d.name));
  expect(await stores()).toContain(name);
  await signOut(a);
  await expect.poll(stores).not.toContain(name);
});

test('a message from someone who is not a contact shows their name', async ({ page: a, newPage }) => {
  const alice = newUser('Alice');
  const bob = newUser('Bob');
  const b = await newPage();
  await join(a, alice);
  await join(b, bob);
  // Only Alice adds Bob; Bob has never heard of Alice.
  await addContact(a, bob.handle);
  await expect(contactItem(a, bob)).toBeVisible();
  await openFromContacts(a, bob);
  await send(a, 'Hi, we met yesterday');
  await showChats(b);
  await expect(chatItem(b, alice)).toContainText('Hi, we met yesterday');
  await expect(b.getByTestId('chat-item').filter({ hasText: 'Unknown' })).toHaveCount(0);
});

test('each message reads in its own direction, and an emoji name gives letter initials', async ({
  page: a,
  newPage,
}) => {
  const { alice, bob, b } = await friends(a, newPage);
  await openFromContacts(a, bob);
  await send(a, 'שלום, מה שלומך?');
  await send(a, 'hello there');
  const rtl = a.getByTestId('message-text').filter({ hasText: 'שלום' });
  await expect(rtl).toHaveAttribute('dir', 'auto');
  expect(await rtl.evaluate((el) => el.matches(':dir(rtl)'))).toBe(true);
  const ltr = a.getByTestId('message-text').filter({ hasText: 'hello there' });
  expect(await ltr.evaluate((el) => el.matches(':dir(ltr)'))).toBe(true);
  await showChats(b);
  await chatItem(b, alice).click();
  await expect(bubble(b, 'hello there')).toBeVisible();
  expect(
    await b.getByTestId('message-text').filter({ hasText: 'שלום' }).evaluate((el) => el.matches(':dir(rtl)')),
  ).toBe(true);

  // A name that starts with an emoji: initials from its first letters, never half an emoji.
  const emoji = newUser('😀 Zed');
  const c = await newPage();
  await join(c, emoji);
  const suffix = emoji.name.split(' ').pop()!;
  await expect(c.locator('.sidebar .avatar').first()).toHaveText(`Z${suffix[0].toUpperCase()}`);
});

test('back online: the banner goes and what waited is sent at once, not at the next ping', async ({ page: a, newPage }) => {
  const { bob } = await friends(a, newPage);
  await openFromContacts(a, bob);
  await send(a, 'before');
  await expect(tick(a, 'before')).toHaveAttribute('data-status', /delivered|read/);
  await a.context().setOffline(true);
  await expect(a.getByTestId('offline-banner')).toBeVisible();
  await send(a, 'while offline');
  await a.context().setOffline(false);
  // The socket may have survived the outage: it is asked at once, not at the next ping.
  await expect(a.getByTestId('offline-banner')).toBeHidden({ timeout: 2_000 });
  await expect(tick(a, 'while offline')).toHaveAttribute('data-status', /sent|delivered|read/, {
    timeout: 2_000,
  });
});

test('a draft is kept per chat, across a reload, and goes once sent', async ({ page: a, newPage }) => {
  const { bob } = await friends(a, newPage);
  await openFromContacts(a, bob);
  await send(a, 'first');
  await a.getByTestId('composer').fill('half a *thought*');
  // Closing the chat keeps it, and the chat list says so. (Escape in a
  // composer holding a draft does nothing: leave the field first.)
  await a.locator('.messages').click();
  await a.keyboard.press('Escape');
  await a.keyboard.press('Escape');
  await expect(a.getByTestId('conversation')).toHaveCount(0);
  await showChats(a);
  await expect(chatItem(a, bob).getByTestId('chat-draft')).toBeVisible();
  await expect(chatItem(a, bob)).toContainText('Draft: half a thought');
  await screenshot(a, 'chat-draft');
  // A reload keeps it too.
  await a.reload();
  await expect(chatItem(a, bob)).toContainText('Draft: half a thought');
  await chatItem(a, bob).click();
  await expect(a.getByTestId('composer')).toHaveValue('half a *thought*');
  // Reloaded with the chat open, the draft comes back as soon as the store is read.
  await a.reload();
  await expect(a.getByTestId('composer')).toHaveValue('half a *thought*');
  await a.getByTestId('composer').press('Enter');
  await expect(bubble(a, 'half a thought')).toBeVisible();
  await expect(a.getByTestId('composer')).toHaveValue('');
  await a.reload();
  await expect(a.getByTestId('composer')).toHaveValue('');
  await showChats(a);
  await expect(chatItem(a, bob).getByTestId('chat-draft')).toHaveCount(0);
});
