// Parley service worker: keeps the app shell available offline, and shows
// notifications for Web Push when no tab is open.
//
// - install: fetch `/`, cache it together with every same-origin asset it
//   references (Trunk's hashed JS, wasm and CSS) plus the manifest and icons.
// - activate: drop caches of older versions, take control of open pages.
// - fetch: never touch the API (`/api/`), the socket (`/ws`) or health checks;
//   navigations go network-first and fall back to the cached `/`; other
//   same-origin GETs are cache-first (hashed names never change content).
// - push: the server says which chats have new messages (never what they
//   say). The app's own wasm (imported below) reads this device's queued
//   messages and decrypts a copy for the preview; the app decrypts them for
//   real when it opens (see `notifications::worker`). With a tab of the app
//   open, that tab notifies instead.
// - notificationclick: focus a tab (or open one) on the chat.
//
// This is a module worker: after each build `cargo xtask` puts the hashed
// name of the app's wasm bindings where the placeholder path stands below.
//
// Bump CACHE_VERSION when this file's caching rules change.

import initWasm, { parleyPushAlerts } from '/__PARLEY_BINDINGS__.js';

const CACHE_VERSION = 2;
const CACHE = `parley-shell-v${CACHE_VERSION}`;
const SHELL = '/';
const STATIC = [
  '/manifest.webmanifest',
  '/icons/icon.svg',
  '/icons/icon-192.png',
  '/icons/icon-512.png',
  '/icons/icon-maskable-512.png',
];

/** Same-origin asset paths referenced by an HTML page. */
function assetsOf(html) {
  const found = new Set();
  // href="…" / src="…" attributes, plus quoted paths in Trunk's inline
  // loader (`import init from '/parley-web-….js'`, the wasm URL).
  const patterns = [
    /\b(?:href|src)\s*=\s*["']([^"']+)["']/gi,
    /["'](\/[^"'\s]+\.(?:js|wasm|css))["']/gi,
  ];
  for (const pattern of patterns) {
    for (const match of html.matchAll(pattern)) {
      let url;
      try {
        url = new URL(match[1], self.location.origin);
      } catch {
        continue;
      }
      if (url.origin === self.location.origin && url.pathname !== SHELL) {
        found.add(url.pathname);
      }
    }
  }
  return [...found];
}

/** Only our own static files: not the API, the socket, or health checks. */
function isPassThrough(url) {
  return (
    url.origin !== self.location.origin ||
    url.pathname.startsWith('/api/') ||
    url.pathname === '/ws' ||
    url.pathname === '/healthz'
  );
}

/** Caches the shell and what it references; prunes entries no longer used. */
async function cacheShell(cache, response) {
  const html = await response.clone().text();
  const wanted = new Set([...assetsOf(html), ...STATIC]);
  await cache.put(SHELL, response);
  await Promise.all(
    [...wanted].map(async (path) => {
      if (await cache.match(path)) return;
      try {
        const asset = await fetch(path, { cache: 'no-cache' });
        if (asset.ok) await cache.put(path, asset);
      } catch {
        // One missing icon must not fail the install; it is fetched on use.
      }
    }),
  );
  // Drop assets of previous builds (their hashed names are no longer used).
  for (const request of await cache.keys()) {
    const path = new URL(request.url).pathname;
    if (path !== SHELL && !wanted.has(path)) await cache.delete(request);
  }
}

self.addEventListener('install', (event) => {
  event.waitUntil(
    (async () => {
      const cache = await caches.open(CACHE);
      const response = await fetch(SHELL, { cache: 'no-cache' });
      if (!response.ok) throw new Error(`shell answered ${response.status}`);
      await cacheShell(cache, response);
      await self.skipWaiting();
    })(),
  );
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    (async () => {
      const names = await caches.keys();
      await Promise.all(
        names
          .filter((name) => name.startsWith('parley-') && name !== CACHE)
          .map((name) => caches.delete(name)),
      );
      await self.clients.claim();
    })(),
  );
});

/** Network first; a fresh `/` also refreshes the cached shell. */
async function navigate(event) {
  const cache = await caches.open(CACHE);
  try {
    const response = await fetch(event.request);
    const path = new URL(event.request.url).pathname;
    if (response.ok && (path === SHELL || path === '/index.html')) {
      event.waitUntil(cacheShell(cache, response.clone()));
    }
    if (response.status >= 500) {
      // A gateway page for a server that is down: the app shell is better.
      const cached = await cache.match(SHELL);
      if (cached) return cached;
    }
    return response;
  } catch (error) {
    const cached = await cache.match(SHELL);
    if (cached) return cached;
    throw error;
  }
}

/** Cache first; misses are fetched and kept for next time. */
async function cacheFirst(event) {
  const cache = await caches.open(CACHE);
  const cached = await cache.match(event.request, { ignoreSearch: true });
  if (cached) return cached;
  const response = await fetch(event.request);
  if (response.ok && response.type === 'basic') {
    event.waitUntil(cache.put(event.request, response.clone()));
  }
  return response;
}

self.addEventListener('fetch', (event) => {
  const { request } = event;
  if (request.method !== 'GET') return;
  const url = new URL(request.url);
  if (isPassThrough(url)) return;
  if (request.mode === 'navigate') {
    event.respondWith(navigate(event));
  } else {
    event.respondWith(cacheFirst(event));
  }
});

// --- Notifications -------------------------------------------------------

const ICON = '/icons/icon-192.png';
const WASM = '/__PARLEY_BINDINGS___bg.wasm';
let wasmReady;

/** The app's wasm, loaded once per worker lifetime (not at every push). */
function wasm() {
  // Named outright (the bindings' default is the name before Trunk hashed
  // it), from the shell cache when it is there; a failed start is tried
  // again at the next push.
  wasmReady ??= initWasm({
    module_or_path: caches.match(WASM).then((cached) => cached ?? fetch(WASM)),
  }).catch((error) => {
    wasmReady = undefined;
    throw error;
  });
  return wasmReady;
}

/** The app's path of a chat as the push names it (`{Direct: id}`, `{Group: id}`). */
function chatPath(chat) {
  if (chat?.Direct) return `/chat/${chat.Direct}`;
  if (chat?.Group) return `/group/${chat.Group}`;
  return '/';
}

/** Per chat, "New message" from the push alone (the fallback). */
function plainAlerts(notice) {
  return (notice.chats ?? []).map((c) => ({
    title: 'Parley',
    body: c.count > 1 ? `${c.count} new messages` : 'New message',
    url: chatPath(c.chat),
    count: c.count,
  }));
}

async function onPush(event) {
  let notice;
  try {
    notice = event.data ? event.data.json() : null;
  } catch {
    notice = null;
  }
  if (!notice || !Array.isArray(notice.chats)) return;
  // The person is looking at a tab of the app: it shows the messages.
  const tabs = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
  if (tabs.some((tab) => tab.focused && tab.visibilityState === 'visible')) return;
  let alerts;
  try {
    await wasm();
    alerts = JSON.parse(await parleyPushAlerts(JSON.stringify(notice)));
  } catch (error) {
    console.warn('push preview failed', error);
    alerts = plainAlerts(notice);
  }
  await Promise.all(
    alerts.map((a) =>
      self.registration.showNotification(a.title, {
        body: a.body,
        // One per chat: a newer push replaces it, and alerts again.
        tag: a.url,
        renotify: true,
        icon: ICON,
        badge: ICON,
        data: { url: a.url },
      }),
    ),
  );
}

self.addEventListener('push', (event) => {
  event.waitUntil(onPush(event));
});

/** `url` if it is a path of this app, else `/`. */
function ownPath(url) {
  try {
    const parsed = new URL(url, self.location.origin);
    return parsed.origin === self.location.origin ? parsed.pathname : '/';
  } catch {
    return '/';
  }
}

/** Focuses a tab of the app on `url` (a path of this app), or opens one. */
async function openChat(url) {
  const path = ownPath(url);
  const tabs = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
  for (const tab of tabs) {
    if (new URL(tab.url).origin !== self.location.origin) continue;
    try {
      await tab.focus();
    } catch {
      // Focusing needs the click's activation; the chat still opens.
    }
    tab.postMessage({ type: 'open', url: path });
    return;
  }
  await self.clients.openWindow(path);
}

// For the browser suite, which cannot click a system notification; only
// code running in this worker can reach it.
self.parleyOpenChat = openChat;

self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  event.waitUntil(openChat(event.notification.data?.url));
});
