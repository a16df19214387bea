// Conversation helpers shared by the specs: two people, their chats, bubbles and ticks.
import type { BrowserContextOptions, Page } from '@playwright/test';
import { addContact, contactItem, expect, newUser, openContacts, signUp, type User } from './fixtures';

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

export function tick(page: Page, text: string) {
  return bubble(page, text).getByTestId('tick');
}

