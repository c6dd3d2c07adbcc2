// The documents screen: the library's text documents grouped by space and
// folder, and the live editor of one over GET /api/docs/{id}/live.
//
// The editor is a plain textarea. The document's body is its blocks'
// texts joined by "\n" (the node's `body`), so one textarea character is
// one position of the document (a code point, or a block boundary) once
// UTF-16 surrogate pairs are counted as one. Typing "\n" inserts a line
// break, which the node turns into a block boundary.
//
// Consistency: `base` is a pair (text, heads) the node vouched for, from a
// `doc` snapshot or an `ack` whose text_len matches. Each edit is the
// difference between base.text and the textarea, sent with base.heads;
// at most one is in flight, and whatever is typed meanwhile goes in the
// next one. Snapshots are rebased under the local changes not yet in
// them. A snapshot may have been built before the last acknowledged edit
// was stored (the node sends the latest one it has after the ack): the
// change an ack names is the document's only head right after it, so
// after an ack the editor skips snapshots until one holds the ack's heads
// (from then on each one is newer), or fetches the document after a while.

import { get, post, h, clear, onEvent, debounce, liveUrl, enc, paneToggle } from './api.js';
import { t, tr, trPlaceholder, formatTime, showError } from './i18n.js';

const PRESENCE_EVERY_MS = 5000;
const PRESENCE_TTL_MS = 15000;
const RECONNECT_MS = 1500;
const FRESH_WAIT_MS = 1000;

// Text as code points.
const cps = (s) => Array.from(s);

/** The one region where `a` and `b` (code point arrays) differ: {start, end (in a), text (of b)}. */
export function diffRegion(a, b) {
  const n = Math.min(a.length, b.length);
  let p = 0;
  while (p < n && a[p] === b[p]) p += 1;
  let s = 0;
  while (s < n - p && a[a.length - 1 - s] === b[b.length - 1 - s]) s += 1;
  return { start: p, end: a.length - s, ins: b.slice(p, b.length - s) };
}

/** Most edit steps the full diff looks for before settling for one region. */
const DIFF_STEPS_MAX = 2000;

/**
 * The regions where `a` and `b` (code point arrays) differ, in order and
 * apart: [{start, end (in a), ins (of b)}]. Myers' diff between the
 * common prefix and suffix, so changes made in several places (by several
 * people) come out as several regions.
 */
export function diffRegions(a, b) {
  const one = diffRegion(a, b);
  const A = a.slice(one.start, one.end);
  const B = one.ins;
  const N = A.length;
  const M = B.length;
  if (N === 0 && M === 0) return [];
  if (N === 0 || M === 0) return [one];
  const dMax = Math.min(N + M, DIFF_STEPS_MAX);
  const off = dMax + 1;
  const V = new Array(2 * dMax + 3).fill(0);
  const trace = [];
  let found = -1;
  for (let d = 0; d <= dMax && found < 0; d += 1) {
    trace.push(V.slice(off - d - 1, off + d + 2));
    for (let k = -d; k <= d; k += 2) {
      let x = k === -d || (k !== d && V[off + k - 1] < V[off + k + 1]) ? V[off + k + 1] : V[off + k - 1] + 1;
      let y = x - k;
      while (x < N && y < M && A[x] === B[y]) {
        x += 1;
        y += 1;
      }
      V[off + k] = x;
      if (x >= N && y >= M) {
        found = d;
        break;
      }
    }
  }
  if (found < 0) return [one];
  // Walk back: single steps, last first.
  const steps = [];
  let x = N;
  let y = M;
  for (let d = found; d > 0; d -= 1) {
    const prev = trace[d]; // V before step d, k from -d-1 at index 0
    const at = (k) => prev[k + d + 1];
    const k = x - y;
    const down = k === -d || (k !== d && at(k - 1) < at(k + 1));
    const pk = down ? k + 1 : k - 1;
    const px = at(pk);
    const py = px - pk;
    while (x > px && y > py && (down ? x > px : x > px + 1)) {
      x -= 1;
      y -= 1;
    }
    if (down) steps.push({ pos: px, ins: B[py] });
    else steps.push({ pos: px, del: true });
    x = px;
    y = py;
  }
  steps.reverse();
  const regions = [];
  for (const st of steps) {
    const last = regions[regions.length - 1];
    const pos = one.start + st.pos;
    if (last && last.end === pos) {
      if (st.del) last.end += 1;
      else last.ins.push(st.ins);
    } else if (st.del) {
      regions.push({ start: pos, end: pos + 1, ins: [] });
    } else {
      regions.push({ start: pos, end: pos, ins: [st.ins] });
    }
  }
  return regions;
}

/** Applies `regions` (of `old`, in order and apart) to `old`. */
function applyRegions(old, regions) {
  const out = [];
  let pos = 0;
  for (const r of regions) {
    for (let i = pos; i < r.start; i += 1) out.push(old[i]);
    for (const c of r.ins) out.push(c);
    pos = r.end;
  }
  for (let i = pos; i < old.length; i += 1) out.push(old[i]);
  return out;
}

/**
 * `old` changed to `remote` elsewhere and to `local` here: both changes
 * (code point arrays). Remote changes that touch the local one keep their
 * inserted text, after the local text; what either deleted stays deleted.
 */
export function rebase(old, remote, local) {
  const l = diffRegion(old, local);
  if (l.start === l.end && l.ins.length === 0) return remote;
  const rs = diffRegions(old, remote);
  if (rs.length === 0) return local;
  const touches = (r) => (r.start < l.end && r.end > l.start) || (r.start === r.end && l.start < r.start && r.start < l.end);
  const events = [];
  const merged = { start: l.start, end: l.end, ins: [...l.ins] };
  for (const r of rs) {
    if (touches(r)) {
      merged.start = Math.min(merged.start, r.start);
      merged.end = Math.max(merged.end, r.end);
      merged.ins.push(...r.ins);
    } else {
      events.push(r);
    }
  }
  // Remote changes at the same place as the local one come first.
  let i = 0;
  while (i < events.length && (events[i].end < merged.start || (events[i].end === merged.start && events[i].start <= merged.start))) i += 1;
  events.splice(i, 0, merged);
  return applyRegions(old, events);
}

/** Maps position `p` through `regions`, staying after the text before it. */
function mapPos(p, regions) {
  let shift = 0;
  for (const r of regions) {
    if (p <= r.start) break;
    if (p < r.end) return r.start + shift + r.ins.length;
    shift += r.ins.length - (r.end - r.start);
  }
  return p + shift;
}

function u16ToCp(str, i) {
  return cps(str.slice(0, i)).length;
}

function cpToU16(arr, c) {
  let n = 0;
  for (let i = 0; i < c && i < arr.length; i += 1) n += arr[i].length;
  return n;
}

/** Heads as one string, whatever their order. */
const headsKey = (heads) => [...heads].sort().join(',');

/** The plain text of `blocks` as the node's `body` has it. */
function blocksText(blocks) {
  return (blocks || []).map((b) => (b.runs || []).map((r) => r.text).join('')).join('\n');
}

/** One open document's live editing session. */
class LiveEditor {
  constructor(id, ui, me) {
    this.id = id;
    this.docId = null;
    this.ui = ui;
    this.me = me;
    this.ws = null;
    this.seq = 0;
    this.base = null; // {text, heads}
    this.inflight = null; // {seq, after}
    this.waiting = false; // an ack whose text we cannot vouch for: wait for a snapshot
    this.shadow = null; // the text the node will have once what was sent is applied
    this.mustSee = null; // the last ack's heads, until a snapshot holds them
    this.ackCount = 0;
    this.composing = false;
    this.pendingDoc = null;
    this.closed = false;
    this.canWrite = false;
    this.peers = new Map(); // member -> {name, cursor, at}
    this.lastCursor = null;
    this.onSnapshot = null;

    const ed = ui.editor;
    this.onInput = () => {
      if (this.composing) return;
      this.pump();
    };
    this.onCompStart = () => {
      this.composing = true;
    };
    this.onCompEnd = () => {
      this.composing = false;
      if (this.pendingDoc) {
        const m = this.pendingDoc;
        this.pendingDoc = null;
        this.applyDoc(m);
      }
      this.pump();
    };
    this.onSelect = debounce(() => this.beat(false), 300);
    this.onBlur = () => this.beat(true);
    ed.addEventListener('input', this.onInput);
    ed.addEventListener('compositionstart', this.onCompStart);
    ed.addEventListener('compositionend', this.onCompEnd);
    ed.addEventListener('select', this.onSelect);
    ed.addEventListener('keyup', this.onSelect);
    ed.addEventListener('click', this.onSelect);
    ed.addEventListener('focus', this.onSelect);
    ed.addEventListener('blur', this.onBlur);
    this.docSelection = () => {
      if (document.activeElement === ed) this.onSelect();
    };
    document.addEventListener('selectionchange', this.docSelection);
    this.beatTimer = setInterval(() => this.beat(document.activeElement !== ed), PRESENCE_EVERY_MS);
    this.expireTimer = setInterval(() => this.renderPresence(), 2000);
    this.connect();
    this.markState();
  }

  connect() {
    if (this.closed) return;
    const ws = new WebSocket(liveUrl(this.id));
    this.ws = ws;
    ws.addEventListener('open', () => {
      this.setConnection(true);
    });
    ws.addEventListener('message', (ev) => {
      let m;
      try {
        m = JSON.parse(ev.data);
      } catch (_) {
        return;
      }
      if (ws !== this.ws) return;
      this.handle(m);
    });
    ws.addEventListener('close', () => {
      if (ws !== this.ws) return;
      this.ws = null;
      this.setConnection(false);
      if (this.inflight) {
        // Whether it was stored is unknown: wait for the next snapshot
        // rather than send it twice.
        this.waiting = true;
        this.inflight = null;
      }
      // A new connection starts with a snapshot taken after everything
      // acknowledged so far.
      this.mustSee = null;
      this.markState();
      if (!this.closed) this.reconnectTimer = setTimeout(() => this.connect(), RECONNECT_MS);
    });
  }

  setConnection(on) {
    this.ui.conn.hidden = on;
    if (!on) tr(this.ui.conn, 'docs.offline');
    this.markState();
  }

  close() {
    this.closed = true;
    clearTimeout(this.reconnectTimer);
    clearInterval(this.beatTimer);
    clearInterval(this.expireTimer);
    clearTimeout(this.freshTimer);
    this.onSelect.cancel();
    const ed = this.ui.editor;
    ed.removeEventListener('input', this.onInput);
    ed.removeEventListener('compositionstart', this.onCompStart);
    ed.removeEventListener('compositionend', this.onCompEnd);
    ed.removeEventListener('select', this.onSelect);
    ed.removeEventListener('keyup', this.onSelect);
    ed.removeEventListener('click', this.onSelect);
    ed.removeEventListener('focus', this.onSelect);
    ed.removeEventListener('blur', this.onBlur);
    document.removeEventListener('selectionchange', this.docSelection);
    if (this.ws) {
      const ws = this.ws;
      this.ws = null;
      try {
        ws.close();
      } catch (_) { /* already closed */ }
    }
  }

  send(m) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(m));
    return true;
  }

  /** Fetches the document when no snapshot after the last ack came in time. */
  fetchFresh() {
    const n = this.ackCount;
    if (!this.mustSee || this.closed) return;
    get('/api/docs/' + enc(this.docId || this.id)).then((m) => {
      // Taken after ack n: it holds that edit, whatever its heads.
      // While an edit is in flight its ack brings a newer wait.
      if (this.closed || n !== this.ackCount || !this.mustSee || this.inflight) return;
      this.mustSee = null;
      m.type = 'doc';
      this.handle(m);
    }).catch(() => {
      if (n === this.ackCount && this.mustSee) this.freshTimer = setTimeout(() => this.fetchFresh(), FRESH_WAIT_MS);
    });
  }

  handle(m) {
    switch (m.type) {
      case 'doc':
        if (this.composing) {
          this.pendingDoc = m;
          return;
        }
        this.applyDoc(m);
        break;
      case 'ack':
        this.applyAck(m);
        break;
      case 'error':
        this.applyError(m);
        break;
      case 'presence':
        this.seePresence(m);
        break;
      default:
        break;
    }
  }

  applyDoc(m) {
    const heads = m.heads || [];
    if (this.mustSee) {
      if (!this.mustSee.every((x) => heads.includes(x))) return;
      this.mustSee = null;
      clearTimeout(this.freshTimer);
    }
    this.docId = m.id || this.docId;
    const text = typeof m.body === 'string' ? m.body : blocksText(m.blocks);
    const incoming = cps(text);
    const ed = this.ui.editor;
    const local = cps(ed.value);
    let next;
    if (!this.base) {
      next = incoming;
      this.shadow = text;
    } else if (this.inflight) {
      const old = cps(this.base.text);
      const shadow = rebase(old, incoming, cps(this.inflight.after));
      this.inflight.after = shadow.join('');
      this.shadow = this.inflight.after;
      next = rebase(old, incoming, local);
    } else if (this.waiting) {
      next = rebase(cps(this.shadow), incoming, local);
      this.waiting = false;
      this.shadow = text;
    } else {
      next = rebase(cps(this.base.text), incoming, local);
      this.shadow = text;
    }
    this.base = { text, heads };
    this.setValue(local, next);
    this.setMeta(m);
    if (this.onSnapshot) this.onSnapshot(m);
    this.pump();
  }

  applyAck(m) {
    if (!this.inflight || m.seq !== this.inflight.seq) return;
    const heads = m.heads || [];
    this.ackCount += 1;
    this.mustSee = heads.length ? heads : null;
    clearTimeout(this.freshTimer);
    if (this.mustSee) this.freshTimer = setTimeout(() => this.fetchFresh(), FRESH_WAIT_MS);
    const after = this.inflight.after;
    this.inflight = null;
    if (cps(after).length === m.text_len) {
      this.base = { text: after, heads };
      this.shadow = after;
    } else {
      this.waiting = true;
      this.shadow = after;
    }
    this.showNote(null);
    this.pump();
  }

  applyError(m) {
    if (this.inflight && m.seq === this.inflight.seq) {
      this.inflight = null;
      this.shadow = this.base.text;
      // Nothing of it was stored: show the document as the node has it.
      this.setValue(cps(this.ui.editor.value), cps(this.base.text));
    }
    this.showNote(t('docs.refused', { message: m.message || m.code }));
    this.markState();
  }

  showNote(text) {
    const n = this.ui.note;
    n.hidden = !text;
    n.textContent = text || '';
  }

  /** Replaces the textarea's text, the caret staying at the same character. */
  setValue(before, after) {
    const ed = this.ui.editor;
    if (before.length === after.length && before.every((c, i) => c === after[i])) return;
    const d = diffRegions(before, after);
    const value = ed.value;
    const focused = document.activeElement === ed;
    const s = mapPos(u16ToCp(value, ed.selectionStart), d);
    const e = mapPos(u16ToCp(value, ed.selectionEnd), d);
    const scroll = ed.scrollTop;
    ed.value = after.join('');
    if (focused || ed.selectionStart !== 0 || ed.selectionEnd !== 0) {
      const dir = ed.selectionDirection;
      ed.setSelectionRange(cpToU16(after, s), cpToU16(after, Math.max(s, e)), dir);
    }
    ed.scrollTop = scroll;
  }

  setMeta(m) {
    this.canWrite = !!m.can_write;
    const ui = this.ui;
    ui.title.textContent = m.title || t('docs.untitled');
    if (!m.title) tr(ui.title, 'docs.untitled');
    else delete ui.title.dataset.i18n;
    ui.viewOnly.hidden = this.canWrite;
    if (ui.share) ui.share.hidden = !this.canWrite;
    ui.saveState.hidden = !this.canWrite;
    ui.editor.disabled = !this.canWrite;
    ui.editor.readOnly = !this.canWrite;
    ui.editor.dataset.canWrite = String(this.canWrite);
    const space = m.space || {};
    ui.space.textContent = t('docs.space', { name: space.name || t('docs.unnamedSpace') }) + (m.folder ? ' / ' + m.folder : '');
  }

  /** Sends what the textarea holds beyond `base`, if nothing is in flight. */
  pump() {
    if (!this.base || this.inflight || this.waiting || this.composing || !this.canWrite) {
      this.markState();
      return;
    }
    const value = this.ui.editor.value;
    if (value === this.base.text) {
      this.markState();
      return;
    }
    const d = diffRegion(cps(this.base.text), cps(value));
    const edits = [];
    if (d.end > d.start) edits.push({ op: 'delete', at: d.start, len: d.end - d.start });
    if (d.ins.length) edits.push({ op: 'insert', at: d.start, text: d.ins.join('') });
    this.seq += 1;
    const msg = { type: 'edit', seq: this.seq, base: this.base.heads, edits };
    if (this.send(msg)) {
      this.inflight = { seq: this.seq, after: value };
      this.shadow = value;
    }
    this.markState();
  }

  synced() {
    return !!this.base && !this.inflight && !this.waiting && this.ui.editor.value === this.base.text;
  }

  markState() {
    const ed = this.ui.editor;
    if (this.base) ed.dataset.heads = headsKey(this.base.heads);
    const synced = this.synced();
    ed.dataset.synced = synced ? 'true' : 'false';
    const s = this.ui.saveState;
    if (!this.base) {
      tr(s, 'common.loading');
    } else {
      tr(s, synced ? 'docs.saved' : 'docs.saving');
    }
    s.dataset.state = synced ? 'saved' : 'saving';
  }

  // Presence.
  cursor() {
    const ed = this.ui.editor;
    const v = ed.value;
    return { anchor: u16ToCp(v, ed.selectionStart), head: u16ToCp(v, ed.selectionEnd) };
  }

  beat(away) {
    const cursor = away ? null : this.cursor();
    const key = JSON.stringify(cursor);
    const now = Date.now();
    // Every PRESENCE_EVERY_MS, or at once when the caret moved.
    if (key === this.lastCursor && this.lastBeat && now - this.lastBeat < PRESENCE_EVERY_MS - 200) return;
    this.lastCursor = key;
    this.lastBeat = now;
    if (!this.send({ type: 'presence', cursor })) {
      if (this.docId) post('/api/docs/' + enc(this.docId) + '/presence', { cursor }).catch(() => {});
    }
  }

  seePresence(m) {
    if (!m || !m.member) return;
    if (this.docId && m.doc && m.doc !== this.docId) return;
    if (this.me && m.member === this.me.member) return;
    if (m.leaving) this.peers.delete(m.member);
    else this.peers.set(m.member, { name: m.name, cursor: m.cursor, at: Date.now() });
    this.renderPresence();
  }

  renderPresence() {
    const box = this.ui.presence;
    const now = Date.now();
    for (const [k, p] of this.peers) if (now - p.at > PRESENCE_TTL_MS) this.peers.delete(k);
    const sig = [...this.peers].map(([k, p]) => k + (p.name || '') + JSON.stringify(p.cursor)).join('|');
    if (sig === this.presenceSig && box.childNodes.length) return;
    this.presenceSig = sig;
    clear(box);
    box.dataset.count = String(this.peers.size);
    if (this.peers.size === 0) {
      box.append(tr(h('span', { class: 'presence-none' }), 'docs.alone'));
      return;
    }
    box.append(tr(h('span', { class: 'presence-label' }), 'docs.here'));
    for (const [member, p] of this.peers) {
      const name = p.name || member.slice(0, 8);
      const item = h('span', { class: 'presence-item', dataset: { member }, title: name }, h('span', { class: 'avatar', text: [...name][0] || '?' }), h('span', { class: 'presence-name', text: name }));
      if (p.cursor) item.dataset.cursor = p.cursor.anchor + ':' + p.cursor.head;
      box.append(item);
    }
  }
}

export function mount(root, ctx) {
  let entries = [];
  let openId = null;
  let editor = null;
  let destroyed = false;
  let me = null;
  const mePromise = ctx.whoAmI().then((m) => {
    me = m;
    if (editor) editor.me = m;
    return m;
  });

  // List pane.
  const newTitle = trPlaceholder(h('input', { id: 'new-doc-title', type: 'text', maxlength: '200', autocomplete: 'off' }), 'docs.newTitle');
  const newBtn = tr(h('button', { id: 'new-doc', type: 'button', class: 'secondary' }), 'docs.new');
  const listTitle = tr(h('h2', { class: 'pane-title' }), 'docs.title');
  const list = h('div', { id: 'doc-list', class: 'list grouped' });
  const listError = h('p', { class: 'error', hidden: true });
  const listPane = h('section', { class: 'list-pane' }, h('div', { class: 'pane-tools' }, h('div', { class: 'inline-form' }, newTitle, newBtn)), listTitle, listError, list);

  // Detail pane.
  const ui = {
    title: h('h2', { id: 'doc-title', class: 'detail-title' }),
    space: h('span', { class: 'detail-sub doc-space' }),
    viewOnly: tr(h('span', { class: 'badge view-only', hidden: true }), 'docs.viewOnly'),
    saveState: h('span', { class: 'save-state', 'aria-live': 'polite' }),
    conn: h('span', { class: 'badge warn', hidden: true }),
    presence: h('div', { id: 'presence', class: 'presence' }),
    note: h('p', { class: 'error', hidden: true }),
    editor: h('textarea', { id: 'editor', class: 'editor', spellcheck: 'false', dataset: { synced: 'false' } }),
  };
  ui.editor.setAttribute('aria-label', t('docs.editor'));
  const historyBtn = tr(h('button', { id: 'history-button', type: 'button', class: 'secondary', 'aria-expanded': 'false' }), 'docs.history');
  const historyList = h('ol', { class: 'history-list' });
  const historyView = h('div', { id: 'history-view', class: 'history-view', hidden: true });
  const historyError = h('p', { class: 'error', hidden: true });
  const history = h('aside', { id: 'history', class: 'history', hidden: true }, tr(h('h3'), 'docs.history'), historyError, historyList, historyView);
  // Sharing, folder, title and trash of the open document.
  const shareBtn = tr(h('button', { id: 'doc-share', type: 'button', class: 'secondary', 'aria-expanded': 'false' }), 'docs.share');
  const mg = {
    readers: trPlaceholder(h('input', { id: 'doc-share-readers', type: 'text', autocomplete: 'off' }), 'docs.principals'),
    writers: trPlaceholder(h('input', { id: 'doc-share-writers', type: 'text', autocomplete: 'off' }), 'docs.principals'),
    save: tr(h('button', { id: 'doc-share-save', type: 'button' }), 'docs.shareSave'),
    folder: trPlaceholder(h('input', { id: 'doc-folder', type: 'text', maxlength: '200', autocomplete: 'off' }), 'docs.folder'),
    move: tr(h('button', { id: 'doc-move', type: 'button', class: 'secondary' }), 'docs.move'),
    title: trPlaceholder(h('input', { id: 'doc-title-input', type: 'text', maxlength: '200', autocomplete: 'off' }), 'docs.newTitle'),
    rename: tr(h('button', { id: 'doc-rename', type: 'button', class: 'secondary' }), 'docs.rename'),
    trash: tr(h('button', { id: 'doc-trash', type: 'button', class: 'danger' }), 'docs.trash'),
    error: h('p', { id: 'doc-manage-error', class: 'error', hidden: true }),
  };
  const manage = h('div', { id: 'doc-manage', class: 'doc-manage', hidden: true },
    mg.error,
    h('label', { class: 'field' }, tr(h('span', { class: 'field-name' }), 'docs.readers'), mg.readers),
    h('label', { class: 'field' }, tr(h('span', { class: 'field-name' }), 'docs.writers'), mg.writers),
    h('div', { class: 'inline-form' }, mg.save),
    tr(h('p', { class: 'hint' }), 'docs.principalsHint'),
    h('div', { class: 'inline-form' }, mg.folder, mg.move),
    h('div', { class: 'inline-form' }, mg.title, mg.rename),
    h('div', { class: 'inline-form' }, mg.trash));
  const head = h('header', { class: 'detail-head' },
    h('div', { class: 'detail-heading' }, ui.title, ui.space),
    h('div', { class: 'detail-tools' }, ui.viewOnly, ui.conn, ui.saveState, shareBtn, historyBtn));
  const placeholder = tr(h('p', { class: 'placeholder' }), 'docs.pick');
  const detailError = h('p', { class: 'error', hidden: true });
  const body = h('div', { class: 'doc-body' }, h('div', { class: 'editor-wrap' }, ui.presence, ui.note, ui.editor), history);
  const detail = h('section', { class: 'detail-pane' }, head, manage, detailError, placeholder, body);
  const view = h('div', { class: 'split docs' }, listPane, detail);
  root.append(view);

  const setOpenVisible = paneToggle(view, placeholder, head, body);
  setOpenVisible(false);


  // The list.
  function renderList() {
    clear(list);
    const texts = entries.filter((e) => e.kind === 'text' && !e.trashed && !e.deleted);
    if (!texts.length) {
      list.append(tr(h('p', { class: 'empty' }), 'docs.none'));
      return;
    }
    const groups = new Map();
    for (const e of texts) {
      const space = e.space || {};
      const key = (space.id || '') + '\u0000' + (e.folder || '');
      if (!groups.has(key)) groups.set(key, { space, folder: e.folder || '', items: [] });
      groups.get(key).items.push(e);
    }
    const sorted = [...groups.values()].sort((a, b) =>
      (a.space.name || '').localeCompare(b.space.name || '') || a.folder.localeCompare(b.folder));
    for (const g of sorted) {
      const label = h('h3', { class: 'group-title' }, h('span', { class: 'group-space', text: g.space.name || t('docs.unnamedSpace') }));
      if (g.folder) label.append(h('span', { class: 'group-folder', text: ' / ' + g.folder }));
      const ul = h('ul', { class: 'group-items', role: 'list' });
      for (const e of g.items) {
        const item = h('button', {
          type: 'button',
          class: 'list-item doc-item' + (e.id === openId || (openId && e.id.startsWith(openId)) ? ' active' : ''),
          dataset: { doc: e.id },
        }, h('span', { class: 'item-name', text: e.title || t('docs.untitled') }),
        h('span', { class: 'item-meta' }, h('span', { class: 'item-time', text: formatTime(e.updated) }),
          e.can_write ? null : tr(h('span', { class: 'tag' }), 'docs.viewOnly')));
        item.addEventListener('click', () => ctx.navigate(e.id));
        ul.append(h('li', null, item));
      }
      list.append(h('div', { class: 'group', dataset: { space: g.space.id || '', folder: g.folder } }, label, ul));
    }
  }

  let listBusy = false;
  let listAgain = false;
  async function loadList() {
    if (listBusy) {
      listAgain = true;
      return;
    }
    listBusy = true;
    try {
      do {
        listAgain = false;
        try {
          entries = await get('/api/library');
          showError(listError, null);
          if (!destroyed) renderList();
        } catch (e) {
          showError(listError, e);
        }
      } while (listAgain && !destroyed);
    } finally {
      listBusy = false;
    }
  }
  const listSoon = debounce(loadList, 300);

  async function createDoc() {
    const title = newTitle.value.trim();
    if (!title) {
      newTitle.focus();
      return;
    }
    newBtn.disabled = true;
    try {
      const r = await post('/api/docs', { title });
      newTitle.value = '';
      showError(listError, null);
      await loadList();
      ctx.navigate(r.id);
    } catch (e) {
      showError(listError, e);
    } finally {
      newBtn.disabled = false;
    }
  }
  newBtn.addEventListener('click', createDoc);
  newTitle.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.isComposing) {
      e.preventDefault();
      createDoc();
    }
  });

  // History.
  let historyOpen = false;
  let historyRows = [];
  let selectedVersion = null;

  function setHistoryOpen(on) {
    historyOpen = on;
    history.hidden = !on;
    body.classList.toggle('with-history', on);
    historyBtn.setAttribute('aria-expanded', String(on));
    tr(historyBtn, on ? 'docs.hideHistory' : 'docs.history');
    if (on) loadHistory();
    else {
      selectedVersion = null;
      historyView.hidden = true;
    }
  }
  historyBtn.addEventListener('click', () => setHistoryOpen(!historyOpen));

  function renderHistory() {
    clear(historyList);
    if (!historyRows.length) {
      historyList.append(tr(h('li', { class: 'empty' }), 'docs.noHistory'));
      return;
    }
    for (const r of [...historyRows].reverse()) {
      const item = h('button', {
        type: 'button',
        class: 'history-item' + (selectedVersion === r.change ? ' active' : ''),
        dataset: { change: r.change, hash: r.hash },
      },
      h('span', { class: 'history-author', text: r.author || '' }),
      h('time', { class: 'history-time', text: formatTime(r.time) }),
      h('span', { class: 'history-summary', text: r.summary || '' }));
      item.addEventListener('click', () => showVersion(r));
      historyList.append(h('li', null, item));
    }
  }

  async function loadHistory() {
    if (!openId || !historyOpen) return;
    const id = openId;
    try {
      const rows = await get('/api/docs/' + enc(id) + '/history');
      if (id !== openId) return;
      historyRows = rows;
      showError(historyError, null);
      renderHistory();
    } catch (e) {
      showError(historyError, e);
    }
  }
  const historySoon = debounce(loadHistory, 800);

  async function showVersion(r) {
    const id = openId;
    selectedVersion = r.change;
    for (const b of historyList.querySelectorAll('.history-item')) b.classList.toggle('active', b.dataset.change === r.change);
    clear(historyView);
    historyView.hidden = false;
    historyView.append(tr(h('p', { class: 'placeholder' }), 'common.loading'));
    try {
      const [at, diff] = await Promise.all([
        get('/api/docs/' + enc(id) + '/at/' + enc(r.change)),
        get('/api/docs/' + enc(id) + '/diff?from=' + enc(r.change)),
      ]);
      if (id !== openId || selectedVersion !== r.change) return;
      clear(historyView);
      const restore = tr(h('button', { id: 'restore', type: 'button', class: 'primary' }), 'docs.restore');
      restore.disabled = !(editor && editor.canWrite);
      restore.addEventListener('click', async () => {
        restore.disabled = true;
        try {
          await post('/api/docs/' + enc(id) + '/restore', { at: r.change });
          showError(historyError, null);
          loadHistory();
        } catch (e) {
          showError(historyError, e);
        } finally {
          restore.disabled = !(editor && editor.canWrite);
        }
      });
      const text = h('pre', { class: 'version-text', dataset: { change: r.change } });
      text.textContent = (at.title ? at.title + '\n\n' : '') + blocksText(at.blocks);
      const lines = h('div', { class: 'diff' });
      for (const l of diff || []) {
        const sign = l.change === 'added' ? '+ ' : l.change === 'removed' ? '- ' : '  ';
        lines.append(h('div', { class: 'diff-line diff-' + l.change, text: sign + l.text }));
      }
      historyView.append(
        h('div', { class: 'version-head' }, h('span', { class: 'history-author', text: r.author || '' }), h('time', { text: formatTime(r.time) }), restore),
        tr(h('h4'), 'docs.versionText'), text,
        tr(h('h4'), 'docs.diff'), lines);
    } catch (e) {
      clear(historyView);
      historyView.append(h('p', { class: 'error', text: t('common.error', { message: e.message }) }));
    }
  }

  // Managing the open document.
  let manageOpen = false;
  const splitList = (v) => v.split(/[\s,]+/).map((x) => x.trim()).filter(Boolean);
  function openEntry() {
    const mine = entries.filter((e) => openId && e.id.startsWith(openId));
    return mine.find((e) => !e.trashed && !e.deleted) || mine[0] || null;
  }
  function fillManage() {
    const e = openEntry();
    if (!e) return;
    const space = e.space || {};
    mg.readers.value = (space.readers || []).join(', ');
    mg.writers.value = (space.writers || []).join(', ');
    mg.folder.value = e.folder || '';
    mg.title.value = e.title || '';
  }
  function setManageOpen(on) {
    manageOpen = on;
    manage.hidden = !on;
    shareBtn.setAttribute('aria-expanded', String(on));
    showError(mg.error, null);
    if (on) fillManage();
  }
  ui.share = shareBtn;
  shareBtn.hidden = true;
  shareBtn.addEventListener('click', () => setManageOpen(!manageOpen));
  async function manageAct(btn, path, body) {
    const id = openId;
    if (!id) return;
    btn.disabled = true;
    try {
      const r = await post('/api/docs/' + enc(id) + path, body);
      showError(mg.error, null);
      await loadList();
      // Sharing or moving into another space copies the document: follow it.
      if (r && typeof r.id === 'string' && openId === id && !r.id.startsWith(id)) ctx.navigate(r.id);
      else if (openId === id && manageOpen) fillManage();
      return true;
    } catch (e) {
      showError(mg.error, e);
      return false;
    } finally {
      btn.disabled = false;
    }
  }
  mg.save.addEventListener('click', () => manageAct(mg.save, '/share', {
    readers: splitList(mg.readers.value),
    writers: splitList(mg.writers.value),
  }));
  mg.move.addEventListener('click', () => manageAct(mg.move, '/move', { folder: mg.folder.value.trim() }));
  mg.rename.addEventListener('click', () => {
    const title = mg.title.value.trim();
    if (!title) {
      mg.title.focus();
      return;
    }
    manageAct(mg.rename, '/meta', { title });
  });
  mg.trash.addEventListener('click', async () => {
    if (!window.confirm(t('docs.trashConfirm'))) return;
    if (await manageAct(mg.trash, '/meta', { trashed: true })) {
      setManageOpen(false);
      ctx.navigate(null);
    }
  });

  // Opening a document.
  function openDoc(id) {
    if (editor) {
      editor.close();
      editor = null;
    }
    openId = id;
    historyRows = [];
    selectedVersion = null;
    clear(historyList);
    historyView.hidden = true;
    clear(ui.presence);
    ui.note.hidden = true;
    ui.title.textContent = '';
    ui.space.textContent = '';
    ui.editor.value = '';
    delete ui.editor.dataset.heads;
    ui.editor.dataset.synced = 'false';
    ui.editor.disabled = true;
    showError(detailError, null);
    setManageOpen(false);
    shareBtn.hidden = true;
    setOpenVisible(!!id);
    for (const b of list.querySelectorAll('[data-doc]')) b.classList.toggle('active', !!id && b.dataset.doc.startsWith(id));
    if (!id) return;
    editor = new LiveEditor(id, ui, me);
    editor.onSnapshot = () => {
      if (historyOpen) historySoon();
    };
    mePromise.then(() => {
      if (editor) editor.renderPresence();
    });
    if (historyOpen) loadHistory();
  }

  // New or unknown entries show at once; the times of known ones can wait.
  const listLater = debounce(loadList, 2000);
  function changed(data) {
    const ids = ((data && data.docs) || []).map((d) => d.id);
    if (!data || ids.some((id) => !entries.some((e) => e.id === id))) listSoon();
    else listLater();
  }
  const offs = [
    onEvent('changed', changed),
    onEvent('synced', () => listSoon()),
    onEvent('presence', (m) => {
      if (editor && m) editor.seePresence(m);
    }),
  ];

  loadList();

  return {
    open(param) {
      if (param !== openId) openDoc(param);
    },
    relabel() {
      renderList();
      if (historyOpen) renderHistory();
      if (editor) {
        editor.markState();
        editor.presenceSig = null;
        editor.renderPresence();
      }
      ui.editor.setAttribute('aria-label', t('docs.editor'));
    },
    unmount() {
      destroyed = true;
      if (editor) editor.close();
      editor = null;
      listSoon.cancel();
      listLater.cancel();
      historySoon.cancel();
      for (const off of offs) off();
      view.remove();
    },
  };
}
