// Service worker of the stand pages (served as /stands/sw.js, which sets CACHE and ASSETS
// above): a stand page and its assets open on a phone with no network, including after a
// reload. Pages go to the network first and fall back to the copy kept on the last visit;
// assets come from the cache of this release; the API is never cached (the page keeps its
// own queue and last known state).
/* global CACHE, ASSETS */
"use strict";

self.addEventListener("install", function (event) {
  event.waitUntil(caches.open(CACHE).then(function (cache) {
    return cache.addAll(ASSETS.map(function (url) { return new Request(url, { cache: "reload" }); }));
  }).then(function () { return self.skipWaiting(); }));
});

self.addEventListener("activate", function (event) {
  event.waitUntil(caches.keys().then(function (names) {
    return Promise.all(names.filter(function (name) {
      return name.indexOf("fondo-stands-") === 0 && name !== CACHE;
    }).map(function (name) { return caches.delete(name); }));
  }).then(function () { return self.clients.claim(); }));
});

// The page asks for itself to be kept: its first visit came before this worker controlled it.
self.addEventListener("message", function (event) {
  var url = event.data && event.data.keep;
  if (url && new URL(url).origin === self.location.origin && url.indexOf(self.registration.scope) === 0) {
    event.waitUntil(keepPage(new Request(url, { credentials: "same-origin" })));
  }
});

function keepPage(request) {
  return fetch(request).then(function (response) {
    // A redirect to the sign-in page or an error is no copy of the stand page.
    if (response.ok && !response.redirected && response.type === "basic") {
      var copy = response.clone();
      return caches.open(CACHE).then(function (cache) {
        return cache.put(request.url.split("?")[0], copy);
      }).then(function () { return response; });
    }
    return response;
  });
}

self.addEventListener("fetch", function (event) {
  var request = event.request;
  var url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin) { return; }
  // Only a stand's own page (/stands/<uuid>) is kept; the list and staff pages are not.
  var scope = new URL(self.registration.scope).pathname;
  var standPage = url.pathname.indexOf(scope) === 0 &&
    /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(url.pathname.slice(scope.length));
  if (request.mode === "navigate" && standPage) {
    var kept = function (answer) {
      return caches.match(url.origin + url.pathname, { cacheName: CACHE }).then(function (copy) {
        return copy || answer || Response.error();
      });
    };
    // A server in trouble (5xx) is as good as no network: the kept copy, when there is one.
    event.respondWith(keepPage(request).then(function (response) {
      return response.status >= 500 ? kept(response) : response;
    }, function () { return kept(null); }));
    return;
  }
  if (ASSETS.indexOf(url.pathname) >= 0) {
    event.respondWith(caches.match(url.pathname, { cacheName: CACHE }).then(function (kept) {
      return kept || fetch(request);
    }));
  }
});
