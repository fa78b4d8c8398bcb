// The service worker: keeps the app shell (offline page, stylesheet, script modules, icons) so the installed app
// opens without a network and says so plainly. The server serves this file at /sw.js with one line before it:
//   const SHELL = {version, files, offline};
// (see sovereel/web/app_shell.py), the version being a digest of the shell files, so a deploy renames the cache.
//
// What it never does: store anything personal. The cache is written once, at install, from the fixed list of
// anonymous static files; API answers, videos and pages are never put in it. Everything is fetched from the network
// first (a deploy is seen at once); the cache only answers when the network cannot.

const CACHE_PREFIX = 'sovereel-shell-';
const CACHE_NAME = CACHE_PREFIX + SHELL.version;
const SHELL_PATHS = new Set(SHELL.files);

self.addEventListener('install', (event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(CACHE_NAME);
    // `reload` bypasses the HTTP cache; `omit` keeps the copies anonymous (no cookie is sent for them).
    const requests = SHELL.files.map((path) => new Request(path, { cache: 'reload', credentials: 'omit' }));
    await cache.addAll(requests);
    // Safe to take over at once: pages never depend on cached copies while the network works.
    await self.skipWaiting();
  })());
});

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    const names = await caches.keys();
    await Promise.all(names
      .filter((name) => name.startsWith(CACHE_PREFIX) && name !== CACHE_NAME)
      .map((name) => caches.delete(name)));
    if (self.registration.navigationPreload) await self.registration.navigationPreload.enable();
    await self.clients.claim();
  })());
});

self.addEventListener('fetch', (event) => {
  const request = event.request;
  if (request.method !== 'GET') return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.mode === 'navigate') {
    event.respondWith(navigate(event));
  } else if (SHELL_PATHS.has(url.pathname) && !url.search) {
    event.respondWith(shellFile(request));
  }
  // Anything else (the API, media, uploads) is not touched: the browser fetches it as if there were no worker.
});

// A page: from the network (through the preload the browser started, if any); offline, the offline page.
async function navigate(event) {
  try {
    const preloaded = await event.preloadResponse;
    if (preloaded) return preloaded;
    return await fetch(event.request);
  } catch (err) {
    const offline = await caches.match(SHELL.offline, { cacheName: CACHE_NAME });
    return offline || Response.error();
  }
}

// A shell file: from the network, else the copy kept at install.
async function shellFile(request) {
  try {
    return await fetch(request);
  } catch (err) {
    const kept = await caches.match(request, { cacheName: CACHE_NAME });
    return kept || Response.error();
  }
}
