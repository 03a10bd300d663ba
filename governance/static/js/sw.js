/* The service worker, served at /sw.js so that its scope is the whole app. On Background Sync (the connection
   is back) it sends the drafts waiting in the outbox, even with no page of the app open, and tells open pages.
   It answers no fetches: every page still comes from the server. */
importScripts('static/js/outbox.js', 'static/js/outbox-send.js');
const tell = (answers) => self.clients.matchAll().then((pages) => pages.forEach((p) => p.postMessage(answers)));
self.addEventListener('install', () => self.skipWaiting());
self.addEventListener('activate', (e) => e.waitUntil(self.clients.claim()));
self.addEventListener('sync', (e) => {
  if (e.tag === 'outbox') e.waitUntil(self.Outbox.drain().then(tell));  // a rejection: the browser tries again later
});
