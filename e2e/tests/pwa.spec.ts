import { expect, screenshot, signUp, newUser, test, waitForServiceWorker } from '../fixtures';

test('the web app manifest loads without errors', async ({ page, server }) => {
  await page.goto('/');
  await expect(page.getByTestId('auth-screen')).toBeVisible();

  const cdp = await page.context().newCDPSession(page);
  const manifest = await cdp.send('Page.getAppManifest');
  expect(manifest.errors).toEqual([]);
  expect(manifest.url).not.toBe('');
  const url = new URL(manifest.url);
  expect(url.origin).toBe(new URL(server.url).origin);
  expect(url.pathname).toMatch(/manifest/);

  const data = JSON.parse(manifest.data ?? '{}') as {
    name?: string;
    short_name?: string;
    display?: string;
    icons?: unknown[];
  };
  expect(data.name).toMatch(/Parley/);
  expect(['standalone', 'fullscreen', 'minimal-ui']).toContain(data.display);
  expect(data.icons?.length ?? 0).toBeGreaterThan(0);
  await cdp.detach();
});

test('the service worker activates', async ({ page }) => {
  await page.goto('/');
  await expect(page.getByTestId('auth-screen')).toBeVisible();
  await waitForServiceWorker(page);
});

test('the app shell loads offline and notices when the server is back', async ({ page, ownServer }) => {
  test.setTimeout(120_000);
  await page.goto(ownServer.url);
  await signUp(page, newUser('Otto'));
  await waitForServiceWorker(page, { controlling: true });
  await expect(page.getByTestId('main-screen')).toBeVisible();
  await expect(page.getByTestId('offline-banner')).toBeHidden();

  await ownServer.stop();
  await page.reload();
  await expect(page.getByTestId('main-screen')).toBeVisible();
  await expect(page.getByTestId('offline-banner')).toBeVisible();
  await screenshot(page, 'offline');

  await ownServer.start();
  await expect(page.getByTestId('offline-banner')).toBeHidden({ timeout: 45_000 });
  await expect(page.getByTestId('main-screen')).toBeVisible();
});
