// Two nodes joined by NATS behind HAProxy: people on different nodes chat as on one
// server, and keep chatting when a node stops (its sockets move to the other one).
import { expect, newUser, screenshot, test } from '../fixtures';
import { befriend, bubble, chatItem, join, openFromContacts, send, showChats, tick } from '../chat';
import { pinTo } from '../cluster';

test('people on different nodes chat, and keep chatting when a node stops', async ({ cluster, newPage }) => {
  const alice = newUser('Alice');
  const bob = newUser('Bob');
  const a = await newPage({ baseURL: cluster.url });
  const b = await newPage({ baseURL: cluster.url });
  // Alice's browser reaches node 0, Bob's node 1 (HAProxy's server cookie).
  await pinTo(a.context(), cluster.url, 0);
  await pinTo(b.context(), cluster.url, 1);
  await join(a, alice);
  await join(b, bob);
  await befriend(a, alice, b, bob);

  await openFromContacts(a, bob);
  await send(a, 'Hello from node 0');
  await showChats(b);
  await expect(chatItem(b, alice)).toContainText('Hello from node 0');
  await chatItem(b, alice).click();
  await expect(bubble(b, 'Hello from node 0')).toBeVisible();
  await expect(tick(a, 'Hello from node 0')).toHaveAttribute('data-status', 'read');
  await expect(a.getByTestId('presence')).toHaveText('online');
  await send(b, 'Hello from node 1');
  await expect(bubble(a, 'Hello from node 1')).toBeVisible();
  await expect(tick(b, 'Hello from node 1')).toHaveAttribute('data-status', 'read');

  // Alice's node stops (SIGINT: its sockets are told 1001 and go elsewhere).
  await cluster.nodes[0].stop();
  await send(a, 'Still here after node 0 stopped');
  await expect(bubble(b, 'Still here after node 0 stopped')).toBeVisible();
  await expect(tick(a, 'Still here after node 0 stopped')).toHaveAttribute('data-status', 'read');
  await send(b, 'So am I');
  await expect(bubble(a, 'So am I')).toBeVisible();
  await expect(tick(b, 'So am I')).toHaveAttribute('data-status', 'read');
  await expect(a.getByTestId('offline-banner')).toHaveCount(0);
  await screenshot(a, 'cluster-after-a-node-stopped');
});
