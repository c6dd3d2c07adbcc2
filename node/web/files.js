// The files screen: the library's file entries, their versions, a download
// link and a sandboxed preview of images, PDFs and text.

import { get, h, clear, onEvent, debounce, enc, paneToggle } from './api.js';
import { t, tr, formatTime, formatBytes, showError } from './i18n.js';

function previewable(type) {
  if (!type) return false;
  const base = type.split(';')[0].trim().toLowerCase();
  return base.startsWith('image/') || base === 'application/pdf' || base.startsWith('text/') || base === 'application/json';
}

// Version times are seconds since 1970 (milliseconds in older entries).
function versionTime(at) {
  const n = Number(at) || 0;
  return n > 1e11 ? Math.floor(n / 1000) : n;
}

function contentUrl(id, { version, inline } = {}) {
  const q = [];
  if (version) q.push('version=' + version);
  if (inline) q.push('inline=true');
  return '/api/files/' + enc(id) + '/content' + (q.length ? '?' + q.join('&') : '');
}

export function mount(root, ctx) {
  let entries = [];
  let openId = null;
  let destroyed = false;
  const versionCounts = new Map(); // id -> {updated, count}

  const listTitle = tr(h('h2', { class: 'pane-title' }), 'files.title');
  const list = h('ul', { id: 'file-list', class: 'list', role: 'list' });
  const listError = h('p', { class: 'error', hidden: true });
  // Uploads: a new file, or (on an open file) a new version of it.
  const picker = h('input', { id: 'file-upload', type: 'file', hidden: true });
  const addBtn = tr(h('button', { id: 'file-add', class: 'button', type: 'button' }), 'files.add');
  const progress = h('progress', { id: 'file-upload-progress', max: 1, value: 0, hidden: true });
  const listPane = h('section', { class: 'list-pane' }, listTitle,
    h('div', { class: 'pane-tools' }, addBtn, picker, progress), listError, list);
  let uploadTo = null;
  addBtn.addEventListener('click', () => { uploadTo = null; picker.click(); });
  picker.addEventListener('change', () => {
    const file = picker.files && picker.files[0];
    picker.value = '';
    if (file) upload(file, uploadTo);
  });

  // Sends `file` to the node (`POST /api/files/upload`), showing progress;
  // `to`: the file entry it is a new version of.
  function upload(file, to) {
    const q = new URLSearchParams({ name: file.name });
    if (to) q.set('to', to);
    const xhr = new XMLHttpRequest();
    xhr.open('POST', '/api/files/upload?' + q.toString());
    xhr.setRequestHeader('Content-Type', 'application/octet-stream');
    progress.hidden = false;
    progress.value = 0;
    xhr.upload.addEventListener('progress', (ev) => {
      if (ev.lengthComputable) progress.value = ev.loaded / ev.total;
    });
    xhr.addEventListener('loadend', async () => {
      progress.hidden = true;
      let answer = null;
      try { answer = JSON.parse(xhr.responseText); } catch { /* not JSON */ }
      if (xhr.status !== 200) {
        const message = (answer && answer.error && answer.error.message) || xhr.statusText || 'upload failed';
        showError(listError, new Error(message));
        return;
      }
      showError(listError, null);
      await loadList();
      if (answer && answer.id) openFile(answer.id);
    });
    xhr.send(file);
  }

  const title = h('h2', { id: 'file-title', class: 'detail-title' });
  const sub = h('span', { class: 'detail-sub' });
  const download = tr(h('a', { id: 'file-download', class: 'button primary', download: '' }), 'files.download');
  const versionBtn = tr(h('button', { id: 'file-new-version', class: 'button', type: 'button' }), 'files.newVersion');
  versionBtn.addEventListener('click', () => { uploadTo = openId; picker.click(); });
  const head = h('header', { class: 'detail-head' }, h('div', { class: 'detail-heading' }, title, sub), h('div', { class: 'detail-tools' }, versionBtn, download));
  const previewBox = h('div', { id: 'file-preview', class: 'preview' });
  const versionsTitle = tr(h('h3'), 'files.versions');
  const versions = h('ol', { id: 'file-versions', class: 'versions' });
  const placeholder = tr(h('p', { class: 'placeholder' }), 'files.pick');
  const detailError = h('p', { class: 'error', hidden: true });
  const body = h('div', { class: 'file-body' }, previewBox, versionsTitle, versions);
  const detail = h('section', { class: 'detail-pane' }, head, detailError, placeholder, body);
  const view = h('div', { class: 'split files' }, listPane, detail);
  root.append(view);

  const setOpenVisible = paneToggle(view, placeholder, head, body);
  setOpenVisible(false);


  function versionLabel(el, n) {
    if (n == null) return el;
    return n === 1 ? tr(el, 'files.version1') : tr(el, 'files.versionCount', { n });
  }

  function renderList() {
    clear(list);
    const files = entries.filter((e) => e.kind === 'file' && !e.trashed && !e.deleted);
    if (!files.length) {
      list.append(h('li', { class: 'empty' }, tr(h('span'), 'files.none')));
      return;
    }
    for (const e of files) {
      const count = versionCounts.get(e.id);
      const meta = h('span', { class: 'item-meta' },
        h('span', { class: 'file-size', text: formatBytes(e.bytes) }),
        versionLabel(h('span', { class: 'file-versions' }), count ? count.count : null),
        h('span', { class: 'item-time', text: formatTime(e.updated) }));
      const item = h('button', {
        type: 'button',
        class: 'list-item file-item' + (openId && e.id.startsWith(openId) ? ' active' : ''),
        dataset: { file: e.id },
      }, h('span', { class: 'item-name', text: e.title || e.id.slice(0, 8) }), meta);
      item.addEventListener('click', () => ctx.navigate(e.id));
      const dl = h('a', { class: 'item-download', href: contentUrl(e.id), download: e.title || '' });
      tr(dl, 'files.download');
      list.append(h('li', { class: 'file-row' }, item, dl));
    }
  }

  async function countVersions(files) {
    await Promise.all(files.map(async (e) => {
      const known = versionCounts.get(e.id);
      if (known && known.updated === e.updated) return;
      try {
        const full = await get('/api/docs/' + enc(e.id));
        versionCounts.set(e.id, { updated: e.updated, count: (full.versions || []).length });
      } catch (_) { /* left without a count */ }
    }));
    if (!destroyed) renderList();
  }

  async function loadList() {
    try {
      entries = await get('/api/library');
      showError(listError, null);
    } catch (e) {
      showError(listError, e);
      return;
    }
    if (destroyed) return;
    renderList();
    countVersions(entries.filter((e) => e.kind === 'file' && !e.trashed && !e.deleted));
  }
  const listSoon = debounce(loadList, 400);

  async function openFile(id) {
    openId = id;
    setOpenVisible(!!id);
    clear(previewBox);
    clear(versions);
    title.textContent = '';
    sub.textContent = '';
    showError(detailError, null);
    for (const b of list.querySelectorAll('[data-file]')) b.classList.toggle('active', !!id && b.dataset.file.startsWith(id));
    if (!id) return;
    let entry;
    try {
      entry = await get('/api/docs/' + enc(id));
    } catch (e) {
      if (id === openId) showError(detailError, e);
      return;
    }
    if (id !== openId || destroyed) return;
    const vs = entry.versions || [];
    const current = vs[vs.length - 1] || {};
    title.textContent = entry.title || current.name || id.slice(0, 8);
    sub.textContent = [formatBytes(entry.bytes ?? current.bytes), entry.media_type || current.media_type].filter(Boolean).join(' · ');
    download.href = contentUrl(entry.id);
    download.setAttribute('download', entry.title || current.name || '');
    const type = entry.media_type || current.media_type;
    if (previewable(type)) {
      // PDFs are drawn by the browser's own viewer, which a sandboxed frame
      // refuses to run; the node serves them without scripts of their own.
      const pdf = (type || '').split(';')[0].trim().toLowerCase() === 'application/pdf';
      const frame = h('iframe', {
        class: 'preview-frame',
        sandbox: pdf ? null : '',
        referrerpolicy: 'no-referrer',
        src: contentUrl(entry.id, { inline: true }),
        title: t('files.preview'),
      });
      previewBox.append(frame);
    } else {
      previewBox.append(tr(h('p', { class: 'placeholder' }), 'files.noPreview'));
    }
    vs.forEach((v, i) => {
      const n = i + 1;
      const link = h('a', { class: 'version-download', href: contentUrl(entry.id, { version: n }), download: v.name || '' });
      tr(link, 'files.download');
      versions.append(h('li', { class: 'version', dataset: { version: String(n) } },
        tr(h('span', { class: 'version-number' }), 'files.version', { n }),
        h('span', { class: 'version-name', text: v.name || '' }),
        h('span', { class: 'file-size', text: formatBytes(v.bytes) }),
        h('time', { text: formatTime(versionTime(v.at)) }),
        v.by ? tr(h('span', { class: 'version-by', title: v.by }), 'files.by', { name: /^[0-9a-f]{64}$/.test(v.by) ? v.by.slice(0, 8) : v.by }) : null,
        link));
    });
    versionCounts.set(entry.id, { updated: entry.updated, count: vs.length });
  }

  // Text documents changing do not change the files.
  function changed(data) {
    const ids = ((data && data.docs) || []).map((d) => d.id);
    const text = (id) => entries.some((e) => e.id === id && e.kind === 'text');
    if (!data || ids.some((id) => !text(id))) listSoon();
  }
  const offs = [onEvent('changed', changed), onEvent('synced', listSoon)];
  loadList();

  return {
    open(param) {
      if (param !== openId) openFile(param);
    },
    relabel() {
      renderList();
      if (openId) openFile(openId);
    },
    unmount() {
      destroyed = true;
      listSoon.cancel();
      for (const off of offs) off();
      view.remove();
    },
  };
}
