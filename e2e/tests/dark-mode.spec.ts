import { expect, newUser, openContacts, openSettings, screenshot, signUp, test } from '../fixtures';

test.use({ colorScheme: 'dark' });

test('dark mode screens', async ({ page }) => {
  await page.goto('/');
  await expect(page.getByTestId('auth-screen')).toBeVisible();
  expect(await page.evaluate(() => matchMedia('(prefers-color-scheme: dark)').matches)).toBe(true);
  await screenshot(page, 'dark-auth');

  await signUp(page, newUser('Nyx'));
  await screenshot(page, 'dark-main');
  await openContacts(page);
  await screenshot(page, 'dark-contacts');
  await openSettings(page);
  await screenshot(page, 'dark-settings');
});
