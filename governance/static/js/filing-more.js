/* The filing form's later steps, loaded by filing.js at the first thing typed or when needed (online then):
   photos scaled down before they are kept and sent, a typed draft offered back, the server's refusal shown
   beside the fields, a kept draft opened to fix (?draft=<key>: every field and its photos), and the search
   for a 邻 among hundreds (the server's page comes back in place, photos kept). */
(() => {
  'use strict';
  const F = self.Filing;
  // At most max-side pixels wide, as a JPEG (upright, no EXIF/GPS): what the server keeps anyway.
  F.shrink = (file) => {
    if (!file) return null;
    const side = Number(F.form.dataset.maxSide);
    if (!/^image\/(jpeg|png|webp)$/.test(file.type) || file.size < 400e3 || !window.createImageBitmap) {
      return Promise.resolve(file);
    }
    return createImageBitmap(file, { imageOrientation: 'from-image' }).then((img) => {
      const k = Math.min(1, side / Math.max(img.width, img.height));
      const c = document.createElement('canvas');
      c.width = Math.round(img.width * k);
      c.height = Math.round(img.height * k);
      const g = c.getContext('2d');
      g.fillStyle = '#fff';  // as the server does
      g.fillRect(0, 0, c.width, c.height);
      g.drawImage(img, 0, 0, c.width, c.height);
      img.close();
      return new Promise((done) => c.toBlob((b) => {
        done(b && b.size < file.size ? new File([b], file.name.replace(/\.\w+$/, '') + '.jpg', { type: 'image/jpeg' }) : file);
      }, 'image/jpeg', 0.85));
    }).catch(() => file);
  };
  F.refused = (a, tick) => {
    const form = F.form;
    for (const p of form.querySelectorAll('.error.js')) p.remove();
    for (const [name, texts] of Object.entries(a.errors || {})) {
      const f = F.el(name);
      const box = f && (f instanceof RadioNodeList ? f[0] : f).closest('.field');
      if (!box) continue;
      const p = box.appendChild(document.createElement('p'));
      p.className = 'error js';
      p.id = `${name}-error`;
      p.textContent = texts.join(' ');
      box.classList.add('has-error');
    }
    F.say(a.reason || document.getElementById('outbox').dataset.refusedAny, true);
    scrollTo(0, 0);
    F.duplicates(tick);
  };
  F.offer = (draft) => {
    const note = document.getElementById('draft-note'), t = note.dataset;
    const when = new Date(draft.t).toLocaleString([], { month: 'numeric', day: 'numeric', hour: '2-digit', minute: '2-digit' });
    F.say(`${t.restore} (${when})`);
    for (const [label, action] of [[t.restoreYes, () => { F.fill(draft); F.save(); }], [t.restoreNo, F.clear]]) {
      const b = document.createElement('button');
      b.type = 'button';
      b.className = 'button small';
      b.textContent = label;
      b.addEventListener('click', () => { action(); note.hidden = true; });
      note.append(' ', b);
    }
  };
  F.fix = (key) => Outbox.get(key).then((d) => {
    if (!d) return;
    const v = Object.fromEntries(d.fields);
    F.fill({ v });
    try {
      const files = new DataTransfer();
      for (const p of d.photos) files.items.add(p);
      F.el('photos').files = files.files;
    } catch (e) { /* no DataTransfer here: the photos must be chosen again */ }
    if (d.state === 'refused') F.refused(d.answer || {}, 'confirm_different' in v);
    else F.duplicates('confirm_different' in v);
  });
  // Replace the page's <main> with the server's answer, keeping the chosen photos.
  F.post = (data) => fetch(F.form.getAttribute('action'), { method: 'POST', body: data, credentials: 'same-origin', headers: { 'X-Requested-With': 'fetch' } })
    .then((r) => r.text()).then((html) => {
      const doc = new DOMParser().parseFromString(html, 'text/html');
      const fresh = doc.querySelector('main');
      if (!fresh) return;
      const files = F.el('photos') && F.el('photos').files;
      document.querySelector('main').replaceWith(fresh);
      document.title = doc.title;
      if (!F.init(true)) return;
      if (files && files.length && F.el('photos')) {
        try {
          F.el('photos').files = files;
          for (const p of F.form.querySelectorAll('.reselect')) p.hidden = true;
        } catch (e) { /* the browser cannot hand files over: the page asks for them again */ }
      }
      F.save();
      scrollTo(0, 0);
    }).catch(() => {});
})();
