import { expect, newUser, openSettings, screenshot, signIn, signUp, test } from '../fixtures';

test('revoking a device signs it out at once', async ({ page, newPage }) => {
  const user = newUser('Dev');
  await page.goto('/');
  await signUp(page, user);

  const second = await newPage();
  await second.goto('/');
  await signIn(second, user);

  await openSettings(second);
  const devices = second.getByTestId('device-list').getByTestId('device-item');
  await expect(devices).toHaveCount(2);
  const current = devices.filter({ has: second.getByTestId('device-current') });
  await expect(current).toHaveCount(1);
  await expect(current.getByTestId('device-revoke')).toHaveCount(0);
  await screenshot(second, 'settings-devices');

  const other = devices.filter({ hasNot: second.getByTestId('device-current') });
  // Signing another device out asks first; Cancel (focused) changes nothing.
  await other.getByTestId('device-revoke').click();
  await expect(second.getByTestId('confirm-dialog')).toBeVisible();
  await expect(second.getByTestId('confirm-no')).toBeFocused();
  await screenshot(second, 'settings-revoke-confirm');
  await second.keyboard.press('Escape');
  await expect(second.getByTestId('confirm-dialog')).toHaveCount(0);
  await expect(other.getByTestId('device-revoke')).toBeFocused();
  await expect(devices).toHaveCount(2);
  await other.getByTestId('device-revoke').click();
  await second.getByTestId('confirm-yes').click();
  await expect(devices).toHaveCount(1);

  // The server closes the first device's WebSocket with 4001: it signs out by itself.
  await expect(page.getByTestId('auth-screen')).toBeVisible({ timeout: 30_000 });
  await expect(page.getByTestId('auth-notice')).toBeVisible();
  await screenshot(page, 'auth-revoked-notice');

  // The device that revoked stays signed in.
  await expect(second.getByTestId('main-screen')).toBeVisible();
});
