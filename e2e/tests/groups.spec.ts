// Groups in three browser contexts: created, chatted in with group ticks,
// message info and a mention, a member removed, an admin made and the group renamed, a
// member catching up after the app was closed, and everything kept across a
// reload.
import type { Page } from '@playwright/test';
import { expect, newUser, screenshot, sql, test, type User } from '../fixtures';
import { attach, befriend, bubble, join, openMenu, secondBrowser, send, showChats, tick } from '../chat';
import { png } from '../png';

const GROUP = 'Weekend climbing';

function groupItem(page: Page) {
  return page.getByTestId('chat-item').filter({ hasText: GROUP });
}

/** Creates the group with `members` from `page`, which then shows it. */
async function newGroup(page: Page, members: User[]): Promise<void> {
  await showChats(page);
  await page.getByTestId('new-group').click();
  const dialog = page.getByTestId('new-group');
  await dialog.getByTestId('new-group-name').fill(GROUP);
  for (const member of members) {
    await dialog.getByTestId('pick-person').filter({ hasText: member.name }).locator('input').check();
  }
  await dialog.getByTestId('new-group-create').click();
  await expect(page.getByTestId('conversation-title')).toHaveText(GROUP);
}

function fileBubble(page: Page, testId: string) {
  return page.getByTestId('message').filter({ has: page.getByTestId(testId) });
}

test('a group of three: create, chat with ticks and message info, remove a member, catch up, reload', async ({
  page: a,
  newPage,
}) => {
  test.setTimeout(120_000);
  const alice = newUser('Alice');
  const bob = newUser('Bob');
  const cara = newUser('Cara');
  const b = await newPage();
  let c = await newPage();
  await join(a, alice);
  await join(b, bob);
  await join(c, cara);
  await befriend(a, alice, b, bob);
  await befriend(a, alice, c, cara);

  // Alice creates the group with both.
  await showChats(a);
  await a.getByTestId('new-group').click();
  const dialog = a.getByTestId('new-group');
  await dialog.getByTestId('new-group-name').fill(GROUP);
  await dialog.getByTestId('new-group-description').fill('Saturdays at the crag.\nBring a helmet.');
  await dialog.getByTestId('pick-person').filter({ hasText: bob.name }).locator('input').check();
  await dialog.getByTestId('pick-person').filter({ hasText: cara.name }).locator('input').check();
  await screenshot(a, 'group-new');
  await dialog.getByTestId('new-group-create').click();
  await expect(a.getByTestId('conversation-title')).toHaveText(GROUP);
  await expect(a.getByTestId('group-notice').first()).toHaveText(`You created group \u201c${GROUP}\u201d`);
  await expect(a.getByTestId('group-notice').nth(1)).toContainText('You added');
  await expect(a.getByTestId('group-members-line')).toContainText('You');

  // Bob sees it in his list and opens it; Cara has closed the app.
  await showChats(b);
  await expect(groupItem(b)).toBeVisible();
  await groupItem(b).click();
  await expect(b.getByTestId('group-notice').first()).toHaveText(
    `${alice.name} created group \u201c${GROUP}\u201d`,
  );
  const caraContext = c.context();
  await c.close();

  await send(a, 'Hello group');
  await expect(bubble(b, 'Hello group').getByTestId('sender-name')).toHaveText(alice.name);
  // Bob read it, Cara has not got it: one tick until every member has it.
  await expect(tick(a, 'Hello group')).toHaveAttribute('data-status', 'sent');
  await send(b, 'Hi all');
  await expect(bubble(a, 'Hi all').getByTestId('sender-name')).toHaveText(bob.name);

  // Cara comes back: the group and its messages are there.
  c = await caraContext.newPage();
  await c.goto('/');
  await expect(c.getByTestId('main-screen')).toBeVisible();
  await expect(groupItem(c)).toBeVisible();
  await expect(tick(a, 'Hello group')).toHaveAttribute('data-status', 'delivered');
  await groupItem(c).click();
  await expect(bubble(c, 'Hello group')).toBeVisible();
  await expect(bubble(c, 'Hi all').getByTestId('sender-name')).toHaveText(bob.name);
  await expect(tick(a, 'Hello group')).toHaveAttribute('data-status', 'read');
  await screenshot(c, 'group-conversation');

  // Message info: both read it.
  await (await openMenu(a, 'Hello group')).getByTestId('menu-info').click();
  const info = a.getByTestId('message-info');
  await expect(info.getByTestId('info-read-by')).toContainText(bob.name);
  await expect(info.getByTestId('info-read-by')).toContainText(cara.name);
  await screenshot(a, 'group-message-info');
  await info.getByRole('button', { name: 'Close' }).click();

  // Cara steps out of the chat; Alice names her with "@", picked from the
  // list by keyboard. Cara's chat list shows the mention; the name is
  // highlighted for everyone, most for her.
  await c.getByTestId('composer').press('Escape');
  await expect(c.getByTestId('conversation-title')).toHaveCount(0);
  const composer = a.getByTestId('composer');
  await composer.pressSequentially('see you @Cara');
  const options = a.getByTestId('mention-list').getByTestId('mention-option');
  await expect(options).toHaveCount(1);
  await expect(options).toContainText(cara.name);
  await expect(composer).toHaveAttribute('aria-activedescendant', 'mention-option-0');
  await screenshot(a, 'group-mention-picker');
  await composer.press('Enter');
  await expect(composer).toHaveValue(`see you @${cara.name} `);
  await expect(a.getByTestId('mention-list')).toHaveCount(0);
  await composer.pressSequentially('tomorrow');
  await composer.press('Enter');
  await expect(groupItem(c).getByTestId('mention-badge')).toBeVisible();
  await expect(groupItem(c).getByTestId('unread-badge')).toHaveText('1');
  await screenshot(c, 'group-mention-badge');
  await expect(bubble(b, 'tomorrow').getByTestId('mention')).toHaveText(`@${cara.name}`);
  await expect(bubble(b, 'tomorrow').locator('.mention-me')).toHaveCount(0);
  await groupItem(c).click();
  await expect(bubble(c, 'tomorrow').locator('.mention-me')).toHaveText(`@${cara.name}`);
  await expect(groupItem(c).getByTestId('mention-badge')).toHaveCount(0);
  await screenshot(c, 'group-mention');

  // Typing shows by name.
  await b.getByTestId('composer').pressSequentially('typing');
  await expect(a.getByTestId('typing-indicator')).toHaveText(`${bob.name} is typing…`);
  await b.getByTestId('composer').fill('');

  // Alice removes Cara.
  await a.getByTestId('open-group-info').click();
  const sheet = a.getByTestId('group-info');
  await expect(sheet.getByTestId('group-member')).toHaveCount(3);
  await expect(sheet.getByTestId('group-member').first()).toContainText('You');
  await expect(sheet.getByTestId('group-member').first().getByTestId('member-admin')).toBeVisible();
  await screenshot(a, 'group-info');
  await sheet.getByTestId('group-member').filter({ hasText: cara.name }).getByTestId('member-remove').click();
  await a.getByTestId('confirm-yes').click();
  await expect(sheet.getByTestId('group-member')).toHaveCount(2);
  await sheet.getByTestId('close-group-info').click();
  await expect(a.getByTestId('group-notice').last()).toHaveText(`You removed ${cara.name}`);

  await expect(c.getByTestId('group-notice').last()).toHaveText(`${alice.name} removed you`);
  await expect(c.getByTestId('group-cannot-send')).toContainText('no longer a member');
  await expect(c.getByTestId('composer')).toHaveCount(0);
  await screenshot(c, 'group-removed');

  await send(a, 'After Cara left');
  await expect(bubble(b, 'After Cara left')).toBeVisible();
  await expect(tick(a, 'After Cara left')).toHaveAttribute('data-status', 'read');
  await expect(bubble(c, 'After Cara left')).toHaveCount(0);

  // Alice makes Bob an admin; Bob renames the group; both see it, and
  // Bob's safety number is a click away in the info sheet.
  await a.getByTestId('open-group-info').click();
  await sheet.getByTestId('group-member').filter({ hasText: bob.name }).getByTestId('member-promote').click();
  await expect(
    sheet.getByTestId('group-member').filter({ hasText: bob.name }).getByTestId('member-admin'),
  ).toBeVisible();
  await sheet.getByTestId('group-member').filter({ hasText: bob.name }).getByTestId('member-safety').click();
  await expect(a.getByTestId('safety-number')).toBeVisible();
  await a.keyboard.press('Escape');
  await expect(b.getByTestId('group-notice').last()).toHaveText(`${alice.name} made you an admin`);
  await b.getByTestId('open-group-info').click();
  await b.getByTestId('group-rename').click();
  await b.getByTestId('group-name-input').fill('Crag crew');
  await b.getByTestId('group-name-save').click();
  await expect(b.getByTestId('group-info-name')).toHaveText('Crag crew');
  // The description given at creation, edited by the new admin.
  await expect(b.getByTestId('group-info-description')).toHaveText('Saturdays at the crag.\nBring a helmet.');
  await b.getByTestId('group-describe').click();
  await b.getByTestId('group-description-input').fill('Sundays now.');
  await b.getByTestId('group-description-save').click();
  await expect(b.getByTestId('group-info-description')).toHaveText('Sundays now.');
  await b.getByTestId('close-group-info').click();
  await expect(a.getByTestId('conversation-title')).toHaveText('Crag crew');
  await expect(a.getByTestId('group-notice').last()).toHaveText(`${bob.name} changed the group description`);
  await expect(a.getByTestId('group-notice').nth(-2)).toHaveText(
    `${bob.name} changed the group name to \u201cCrag crew\u201d`,
  );
  // Cara, removed, does not hear of it.
  await expect(c.getByTestId('conversation-title')).toHaveText(GROUP);

  // Reload keeps everything, on every side.
  for (const [page, title] of [
    [a, 'Crag crew'],
    [b, 'Crag crew'],
    [c, GROUP],
  ] as const) {
    await page.reload();
    await expect(page.getByTestId('main-screen')).toBeVisible();
    await expect(page.getByTestId('conversation-title')).toHaveText(title);
  }
  const said = ['Hello group', 'Hi all', `see you @${cara.name} tomorrow`];
  await expect(a.getByTestId('message-text')).toHaveText([...said, 'After Cara left']);
  await expect(tick(a, 'Hello group')).toHaveAttribute('data-status', 'read');
  await expect(b.getByTestId('message-text')).toHaveText([...said, 'After Cara left']);
  await expect(c.getByTestId('message-text')).toHaveText(said);
  // The mention is still marked after the reload.
  await expect(bubble(c, 'tomorrow').locator('.mention-me')).toHaveText(`@${cara.name}`);
  await expect(c.getByTestId('group-notice').last()).toHaveText(`${alice.name} removed you`);
  await expect(c.getByTestId('group-cannot-send')).toBeVisible();

  // Bob and Alice carry on after the reload.
  await send(b, 'Still here');
  await expect(bubble(a, 'Still here')).toBeVisible();
  await expect(bubble(c, 'Still here')).toHaveCount(0);
  await screenshot(a, 'group-after-reload');
});

test('a member signing in on a new browser shows as a safety number change in the group', async ({
  page: a,
  newPage,
  server,
}) => {
  const alice = newUser('Alice');
  const bob = newUser('Bob');
  const b = await newPage();
  await join(a, alice);
  await join(b, bob);
  await befriend(a, alice, b, bob);
  await newGroup(a, [bob]);
  await send(a, 'before');
  await showChats(b);
  await groupItem(b).click();
  await expect(bubble(b, 'before')).toBeVisible();
  await expect(a.getByTestId('safety-changed')).toHaveCount(0);

  // Bob signs in on a laptop: Alice's group says whose number changed,
  // and no chat with Bob appears for it.
  const laptop = await secondBrowser(newPage, server, bob);
  await send(a, 'after');
  await expect(a.getByTestId('safety-changed')).toContainText(`${bob.name}'s safety number changed`);
  await expect(a.getByTestId('chat-item')).toHaveCount(1);
  await screenshot(a, 'group-safety-changed');
  await showChats(laptop);
  await groupItem(laptop).click();
  await expect(bubble(laptop, 'after')).toBeVisible();
  // The notice opens the group's info, where each member's number is.
  await a.getByTestId('safety-changed').click();
  await expect(a.getByTestId('group-info')).toBeVisible();
});

test('files in a group: a photo, a dropped document and a voice note reach every member, named by who sent them', async ({
  page: a,
  newPage,
  server,
}) => {
  test.setTimeout(90_000);
  const alice = newUser('Alice');
  const bob = newUser('Bob');
  const cara = newUser('Cara');
  const b = await newPage();
  const c = await newPage();
  await join(a, alice);
  await join(b, bob);
  await join(c, cara);
  await befriend(a, alice, b, bob);
  await befriend(a, alice, c, cara);
  await newGroup(a, [bob, cara]);
  await send(a, 'photos coming');
  for (const page of [b, c]) {
    await showChats(page);
    await groupItem(page).click();
    await expect(bubble(page, 'photos coming')).toBeVisible();
  }

  // Alice sends a photo with a caption: both members' devices may fetch
  // its ciphertext and show the picture; once both have, the server lets
  // it go.
  await attach(a, [{ name: 'crag.png', mimeType: 'image/png', buffer: png(320, 200, 'PARLEY-GROUP-PHOTO') }], ['the crag']);
  await expect(fileBubble(a, 'attachment-photo').getByTestId('tick')).toHaveAttribute('data-status', 'read');
  for (const page of [b, c]) {
    const got = fileBubble(page, 'attachment-photo');
    await expect(got.getByTestId('sender-name')).toHaveText(alice.name);
    await expect(got.getByTestId('message-text')).toHaveText('the crag');
    await expect.poll(() => got.getByTestId('photo-full').evaluate((img: HTMLImageElement) => img.naturalWidth)).toBe(320);
  }
  const alicesBlobs = `SELECT count(*) FROM blobs b JOIN users u ON u.id = b.owner_user
    WHERE u.handle = lower('${alice.handle}')`;
  await expect.poll(() => sql(server, alicesBlobs)).toBe('0');

  // Cara opens it: the viewer says it is Alice's.
  await fileBubble(c, 'attachment-photo').getByTestId('photo-open').click();
  const viewer = c.getByTestId('media-viewer');
  await expect(viewer.getByTestId('viewer-sender')).toHaveText(alice.name);
  await expect(viewer.getByTestId('viewer-caption')).toHaveText('the crag');
  await screenshot(c, 'group-photo-viewer');
  await c.keyboard.press('Escape');
  await expect(viewer).toHaveCount(0);

  // Cara drops a document on the chat: the page keeps it (the browser does
  // not open it), and it goes to both others with her name.
  const dropped = await c.getByTestId('conversation').evaluate((section) => {
    const data = new DataTransfer();
    data.items.add(new File(['Approach: 20 min from the car park.'], 'route.txt', { type: 'text/plain' }));
    const over = new DragEvent('dragover', { dataTransfer: data, bubbles: true, cancelable: true });
    const kept = !section.dispatchEvent(over);
    section.dispatchEvent(new DragEvent('drop', { dataTransfer: data, bubbles: true, cancelable: true }));
    return kept;
  });
  expect(dropped, 'dragover over a group one may send to is taken by the page').toBe(true);
  await expect(c.getByTestId('send-files').getByTestId('chosen-file')).toHaveCount(1);
  await c.getByTestId('send-files').getByTestId('send-files-send').click();
  for (const page of [a, b]) {
    const doc = fileBubble(page, 'attachment-document');
    await expect(doc.getByTestId('document-name')).toHaveText('route.txt');
    await expect(doc.getByTestId('sender-name')).toHaveText(cara.name);
  }

  // Bob answers with a voice note from the microphone (Chromium's fake one).
  await b.context().grantPermissions(['microphone']);
  await b.getByTestId('voice-record').click();
  await expect(b.getByTestId('voice-elapsed')).toHaveText(/^0:0[1-9]$/, { timeout: 15_000 });
  await b.getByTestId('voice-send').click();
  for (const page of [a, c]) {
    const note = fileBubble(page, 'attachment-voice');
    await expect(note.getByTestId('voice-player')).toBeVisible();
    await expect(note.getByTestId('sender-name')).toHaveText(bob.name);
  }
  await screenshot(a, 'group-files');
});
