// Keyboard only: signing in, opening a chat, sending, panels and dialogs,
// shortcuts and calls, checking where focus lands after each step.
import type { Page } from '@playwright/test';
import { addContact, contactItem, expect, newUser, test } from '../fixtures';
import { bubble, chatItem, friends, join, showChats } from '../chat';
import { dial, expectStage, pair } from '../calls';

/** The `data-testid` (or id) of the focused element. */
function focused(page: Page): Promise<string> {
  return page.evaluate(() => {
    const el = document.activeElement as HTMLElement | null;
    return el?.dataset.testid ?? el?.id ?? el?.tagName ?? 'none';
  });
}

test('sign up and in by keyboard: the first field has focus, errors sit at their field', async ({ page }) => {
  const user = newUser('Keys');
  await page.goto('/');
  await expect.poll(() => focused(page)).toBe('handle');
  await page.getByTestId('show-sign-up').focus();
  await page.keyboard.press('Enter');
  await page.getByTestId('handle').focus();
  await page.keyboard.type(user.handle);
  await page.keyboard.press('Tab');
  await expect.poll(() => focused(page)).toBe('display-name');
  await page.keyboard.type(user.name);
  await page.keyboard.press('Tab');
  await expect.poll(() => focused(page)).toBe('password');
  // The rule is there before anything is typed.
  await expect(page.locator('#password-hint')).toContainText('not a common password');
  await page.keyboard.type('password1');
  await page.keyboard.press('Enter');
  // The server's verdict is at the field, linked to it, and the field has focus.
  const password = page.getByTestId('password');
  await expect(page.getByTestId('error-password')).toContainText('too common');
  await expect(password).toHaveAttribute('aria-invalid', 'true');
  await expect(password).toHaveAttribute('aria-describedby', /password-error/);
  await expect(page.getByTestId('auth-error')).toHaveCount(0);
  await expect.poll(() => focused(page)).toBe('password');

  await page.keyboard.press('Control+A');
  await page.keyboard.type(user.password);
  await page.keyboard.press('Enter');
  await expect(page.getByTestId('main-screen')).toBeVisible({ timeout: 30_000 });
  // The main screen starts in the chat search.
  await expect.poll(() => focused(page)).toBe('chat-search');
});

test('a taken handle is reported at the handle field', async ({ page, newPage }) => {
  const taken = newUser('Taken');
  const other = await newPage();
  await join(other, taken);
  await page.goto('/');
  await page.getByTestId('show-sign-up').click();
  await page.getByTestId('handle').fill(taken.handle);
  await page.getByTestId('display-name').fill('Someone else');
  await page.getByTestId('password').fill('a quite unusual passphrase');
  await page.getByTestId('auth-submit').click();
  await expect(page.getByTestId('error-handle')).toContainText('already taken');
  await expect(page.getByTestId('handle')).toHaveAttribute('aria-invalid', 'true');
  await expect.poll(() => focused(page)).toBe('handle');
});

test('chats, panels and dialogs by keyboard, with shortcuts', async ({ page: a, newPage }) => {
  const { bob } = await friends(a, newPage);
  await a.reload();
  await expect(a.getByTestId('main-screen')).toBeVisible();

  // Ctrl+Alt+N: new chat, in the contacts panel's field.
  await a.keyboard.press('Control+Alt+KeyN');
  await expect(a.getByTestId('contacts-panel')).toBeVisible();
  await expect.poll(() => focused(a)).toBe('contact-handle');
  // Down the panel to Bob's entry; Enter opens the chat, focused in the composer.
  await contactItem(a, bob).locator('.contact-open').focus();
  await a.keyboard.press('Enter');
  await expect(a.getByTestId('conversation-title')).toContainText(bob.name);
  await expect.poll(() => focused(a)).toBe('composer');
  await a.keyboard.type('typed, never clicked');
  await a.keyboard.press('Enter');
  await expect(bubble(a, 'typed, never clicked')).toBeVisible();

  // Escape with a draft keeps the chat; with an empty composer it closes the
  // panel first, then the chat, and focus goes back to the chat's row.
  await a.keyboard.type('draft');
  await a.keyboard.press('Escape');
  await expect(a.getByTestId('conversation')).toBeVisible();
  await a.keyboard.press('Control+A');
  await a.keyboard.press('Delete');
  await a.keyboard.press('Escape');
  await expect(a.getByTestId('contacts-panel')).toHaveCount(0);
  await expect.poll(() => focused(a)).toBe('open-contacts');
  await a.getByTestId('composer').focus();
  await a.keyboard.press('Escape');
  await expect(a.getByTestId('conversation')).toHaveCount(0);
  await expect
    .poll(() => a.evaluate(() => document.activeElement?.closest('[data-testid=chat-item]') !== null))
    .toBe(true);

  // Ctrl+Alt+↓ opens the next chat (here the only one).
  await a.keyboard.press('Control+Alt+ArrowDown');
  await expect(a.getByTestId('conversation-title')).toContainText(bob.name);

  // Contact info and the safety panel are dialogs: Escape closes them and
  // focus returns to what opened them.
  await a.getByTestId('open-contact-info').focus();
  await a.keyboard.press('Enter');
  await expect(a.getByTestId('contact-info')).toBeVisible();
  await a.keyboard.press('Escape');
  await expect(a.getByTestId('contact-info')).toHaveCount(0);
  await expect.poll(() => focused(a)).toBe('open-contact-info');
  await a.getByTestId('open-safety').focus();
  await a.keyboard.press('Enter');
  await expect(a.getByTestId('safety-panel')).toBeVisible();
  // Focus never reaches the page behind the dialog (past its last control
  // it may go to the browser's own toolbar, which the page sees as <body>).
  for (let i = 0; i < 8; i++) {
    await a.keyboard.press('Tab');
    const where = await a.evaluate(() => {
      const el = document.activeElement;
      return !el || el === document.body ? 'browser' : el.closest('dialog') ? 'dialog' : 'page';
    });
    expect(where).not.toBe('page');
  }
  await a.keyboard.press('Escape');
  await expect(a.getByTestId('safety-panel')).toHaveCount(0);
  await expect.poll(() => focused(a)).toBe('open-safety');

  // Ctrl+Alt+, opens settings on its heading; Escape goes back to the gear.
  await a.keyboard.press('Control+Alt+Comma');
  await expect(a.getByTestId('settings-panel')).toBeVisible();
  await expect.poll(() => focused(a)).toBe('settings-title');
  await a.keyboard.press('Escape');
  await expect.poll(() => focused(a)).toBe('open-settings');

  // "?" lists the shortcuts.
  await a.keyboard.press('Shift+Slash');
  await expect(a.getByTestId('shortcuts-sheet')).toContainText('Ctrl + Alt + N');
  await a.keyboard.press('Escape');
  await expect(a.getByTestId('shortcuts-sheet')).toHaveCount(0);
  await expect.poll(() => focused(a)).toBe('open-settings');
});

test('next and previous chat by keyboard, in chat-list order, wrapping round', async ({ page: a, newPage }) => {
  const { alice, bob, b } = await friends(a, newPage);
  const carol = newUser('Carol');
  const c = await newPage();
  await join(c, carol);
  await addContact(c, alice.handle);
  await contactItem(b, alice).click();
  await b.getByTestId('composer').fill('from bob');
  await b.getByTestId('composer').press('Enter');
  await contactItem(c, alice).click();
  await c.getByTestId('composer').fill('from carol');
  await c.getByTestId('composer').press('Enter');
  await showChats(a);
  // Newest first: Carol, then Bob.
  await expect(a.getByTestId('chat-item').first()).toContainText(carol.name);
  await expect(a.getByTestId('chat-item')).toHaveCount(2);
  const title = a.getByTestId('conversation-title');
  await a.keyboard.press('Control+Alt+ArrowDown');
  await expect(title).toContainText(carol.name);
  await a.keyboard.press('Control+Alt+ArrowDown');
  await expect(title).toContainText(bob.name);
  await a.keyboard.press('Control+Alt+Shift+BracketRight');
  await expect(title).toContainText(carol.name);
  await a.keyboard.press('Control+Alt+ArrowUp');
  await expect(title).toContainText(bob.name);
});

test('mark as read from the chat list by keyboard', async ({ page: a, newPage }) => {
  const { alice, bob, b } = await friends(a, newPage);
  await contactItem(b, alice).click();
  await b.getByTestId('composer').fill('unread until marked');
  await b.getByTestId('composer').press('Enter');
  const row = chatItem(a, bob);
  await showChats(a);
  await expect(row.getByTestId('unread-badge')).toHaveText('1');
  await row.locator('.chat-open').focus();
  await a.keyboard.press('Control+Alt+Shift+KeyU');
  await expect(row.getByTestId('unread-badge')).toHaveCount(0);
  await expect(b.getByTestId('message').filter({ hasText: 'unread until marked' }).getByTestId('tick')).toHaveAttribute(
    'data-status',
    'read',
  );
});

test('an incoming call takes focus: Enter accepts, Escape declines', async ({ newPage }) => {
  const { bob, a, b } = await pair(newPage);
  await dial(a, bob, 'voice');
  await expectStage(b, 'incoming');
  await expect.poll(() => focused(b)).toBe('accept-call');
  // Accept counts presses only once armed (a moment after ringing, so an
  // Enter meant for the composer does not answer); wait for that.
  await expect(b.getByTestId('accept-call')).toHaveAttribute('data-armed', 'true');
  await b.keyboard.press('Enter');
  await expectStage(b, 'active');
  await expectStage(a, 'active');
  // Focus stays among the call's controls.
  await expect.poll(() => b.evaluate(() => !!document.activeElement?.closest('.call-controls'))).toBe(true);
  await a.getByTestId('hangup-call').click();
  await expect(b.getByTestId('call-screen')).toHaveCount(0);

  await expect(a.getByTestId('call-screen')).toHaveCount(0);
  await a.getByTestId('call-voice').click();
  await expectStage(b, 'incoming');
  await b.keyboard.press('Escape');
  await expect(a.getByTestId('call-status')).toHaveText('Declined');
  await expect(b.getByTestId('call-screen')).toHaveCount(0);
});

test('a new message is announced for screen readers, with its sender', async ({ page: a, newPage }) => {
  const carol = newUser('Carol');
  const c = await newPage();
  await join(c, carol);
  const alice = newUser('Alice');
  await join(a, alice);
  await addContact(c, alice.handle);
  await contactItem(c, alice).click();
  await c.getByTestId('composer').fill('say my name');
  await c.getByTestId('composer').press('Enter');
  await expect(a.getByTestId('announcer')).toHaveText(`${carol.name}: say my name`);

  // After a reload the same message is history: nothing is said until a new one comes.
  await a.reload();
  await expect(a.getByTestId('chat-item').filter({ hasText: 'say my name' })).toBeVisible();
  await expect(a.getByTestId('announcer')).toHaveText('');
  await c.getByTestId('composer').fill('and again');
  await c.getByTestId('composer').press('Enter');
  await expect(a.getByTestId('announcer')).toHaveText(`${carol.name}: and again`);
});
