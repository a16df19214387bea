// What people do with a message once it is sent: reply, react, edit, delete
// for everyone or for themselves, by mouse and by keyboard. Two people in
// two browser contexts; every change travels end-to-end encrypted.
import { expect, newUser, screenshot, test } from '../fixtures';
import {
  befriend,
  bubble,
  chatItem,
  exactBubble,
  contactId,
  friends,
  join,
  openFromContacts,
  openMenu,
  reaction,
  react,
  reply,
  seed,
  send,
  showChats,
  tick,
} from '../chat';

test('reply and jump to the quote, react and change the reaction, edit', async ({ page: a, newPage }) => {
  const { alice, bob, b } = await friends(a, newPage);
  await openFromContacts(a, bob);
  await send(a, 'Lunch at noon?');
  await openFromContacts(b, alice);
  await expect(bubble(b, 'Lunch at noon?')).toBeVisible();

  await reply(b, 'Lunch at noon?', 'Yes, the usual place');
  const answer = bubble(a, 'Yes, the usual place');
  await expect(answer.getByTestId('quote')).toContainText('You');
  await expect(answer.getByTestId('quote')).toContainText('Lunch at noon?');
  await expect(bubble(b, 'Yes, the usual place').getByTestId('quote')).toContainText(alice.name);
  await answer.getByTestId('quote').click();
  await expect(exactBubble(a, 'Lunch at noon?')).toHaveClass(/flash/);

  // One reaction per person: Bob's 👍 becomes ❤️; Alice adds hers.
  await react(b, 'Lunch at noon?', '👍');
  await expect(reaction(a, 'Lunch at noon?', '👍')).toContainText('1');
  await react(b, 'Lunch at noon?', '❤️');
  await expect(reaction(a, 'Lunch at noon?', '❤️')).toContainText('1');
  await expect(reaction(a, 'Lunch at noon?', '👍')).toHaveCount(0);
  await react(a, 'Lunch at noon?', '😂');
  await react(a, 'Lunch at noon?', '❤️');
  await expect(reaction(b, 'Lunch at noon?', '❤️')).toContainText('2');
  await expect(reaction(b, 'Lunch at noon?', '😂')).toHaveCount(0);
  await expect(reaction(b, 'Lunch at noon?', '❤️')).toHaveAttribute('aria-label', /You, Alice|Alice, You/);
  await screenshot(a, 'message-reply-and-reactions');
  // The chip lists who reacted; one's own can be taken back there.
  await reaction(a, 'Lunch at noon?', '❤️').click();
  const list = a.getByTestId('reactions-dialog');
  await expect(list.getByTestId('reaction-row')).toHaveCount(2);
  await expect(list).toContainText(bob.name);
  await screenshot(a, 'message-reactions-list');
  await list.getByTestId('reaction-remove').click();
  await expect(list.getByTestId('reaction-row')).toHaveCount(1);
  await expect(reaction(b, 'Lunch at noon?', '❤️')).toContainText('1');
  await a.keyboard.press('Escape');
  await expect(list).toHaveCount(0);
  await react(a, 'Lunch at noon?', '❤️');

  // Alice edits her question; Bob sees the new text, marked, and the quote follows.
  const menu = await openMenu(a, 'Lunch at noon?');
  await screenshot(a, 'message-menu');
  await menu.getByTestId('menu-edit').click();
  await expect(a.getByTestId('edit-input')).toBeFocused();
  await a.getByTestId('edit-input').fill('Lunch at 1pm?');
  await screenshot(a, 'message-edit-dialog');
  await a.getByTestId('edit-input').press('Enter');
  await expect(a.getByTestId('edit-dialog')).toHaveCount(0);
  await expect(exactBubble(b, 'Lunch at 1pm?').getByTestId('edited')).toBeVisible();
  await expect(exactBubble(b, 'Lunch at noon?')).toHaveCount(0);
  await expect(bubble(b, 'Yes, the usual place').getByTestId('quote')).toContainText('Lunch at 1pm?');
  // Reactions stay with the edited message.
  await expect(reaction(b, 'Lunch at 1pm?', '❤️')).toContainText('2');

  // Message info: Bob has the chat open, so it was delivered and read.
  await (await openMenu(a, 'Lunch at 1pm?')).getByTestId('menu-info').click();
  const info = a.getByTestId('message-info');
  await expect(info.getByTestId('info-read')).not.toHaveText('—');
  await expect(info.getByTestId('info-delivered')).not.toHaveText('—');
  await expect(info.getByTestId('info-sent')).toContainText('Today');
  await screenshot(a, 'message-info');
  await a.keyboard.press('Escape');
  await expect(info).toHaveCount(0);
  // Not offered on someone else's message.
  await expect((await openMenu(a, 'Yes, the usual place')).getByTestId('menu-info')).toHaveCount(0);
  await a.keyboard.press('Escape');

  // All of it is kept: after a reload Bob sees the same.
  await b.reload();
  await expect(exactBubble(b, 'Lunch at 1pm?').getByTestId('edited')).toBeVisible();
  await expect(reaction(b, 'Lunch at 1pm?', '❤️')).toContainText('2');
  await expect(bubble(b, 'Yes, the usual place').getByTestId('quote')).toBeVisible();
  await screenshot(b, 'message-edited-after-reload');
});

test('edit is offered for 15 minutes only', async ({ page: a, newPage }) => {
  await a.clock.install();
  const { bob } = await friends(a, newPage);
  await openFromContacts(a, bob);
  await send(a, 'fresh words');
  await expect(tick(a, 'fresh words')).toHaveAttribute('data-status', /sent|delivered|read/);
  let menu = await openMenu(a, 'fresh words');
  await expect(menu.getByTestId('menu-edit')).toBeVisible();
  await a.keyboard.press('Escape');
  await expect(menu).toHaveCount(0);

  await a.clock.fastForward('16:00');
  menu = await openMenu(a, 'fresh words');
  await expect(menu.getByTestId('menu-reply')).toBeVisible();
  await expect(menu.getByTestId('menu-edit')).toHaveCount(0);
  // Deleting for everyone stays possible for two days.
  await expect(menu.getByTestId('menu-delete-for-everyone')).toBeVisible();
  await a.keyboard.press('Escape');
});

test('delete for everyone reaches a recipient who was offline, and leaves nothing behind', async ({
  page: a,
  newPage,
}) => {
  const { alice, bob, b } = await friends(a, newPage);
  const bobContext = b.context();
  await b.close();

  await openFromContacts(a, bob);
  await send(a, 'meant for someone else');
  await send(a, 'and this one stays');
  await expect(tick(a, 'meant for someone else')).toHaveAttribute('data-status', 'sent');
  const menu = await openMenu(a, 'meant for someone else');
  await menu.getByTestId('menu-delete-for-everyone').click();
  await expect(a.getByTestId('confirm-dialog')).toBeVisible();
  await a.getByTestId('confirm-yes').click();
  await expect(a.getByTestId('message-deleted').getByTestId('message-text')).toHaveText('You deleted this message');
  await expect(bubble(a, 'meant for someone else')).toHaveCount(0);

  const b2 = await bobContext.newPage();
  await b2.goto('/');
  await expect(b2.getByTestId('main-screen')).toBeVisible();
  await showChats(b2);
  await chatItem(b2, alice).click();
  await expect(bubble(b2, 'and this one stays')).toBeVisible();
  await expect(b2.getByTestId('message-deleted').getByTestId('message-text')).toHaveText('This message was deleted');
  await expect(bubble(b2, 'meant for someone else')).toHaveCount(0);
  await screenshot(b2, 'message-deleted-for-everyone');

  // Removed from the store, not only hidden: no record holds the text.
  const stored = await b2.evaluate(async () => {
    const me = JSON.parse(localStorage.getItem('parley.session') ?? '{}').profile.user_id;
    const db = await new Promise<IDBDatabase>((resolve, reject) => {
      const open = indexedDB.open(`parley-${me}`);
      open.onsuccess = () => resolve(open.result);
      open.onerror = () => reject(open.error);
    });
    const all = await new Promise<unknown[]>((resolve, reject) => {
      const req = db.transaction('messages').objectStore('messages').getAll();
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
    db.close();
    return JSON.stringify(all);
  });
  expect(stored).toContain('and this one stays');
  expect(stored).not.toContain('meant for someone else');

  // Delete for me: gone here, still there on the other side.
  const mine = await openMenu(b2, 'and this one stays');
  await expect(mine.getByTestId('menu-delete-for-everyone')).toHaveCount(0);
  await mine.getByTestId('menu-delete-for-me').click();
  await b2.getByTestId('confirm-yes').click();
  await expect(bubble(b2, 'and this one stays')).toHaveCount(0);
  await expect(bubble(a, 'and this one stays')).toBeVisible();
  await expect(chatItem(b2, alice)).toContainText('This message was deleted');
});

test('a quote far up the chat is read from history when clicked', async ({ page: a, newPage }) => {
  const { bob } = await friends(a, newPage);
  const peer = await contactId(a, bob);
  const start = Date.now() - 400 * 60_000;
  const id = (i: number) => `01890000-0000-7000-8000-${(i + 1).toString(16).padStart(12, '0')}`;
  await seed(
    a,
    peer,
    Array.from({ length: 300 }, (_, i) => ({
      id: id(i),
      text: i === 299 ? 'Answering an old one' : `Old #${i}`,
      outgoing: i % 2 === 1,
      status: 'Read',
      at: start + i * 60_000,
      ...(i === 299 ? { reply: { id: id(4), author: peer, text: 'Old #4' } } : {}),
    })),
  );
  await a.reload();
  await showChats(a);
  await chatItem(a, bob).click();
  await expect(bubble(a, 'Answering an old one')).toBeInViewport();
  await expect(exactBubble(a, 'Old #4')).toHaveCount(0);
  await bubble(a, 'Answering an old one').getByTestId('quote').click();
  await expect(exactBubble(a, 'Old #4')).toBeInViewport();
  await expect(exactBubble(a, 'Old #4')).toHaveClass(/flash/);
  expect(await a.getByTestId('message').count()).toBeLessThan(200);
  await screenshot(a, 'message-jumped-to-quote');
});

test('the message menu by keyboard alone', async ({ page: a, newPage }) => {
  const { alice, bob, b } = await friends(a, newPage);
  await openFromContacts(a, bob);
  await send(a, 'keyboard only please');
  await openFromContacts(b, alice);
  await expect(bubble(b, 'keyboard only please')).toBeVisible();

  // From the composer, Shift+Tab passes the emoji and attach buttons and
  // reaches the newest message's menu button.
  await b.getByTestId('composer').focus();
  await b.keyboard.press('Shift+Tab');
  await expect(b.getByTestId('emoji-open')).toBeFocused();
  await b.keyboard.press('Shift+Tab');
  await expect(b.getByTestId('attach')).toBeFocused();
  await b.keyboard.press('Shift+Tab');
  const button = bubble(b, 'keyboard only please').getByTestId('message-menu-button');
  await expect(button).toBeFocused();
  await b.keyboard.press('Enter');
  const menu = b.getByTestId('message-menu');
  await expect(menu).toBeVisible();
  await expect(menu.getByTestId('quick-reaction').first()).toBeFocused();
  await b.keyboard.press('ArrowRight');
  await expect(menu.getByTestId('quick-reaction').nth(1)).toBeFocused();
  await b.keyboard.press('Enter');
  await expect(menu).toHaveCount(0);
  await expect(button).toBeFocused();
  await expect(reaction(a, 'keyboard only please', '❤️')).toBeVisible();

  // Escape closes without doing anything; focus goes back to the button.
  await b.keyboard.press('Enter');
  await expect(menu).toBeVisible();
  await b.keyboard.press('Escape');
  await expect(menu).toHaveCount(0);
  await expect(button).toBeFocused();

  // The context-menu key opens it too; End, then Up past Star, Pin,
  // Forward and Copy, reaches "Reply".
  await b.keyboard.press('Shift+F10');
  await expect(menu).toBeVisible();
  await b.keyboard.press('End');
  await expect(menu.getByTestId('menu-delete-for-me')).toBeFocused();
  for (const item of ['menu-star', 'menu-pin', 'menu-forward', 'menu-copy', 'menu-reply']) {
    await b.keyboard.press('ArrowUp');
    await expect(menu.getByTestId(item)).toBeFocused();
  }
  await b.keyboard.press('Enter');
  await expect(b.getByTestId('reply-bar')).toContainText('keyboard only please');
  await expect(b.getByTestId('composer')).toBeFocused();
  // Escape drops the quote, not the chat.
  await b.keyboard.press('Escape');
  await expect(b.getByTestId('reply-bar')).toHaveCount(0);
  await expect(b.getByTestId('conversation')).toBeVisible();
  await screenshot(b, 'message-menu-keyboard');
});

test('disappearing messages vanish on both sides after the chosen time', async ({ page: a, newPage }) => {
  await a.clock.install();
  const b = await newPage();
  await b.clock.install();
  const alice = newUser('Alice');
  const bob = newUser('Bob');
  await join(a, alice);
  await join(b, bob);
  await befriend(a, alice, b, bob);
  await openFromContacts(a, bob);
  await send(a, 'said before the timer');
  await a.getByTestId('open-contact-info').click();
  await a.getByTestId('disappearing-select').selectOption({ label: '24 hours' });
  await a.getByTestId('disappearing-apply').click();
  await expect(a.getByTestId('disappearing-apply')).toBeDisabled();
  await a.keyboard.press('Escape');
  await expect(a.getByTestId('timer-notice')).toContainText('You turned on disappearing messages');
  await openFromContacts(b, alice);
  await expect(b.getByTestId('timer-notice')).toContainText(`${alice.name} turned on disappearing messages`);
  await send(b, 'this one vanishes');
  await expect(bubble(a, 'this one vanishes')).toBeVisible();
  await screenshot(a, 'disappearing-on');

  await a.clock.fastForward('24:02:00');
  await b.clock.fastForward('24:02:00');
  for (const page of [a, b]) {
    await expect(bubble(page, 'this one vanishes')).toHaveCount(0);
    await expect(bubble(page, 'said before the timer')).toBeVisible();
    await expect(page.getByTestId('timer-notice')).toBeVisible();
  }
  await screenshot(b, 'disappearing-swept');
});

test('emoji from the picker: search, recently used, in the composer and as a reaction', async ({
  page: a,
  newPage,
}) => {
  const { alice, bob, b } = await friends(a, newPage);
  await openFromContacts(a, bob);
  await a.getByTestId('composer').fill('Well done ');
  await a.getByTestId('emoji-open').click();
  const picker = a.getByTestId('emoji-picker');
  await expect(picker.getByTestId('emoji-search')).toBeFocused();
  // The list arrives on first use; a search by name finds it.
  await picker.getByTestId('emoji-search').fill('party popper');
  await expect(picker.getByTestId('emoji-choice')).toHaveCount(1);
  await screenshot(a, 'emoji-picker-search');
  await picker.getByTestId('emoji-choice').click();
  await expect(picker).toHaveCount(0);
  await expect(a.getByTestId('composer')).toHaveValue('Well done 🎉');
  await expect(a.getByTestId('composer')).toBeFocused();
  await a.getByTestId('composer').press('Enter');
  await expect(bubble(a, 'Well done 🎉')).toBeVisible();

  // Used once, it leads the recent row next time.
  await a.getByTestId('emoji-open').click();
  await expect(a.getByTestId('emoji-recent').first()).toHaveAttribute('data-emoji', '🎉');
  // The grid is one tab stop; arrow keys move inside it, Enter picks.
  const grid = a.getByTestId('emoji-grid').getByTestId('emoji-choice');
  await expect(grid.first()).toHaveAttribute('tabindex', '0');
  await expect(grid.nth(1)).toHaveAttribute('tabindex', '-1');
  await grid.first().focus();
  await a.keyboard.press('ArrowRight');
  await expect(grid.nth(1)).toBeFocused();
  const second = (await grid.nth(1).getAttribute('data-emoji')) ?? '';
  await a.keyboard.press('Enter');
  await expect(a.getByTestId('composer')).toHaveValue(second);
  await a.getByTestId('composer').fill('');

  // Any emoji as a reaction, from "+" in the menu.
  await openFromContacts(b, alice);
  const menu = await openMenu(b, 'Well done 🎉');
  await menu.getByTestId('more-reactions').click();
  await b.getByTestId('emoji-search').fill('rocket');
  await b.getByTestId('emoji-choice').first().click();
  await expect(reaction(a, 'Well done 🎉', '🚀')).toContainText('1');
});
