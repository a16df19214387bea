// Every chat and panel has a URL: a link opens it, reload keeps it, the back and forward
// buttons step through what the person opened.
import { expect, openSettings, screenshot, test } from '../fixtures';
import { bubble, friends, openFromContacts, send, showChats } from '../chat';

test('a chat has a URL that survives reload and the back button', async ({ page: a, newPage }) => {
  const { alice, bob, b } = await friends(a, newPage);
  await openFromContacts(a, bob);
  await expect(a).toHaveURL(/\/chat\/[0-9a-f-]{36}$/);
  const chatUrl = a.url();
  await send(a, 'hello by link');
  await expect(bubble(a, 'hello by link')).toBeVisible();

  // Reload: the same chat, with its history.
  await a.reload();
  await expect(a.getByTestId('conversation-title')).toContainText(bob.name);
  await expect(bubble(a, 'hello by link')).toBeVisible();
  await screenshot(a, 'chat-after-reload');

  // Back: the panel the chat was opened from, with no chat open; forward: the chat again.
  await a.goBack();
  await expect(a.getByTestId('conversation')).toHaveCount(0);
  await expect(a).not.toHaveURL(chatUrl);
  await a.goForward();
  await expect(a).toHaveURL(chatUrl);
  await expect(a.getByTestId('conversation-title')).toContainText(bob.name);

  // Panels have URLs as well (once no chat is open: the URL names the open chat).
  await a.goBack();
  await expect(a).toHaveURL(/\/contacts$/);
  await openSettings(a);
  await expect(a).toHaveURL(/\/settings$/);
  await a.reload();
  await expect(a.getByTestId('settings-panel')).toBeVisible();
  await showChats(a);
  await expect(a).toHaveURL(/\/$/);

  // A link to the chat, typed or followed, opens it on Bob's side too.
  const bobChat = chatUrl.replace(/\/chat\/.*/, `/chat/${await userId(a, alice.handle)}`);
  await b.goto(bobChat);
  await expect(b.getByTestId('conversation-title')).toContainText(alice.name);
  await expect(bubble(b, 'hello by link')).toBeVisible();

  // A broken link still opens the app, at the chat list.
  await a.goto('/chat/not-a-user');
  await expect(a.getByTestId('chat-list')).toBeVisible();
  await expect(a.getByTestId('conversation')).toHaveCount(0);
});

/** A user's id, from the key directory the page can reach (the session's own REST). */
async function userId(page: import('@playwright/test').Page, handle: string): Promise<string> {
  return page.evaluate(async (handle) => {
    const session = JSON.parse(localStorage.getItem('parley.session') ?? 'null');
    const res = await fetch(`/api/v1/users/lookup?handle=${encodeURIComponent(handle)}`, {
      headers: { authorization: `Bearer ${session.token}` },
    });
    return (await res.json()).user_id as string;
  }, handle);
}
