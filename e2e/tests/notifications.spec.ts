// Notifications: a background tab notifies and counts unread chats in its
// title; with every tab closed, a Web Push from the server reaches the service
// worker, which decrypts a preview on the device; previews off shows no text.
import type { BrowserContext, Page, Worker } from '@playwright/test';
import {
  befriend,
  bubble,
  chatItem,
  contactId,
  exactBubble,
  friends,
  join,
  openFromContacts,
  send,
  showChats,
} from '../chat';
import { expect, newUser, openSettings, screenshot, test, waitForServiceWorker } from '../fixtures';

interface Shown {
  title: string;
  body: string;
  url: string;
}

/** The notifications on screen, as the service worker's registration lists them. */
function shownIn(page: Page): Promise<Shown[]> {
  return page.evaluate(async () => {
    const registration = await navigator.serviceWorker.ready;
    return (await registration.getNotifications()).map((n) => ({ title: n.title, body: n.body, url: n.data?.url }));
  });
}

/** The same, asked of the worker itself (no tab of the app open). */
function shownBy(worker: Worker): Promise<Shown[]> {
  return worker.evaluate(async () => {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const registration = (self as any).registration as ServiceWorkerRegistration;
    return (await registration.getNotifications()).map((n) => ({ title: n.title, body: n.body, url: n.data?.url }));
  });
}

/** The tab goes to the background: hidden, without focus (as another tab in front). */
async function sendToBackground(page: Page): Promise<void> {
  await page.evaluate(() => {
    Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => 'hidden' });
    Object.defineProperty(document, 'hidden', { configurable: true, get: () => true });
    document.hasFocus = () => false;
    document.dispatchEvent(new Event('visibilitychange', { bubbles: true }));
  });
}

async function turnOn(page: Page, push: 'on' | 'tab-only'): Promise<void> {
  await openSettings(page);
  await page.getByTestId('notifications-toggle').check();
  await expect(page.getByTestId('notifications-card')).toHaveAttribute('data-push', push);
}

test('a background tab counts unread chats in its title and notifies, without the text when previews are off', async ({
  page: a,
  newPage,
}) => {
  const { alice, bob, b } = await friends(a, newPage, { permissions: ['notifications'] });
  await waitForServiceWorker(b);
  // This context has no push service (the test below gives it one): the
  // card says notifications come while a tab is open.
  await turnOn(b, 'tab-only');
  await expect(b.getByTestId('notifications-status')).toContainText('while Parley is open');
  await screenshot(b, 'notifications-settings');
  const aliceId = await contactId(b, alice);
  await sendToBackground(b);

  await openFromContacts(a, bob);
  await send(a, 'Are you there?');
  await expect(b).toHaveTitle('(1) Parley');
  await expect.poll(() => shownIn(b)).toEqual([{ title: alice.name, body: 'Are you there?', url: `/chat/${aliceId}` }]);

  await b.getByTestId('previews-toggle').uncheck();
  await expect(b.getByTestId('notifications-card')).toHaveAttribute('data-previews', 'false');
  await send(a, 'Secret plans');
  // The chat's notification is replaced: who, and how many, not what.
  await expect.poll(() => shownIn(b)).toEqual([{ title: alice.name, body: '2 new messages', url: `/chat/${aliceId}` }]);
  await expect(b).toHaveTitle('(1) Parley');

  // Muted from the chat's menu: the chat keeps its unread badge (grey), the
  // title stops counting it, and the menu offers to unmute.
  await showChats(b);
  await chatItem(b, alice).click({ button: 'right' });
  await b.getByTestId('chat-menu').getByText('Mute for 8 hours').click();
  await expect(chatItem(b, alice).getByTestId('chat-muted')).toBeVisible();
  // Choosing from the row's menu does not open the chat.
  await expect(b.getByTestId('conversation-title')).toHaveCount(0);
  await expect(b).toHaveTitle('Parley');
  await screenshot(b, 'notifications-muted-chat');
  await chatItem(b, alice).click({ button: 'right' });
  await b.getByTestId('menu-unmute-chat').click();
  await expect(chatItem(b, alice).getByTestId('chat-muted')).toHaveCount(0);
  await expect(b).toHaveTitle('(1) Parley');
});

/** Gives the page a push subscription at the local push service (a browser gets one from its vendor's). */
async function usePushService(context: BrowserContext, json: unknown): Promise<void> {
  await context.addInitScript((subscription) => {
    const made = {
      ...subscription,
      toJSON: () => subscription,
      unsubscribe: async () => true,
    };
    PushManager.prototype.subscribe = async () => made as unknown as PushSubscription;
    PushManager.prototype.getSubscription = async () => made as unknown as PushSubscription;
  }, json);
}

test('with every tab closed a push reaches the service worker, which shows the decrypted preview and opens the chat', async ({
  browser,
  pushed,
}) => {
  test.setTimeout(120_000);
  const { server, pushService } = pushed;
  const subscription = pushService.subscribe();
  const aliceContext = await browser.newContext({ baseURL: server.url });
  const bobContext = await browser.newContext({ baseURL: server.url, permissions: ['notifications'] });
  await usePushService(bobContext, subscription.json());
  try {
    const [a, b] = [await aliceContext.newPage(), await bobContext.newPage()];
    const [alice, bob] = [newUser('Alice'), newUser('Bob')];
    await join(a, alice);
    await join(b, bob);
    await befriend(a, alice, b, bob);
    await waitForServiceWorker(b);
    await openFromContacts(a, bob);
    await send(a, 'First, while you look');
    await openFromContacts(b, alice);
    await expect(bubble(b, 'First, while you look')).toBeVisible();
    await turnOn(b, 'on');
    const aliceId = await contactId(b, alice);
    const chatUrl = `/chat/${aliceId}`;

    // The DevTools protocol through a page that is not the app, so it
    // outlives the app's tab.
    const blank = await bobContext.newPage();
    const cdp = await bobContext.newCDPSession(blank);
    const registrationId = new Promise<string>((resolve) => {
      cdp.on('ServiceWorker.workerRegistrationUpdated', ({ registrations }) => {
        const mine = registrations.find((r) => r.scopeURL === `${server.url}/` && !r.isDeleted);
        if (mine) resolve(mine.registrationId);
      });
    });
    await cdp.send('ServiceWorker.enable');
    const worker = bobContext.serviceWorkers()[0] ?? (await bobContext.waitForEvent('serviceworker'));
    const deliver = async (payload: string) =>
      cdp.send('ServiceWorker.deliverPushMessage', {
        origin: server.url,
        registrationId: await registrationId,
        data: payload,
      });

    // Every tab of the app closes; Alice sees Bob go.
    await b.close();
    await expect(a.getByTestId('presence')).not.toHaveText('online');
    await send(a, 'Ping while you are away');
    const push = await pushService.next();
    // The push names the chat and the count, nothing of the message.
    expect(push.payload).not.toContain('Ping');
    expect(JSON.parse(push.payload).chats).toEqual([{ chat: { Direct: aliceId }, count: 1 }]);
    await deliver(push.payload);
    await expect
      .poll(() => shownBy(worker))
      .toEqual([{ title: alice.name, body: 'Ping while you are away', url: chatUrl }]);

    // A click on it opens the chat in a tab of the app (a test cannot click
    // a system notification: the worker's click handler is called directly).
    const tab = await bobContext.newPage();
    await tab.goto('/');
    await expect(tab.getByTestId('main-screen')).toBeVisible();
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    await worker.evaluate((url) => (self as any).parleyOpenChat(url), chatUrl);
    await expect(tab).toHaveURL(new RegExp(`${chatUrl}$`));
    await expect(tab.getByTestId('conversation-title')).toContainText(alice.name);
    // The app decrypted the same message for real: the preview left its
    // sessions alone.
    await expect(exactBubble(tab, 'Ping while you are away')).toBeVisible();
    await expect.poll(() => shownBy(worker)).toEqual([]);

    // Previews off: the next push says who wrote, not what.
    await openSettings(tab);
    await tab.getByTestId('previews-toggle').uncheck();
    await expect(tab.getByTestId('notifications-card')).toHaveAttribute('data-previews', 'false');
    await tab.close();
    await expect(a.getByTestId('presence')).not.toHaveText('online');
    await send(a, 'A secret, while you are away');
    await deliver((await pushService.next()).payload);
    await expect.poll(() => shownBy(worker)).toEqual([{ title: alice.name, body: 'New message', url: chatUrl }]);
  } finally {
    await aliceContext.close();
    await bobContext.close();
  }
});
