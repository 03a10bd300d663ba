/* The outbox: filed problems wait on the phone (IndexedDB) until the server has them; "n 条待发送" on every page.
   README → Conventions → Offline filing. Sending and the list of drafts are in outbox-send.js, loaded when needed. */
(() => {
  'use strict';
  const S = 'drafts';
  const idb = () => new Promise((ok, no) => {
    const r = indexedDB.open('outbox', 1);
    r.onupgradeneeded = () => r.result.createObjectStore(S, { keyPath: 'key' });
    r.onsuccess = () => ok(r.result);
    r.onerror = () => no(r.error);
  });
  const tx = (mode, work) => idb().then((db) => new Promise((ok, no) => {
    const t = db.transaction(S, mode);
    let out;
    work(t.objectStore(S), (v) => { out = v; });
    t.oncomplete = () => { db.close(); ok(out); };
    t.onerror = t.onabort = () => { db.close(); no(t.error); };
  }));
  const read = (q, done) => { q.onsuccess = () => done(q.result); };
  const O = self.Outbox = {
    all: () => tx('readonly', (s, done) => read(s.getAll(), done)),
    get: (key) => tx('readonly', (s, done) => read(s.get(key), done)),
    put: (d) => tx('readwrite', (s) => s.put(d)),
    drop: (key) => tx('readwrite', (s) => s.delete(key)),
    // with `claim`: only if no one is sending it
    update: (key, change, claim) => tx('readwrite', (s, done) => read(s.get(key), (d) => {
      if (d && !(claim && d.until > Date.now())) { s.put(Object.assign(d, change)); done(d); }
    })),
    editing: null,  // open in the filing form: not counted, not sent
  };
  if (!self.document) return;

  let box, seq = 0;
  const scripts = {};
  O.need = (src) => (scripts[src] = scripts[src] || new Promise((ok, no) => {
    const s = document.createElement('script');
    s.src = src;
    s.onload = ok;
    s.onerror = () => { delete scripts[src]; no(); };
    document.head.append(s);
  }));
  const more = () => O.need(box.dataset.js);
  O.send = (key) => more().then(() => O.send(key));  // outbox-send.js replaces these
  O.drain = () => more().then(() => O.drain());
  O.sync = () => navigator.serviceWorker && navigator.serviceWorker.ready.then((r) => r.sync && r.sync.register('outbox')).catch(() => {});
  O.show = async (sent) => {
    const n = ++seq, me = Number(box.dataset.person);
    const mine = (await O.all()).filter((d) => (!me || d.person === me) && d.key !== O.editing);
    if (n !== seq) return;
    box.textContent = '';
    if (O.draw) O.draw(box, mine, sent || []);  // the list, and what was just filed
    else if (mine.length) {
      const bar = box.appendChild(document.createElement('button'));
      bar.className = 'outbox-bar';
      bar.textContent = box.dataset.n.replace('{n}', mine.length);
      bar.onclick = () => more().then(() => { O.open = true; O.show(); });
    }
    box.hidden = !box.firstChild;
  };
  const report = (sent = []) => {
    O.show(sent);
    dispatchEvent(new CustomEvent('outbox', { detail: sent }));
    if (sent.some((a) => a.busy)) setTimeout(run, 3000);  // another sender had it: see how that went
  };
  function run() {
    O.all().then((ds) => {
      if (ds.length) more().then(() => O.show(), () => {});  // online now: the page has just loaded
      if (navigator.onLine && box.dataset.person && ds.some((d) => d.state !== 'refused' && d.key !== O.editing)) O.drain().then(report, () => O.show());
    });
  }
  // The filing form's autosave (localStorage, filing-draft-<person>) keeps what was typed, but not the
  // resident's name and phone once its leader is not the one logged in: at logout, and on any page where
  // someone else or nobody is logged in. Drafts already sent to the outbox keep them (README: Security).
  const PRIVATE = ['resident_name', 'resident_phone'];
  function forgetContacts(keep) {
    try {
      for (const k of Object.keys(localStorage)) {
        if (!k.startsWith('filing-draft-') || k === keep) continue;
        const d = JSON.parse(localStorage.getItem(k) || 'null');
        if (!d || !d.v || !PRIVATE.some((f) => f in d.v)) continue;
        for (const f of PRIVATE) delete d.v[f];
        localStorage.setItem(k, JSON.stringify(d));
      }
    } catch (e) { /* no storage: nothing kept */ }
  }
  O.forgetContacts = forgetContacts;
  document.addEventListener('DOMContentLoaded', () => {
    box = document.getElementById('outbox');
    for (const f of document.querySelectorAll('form[data-logout]')) f.addEventListener('submit', () => forgetContacts(null));
    if (box) forgetContacts(box.dataset.person ? 'filing-draft-' + box.dataset.person : null);
    if (!box || !self.indexedDB) return;
    O.editing = new URLSearchParams(location.search).get('draft');
    const sw = navigator.serviceWorker;
    if (sw) {
      sw.register(box.dataset.sw).catch(() => {});
      sw.addEventListener('message', (e) => report(e.data));
    }
    O.show();
    run();
    addEventListener('online', run);
    setInterval(run, 30000);
  });
})();
