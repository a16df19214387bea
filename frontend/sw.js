// Parley service worker: keeps the app shell available offline.
//
// - install: fetch `/`, cache it together with every same-origin asset it
//   references (Trunk's hashed JS, wasm and CSS) plus the manifest and icons.
// - activate: drop caches of older versions, take control of open pages.
// - fetch: never touch the API (`/api/`), the socket (`/ws`) or health checks;
//   navigations go network-first and fall back to the cached `/`; other
//   same-origin GETs are cache-first (hashed names never change content).
//
// Bump CACHE_VERSION when this file's caching rules change.

const CACHE_VERSION = 1;
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
