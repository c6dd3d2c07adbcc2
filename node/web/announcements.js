// The announcements screen: the announcements this member can read, pinned
// ones first, unread ones marked, with a badge on those that ask to be
// acknowledged; one announcement, its Markdown body rendered as text (see
// markdown.js), the acknowledge button, and for its publisher (and the
// org's admins) who in the audience has read and acknowledged it, by
// department. Admins and department heads also get the form that
// publishes one. Everything comes from POST /api/announcements
// (node/src/announce.rs); what is open is read again whenever the event
// stream says its log changed, here or on a peer.
// Addresses look like #/announcements/<id> and #/announcements/new.

import { announcements, post, h, clear, onEvent, onEventsConnection, debounce, paneToggle, changedDoc, serial } from './api.js';
import { t, tr, plain, trPlaceholder, formatTime, formatDate, formatBytes, showError } from './i18n.js';
import { roleName, deptName } from './directory.js';
import { renderMarkdown } from './markdown.js';

/** Roles that may publish (outpost_workspace::announce::may_publish). */
const PUBLISHERS = ['admin', 'dept-head'];
const READ_STATES = ['acknowledged', 'read', 'not_read'];
/** Titles are at most 256 bytes: 85 characters of Chinese. */
const TITLE_CHARS_MAX = '85';
const LIST_SOON_MS = 300;
const DETAIL_SOON_MS = 150;

/** Seconds since 1970 of the end of local day `value` (`YYYY-MM-DD`). */
function endOfDay(value) {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value || '');
  if (!m) return null;
  return Math.floor(new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3]), 23, 59, 59).getTime() / 1000);
}

/** Comma-separated text (either comma) as trimmed, non-empty parts. */
function splitList(text) {
  return text.split(/[,，]/).map((s) => s.trim()).filter(Boolean);
}

export function mount(root, ctx) {
  let rows = [];
  let openId = null; // an announcement's id, or 'new' for the form
  let detail = null; // the `show` answer of the open one
  let reads = null; // its `reads` answer, for its publisher
  let me = null;
  let destroyed = false;
  const names = new Map(); // member key -> name, for audiences naming members

  const canPublish = () => !!me && PUBLISHERS.includes(me.role);

  // List pane.
  const newBtn = tr(h('button', { id: 'announce-new', type: 'button', class: 'primary', hidden: true }), 'announce.new');
  newBtn.addEventListener('click', () => ctx.navigate('new'));
  const listTitle = tr(h('h2', { class: 'pane-title' }), 'announce.title');
  const listError = h('p', { class: 'error', hidden: true });
  const list = h('ul', { id: 'announcement-list', class: 'list', role: 'list' });
  const tools = h('div', { class: 'pane-tools', hidden: true }, newBtn);
  const listPane = h('section', { class: 'list-pane' }, tools, listTitle, listError, list);

  // Detail pane.
  const title = h('h2', { class: 'detail-title' });
  const sub = h('span', { class: 'detail-sub' });
  const headTools = h('div', { class: 'detail-tools' });
  const head = h('header', { class: 'detail-head' }, h('div', { class: 'detail-heading' }, title, sub), headTools);
  const detailError = h('p', { class: 'error', hidden: true });
  const detailEl = h('div', { id: 'announcement-detail', class: 'work-detail' });

  // The form.
  const f = {
    title: h('input', { id: 'announce-title', type: 'text', maxlength: TITLE_CHARS_MAX, autocomplete: 'off' }),
    body: trPlaceholder(h('textarea', { id: 'announce-body', rows: '10' }), 'announce.bodyPlaceholder'),
    audience: h('input', { id: 'announce-audience', type: 'text', autocomplete: 'off', list: 'announce-audiences' }),
    audiences: h('datalist', { id: 'announce-audiences' }),
    pinned: h('input', { id: 'announce-pinned', type: 'date' }),
    ack: h('input', { id: 'announce-ack-required', type: 'checkbox' }),
    preview: h('div', { id: 'announce-preview', class: 'markdown preview-box' }),
    publish: tr(h('button', { id: 'announce-publish', type: 'submit', class: 'primary' }), 'announce.publish'),
    error: h('p', { class: 'error', hidden: true }),
  };
  const field = (key, control, extra) => h('label', { class: 'field' + (extra ? ' ' + extra : '') }, tr(h('span', { class: 'field-name' }), key), control);
  const form = h('form', { id: 'announce-form', class: 'form sheet', novalidate: true, hidden: true },
    field('announce.titleLabel', f.title, 'wide'),
    h('div', { class: 'form-grid' },
      h('label', { class: 'field' }, tr(h('span', { class: 'field-name' }), 'announce.audience'), f.audience, f.audiences),
      field('announce.pinnedUntil', f.pinned)),
    tr(h('p', { class: 'muted' }), 'announce.audienceHelp'),
    h('label', { class: 'check' }, f.ack, tr(h('span'), 'announce.ackRequired')),
    field('announce.body', f.body, 'wide'),
    h('div', { class: 'field wide' }, tr(h('span', { class: 'field-name' }), 'announce.preview'), f.preview),
    h('div', { class: 'row-tools' }, f.publish),
    f.error);
  const renderPreview = debounce(() => {
    clear(f.preview);
    f.preview.append(renderMarkdown(f.body.value));
  }, 150);
  f.body.addEventListener('input', renderPreview);

  const placeholder = tr(h('p', { class: 'placeholder' }), 'announce.pick');
  const body = h('div', { class: 'detail-body' }, detailError, detailEl, form);
  const detailPane = h('section', { class: 'detail-pane' }, head, placeholder, body);
  const view = h('div', { class: 'split work announcements' }, listPane, detailPane);
  root.append(view);
  const setOpenVisible = paneToggle(view, placeholder, head, body);
  setOpenVisible(false);

  /** An audience entry (`everyone`, `dept:PATH`, `role:ROLE`, `member:KEY`) for people. */
  function audienceText(a) {
    if (a === 'everyone') return t('announce.everyone');
    if (a.startsWith('dept:')) return deptName(a.slice(5));
    if (a.startsWith('role:')) return t('announce.role', { role: roleName(a.slice(5)) });
    if (a.startsWith('member:')) {
      const key = a.slice(7);
      return names.get(key) || key.slice(0, 8);
    }
    return a;
  }

  function publisherText(r) {
    const who = (r.publisher && r.publisher.name) || '';
    const bits = [roleName(r.publisher_role), r.publisher_dept ? deptName(r.publisher_dept) : null].filter(Boolean).join(', ');
    return bits ? `${who} (${bits})` : who;
  }

  // The list.
  function renderList() {
    clear(list);
    if (!rows.length) {
      list.append(h('li', { class: 'empty' }, tr(h('span'), 'announce.none')));
      return;
    }
    for (const r of rows) {
      const unread = r.for_me && !r.read && !r.mine;
      const needsAck = r.ack_required && r.for_me && !r.mine && !r.acknowledged;
      const badges = h('span', { class: 'item-badges' });
      if (r.pinned) badges.append(tr(h('span', { class: 'chip pinned-chip' }), 'announce.pinned'));
      if (needsAck) badges.append(tr(h('span', { class: 'chip ack-chip' }), 'announce.ackNeeded'));
      else if (r.ack_required && r.acknowledged) badges.append(tr(h('span', { class: 'chip state-approved' }), 'announce.acknowledged'));
      if (r.mine) badges.append(tr(h('span', { class: 'chip' }), 'announce.byYou'));
      const item = h('button', {
        type: 'button',
        class: 'list-item announcement-row' + (unread ? ' has-unread' : '') + (r.id === openId ? ' active' : ''),
        dataset: { announcement: r.id, read: String(!!r.read), ack: needsAck ? 'needed' : r.acknowledged ? 'done' : 'none', pinned: String(!!r.pinned) },
      },
      h('span', { class: 'item-name' }, unread ? h('span', { class: 'unread-dot', title: t('announce.unread') }) : null, r.title),
      h('span', { class: 'item-meta' }, h('span', { text: (r.publisher && r.publisher.name) || '' }), h('span', { text: formatDate(r.time) })),
      badges);
      item.addEventListener('click', () => ctx.navigate(r.id));
      list.append(h('li', null, item));
    }
  }

  const loadList = serial(async () => {
    if (destroyed) return;
    try {
      rows = (await announcements('list')).announcements || [];
      showError(listError, null);
    } catch (e) {
      showError(listError, e);
      return;
    }
    if (!destroyed) renderList();
  });
  const listSoon = debounce(loadList, LIST_SOON_MS);

  // One announcement. The first time it is opened it is marked read.
  async function loadDetail(peek) {
    const id = openId;
    if (!id || id === 'new' || destroyed) return;
    let a;
    try {
      a = await announcements('show', { announcement: id, peek: !!peek });
      showError(detailError, null);
    } catch (e) {
      if (id === openId) {
        showError(detailError, e);
        clear(detailEl);
      }
      return;
    }
    if (id !== openId || destroyed) return;
    detail = a;
    if (!me) me = await ctx.whoAmI();
    reads = null;
    if (a.status === 'published' && (a.mine || me.role === 'admin')) {
      try {
        reads = await announcements('reads', { announcement: id });
      } catch (_) {
        reads = null; // not this member's to see
      }
    }
    if (id !== openId || destroyed) return;
    renderDetail();
    if (a.marked_read) loadList();
  }
  const refreshDetail = serial(() => loadDetail(true));
  const detailSoon = debounce(refreshDetail, DETAIL_SOON_MS);

  function renderDetail() {
    const a = detail;
    if (!a) return;
    plain(title, a.title || '');
    plain(sub, `${publisherText(a)} · ${formatTime(a.time)}`);
    clear(headTools);
    if (a.pinned) headTools.append(tr(h('span', { class: 'chip pinned-chip' }), 'announce.pinned'));
    clear(detailEl);
    detailEl.dataset.announcement = a.id;
    detailEl.dataset.read = String(!!a.read);
    detailEl.dataset.acknowledged = String(!!a.acknowledged);
    if (a.status !== 'published') {
      detailEl.append(h('p', { class: 'warn', text: t('announce.rejected', { why: a.reason || '' }) }));
      return;
    }
    const audience = h('p', { class: 'announce-audience muted' },
      tr(h('span'), 'announce.to'), ' ', (a.audience || []).map(audienceText).join(', '),
      a.pinned_until ? h('span', { text: ' · ' + t('announce.pinnedUntilDate', { date: formatDate(a.pinned_until) }) }) : null);
    const article = h('article', { id: 'announcement-body', class: 'markdown' }, renderMarkdown(a.body || ''));
    const sheet = h('section', { class: 'sheet' }, audience, article);
    if (a.files && a.files.length) {
      const files = h('ul', { class: 'plain announce-files' });
      for (const file of a.files) files.append(h('li', null, h('span', { text: file.name }), h('span', { class: 'muted', text: ' ' + formatBytes(file.bytes) })));
      sheet.append(tr(h('h4'), 'announce.files'), files, tr(h('p', { class: 'muted' }), 'announce.filesHelp'));
    }
    detailEl.append(sheet);

    if (a.ack_required && a.for_me && !a.mine) {
      const box = h('section', { id: 'announcement-ack-box', class: 'sheet ack-box' + (a.acknowledged ? ' done' : '') });
      if (a.acknowledged) {
        box.append(tr(h('p', { id: 'announcement-acknowledged' }), 'announce.youAcknowledged'));
      } else {
        const ack = tr(h('button', { id: 'announcement-ack', type: 'button', class: 'primary' }), 'announce.ack');
        const err = h('p', { class: 'error', hidden: true });
        ack.addEventListener('click', async () => {
          ack.disabled = true;
          try {
            await announcements('ack', { announcement: a.id });
            showError(err, null);
            await refreshDetail();
            loadList();
          } catch (e) {
            showError(err, e);
            ack.disabled = false;
          }
        });
        box.append(tr(h('p'), 'announce.ackHelp'), h('div', { class: 'row-tools' }, ack), err);
      }
      detailEl.append(box);
    }
    if (reads) detailEl.append(renderReads(reads));
  }

  function renderReads(r) {
    const box = h('section', { id: 'announcement-reads', class: 'sheet', dataset: { total: String(r.total), read: String(r.read), acknowledged: String(r.acknowledged) } });
    box.append(h('div', { class: 'card-head' }, tr(h('h3'), 'announce.reads'),
      tr(h('span', { class: 'muted' }), r.ack_required ? 'announce.readsSummaryAck' : 'announce.readsSummary', { read: r.read, total: r.total, acked: r.acknowledged })));
    if (!r.total) box.append(tr(h('p', { class: 'muted' }), 'announce.noAudience'));
    const bar = h('div', { class: 'read-bar', 'aria-hidden': 'true' });
    if (r.total) {
      for (const [n, cls] of [[r.acknowledged, 'acknowledged'], [r.read - r.acknowledged, 'read'], [r.not_read, 'not_read']]) {
        if (n <= 0) continue;
        const part = h('span', { class: 'read-' + cls });
        part.style.flexGrow = String(n);
        bar.append(part);
      }
      box.append(bar);
    }
    for (const d of r.departments || []) {
      const ul = h('ul', { class: 'rows read-list' });
      for (const p of d.people) {
        const when = p.status === 'acknowledged' ? p.ack_at : p.read_at;
        ul.append(h('li', { class: 'read-row', dataset: { member: p.member, status: p.status } },
          h('span', { class: 'read-name', text: p.name || p.member.slice(0, 8) }),
          tr(h('span', { class: 'chip read-state read-' + p.status }), 'announce.status.' + p.status),
          h('span', { class: 'muted read-time', text: when ? formatTime(when) : '' })));
      }
      const counts = READ_STATES.map((s) => [s, d.people.filter((p) => p.status === s).length]).filter(([, n]) => n);
      box.append(h('div', { class: 'read-dept', dataset: { dept: d.dept } },
        h('h4', null, h('span', { text: deptName(d.dept) }), ' ',
          h('span', { class: 'muted', text: counts.map(([s, n]) => `${t('announce.status.' + s)} ${n}`).join(' · ') })),
        ul));
    }
    return box;
  }

  // Publishing.
  async function prepareForm() {
    if (!me) me = await ctx.whoAmI();
    if (!f.audience.value) f.audience.value = me.role === 'dept-head' && me.dept ? `dept:${me.dept}` : 'everyone';
    clear(f.audiences);
    const options = me.role === 'admin' ? ['everyone'] : [];
    try {
      const report = await post('/api/certs/list', { all: false });
      const depts = new Set();
      for (const c of Array.isArray(report && report.json) ? report.json : []) {
        if (c.subject) names.set(c.subject, c.name);
        const parts = (c.dept || '').split('/').filter(Boolean);
        for (let i = 1; i <= parts.length; i += 1) depts.add(parts.slice(0, i).join('/'));
      }
      const scope = me.role === 'dept-head' ? me.dept || '' : '';
      for (const d of [...depts].sort()) {
        if (!scope || d === scope || d.startsWith(scope + '/')) options.push('dept:' + d);
      }
    } catch (_) { /* the audience can still be typed */ }
    for (const o of options) f.audiences.append(h('option', { value: o }));
  }

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const text = f.title.value.trim();
    if (!text) {
      showError(f.error, new Error(t('announce.titleRequired')));
      f.title.focus();
      return;
    }
    if (!f.body.value.trim()) {
      showError(f.error, new Error(t('announce.bodyRequired')));
      f.body.focus();
      return;
    }
    const fields = {
      title: text,
      body: f.body.value,
      audience: splitList(f.audience.value),
      ack_required: f.ack.checked,
    };
    const pinned = endOfDay(f.pinned.value);
    if (pinned != null) fields.pinned_until = pinned;
    f.publish.disabled = true;
    try {
      const made = await announcements('publish', fields);
      showError(f.error, null);
      f.title.value = '';
      f.body.value = '';
      f.pinned.value = '';
      f.ack.checked = false;
      clear(f.preview);
      await loadList();
      ctx.navigate(made.id);
    } catch (err) {
      showError(f.error, err);
    } finally {
      f.publish.disabled = false;
    }
  });

  function renderRights() {
    tools.hidden = !canPublish();
    newBtn.hidden = !canPublish();
  }

  // Live updates.
  function changed(data) {
    if (openId !== 'new' && changedDoc(data, openId)) detailSoon();
    if (!data || (data.docs || []).length) listSoon();
  }
  function everything() {
    loadList();
    if (openId && openId !== 'new') refreshDetail();
  }
  const offs = [
    onEvent('changed', changed),
    onEvent('certs', () => {
      if (openId && openId !== 'new') detailSoon();
    }),
    onEvent('lagged', everything),
    onEventsConnection((on) => {
      if (on) everything();
    }),
  ];

  ctx.whoAmI().then((who) => {
    me = who;
    if (destroyed) return;
    renderRights();
    if (openId === 'new') prepareForm();
  });
  loadList();

  return {
    open(param) {
      const next = param || null;
      if (next === openId) return;
      openId = next;
      detail = null;
      reads = null;
      clear(detailEl);
      delete detailEl.dataset.announcement;
      plain(title, '');
      plain(sub, '');
      clear(headTools);
      showError(detailError, null);
      const writing = openId === 'new';
      form.hidden = !writing;
      detailEl.hidden = writing;
      setOpenVisible(!!openId);
      for (const b of list.querySelectorAll('[data-announcement]')) b.classList.toggle('active', b.dataset.announcement === openId);
      if (writing) {
        tr(title, 'announce.newTitle');
        if (me) prepareForm();
        f.title.focus({ preventScroll: true });
      } else if (openId) {
        detailEl.append(tr(h('p', { class: 'placeholder' }), 'common.loading'));
        loadDetail(false);
      }
    },
    relabel() {
      renderList();
      if (openId === 'new') tr(title, 'announce.newTitle');
      if (detail) renderDetail();
    },
    unmount() {
      destroyed = true;
      listSoon.cancel();
      detailSoon.cancel();
      renderPreview.cancel();
      for (const off of offs) off();
      view.remove();
    },
  };
}
