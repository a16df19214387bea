import { addContact, contactItem, expect, newUser, screenshot, signUp, test } from '../fixtures';

test.use({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });

test('the phone layout shows one pane at a time', async ({ page, newPage }) => {
  const friend = newUser('Fred');
  const friendPage = await newPage({ viewport: { width: 1280, height: 800 } });
  await friendPage.goto('/');
  await signUp(friendPage, friend);

  await page.goto('/');
  await expect(page.getByTestId('auth-screen')).toBeVisible();
  await screenshot(page, 'phone-auth');
  await signUp(page, newUser('Pia'));

  // Only the chat list: the conversation pane is off screen.
  await expect(page.getByTestId('chat-list')).toBeInViewport();
  await expect(page.getByTestId('conversation-empty')).not.toBeInViewport();
  await screenshot(page, 'phone-main');

  // Contacts, then back.
  await page.getByTestId('open-contacts').click();
  await expect(page.getByTestId('contacts-panel')).toBeInViewport();
  await screenshot(page, 'phone-contacts');
  await page.getByTestId('back').click();
  await expect(page.getByTestId('contacts-panel')).not.toBeInViewport();
  await expect(page.getByTestId('chat-list')).toBeInViewport();

  // A conversation takes the whole screen; back leaves it.
  await addContact(page, friend.handle);
  await contactItem(page, friend).click();
  await expect(page.getByTestId('conversation')).toBeInViewport();
  await expect(page.getByTestId('conversation-title')).toContainText(friend.name);
  await expect(page.getByTestId('contact-list')).not.toBeInViewport();
  await screenshot(page, 'phone-conversation');
  await page.getByTestId('back').click();
  await expect(page.getByTestId('conversation')).not.toBeInViewport();
});
