// Keeping chats and messages in order: pin, archive, mark unread, clear and
// delete chats (the same on every device of the account), forward, star and
// pin messages.
import type { Page } from '@playwright/test';
import { expect, newUser, screenshot, signIn, test, type User } from '../fixtures';
import {
  befriend,
  bubble,
  chatItem,
  exactBubble,
  friends,
  join,
  openFromContacts,
  openMenu,
  send,
  showChats,
  tick,
} from '../chat';

/** Opens the menu of `user`'s row in the chat list. */
async function chatMenu(page: Page, user: User) {
  await showChats(page);
  const row = chatItem(page, user);
  await row.hover();
  await row.getByTestId('chat-menu-button').click();
  const menu = page.getByTestId('chat-menu');
  await expect(menu).toBeVisible();
  return menu;
}

/** The names in the main chat list, in order. */
function order(page: Page) {
  return page.getByTestId('chat-list').getByTestId('chat-item').locator('.chat-name');
}

test('pin, archive, mark unread, clear and delete chats, the same on a second device', async ({
  page: a,
  newPage,
}) => {
  const { alice, bob, b } = await friends(a, newPage);
  const carol = newUser('Carol');
  const c = await newPage();
  await join(c, carol);
  await befriend(a, alice, c, carol);
  // Alice's second browser, signed in before the messages come.
  const a2 = await newPage();
  await a2.goto('/');
  await signIn(a2, alice);
  // Once a message from it is accepted, its keys are published: from then
  // on messages to Alice reach it too.
  await openFromContacts(a2, bob);
  await send(a2, 'hello from my laptop');
  await expect(tick(a2, 'hello from my laptop')).toHaveAttribute('data-status', /sent|delivered|read/);
  await openFromContacts(b, alice);
  await send(b, 'from bob');
  await openFromContacts(c, alice);
  await send(c, 'from carol');
  for (const page of [a, a2]) {
    await showChats(page);
    await expect(chatItem(page, bob)).toBeVisible();
    await expect(chatItem(page, carol)).toBeVisible();
  }

  // Bob's chat is older; pinned, it leads on both devices.
  await expect(order(a)).toHaveText([carol.name, bob.name]);
  await (await chatMenu(a, bob)).getByTestId('menu-pin-chat').click();
  await expect(order(a)).toHaveText([bob.name, carol.name]);
  await expect(chatItem(a, bob).getByTestId('chat-pinned')).toBeVisible();
  await expect(order(a2)).toHaveText([bob.name, carol.name]);

  // Marked unread by hand: a dot, until the chat is opened. (Read first:
  // on a chat with unread messages the menu offers "Mark as read".)
  for (const page of [a, a2]) {
    await chatItem(page, carol).click();
    await expect(bubble(page, 'from carol')).toBeVisible();
    await chatItem(page, bob).click();
    await expect(bubble(page, 'from bob')).toBeVisible();
    await expect(chatItem(page, carol).getByTestId('unread-badge')).toHaveCount(0);
  }
  const carolMenu = await chatMenu(a, carol);
  await expect(carolMenu.getByTestId('menu-mark-unread')).toHaveText('Mark as unread');
  await carolMenu.getByTestId('menu-mark-unread').click();
  await expect(chatItem(a2, carol).getByTestId('marked-unread')).toBeVisible();
  await screenshot(a2, 'chats-pinned-and-marked');

  // Archived: out of the list, under "Archived", on both devices.
  await (await chatMenu(a, carol)).getByTestId('menu-archive-chat').click();
  await expect(order(a2)).toHaveText([bob.name]);
  await a2.getByTestId('archived-toggle').click();
  await expect(a2.getByTestId('archived-list').getByTestId('chat-item')).toHaveText(
    new RegExp(carol.name),
  );
  await screenshot(a2, 'chats-archived');
  // A new message brings it back.
  await send(c, 'are you there?');
  await showChats(a2);
  await expect(order(a2)).toHaveText([bob.name, carol.name]);
  await expect(order(a)).toHaveText([bob.name, carol.name]);
  await expect(a.getByTestId('archived-toggle')).toHaveCount(0);

  // Cleared: the messages go on both devices, the chat stays.
  await (await chatMenu(a, bob)).getByTestId('menu-clear-chat').click();
  await a.getByTestId('confirm-yes').click();
  await chatItem(a2, bob).click();
  await expect(a2.getByTestId('conversation-title')).toContainText(bob.name);
  await expect(bubble(a2, 'from bob')).toHaveCount(0);
  await expect(a2.getByTestId('message')).toHaveCount(0);
  await expect(chatItem(a, bob)).toBeVisible();

  // Deleted: gone from both lists; Bob keeps his copy.
  await (await chatMenu(a, carol)).getByTestId('menu-delete-chat').click();
  await a.getByTestId('confirm-yes').click();
  await expect(chatItem(a, carol)).toHaveCount(0);
  await showChats(a2);
  await expect(chatItem(a2, carol)).toHaveCount(0);
  await expect(bubble(c, 'from carol')).toBeVisible();

  // All of it survives a reload.
  await a2.reload();
  await showChats(a2);
  await expect(order(a2)).toHaveText([bob.name]);
  await expect(chatItem(a2, bob).getByTestId('chat-pinned')).toBeVisible();
});

test('forward to two chats, star and find it again, pin for everyone', async ({ page: a, newPage }) => {
  const { alice, bob, b } = await friends(a, newPage);
  const carol = newUser('Carol');
  const dan = newUser('Dan');
  const c = await newPage();
  const d = await newPage();
  await join(c, carol);
  await join(d, dan);
  await befriend(a, alice, c, carol);
  await befriend(a, alice, d, dan);

  await openFromContacts(b, alice);
  await send(b, 'Party at 8, bring snacks');
  await send(b, 'and a jacket');
  await openFromContacts(a, bob);
  await expect(bubble(a, 'and a jacket')).toBeVisible();

  // Forward to Carol and Dan: a new message in each, marked.
  await (await openMenu(a, 'Party at 8, bring snacks')).getByTestId('menu-forward').click();
  const dialog = a.getByTestId('forward-dialog');
  await dialog.getByTestId('forward-choice').filter({ hasText: carol.name }).click();
  await dialog.getByTestId('forward-choice').filter({ hasText: dan.name }).click();
  await screenshot(a, 'forward-dialog');
  await dialog.getByTestId('forward-send').click();
  await expect(dialog).toHaveCount(0);
  for (const page of [c, d]) {
    await showChats(page);
    await chatItem(page, alice).click();
    await expect(bubble(page, 'Party at 8').getByTestId('forwarded')).toHaveText('Forwarded');
  }

  // Star, then find it in "Starred messages" and jump back to it.
  await (await openMenu(a, 'Party at 8, bring snacks')).getByTestId('menu-star').click();
  await expect(exactBubble(a, 'Party at 8, bring snacks').getByTestId('starred-mark')).toBeVisible();
  await a.getByTestId('open-starred').click();
  const starred = a.getByTestId('starred-list').getByTestId('starred-item');
  await expect(starred).toHaveCount(1);
  await expect(starred).toContainText('Party at 8, bring snacks');
  await screenshot(a, 'starred-list');
  await a.getByTestId('back').or(a.getByTestId('panel-close')).first().click();
  await showChats(a);
  await chatItem(a, carol).click();
  await a.getByTestId('open-starred').click();
  await starred.click();
  await expect(a.getByTestId('conversation-title')).toContainText(bob.name);
  await expect(exactBubble(a, 'Party at 8, bring snacks')).toHaveClass(/flash/);

  // Bob pins Alice's view of his message for 7 days: both see the bar.
  await (await openMenu(b, 'and a jacket')).getByTestId('menu-pin').click();
  await expect(b.getByTestId('pin-dialog')).toBeVisible();
  await b.getByTestId('pin-confirm').click();
  await expect(b.getByTestId('pinned-text')).toHaveText('and a jacket');
  await expect(a.getByTestId('pinned-text')).toHaveText('and a jacket');
  await screenshot(a, 'pinned-bar');
  await a.getByTestId('pinned-open').click();
  await expect(exactBubble(a, 'and a jacket')).toHaveClass(/flash/);
  await a.getByTestId('unpin').click();
  await expect(b.getByTestId('pinned-bar')).toHaveCount(0);
  await expect(a.getByTestId('pinned-bar')).toHaveCount(0);
});

test('a reaction shows in the chat list of the other side', async ({ page: a, newPage }) => {
  const { alice, bob, b } = await friends(a, newPage);
  await openFromContacts(a, bob);
  await send(a, 'Exam passed!');
  await openFromContacts(b, alice);
  const menu = await openMenu(b, 'Exam passed!');
  await menu.locator('[data-testid="quick-reaction"][data-emoji="😮"]').click();
  await showChats(a);
  await expect(chatItem(a, bob).getByTestId('chat-reaction')).toHaveText(
    `${bob.name} reacted 😮 to “Exam passed!”`,
  );
});
