/* Door-to-door visits (surveys/visit.html): each household's form goes through the outbox (outbox.js), so a visit
   recorded without a signal waits on the phone and is sent once the phone is online again; the form's key makes
   any second send a no-op on the server. Without this file (or IndexedDB) the forms post as usual. */
(() => {
  'use strict';
  const fresh = () => (self.crypto && crypto.randomUUID ? crypto.randomUUID().replace(/-/g, '')
    : Array.from({ length: 32 }, () => Math.floor(Math.random() * 16).toString(16)).join(''));
  document.addEventListener('DOMContentLoaded', () => {
    const list = document.getElementById('households'), box = document.getElementById('outbox');
    const asked = list && location.hash && list.querySelector(`li${CSS.escape(location.hash)} > details`);
    if (asked) asked.open = true;  // come from the list of households to visit again
    if (!list || !box || !window.Outbox || !self.indexedDB) return;
    for (const form of list.querySelectorAll('form.visit-form')) {
      form.addEventListener('submit', async (e) => {
        e.preventDefault();
        const li = form.closest('li'), state = li.querySelector('.household-state');
        const d = {
          key: form.elements.idempotency_key.value, person: Number(box.dataset.person), t: Date.now(), url: form.action,
          token: list.dataset.token, title: form.dataset.label, photos: [], state: 'wait', until: 0,
          fix: location.pathname + '#' + li.id,
          fields: [...new FormData(form)].filter(([n, v]) => typeof v === 'string' && n !== 'csrf_token'),
        };
        try {
          await Outbox.put(d);
        } catch (err) {  // no IndexedDB after all: the browser sends it
          form.submit();
          return;
        }
        form.elements.idempotency_key.value = fresh();  // a later visit to this household is another visit
        form.reset();
        form.closest('details').open = false;
        li.classList.add('sent');
        state.textContent = list.dataset.saved;
        Outbox.sync();
        Outbox.show();
        if (!navigator.onLine) return;
        Outbox.send(d.key).then((a) => {
          if (a.ok) state.textContent = list.dataset.sent;
          else if (a.refused) state.textContent = a.refused.reason || '';
          Outbox.show();
        }, () => Outbox.show());
      });
    }
    // A visit sent later (another page, the service worker) marks its household here too.
    addEventListener('outbox', (e) => {
      for (const a of e.detail || []) {
        const li = a.ok && a.household && document.getElementById('h' + a.household);
        if (li) li.querySelector('.household-state').textContent = list.dataset.sent;
      }
    });
  });
})();
