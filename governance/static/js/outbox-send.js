/* The outbox's sending and its list of drafts (see outbox.js): loaded by a page when drafts wait or a form is
   being filled, and by the service worker. A sender claims a draft before sending it; its idempotency key makes
   any second send a no-op on the server. A draft is deleted only when the server says it is filed; a refusal is
   kept with its reason until the leader fixes it (the filing form opens filled from it) or discards it. */
(() => {
  'use strict';
  const O = self.Outbox;
  const json = (r) => ((r.headers.get('Content-Type') || '').includes('json') ? r.json() : null);
  // Who is logged in, with a fresh CSRF token; null when logged out. The redirect to the login page is not
  // followed: that page would start a new session, whose cookie could replace a login made meanwhile.
  const who = (url) => fetch(url, { credentials: 'same-origin', redirect: 'manual' }).then((r) => (r.ok ? json(r) : null));

  // Resolves with the server's {ok, url, reference}, or {refused}, {login}, {busy} (another sender has it), {};
  // rejects when the network or the server failed: the draft waits for the next try.
  O.send = async (key, me) => {
    const d = await O.update(key, { until: Date.now() + 60e3 }, true);
    if (!d) return { key, busy: true };
    let answer = {};
    try {
      if (me === undefined) me = await who(d.token);
      if (!me) answer = { login: true };
      else if (me.person === d.person) {  // another leader's draft waits for them
        const body = new FormData();
        for (const [name, value] of d.fields) body.append(name, value);
        for (const p of d.photos) body.append('photos', p, p.name);
        body.append('csrf_token', me.csrf_token);
        const r = await fetch(d.url, { method: 'POST', body, credentials: 'same-origin', headers: { 'X-Requested-With': 'outbox' } });
        const a = await json(r);
        if (a && a.ok) { await O.drop(key); return Object.assign(a, { key }); }
        if (a || r.status === 403 || r.status === 413) answer = { refused: a || {} };
        else if (r.status === 401 || r.status === 400) answer = { login: true };  // logged out, or the session changed
        else throw new Error(r.status);
      }
    } catch (e) {
      await O.update(key, { until: 0 });
      throw e;
    }
    await O.update(key, { until: 0, state: answer.refused ? 'refused' : answer.login ? 'login' : d.state, answer: answer.refused });
    return Object.assign(answer, { key });
  };
  // Every waiting draft, one at a time; resolves with their answers.
  let draining = null;
  O.drain = () => (draining = draining || (async () => {
    const waiting = (await O.all()).filter((d) => d.state !== 'refused' && d.key !== O.editing);
    const me = waiting.length ? await who(waiting[0].token) : null;
    const out = [];
    for (const d of waiting) out.push(await O.send(d.key, me));
    return out;
  })().finally(() => { draining = null; }));
  if (!self.document) return;

  // "n 条待发送", tapped open to list the drafts; above it, what was just filed.
  const make = (parent, tag, cls, text) => {
    const e = parent.appendChild(document.createElement(tag));
    e.className = cls;
    e.textContent = text || '';
    return e;
  };
  O.draw = (box, mine, sent) => {
    const t = box.dataset, me = Number(t.person), done = sent.filter((a) => a.ok);
    if (done.length) {
      const p = make(box, 'p', 'outbox-sent', t.sent);
      for (const a of done) make(p, 'a', 'line-link', a.reference).href = a.url;
    }
    if (!mine.length) return;
    const bar = make(box, 'button', 'outbox-bar', t.n.replace('{n}', mine.length));
    const list = make(box, 'ul', 'outbox-list');
    const fold = () => { bar.setAttribute('aria-expanded', !!O.open); list.hidden = !O.open; };
    bar.type = 'button';
    bar.onclick = () => { O.open = !O.open; fold(); };
    fold();
    for (const d of mine) {
      const li = make(list, 'li', '');
      const when = new Date(d.t).toLocaleString(document.documentElement.lang, { month: 'numeric', day: 'numeric', hour: '2-digit', minute: '2-digit' });
      if (!me) {  // the login page: whose drafts these are is not known, so nothing of them is shown or discarded
        make(li, 'span', 'muted', `${when} · ${t.login}`);
        continue;
      }
      make(li, 'b', '', d.title || '—');
      make(li, 'span', 'muted', ` ${when}${d.photos.length ? ' · ' + t.photos.replace('{n}', d.photos.length) : ''}`);
      if (d.state === 'refused') {
        make(li, 'p', 'error', t.refused + ((d.answer && d.answer.reason) || t.refusedAny));
        make(li, 'a', 'button small', t.fix).href = d.fix || `${t.file}?draft=${encodeURIComponent(d.key)}`;  // a visit: its household
      } else make(li, 'p', 'muted', d.state === 'login' ? t.login : t.wait);
      make(li, 'button', 'button small danger', t.drop).onclick = () => {
        if (confirm(t.sure)) O.drop(d.key).then(() => O.show());
      };
    }
  };
})();
