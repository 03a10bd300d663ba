/* The filing form, enhanced; it works without this file. README → Conventions → Offline filing says how. */
(() => {
  'use strict';
  let form, note, key, sending = false, queued = false;
  const $ = (id) => document.getElementById(id);
  const el = (name) => form.elements[name];
  const fields = () => form.querySelectorAll('input[name], select[name], textarea[name]');
  const SKIP = ['file', 'submit', 'button', 'csrf_token', 'confirm_different'];

  function collect() {
    const v = {};
    for (const f of fields()) {
      if (!SKIP.includes(f.type) && !SKIP.includes(f.name) && (f.checked || !/radio|checkbox/.test(f.type))) v[f.name] = f.value;
    }
    return v;
  }
  function load() {
    try { return JSON.parse(localStorage.getItem(key)); } catch (e) { return null; }
  }
  function save() {
    try { if (!queued) localStorage.setItem(key, JSON.stringify({ t: Date.now(), v: collect() })); } catch (e) { /* full */ }
  }
  function clear() { try { localStorage.removeItem(key); } catch (e) { /* none */ } }
  function fill(draft) {
    const order = ['neighbour', 'compound', 'building'];
    for (const f of fields()) {
      if (SKIP.includes(f.type) || SKIP.includes(f.name) || !(f.name in draft.v)) continue;
      if (/radio|checkbox/.test(f.type)) f.checked = f.value === draft.v[f.name];
      else if (!order.includes(f.name)) f.value = draft.v[f.name];
      if (f.selectedIndex < 0) f.value = '';  // withdrawn meanwhile
    }
    for (const name of order) {
      if (el(name) && draft.v[name] !== undefined) { el(name).value = draft.v[name]; places(false); }
    }
  }

  function say(text, error) {
    note.textContent = text;
    note.classList.toggle('flash-error', !!error);
    note.hidden = false;
    note.scrollIntoView({ block: 'nearest' });
  }
  function busy(on) {
    const b = form.querySelector('button.primary');
    if (b) b.disabled = on;
  }
  const more = (name, ...args) => window.Outbox && Outbox.need(form.dataset.more).then(() => Filing[name] && Filing[name](...args), () => {});
  function kept() {  // it waits in the outbox
    sending = false;
    busy(false);
    Outbox.editing = null;
    Outbox.sync();
    Outbox.show();
    say(note.dataset.saved);
  }
  function answered(a) {
    if (a.ok) { location.assign(a.url); return; }
    if (a.refused) { sending = false; busy(false); Outbox.editing = a.key; more('refused', a.refused); } else kept();
    if (a.login) say($('outbox').dataset.login, true);
  }

  async function onSubmit(e) {
    const by = e.submitter;
    if (!window.Outbox) return;  // the browser sends it
    e.preventDefault();
    if (sending) return;
    if (by && by.name === 'action') {
      const data = new FormData(form);
      data.append(by.name, by.value);
      more('post', data);
      return;
    }
    busy(true);
    const photos = [];
    await more('shrink', null);  // loaded, unless offline since the page came
    for (const f of el('photos') ? el('photos').files : []) photos.push(Filing.shrink ? await Filing.shrink(f) : f);  // one at a time
    if (photos.length > form.dataset.maxPhotos || photos.reduce((sum, f) => sum + f.size, 0) > form.dataset.draftBytes) {
      busy(false);
      say(note.dataset.tooBig, true);
      return;
    }
    const d = {
      key: el('idempotency_key').value, person: Number($('outbox').dataset.person), t: Date.now(), url: form.action,
      token: form.dataset.token, title: el('title').value, photos, state: 'wait', until: 0,
      fields: [...new FormData(form)].filter(([n, v]) => typeof v === 'string' && n !== 'csrf_token'),
    };
    try {
      await Outbox.put(d);
    } catch (err) {  // no IndexedDB
      form.submit();
      return;
    }
    clear();
    queued = true;  // the outbox keeps it now
    Outbox.editing = d.key;
    if (!navigator.onLine) { kept(); return; }
    sending = true;
    say(note.dataset.sending);
    Outbox.send(d.key).then(answered, kept);
  }

  function places(reset) {
    const n = el('neighbour'), c = el('compound'), b = el('building');
    const chosen = n && n.selectedOptions[0];
    if (c && chosen && chosen.dataset.c) {
      for (const o of c.options) if (o.value) o.hidden = o.disabled = o.dataset.c !== chosen.dataset.c;
      if (reset || (c.selectedOptions[0] && c.selectedOptions[0].disabled)) c.value = chosen.dataset.x || '';
    }
    if (b && c) {
      for (const o of b.querySelectorAll('[data-x]')) o.hidden = o.disabled = o.dataset.x !== c.value;
      if (b.selectedOptions[0] && b.selectedOptions[0].disabled) b.value = '';
      b.closest('.field').hidden = !c.value;
    }
  }
  let asked = 0;
  function duplicates(tick) {
    const box = $('duplicates');
    if (!box || !el('category').value) return;
    const q = ['category', 'neighbour', 'compound', 'building'].map((n) => `${n}=${el(n) ? el(n).value : ''}`);
    const mine = ++asked;
    fetch(`${form.dataset.dup}?${q.join('&')}`, { credentials: 'same-origin' })
      .then((r) => (r.ok ? r.text() : ''))
      .then((html) => {
        if (mine !== asked) return;  // a late older answer; a tick given meanwhile stays
        const c = () => el('confirm_different'), was = c() && c().checked;
        box.innerHTML = html;
        if ((tick === true || was) && c()) c().checked = true;
      })
      .catch(() => { /* the server checks again */ });
  }
  function location_() {
    const geo = $('geo'), state = $('geo-state'), drop = $('geo-clear');
    if (!geo || !navigator.geolocation) return;
    const set = (lat, lng, text) => {
      el('latitude').value = lat;
      el('longitude').value = lng;
      state.textContent = text;
      drop.hidden = !lat;
      save();
    };
    geo.hidden = false;
    drop.hidden = !el('latitude').value;
    $('geo-use').onclick = () => {
      state.textContent = '…';
      navigator.geolocation.getCurrentPosition(
        (p) => set(p.coords.latitude.toFixed(6), p.coords.longitude.toFixed(6), note.dataset.geoOk.replace('{m}', Math.round(p.coords.accuracy))),
        () => { state.textContent = note.dataset.geoFail; },
        { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 });
    };
    drop.onclick = () => set('', '', '');
  }

  function init(swapped) {
    form = $('filing');
    note = $('draft-note');
    if (!form || !note) return false;
    key = form.dataset.draft;
    form.addEventListener('submit', onSubmit);
    form.addEventListener('input', save);
    form.addEventListener('input', () => window.Outbox && [form.dataset.more, $('outbox').dataset.js].map((src) => Outbox.need(src).catch(() => {})), { once: true });
    form.addEventListener('change', (e) => {
      const name = e.target.name;
      if (['neighbour', 'compound', 'building'].includes(name)) places(name === 'neighbour');
      if (['category', 'neighbour', 'compound', 'building'].includes(name)) duplicates();
      save();
    });
    const find = form.querySelector('button[value=find]');
    if (find) {  // Enter searches
      el('neighbour_filter').addEventListener('keydown', (e) => { if (e.key === 'Enter') { e.preventDefault(); find.click(); } });
    }
    places(false);
    location_();
    if (swapped) return true;
    if (window.Outbox && Outbox.editing) return more('fix', Outbox.editing);  // ?draft=<key>
    const draft = load(), v = (draft && draft.v) || {};
    if (['title', 'description', 'place_detail', 'resident_name', 'resident_phone'].some((n) => v[n]) && v.idempotency_key !== el('idempotency_key').value) more('offer', draft);
    return true;
  }
  self.Filing = { el, fill, say, save, clear, init, duplicates, get form() { return form; } };

  addEventListener('outbox', (e) => {
    const a = form && e.detail.find((x) => x.key === el('idempotency_key').value);
    if (a && (a.ok || a.refused)) answered(a);
  });
  document.addEventListener('DOMContentLoaded', () => init(false));
})();
