/* The filing form, enhanced. The form works fully without this file; with it:
   - the draft (text, choices, idempotency key) is kept on the phone as it is typed, and offered back;
   - a form sent while offline is kept and sent when the connection returns, with the same key,
     so the server files it once however often it arrives;
   - 小区/楼栋 follow the chosen 邻, possible duplicates appear as soon as kind and place are chosen;
   - "use my location" fills the optional coordinates. */
(() => {
  'use strict';
  let form, note, key, pending = null, sending = false;
  const $ = (id) => document.getElementById(id);
  const el = (name) => form.elements[name];
  const fields = () => form.querySelectorAll('input[name], select[name], textarea[name]');
  const SKIP = ['file', 'submit', 'button'];
  const KEEP_OUT = ['csrf_token', 'confirm_different'];

  function collect() {
    const values = {};
    for (const f of fields()) {
      if (SKIP.includes(f.type) || KEEP_OUT.includes(f.name)) continue;
      if ((f.type === 'radio' || f.type === 'checkbox') && !f.checked) continue;
      values[f.name] = f.value;
    }
    return values;
  }
  function load() {
    try { return JSON.parse(localStorage.getItem(key)); } catch (e) { return null; }
  }
  function save(extra) {
    const draft = Object.assign({ t: Date.now(), v: collect() }, extra);
    try { localStorage.setItem(key, JSON.stringify(draft)); } catch (e) { /* storage full or disabled */ }
    return draft;
  }
  function clear() { try { localStorage.removeItem(key); } catch (e) { /* nothing kept */ } }
  function fill(draft) {
    const order = ['neighbour', 'compound', 'building'];  // a place's options depend on the one before
    for (const f of fields()) {
      if (SKIP.includes(f.type) || KEEP_OUT.includes(f.name) || !(f.name in draft.v)) continue;
      if (f.type === 'radio' || f.type === 'checkbox') f.checked = f.value === draft.v[f.name];
      else if (!order.includes(f.name)) f.value = draft.v[f.name];
    }
    for (const name of order) {
      if (el(name) && draft.v[name] !== undefined) { el(name).value = draft.v[name]; places(false); }
    }
  }
  function meaningful(draft) {
    const v = (draft && draft.v) || {};
    return ['title', 'description', 'place_detail', 'resident_name', 'resident_phone'].some((n) => v[n]);
  }

  function say(text, buttons) {
    note.textContent = text;
    for (const [label, action] of buttons || []) {
      const b = document.createElement('button');
      b.type = 'button';
      b.className = 'button small';
      b.textContent = label;
      b.addEventListener('click', action);
      note.append(' ', b);
    }
    note.hidden = false;
    note.scrollIntoView({ block: 'nearest' });
  }
  function quiet() { note.hidden = true; note.textContent = ''; }
  function offline() {
    sending = false;
    busy(false);
    save({ pending: 1, photos: photoCount() });
    say(note.dataset.saved);
  }
  function photoCount() { return el('photos') ? el('photos').files.length : 0; }
  function busy(on) {
    const b = form.querySelector('button.primary');
    if (b) b.disabled = on;
  }

  function send(data, main) {
    if (sending) return;
    sending = true;
    busy(true);
    fetch(form.getAttribute('action'), { method: 'POST', body: data, credentials: 'same-origin', headers: { 'X-Requested-With': 'fetch' } })
      .then((r) => {
        if ((r.headers.get('Content-Type') || '').includes('json')) {
          return r.json().then((answer) => { clear(); pending = null; location.assign(answer.url); });
        }
        return r.text().then((html) => { sending = false; pending = null; swap(html); });
      })
      .catch(() => { if (main) offline(); else { sending = false; busy(false); } });
  }
  function resend(draft) {
    fill(draft);
    if (draft.photos && !pending) {  // the photos did not survive the page: ask for them again
      save();
      say(note.dataset.photosLost);
      return;
    }
    say(note.dataset.sending);
    pending = pending || new FormData(form);
    send(pending, true);
  }
  // Replace the page's <main> with the server's answer (errors, duplicates), keeping chosen photos.
  function swap(html) {
    const doc = new DOMParser().parseFromString(html, 'text/html');
    const fresh = doc.querySelector('main');
    if (!fresh) return;
    const files = el('photos') && el('photos').files;
    document.querySelector('main').replaceWith(fresh);
    document.title = doc.title;
    if (!init(true)) return;
    if (files && files.length && el('photos')) {
      try {
        el('photos').files = files;
        for (const p of form.querySelectorAll('.reselect')) p.hidden = true;
      } catch (e) { /* the browser cannot hand files over: the page asks for them again */ }
    }
    save();
    window.scrollTo(0, 0);
  }

  // A phone photo is often 3–8 MB: send it at most max-side pixels wide as a JPEG (upright, no EXIF/GPS),
  // which is what the server keeps anyway. Anything odd is sent as it is and checked by the server.
  function shrink(file) {
    const side = Number(form.dataset.maxSide);
    if (!/^image\/(jpeg|png|webp)$/.test(file.type) || file.size < 400e3 || !window.createImageBitmap) {
      return Promise.resolve(file);
    }
    return createImageBitmap(file, { imageOrientation: 'from-image' }).then((img) => {
      const k = Math.min(1, side / Math.max(img.width, img.height));
      const c = document.createElement('canvas');
      c.width = Math.round(img.width * k);
      c.height = Math.round(img.height * k);
      const g = c.getContext('2d');
      g.fillStyle = '#fff';  // transparent pixels become white, as on the server, not black
      g.fillRect(0, 0, c.width, c.height);
      g.drawImage(img, 0, 0, c.width, c.height);
      img.close();
      return new Promise((done) => c.toBlob((b) => {
        done(b && b.size < file.size ? new File([b], file.name.replace(/\.\w+$/, '') + '.jpg', { type: 'image/jpeg' }) : file);
      }, 'image/jpeg', 0.85));
    }).catch(() => file);
  }
  async function onSubmit(e) {
    e.preventDefault();
    if (sending) return;
    const data = new FormData(form);
    const by = e.submitter;
    if (by && by.name) data.append(by.name, by.value);
    const main = !(by && by.name === 'action');
    if (!main) { send(data, false); return; }
    busy(true);
    const files = [];
    for (const f of el('photos') ? el('photos').files : []) files.push(await shrink(f));  // one at a time: little memory
    data.delete('photos');
    for (const f of files) data.append('photos', f, f.name);
    if (files.reduce((sum, f) => sum + f.size, 0) > Number(form.dataset.maxTotal) - 1e6) {
      busy(false);
      say(note.dataset.tooBig);
      return;
    }
    pending = data;
    save({ pending: 1, photos: files.length });
    if (!navigator.onLine) { offline(); return; }
    say(note.dataset.sending);
    send(data, true);
  }

  // 小区 options of the chosen 邻's community; 楼栋 options of the chosen 小区.
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
  function duplicates() {
    const box = $('duplicates');
    if (!box || !el('category').value) return;
    const q = ['category', 'neighbour', 'compound', 'building'].map((n) => `${n}=${el(n) ? el(n).value : ''}`);
    fetch(`${form.dataset.dup}?${q.join('&')}`, { credentials: 'same-origin' })
      .then((r) => (r.ok ? r.text() : ''))
      .then((html) => { box.innerHTML = html; })
      .catch(() => { /* offline: the server checks again before saving */ });
  }
  function location_() {
    const geo = $('geo');
    if (!geo || !navigator.geolocation) return;
    const state = $('geo-state'), drop = $('geo-clear');
    geo.hidden = false;
    drop.hidden = !el('latitude').value;
    $('geo-use').addEventListener('click', () => {
      state.textContent = '…';
      navigator.geolocation.getCurrentPosition((p) => {
        el('latitude').value = p.coords.latitude.toFixed(6);
        el('longitude').value = p.coords.longitude.toFixed(6);
        state.textContent = note.dataset.geoOk.replace('{m}', Math.round(p.coords.accuracy));
        drop.hidden = false;
        save();
      }, () => { state.textContent = note.dataset.geoFail; }, { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 });
    });
    drop.addEventListener('click', () => {
      el('latitude').value = el('longitude').value = '';
      state.textContent = '';
      drop.hidden = true;
      save();
    });
  }

  function init(swapped) {
    form = $('filing');
    note = $('draft-note');
    if (!form || !note) return false;
    key = form.dataset.draft;
    form.addEventListener('submit', onSubmit);
    form.addEventListener('input', () => { if (!pending) save(); });
    form.addEventListener('change', (e) => {
      const name = e.target.name;
      if (['neighbour', 'compound', 'building'].includes(name)) places(name === 'neighbour');
      if (['category', 'neighbour', 'compound', 'building'].includes(name)) duplicates();
      if (!pending) save();
    });
    const find = form.querySelector('button[value=find]');
    if (find) {  // Enter in the search box searches (elsewhere it sends the form)
      el('neighbour_filter').addEventListener('keydown', (e) => { if (e.key === 'Enter') { e.preventDefault(); find.click(); } });
    }
    places(false);
    location_();
    if (swapped) return true;
    const draft = load();
    if (draft && draft.pending) {
      if (navigator.onLine) resend(draft);
      else { fill(draft); say(note.dataset.saved); }
    } else if (meaningful(draft) && draft.v.idempotency_key !== el('idempotency_key').value) {
      const when = new Date(draft.t).toLocaleString([], { month: 'numeric', day: 'numeric', hour: '2-digit', minute: '2-digit' });
      say(`${note.dataset.restore} (${when})`, [
        [note.dataset.restoreYes, () => { fill(draft); save(); quiet(); }],
        [note.dataset.restoreNo, () => { clear(); quiet(); }],
      ]);
    }
    return true;
  }

  window.addEventListener('online', () => {
    if (pending) send(pending, true);
    else if (form) { const draft = load(); if (draft && draft.pending) resend(draft); }
  });
  setInterval(() => { if (pending && navigator.onLine && !sending) send(pending, true); }, 30000);
  document.addEventListener('DOMContentLoaded', () => init(false));
})();
