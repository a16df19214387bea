// Every screen and state, scanned with axe-core (WCAG 2.2 A/AA and best
// practices): zero violations of any impact, in light and dark mode and on a
// phone. A screenshot of each state is kept for looking at.
import AxeBuilder from '@axe-core/playwright';
import type { Page } from '@playwright/test';
import {
  addContact,
  expect,
  newUser,
  openContacts,
  openSettings,
  screenshot,
  showAuthForm,
  test,
  type User,
} from '../fixtures';
import { bubble, chatItem, friends, join, openFromContacts, openMenu, react, reply, send, showChats } from '../chat';
import { accept, dial, expectStage, pair } from '../calls';

/** Scans the page as it is now; fails with each violation's rule and elements. */
async function clean(page: Page, state: string): Promise<void> {
  await screenshot(page, `a11y-${state}`);
  const results = await new AxeBuilder({ page }).analyze();
  const found = results.violations.map(
    (v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`,
  );
  expect(found, `axe violations in "${state}"`).toEqual([]);
}

/** Messages of every kind in the chat Alice has open with Bob. */
async function conversationOfEveryKind(a: Page, b: Page, bob: User, alice: User) {
  await openFromContacts(a, bob);
  await send(a, 'Plain hello');
  await openFromContacts(b, alice);
  await expect(bubble(b, 'Plain hello')).toBeVisible();
  await send(b, '*Bold* _italic_ ~gone~ `code` and https://example.org/a_b 😀');
  await send(b, `A long one: ${'word '.repeat(200)}end`);
  await send(b, 'مرحبا بالعالم');
  await expect(bubble(a, 'مرحبا')).toBeVisible();
  await expect(a.getByTestId('read-more')).toBeVisible();
  // A reply, reactions, an edited and a deleted message.
  await reply(b, 'Plain hello', 'An answer with a quote');
  await react(b, 'Plain hello', '👍');
  await send(a, 'Gone soon');
  const menu = await openMenu(a, 'Gone soon');
  await menu.getByTestId('menu-delete-for-everyone').click();
  await a.getByTestId('confirm-yes').click();
  await expect(a.getByTestId('message-deleted')).toBeVisible();
  await expect(a.getByTestId('reaction')).toBeVisible();
  await expect(bubble(a, 'An answer with a quote')).toBeVisible();
}

for (const scheme of ['light', 'dark'] as const) {
  test.describe(`${scheme} mode`, () => {
    test.use({ colorScheme: scheme });

    test('sign-in, sign-up and their errors', async ({ page }) => {
      await page.goto('/');
      await showAuthForm(page, 'sign-in');
      await clean(page, `${scheme}-sign-in`);
      await showAuthForm(page, 'sign-up');
      await clean(page, `${scheme}-sign-up`);
      await page.getByTestId('auth-submit').click();
      await expect(page.getByTestId('error-handle')).toBeVisible();
      await clean(page, `${scheme}-sign-up-errors`);
    });

    test('main screens, conversation, panels and dialogs', async ({ page: a, newPage }) => {
      // Two sign-ups and some thirty axe scans: close to a minute alone,
      // more beside the rest of the suite.
      test.setTimeout(150_000);
      const { alice, bob, b } = await friends(a, newPage, { colorScheme: scheme });
      await clean(a, `${scheme}-chat-list`);
      await openContacts(a);
      await clean(a, `${scheme}-contacts`);
      await conversationOfEveryKind(a, b, bob, alice);
      await clean(a, `${scheme}-conversation`);

      await openMenu(a, 'Plain hello');
      await clean(a, `${scheme}-message-menu`);
      await a.getByTestId('menu-reply').click();
      await expect(a.getByTestId('reply-bar')).toBeVisible();
      await clean(a, `${scheme}-replying`);
      await a.keyboard.press('Escape');
      const menu = await openMenu(a, 'Plain hello');
      await menu.getByTestId('menu-edit').click();
      await expect(a.getByTestId('edit-dialog')).toBeVisible();
      await clean(a, `${scheme}-edit-dialog`);
      await a.keyboard.press('Escape');
      await expect(a.getByTestId('edit-dialog')).toHaveCount(0);
      await (await openMenu(a, 'Plain hello')).getByTestId('menu-info').click();
      await expect(a.getByTestId('info-read')).toBeVisible();
      await clean(a, `${scheme}-message-info`);
      await a.keyboard.press('Escape');
      await a.getByTestId('emoji-open').click();
      await expect(a.getByTestId('emoji-choice').first()).toBeVisible();
      await clean(a, `${scheme}-emoji-picker`);
      await a.keyboard.press('Escape');
      await (await openMenu(a, 'Plain hello')).getByTestId('menu-forward').click();
      await expect(a.getByTestId('forward-dialog')).toBeVisible();
      await clean(a, `${scheme}-forward-dialog`);
      await a.keyboard.press('Escape');
      await (await openMenu(a, 'Plain hello')).getByTestId('menu-pin').click();
      await expect(a.getByTestId('pin-dialog')).toBeVisible();
      await clean(a, `${scheme}-pin-dialog`);
      await a.getByTestId('pin-confirm').click();
      await (await openMenu(a, 'Plain hello')).getByTestId('menu-star').click();
      await expect(a.getByTestId('pinned-bar')).toBeVisible();
      await expect(a.getByTestId('starred-mark')).toBeVisible();
      await clean(a, `${scheme}-pinned-and-starred`);
      await a.getByTestId('open-starred').click();
      await expect(a.getByTestId('starred-item')).toHaveCount(1);
      await clean(a, `${scheme}-starred-list`);
      await showChats(a);
      const row = chatItem(a, bob);
      await row.hover();
      await row.getByTestId('chat-menu-button').click();
      await expect(a.getByTestId('chat-menu')).toBeVisible();
      await clean(a, `${scheme}-chat-menu`);
      await a.getByTestId('menu-mute-chat').first().click();
      await expect(row.getByTestId('chat-muted')).toBeVisible();
      await clean(a, `${scheme}-muted-chat`);
      await row.hover();
      await row.getByTestId('chat-menu-button').click();
      await a.getByTestId('menu-archive-chat').click();
      await a.getByTestId('archived-toggle').click();
      await expect(a.getByTestId('archived-list')).toBeVisible();
      await clean(a, `${scheme}-archived`);

      await a.getByTestId('open-contact-info').click();
      await expect(a.getByTestId('contact-info')).toBeVisible();
      await clean(a, `${scheme}-contact-info`);
      await a.keyboard.press('Escape');
      await expect(a.getByTestId('contact-info')).toHaveCount(0);
      await a.getByTestId('open-safety').click();
      await expect(a.getByTestId('safety-number')).toBeVisible();
      await clean(a, `${scheme}-safety`);
      await a.keyboard.press('Escape');
      await expect(a.getByTestId('safety-panel')).toHaveCount(0);

      await openSettings(a);
      await expect(a.getByTestId('device-item')).toHaveCount(1);
      await clean(a, `${scheme}-settings`);
      await a.getByTestId('sign-out').click();
      await expect(a.getByTestId('confirm-dialog')).toBeVisible();
      await clean(a, `${scheme}-confirm`);
      await a.keyboard.press('Escape');
      await expect(a.getByTestId('confirm-dialog')).toHaveCount(0);
      await a.keyboard.press('Control+/');
      await expect(a.getByTestId('shortcuts-sheet')).toBeVisible();
      await clean(a, `${scheme}-shortcuts`);
    });

    test('a group: the new-group dialog, the conversation, its info and message info', async ({
      page: a,
      newPage,
    }) => {
      const { bob, b } = await friends(a, newPage, { colorScheme: scheme });
      await showChats(a);
      await a.getByTestId('new-group').click();
      await a.getByTestId('new-group-name').fill('Axe group');
      await a.getByTestId('pick-person').filter({ hasText: bob.name }).locator('input').check();
      await clean(a, `${scheme}-new-group`);
      await a.getByTestId('new-group-create').click();
      await expect(a.getByTestId('group-notice')).toHaveCount(2);
      await send(a, 'Hello group');
      await showChats(b);
      await b.getByTestId('chat-item').filter({ hasText: 'Axe group' }).click();
      await send(b, 'Hi from Bob');
      await expect(bubble(a, 'Hi from Bob').getByTestId('sender-name')).toBeVisible();
      await clean(a, `${scheme}-group`);
      await (await openMenu(a, 'Hello group')).getByTestId('menu-info').click();
      await expect(a.getByTestId('info-read-by')).toBeVisible();
      await clean(a, `${scheme}-group-message-info`);
      await a.keyboard.press('Escape');
      await a.getByTestId('open-group-info').click();
      await expect(a.getByTestId('group-member')).toHaveCount(2);
      await clean(a, `${scheme}-group-info`);
    });
  });
}

test('a chat from a stranger, and a blocked one', async ({ page: a, newPage }) => {
  const alice = newUser('Alice');
  const carol = newUser('Carol');
  const c = await newPage();
  await join(a, alice);
  await join(c, carol);
  await addContact(c, alice.handle);
  await openFromContacts(c, alice);
  await send(c, 'hi, you do not know me');
  await showChats(a);
  await chatItem(a, carol).click();
  await expect(a.getByTestId('unknown-sender')).toBeVisible();
  await clean(a, 'stranger');
  await a.getByTestId('stranger-block').click();
  await a.getByTestId('confirm-yes').click();
  await expect(a.getByTestId('blocked-note')).toBeVisible();
  await clean(a, 'blocked');
});

test('phone layout', async ({ page: a, newPage }) => {
  await a.setViewportSize({ width: 390, height: 844 });
  const { alice, bob, b } = await friends(a, newPage, { viewport: { width: 390, height: 844 } });
  await clean(a, 'phone-chat-list');
  await conversationOfEveryKind(a, b, bob, alice);
  await clean(a, 'phone-conversation');
  await a.getByTestId('back').click();
  await openSettings(a);
  await clean(a, 'phone-settings');
});

test('incoming and active call', async ({ newPage }) => {
  const { bob, a, b } = await pair(newPage);
  await dial(a, bob, 'video');
  await expectStage(b, 'incoming');
  await clean(b, 'call-incoming');
  await accept(b);
  await expectStage(a, 'active');
  await expectStage(b, 'active');
  await clean(a, 'call-active');
  await a.getByTestId('hangup-call').click();
  await expect(b.getByTestId('call-screen')).toHaveCount(0);
  // The call in the caller's open chat, with its "Call back" button.
  await expect(a.getByTestId('call-screen')).toHaveCount(0);
  await expect(a.getByTestId('call-event')).toHaveCount(1);
  await clean(a, 'conversation-call-event');
});
