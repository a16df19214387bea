// Conversation helpers shared by the specs: two people, their chats, bubbles and ticks.
import type { BrowserContextOptions, Locator, Page } from '@playwright/test';
import {
  addContact,
  contactItem,
  expect,
  newUser,
  openContacts,
  publishedDevices,
  signIn,
  signUp,
  type ParleyServer,
  type User,
} from './fixtures';

/** Signs `user` up on `page` (at `base`, default: the page's baseURL). */
export async function join(page: Page, user: User, base = '/'): Promise<void> {
  await page.goto(base);
  await signUp(page, user);
}

/** Both add each other as contacts. */
export async function befriend(a: Page, alice: User, b: Page, bob: User): Promise<void> {
  await addContact(a, bob.handle);
  await expect(contactItem(a, bob)).toBeVisible();
  await addContact(b, alice.handle);
  await expect(contactItem(b, alice)).toBeVisible();
}

/**
 * Alice signed up on `a`, Bob on a new page (with `options`), and each in the
 * other's contacts: the start of most conversations below.
 */
export async function friends(
  a: Page,
  newPage: (options?: BrowserContextOptions) => Promise<Page>,
  options?: BrowserContextOptions,
): Promise<{ alice: User; bob: User; b: Page }> {
  const alice = newUser('Alice');
  const bob = newUser('Bob');
  const b = await newPage(options);
  await join(a, alice);
  await join(b, bob);
  await befriend(a, alice, b, bob);
  return { alice, bob, b };
}

/** The chat list (closing any panel over it). */
export async function showChats(page: Page): Promise<void> {
  if (!(await page.getByTestId('chat-list').isVisible())) {
    const close = page.getByTestId('panel-close').or(page.getByTestId('back')).first();
    await close.click();
  }
  await expect(page.getByTestId('chat-list')).toBeVisible();
}

export function chatItem(page: Page, user: User) {
  return page.getByTestId('chat-item').filter({ hasText: user.name });
}

/** Opens the conversation with `user` from the contacts panel. */
export async function openFromContacts(page: Page, user: User): Promise<void> {
  await openContacts(page);
  await contactItem(page, user).click();
  await expect(page.getByTestId('conversation-title')).toContainText(user.name);
}

export async function send(page: Page, text: string): Promise<void> {
  await page.getByTestId('composer').fill(text);
  await page.getByTestId('composer').press('Enter');
}

export function bubble(page: Page, text: string) {
  return page.getByTestId('message').filter({ hasText: text });
}

/** The bubble whose text is exactly `text` (not one quoting it). */
export function exactBubble(page: Page, text: string) {
  const escaped = text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return page.getByTestId('message').filter({
    has: page.getByTestId('message-text').filter({ hasText: new RegExp(`^${escaped}$`) }),
  });
}

export function tick(page: Page, text: string) {
  return bubble(page, text).getByTestId('tick');
}


/** A message as `seed` writes it (`id` defaults to one from its position). */
export interface Seeded {
  id?: string;
  text: string;
  outgoing: boolean;
  status: string;
  failed?: boolean;
  seen?: boolean;
  at: number;
  reply?: { id: string; author: string; text: string };
}

/** Writes messages straight into the account's IndexedDB, in the store's schema. */
export async function seed(
  page: Page,
  peer: string,
  messages: Seeded[],
): Promise<void> {
  await page.evaluate(
    async ({ peer, messages }) => {
      const session = JSON.parse(localStorage.getItem('parley.session') ?? '{}');
      const me: string = session.profile.user_id;
      const device: string = session.device_id;
      const db = await new Promise<IDBDatabase>((resolve, reject) => {
        const open = indexedDB.open(`parley-${me}`);
        open.onsuccess = () => resolve(open.result);
        open.onerror = () => reject(open.error);
      });
      const tx = db.transaction('messages', 'readwrite');
      const store = tx.objectStore('messages');
      messages.forEach((m, i) => {
        store.put({
          id: m.id ?? `01890000-0000-7000-8000-${(i + 1).toString(16).padStart(12, '0')}`,
          peer,
          outgoing: m.outgoing,
          from_device: m.outgoing ? device : peer,
          text: m.text,
          composed_at: m.at,
          server_at: m.at,
          status: m.status,
          seen: m.seen ?? true,
          failed: m.failed ?? false,
          ...(m.reply ? { reply: m.reply } : {}),
          // The sparse index field the store keeps on unseen incoming messages.
          ...(m.seen === false && !m.outgoing ? { unseen: peer } : {}),
        });
      });
      await new Promise<void>((resolve, reject) => {
        tx.oncomplete = () => resolve();
        tx.onerror = () => reject(tx.error);
      });
      db.close();
    },
    { peer, messages },
  );
}

/** The user id of a contact, from the app's cached contact list. */
export async function contactId(page: Page, user: User): Promise<string> {
  return page.evaluate((handle) => {
    const cache = JSON.parse(localStorage.getItem('parley.contacts') ?? '{}');
    return cache.contacts.find((c: { user: { handle: string } }) => c.user.handle === handle).user.user_id;
  }, user.handle);
}


/** Opens the menu of the bubble holding `text` (hover, then its chevron). */
export async function openMenu(page: Page, text: string): Promise<Locator> {
  const target = exactBubble(page, text);
  await target.hover();
  await target.getByTestId('message-menu-button').click();
  const menu = page.getByTestId('message-menu');
  await expect(menu).toBeVisible();
  return menu;
}

/** Reacts to the message holding `text` from its menu. */
export async function react(page: Page, text: string, emoji: string): Promise<void> {
  const menu = await openMenu(page, text);
  await menu.locator(`[data-testid="quick-reaction"][data-emoji="${emoji}"]`).click();
  await expect(menu).toHaveCount(0);
}

/** Answers the message holding `text` with `answer`. */
export async function reply(page: Page, text: string, answer: string): Promise<void> {
  const menu = await openMenu(page, text);
  await menu.getByTestId('menu-reply').click();
  await expect(page.getByTestId('reply-bar')).toContainText(text);
  await expect(page.getByTestId('composer')).toBeFocused();
  await page.getByTestId('composer').fill(answer);
  await page.getByTestId('composer').press('Enter');
  await expect(page.getByTestId('reply-bar')).toHaveCount(0);
}

/** The reaction chip with `emoji` under the bubble holding `text`. */
export function reaction(page: Page, text: string, emoji: string): Locator {
  return page
    .locator('.msg-row', { has: exactBubble(page, text) })
    .locator(`[data-testid="reaction"][data-emoji="${emoji}"]`);
}

/** A file for `attach`: in memory, or a path (Playwright takes large files by path only). */
export type Chosen = string | { name: string; mimeType: string; buffer: Buffer };

/**
 * Chooses `files` with the paperclip's picker in the open chat, gives each
 * the caption at its index in `captions`, and sends them from the dialog.
 */
export async function attach(page: Page, files: Chosen[], captions: string[] = []): Promise<void> {
  await page.getByTestId('file-input').setInputFiles(files as Parameters<Locator['setInputFiles']>[0]);
  const dialog = page.getByTestId('send-files');
  await expect(dialog.getByTestId('chosen-file')).toHaveCount(files.length);
  for (const [at, caption] of captions.entries()) {
    if (caption) await dialog.getByTestId('file-caption').nth(at).fill(caption);
  }
  await dialog.getByTestId('send-files-send').click();
  await expect(dialog).toHaveCount(0);
}

/** `user` signs in on a second browser, which has published its keys when this returns. */
export async function secondBrowser(
  newPage: () => Promise<Page>,
  server: ParleyServer,
  user: User,
): Promise<Page> {
  const page = await newPage();
  await page.goto('/');
  await signIn(page, user);
  await expect(page.getByTestId('main-screen')).toBeVisible();
  // Senders address a device once it has published its keys.
  await expect.poll(() => publishedDevices(server, user.handle)).toBe(2);
  return page;
}
