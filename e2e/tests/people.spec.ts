// Profiles (photo and about, and who may see the photo), strangers and
// blocking, and what message text can look like.
import type { Page } from '@playwright/test';
import {
  addContact,
  contactItem,
  expect,
  newUser,
  openContacts,
  openSettings,
  screenshot,
  test,
} from '../fixtures';
import { bubble, chatItem, friends, join, openFromContacts, send, showChats } from '../chat';

/** Some picture: a screenshot of the page is a PNG like any other. */
async function picture(page: Page): Promise<Buffer> {
  return page.screenshot({ clip: { x: 0, y: 0, width: 300, height: 200 } });
}

/** The photo (not initials) `page` shows for `user`'s entry in its contacts. */
function photoOf(page: Page, user: { handle: string }) {
  return contactItem(page, user).getByTestId('avatar-photo');
}

test('a profile photo and about text reach contacts, and the photo follows its privacy setting', async ({
  page: a,
  newPage,
}) => {
  const { alice, b } = await friends(a, newPage);
  const carol = newUser('Carol');
  const c = await newPage();
  await join(c, carol);
  await addContact(c, alice.handle);

  // Alice writes an about text and picks a photo, cropped and zoomed in the browser.
  await openSettings(a);
  await a.getByTestId('profile-about').fill('Out climbing, back Monday');
  await a.getByTestId('profile-save').click();
  await expect(a.getByTestId('profile-saved')).toBeVisible();
  await a.getByTestId('photo-file').setInputFiles({ name: 'me.png', mimeType: 'image/png', buffer: await picture(b) });
  await expect(a.getByTestId('photo-dialog')).toBeVisible();
  await a.getByTestId('photo-zoom').fill('150');
  await screenshot(a, 'profile-photo-crop');
  await a.getByTestId('photo-save').click();
  await expect(a.getByTestId('photo-dialog')).toHaveCount(0);
  await expect(a.locator('.profile-summary').getByTestId('avatar-photo')).toBeVisible();
  await screenshot(a, 'profile-photo-set');

  // Bob, a contact, sees both once he fetches his contacts again.
  await b.reload();
  await openContacts(b);
  await expect(photoOf(b, alice)).toBeVisible();
  await openFromContacts(b, alice);
  await b.getByTestId('open-contact-info').click();
  await expect(b.getByTestId('contact-about')).toHaveText('Out climbing, back Monday');
  await expect(b.getByTestId('contact-info').getByTestId('avatar-photo')).toBeVisible();
  await screenshot(b, 'contact-info-photo');
  await b.keyboard.press('Escape');

  // "My contacts": Bob (whom Alice added) sees it, Carol (whom she did not) does not.
  await a.getByTestId('photo-visibility-select').selectOption('contacts');
  await expect(a.getByTestId('privacy-saved')).toBeVisible();
  await c.reload();
  await openContacts(c);
  await expect(contactItem(c, alice)).toBeVisible();
  await expect(photoOf(c, alice)).toHaveCount(0);
  await b.reload();
  await openContacts(b);
  await expect(photoOf(b, alice)).toBeVisible();

  // "Nobody": Bob sees initials.
  await a.getByTestId('photo-visibility-select').selectOption('nobody');
  await expect(a.getByTestId('privacy-saved')).toBeVisible();
  await b.reload();
  await openContacts(b);
  await expect(contactItem(b, alice)).toBeVisible();
  await expect(photoOf(b, alice)).toHaveCount(0);
  await expect(contactItem(b, alice).getByTestId('avatar')).toHaveText(/^\S{1,2}$/);

  // Removing the photo shows initials again for its owner.
  await a.getByTestId('photo-remove').click();
  await expect(a.locator('.profile-summary').getByTestId('avatar-photo')).toHaveCount(0);
});

test('a stranger gets "not in your contacts", no live links, and can be blocked and unblocked', async ({
  page: a,
  newPage,
}) => {
  const { alice, bob, b } = await friends(a, newPage);
  const dave = newUser('Dave');
  const d = await newPage();
  await join(d, dave);
  await addContact(d, alice.handle);
  await openFromContacts(d, alice);
  await send(d, 'win a prize at https://example.com/prize now');

  await showChats(a);
  await chatItem(a, dave).click();
  await expect(a.getByTestId('unknown-sender')).toBeVisible();
  const prize = bubble(a, 'win a prize');
  await expect(prize).toBeVisible();
  await expect(prize.getByTestId('message-link')).toHaveCount(0);
  await screenshot(a, 'unknown-sender');

  // Blocking asks, then Dave's messages stop arriving (Bob's, sent after, do).
  await a.getByTestId('stranger-block').click();
  await expect(a.getByTestId('confirm-dialog')).toContainText(`Block ${dave.name}?`);
  await a.getByTestId('confirm-yes').click();
  await expect(a.getByTestId('blocked-note')).toBeVisible();
  await expect(a.getByTestId('composer')).toHaveCount(0);
  await screenshot(a, 'blocked');
  await send(d, 'are you there?');
  await expect(d.getByTestId('message').filter({ hasText: 'are you there?' }).getByTestId('tick')).toHaveAttribute(
    'data-status',
    'sent',
  );
  await openFromContacts(b, alice);
  await send(b, 'Bob after the block');
  await expect(chatItem(a, bob)).toContainText('Bob after the block');
  await expect(bubble(a, 'are you there?')).toHaveCount(0);

  // Unblocked: new messages arrive again. Added: links come alive.
  await a.getByTestId('unblock').click();
  await expect(a.getByTestId('composer')).toBeVisible();
  await send(d, 'back again');
  await expect(bubble(a, 'back again')).toBeVisible();
  await a.getByTestId('stranger-add').click();
  await expect(a.getByTestId('unknown-sender')).toHaveCount(0);
  await expect(prize.getByTestId('message-link')).toHaveAttribute('href', 'https://example.com/prize');
});

test('formatting, safe links, long messages and emoji', async ({ page: a, newPage }) => {
  const { alice, bob, b } = await friends(a, newPage);
  await openFromContacts(b, alice);
  await send(b, `${'A long story. '.repeat(80)}THE END`);
  await send(b, '*bold* _italic_ ~struck~ `code` see https://example.org/a_b_c. or javascript:alert(1) 😀');
  await openFromContacts(a, bob);

  const styled = bubble(a, 'bold');
  await expect(styled.locator('strong')).toHaveText('bold');
  await expect(styled.locator('em')).toHaveText('italic');
  await expect(styled.locator('s')).toHaveText('struck');
  await expect(styled.locator('code')).toHaveText('code');
  await expect(styled).not.toContainText('*bold*');
  const links = styled.getByTestId('message-link');
  await expect(links).toHaveCount(1);
  await expect(links).toHaveAttribute('href', 'https://example.org/a_b_c');
  await expect(links).toHaveAttribute('rel', /noopener/);
  await expect(links).toHaveAttribute('rel', /noreferrer/);
  await expect(styled).toContainText('javascript:alert(1)');
  // The chat list shows the text without its marks.
  await showChats(a);
  await expect(chatItem(a, bob)).toContainText('bold italic struck code see');
  await chatItem(a, bob).click();

  const long = bubble(a, 'A long story.');
  await expect(long).not.toContainText('THE END');
  await long.getByTestId('read-more').click();
  await expect(long).toContainText('THE END');
  await screenshot(a, 'formatted-messages');

  // The emoji font is used where the system has no colour emoji: the face
  // of the piece holding 😀 is loaded (from the system, or downloaded).
  await expect
    .poll(() =>
      a.evaluate(() => [...document.fonts].some((f) => f.family.includes('Parley Emoji') && f.status === 'loaded')),
    )
    .toBe(true);
});
