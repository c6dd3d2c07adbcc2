// The meetings screen: upcoming meetings (soonest first) and past ones,
// one meeting with its time, place, call link, agenda and every invitee's
// answer, the accept / maybe / decline buttons, the minutes (a document,
// made the first time and opened in the documents screen), cancelling for
// the organizer, and a form that creates a meeting. Everything comes from
// POST /api/meetings (node/src/meetings.rs); what is open is read again
// whenever the event stream says its log changed, here or on a peer.
// Addresses look like #/meetings/<id> and #/meetings/new.

import { meetings, post, h, clear, onEvent, onEventsConnection, debounce, paneToggle, changedDoc, serial } from './api.js';
import { t, tr, plain, trPlaceholder, locale, showError } from './i18n.js';
import { roleName, deptName } from './directory.js';
import { renderMarkdown } from './markdown.js';

const TABS = ['upcoming', 'past'];
const ANSWERS = ['accept', 'tentative', 'decline'];
/** Titles are at most 256 bytes: 85 characters of Chinese. */
const TITLE_CHARS_MAX = '85';
const MINUTES_DEFAULT = 60;
const REMIND_DEFAULT = 15;
const LIST_SOON_MS = 300;
const DETAIL_SOON_MS = 150;

const two = (n) => String(n).padStart(2, '0');

/** `secs` as a `datetime-local` value, in this browser's time zone. */
function localInput(secs) {
  const d = new Date(secs * 1000);
  return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())}T${two(d.getHours())}:${two(d.getMinutes())}`;
}

/** A `datetime-local` value as seconds since 1970, or null. */
function fromLocalInput(value) {
  if (!value) return null;
  const ms = new Date(value).getTime();
  return Number.isFinite(ms) ? Math.floor(ms / 1000) : null;
}

function dayOf(secs) {
  return new Date(secs * 1000).toDateString();
}

/** A day for a list's heading: today, tomorrow, or the date with its weekday. */
function dayHeading(secs) {
  const d = new Date(secs * 1000);
  const today = new Date();
  const tomorrow = new Date(today.getFullYear(), today.getMonth(), today.getDate() + 1);
  if (d.toDateString() === today.toDateString()) return t('meetings.today');
  if (d.toDateString() === tomorrow.toDateString()) return t('meetings.tomorrow');
  const opts = { weekday: 'short', month: 'short', day: 'numeric' };
  if (d.getFullYear() !== today.getFullYear()) opts.year = 'numeric';
  return d.toLocaleDateString(locale(), opts);
}

function clock(secs) {
  return new Date(secs * 1000).toLocaleTimeString(locale(), { hour: '2-digit', minute: '2-digit' });
}

/** A meeting's time for people: its day, then start to end. */
function whenText(start, end) {
  if (dayOf(start) === dayOf(end)) return `${dayHeading(start)} ${clock(start)}–${clock(end)}`;
  return `${dayHeading(start)} ${clock(start)} – ${dayHeading(end)} ${clock(end)}`;
}

/** `http(s)` links only are links; anything else is shown as text. */
function safeLink(link) {
  try {
    const url = new URL(link);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : null;
  } catch (_) {
    return null;
  }
}

/** Comma-separated text (either comma) as trimmed, non-empty parts. */
function splitList(text) {
  return text.split(/[,，]/).map((s) => s.trim()).filter(Boolean);
}

function answerChip(answer) {
  const key = answer || 'none';
  return tr(h('span', { class: 'chip answer-chip answer-' + key }), 'meetings.answer.' + key);
}

export function mount(root, ctx) {
  let tab = 'upcoming';
  let rows = [];
  let openId = null; // a meeting's id, or 'new' for the form
  let detail = null;
  let people = []; // [{key, name, dept}] with a valid certificate, for the invitee picker
  let destroyed = false;
  const names = new Map();

  // List pane.
  const newBtn = tr(h('button', { id: 'meeting-new', type: 'button', class: 'primary' }), 'meetings.new');
  newBtn.addEventListener('click', () => ctx.navigate('new'));
  const tabBar = h('div', { class: 'pane-tabs', role: 'tablist' });
  const tabButtons = {};
  for (const name of TABS) {
    const b = tr(h('button', { type: 'button', class: 'tab', role: 'tab', dataset: { tab: name } }), 'meetings.tab.' + name);
    b.addEventListener('click', () => showTab(name));
    tabButtons[name] = b;
    tabBar.append(b);
  }
  const listError = h('p', { class: 'error', hidden: true });
  const list = h('div', { id: 'meeting-list', class: 'list' });
  const listPane = h('section', { class: 'list-pane' }, h('div', { class: 'pane-tools' }, newBtn, tabBar), listError, list);

  // Detail pane.
  const title = h('h2', { class: 'detail-title' });
  const sub = h('span', { class: 'detail-sub' });
  const headTools = h('div', { class: 'detail-tools' });
  const head = h('header', { class: 'detail-head' }, h('div', { class: 'detail-heading' }, title, sub), headTools);
  const detailError = h('p', { class: 'error', hidden: true });
  const detailEl = h('div', { id: 'meeting-detail', class: 'work-detail' });

  // The form.
  const f = {
    title: h('input', { id: 'meeting-title', type: 'text', maxlength: TITLE_CHARS_MAX, autocomplete: 'off' }),
    start: h('input', { id: 'meeting-start', type: 'datetime-local' }),
    duration: h('input', { id: 'meeting-duration', type: 'number', min: '1', step: '5', value: String(MINUTES_DEFAULT) }),
    end: h('input', { id: 'meeting-end', type: 'datetime-local' }),
    place: h('input', { id: 'meeting-place', type: 'text', autocomplete: 'off' }),
    link: trPlaceholder(h('input', { id: 'meeting-link', type: 'url', autocomplete: 'off' }), 'meetings.linkPlaceholder'),
    agenda: trPlaceholder(h('textarea', { id: 'meeting-agenda', rows: '5' }), 'meetings.agendaPlaceholder'),
    invitees: trPlaceholder(h('input', { id: 'meeting-invitees', type: 'text', autocomplete: 'off' }), 'meetings.inviteesPlaceholder'),
    pickSummary: h('summary', { class: 'button' }),
    pickList: h('div', { class: 'checks' }),
    remind: h('input', { id: 'meeting-remind', type: 'number', min: '0', step: '5', value: String(REMIND_DEFAULT) }),
    create: tr(h('button', { id: 'meeting-create', type: 'submit', class: 'primary' }), 'meetings.create'),
    error: h('p', { class: 'error', hidden: true }),
  };
  tr(f.pickSummary, 'meetings.pick');
  const pick = h('details', { id: 'meeting-pick', class: 'dropdown' }, f.pickSummary, h('div', { class: 'dropdown-menu' }, f.pickList));
  const field = (key, control, extra) => h('label', { class: 'field' + (extra ? ' ' + extra : '') }, tr(h('span', { class: 'field-name' }), key), control);
  const form = h('form', { id: 'meeting-form', class: 'form sheet', novalidate: true, hidden: true },
    field('meetings.titleLabel', f.title, 'wide'),
    h('div', { class: 'form-grid' },
      field('meetings.start', f.start),
      h('div', { class: 'field' }, tr(h('span', { class: 'field-name' }), 'meetings.length'),
        h('div', { class: 'inline-form' }, f.duration, tr(h('span', { class: 'muted unit' }), 'meetings.minutes'))),
      field('meetings.endOptional', f.end),
      h('div', { class: 'field' }, tr(h('span', { class: 'field-name' }), 'meetings.remind'),
        h('div', { class: 'inline-form' }, f.remind, tr(h('span', { class: 'muted unit' }), 'meetings.minutesBefore'))),
      field('meetings.place', f.place),
      field('meetings.link', f.link)),
    h('div', { class: 'field wide' }, tr(h('span', { class: 'field-name' }), 'meetings.invitees'),
      h('div', { class: 'inline-form' }, f.invitees, pick)),
    tr(h('p', { class: 'muted' }), 'meetings.inviteesHelp'),
    field('meetings.agenda', f.agenda, 'wide'),
    h('div', { class: 'row-tools' }, f.create),
    f.error);

  const placeholder = tr(h('p', { class: 'placeholder' }), 'meetings.pickOne');
  const body = h('div', { class: 'detail-body' }, detailError, detailEl, form);
  const detailPane = h('section', { class: 'detail-pane' }, head, placeholder, body);
  const view = h('div', { class: 'split work meetings' }, listPane, detailPane);
  root.append(view);
  const setOpenVisible = paneToggle(view, placeholder, head, body);
  setOpenVisible(false);

  /** An invitee entry (`dept:PATH`, `member:KEY`, `role:ROLE`, `everyone`) for people. */
  function inviteeText(e) {
    if (e === 'everyone') return t('announce.everyone');
    if (e.startsWith('dept:')) return deptName(e.slice(5));
    if (e.startsWith('role:')) return t('announce.role', { role: roleName(e.slice(5)) });
    if (e.startsWith('member:')) {
      const key = e.slice(7);
      return names.get(key) || key.slice(0, 8);
    }
    return e;
  }

  // The list.
  function renderList() {
    clear(list);
    for (const [n, b] of Object.entries(tabButtons)) {
      b.classList.toggle('active', n === tab);
      b.setAttribute('aria-selected', String(n === tab));
    }
    if (!rows.length) {
      list.append(h('p', { class: 'empty' }, tr(h('span'), tab === 'past' ? 'meetings.nonePast' : 'meetings.none')));
      return;
    }
    let day = null;
    let ul = null;
    for (const m of rows) {
      if (dayOf(m.start) !== day) {
        day = dayOf(m.start);
        ul = h('ul', { class: 'plain' });
        list.append(h('div', { class: 'group' }, h('h3', { class: 'group-title', text: dayHeading(m.start) }), ul));
      }
      const badge = m.cancelled
        ? tr(h('span', { class: 'chip answer-decline' }), 'meetings.cancelled')
        : m.organizer_me
          ? tr(h('span', { class: 'chip' }), 'meetings.organizer')
          : answerChip(m.my_answer);
      const item = h('button', {
        type: 'button',
        class: 'list-item meeting-row' + (m.id === openId ? ' active' : '') + (m.cancelled ? ' cancelled' : ''),
        dataset: { meeting: m.id, myAnswer: m.my_answer || '', cancelled: String(!!m.cancelled) },
      },
      h('span', { class: 'item-name', text: m.title }),
      h('span', { class: 'item-meta' }, h('span', { text: `${clock(m.start)}–${clock(m.end)}` }), m.place ? h('span', { text: m.place }) : null),
      h('span', { class: 'item-badges' }, badge));
      item.addEventListener('click', () => ctx.navigate(m.id));
      ul.append(h('li', null, item));
    }
  }

  const loadList = serial(async () => {
    if (destroyed) return;
    const wanted = tab;
    let answer;
    try {
      answer = await meetings('list', { past: wanted === 'past' });
      showError(listError, null);
    } catch (e) {
      showError(listError, e);
      return;
    }
    if (destroyed || wanted !== tab) return;
    rows = answer.meetings || [];
    renderList();
  });
  const listSoon = debounce(loadList, LIST_SOON_MS);

  function showTab(name) {
    if (name === tab) return;
    tab = name;
    rows = [];
    clear(list);
    renderList();
    loadList();
  }

  // One meeting.
  const loadDetail = serial(async () => {
    const id = openId;
    if (!id || id === 'new' || destroyed) return;
    let m;
    try {
      m = await meetings('show', { meeting: id });
      showError(detailError, null);
    } catch (e) {
      if (id === openId) {
        showError(detailError, e);
        clear(detailEl);
      }
      return;
    }
    if (id !== openId || destroyed) return;
    detail = m;
    renderDetail();
  });
  const detailSoon = debounce(loadDetail, DETAIL_SOON_MS);

  const actionError = h('p', { class: 'error', hidden: true });

  function renderDetail() {
    const m = detail;
    if (!m) return;
    plain(title, m.title);
    tr(sub, 'meetings.organizedBy', { name: (m.organizer && m.organizer.name) || '' });
    clear(headTools);
    if (m.cancelled) headTools.append(tr(h('span', { class: 'chip answer-decline' }), 'meetings.cancelled'));
    else if (m.past) headTools.append(tr(h('span', { class: 'chip' }), 'meetings.isPast'));
    clear(detailEl);
    detailEl.dataset.meeting = m.id;
    detailEl.dataset.cancelled = String(!!m.cancelled);
    detailEl.dataset.myAnswer = m.my_answer || '';

    const facts = h('dl', { class: 'facts' },
      tr(h('dt'), 'meetings.when'), h('dd', { id: 'meeting-when', text: `${whenText(m.start, m.end)} (${t('meetings.lengthMinutes', { n: Math.round((m.end - m.start) / 60) })})` }));
    if (m.place) facts.append(tr(h('dt'), 'meetings.place'), h('dd', { id: 'meeting-place-shown', text: m.place }));
    if (m.link) {
      const href = safeLink(m.link);
      facts.append(tr(h('dt'), 'meetings.link'), h('dd', null, href
        ? h('a', { id: 'meeting-link-shown', href, target: '_blank', rel: 'noopener noreferrer', text: m.link })
        : h('span', { text: m.link })));
    }
    facts.append(tr(h('dt'), 'meetings.remind'), h('dd', { text: m.remind_minutes ? t('meetings.remindBefore', { n: m.remind_minutes }) : t('meetings.noReminder') }));
    if (m.invitees && m.invitees.length) facts.append(tr(h('dt'), 'meetings.invited'), h('dd', { text: m.invitees.map(inviteeText).join(', ') }));
    detailEl.append(h('section', { class: 'sheet' }, facts));

    // This member's answer, the minutes, cancelling.
    const actions = h('section', { class: 'sheet meeting-actions' });
    if (m.invited && !m.organizer_me && !m.cancelled && !m.past) {
      const group = h('div', { class: 'answer-buttons', role: 'group' });
      for (const a of ANSWERS) {
        const on = m.my_answer === a;
        const b = tr(h('button', { type: 'button', class: 'answer answer-' + a + (on ? ' chosen' : ''), dataset: { answer: a }, 'aria-pressed': String(on) }), 'meetings.do.' + a);
        b.addEventListener('click', () => answer(a, group));
        group.append(b);
      }
      actions.append(h('div', { class: 'answer-row' }, tr(h('span', { class: 'field-name' }), 'meetings.yourAnswer'), group));
    }
    const tools = h('div', { class: 'row-tools' });
    if (m.minutes || ((m.invited || m.organizer_me) && !m.cancelled)) {
      const minutes = tr(h('button', { id: 'meeting-minutes', type: 'button', class: 'secondary' }), m.minutes ? 'meetings.openMinutes' : 'meetings.writeMinutes');
      minutes.addEventListener('click', () => openMinutes(minutes));
      tools.append(minutes);
    }
    if (m.organizer_me && !m.cancelled && !m.past) {
      const cancel = tr(h('button', { id: 'meeting-cancel', type: 'button', class: 'link danger-link' }), 'meetings.cancel');
      cancel.addEventListener('click', () => cancelMeeting(cancel));
      tools.append(cancel);
    }
    if (tools.childNodes.length) actions.append(tools);
    actions.append(actionError);
    if (actions.childNodes.length > 1) detailEl.append(actions);

    if (m.agenda && m.agenda.trim()) {
      detailEl.append(h('section', { class: 'sheet' }, tr(h('h3'), 'meetings.agenda'),
        h('article', { id: 'meeting-agenda-shown', class: 'markdown' }, renderMarkdown(m.agenda))));
    }

    // Who comes.
    const a = m.answers || { people: [] };
    const ul = h('ul', { id: 'meeting-invitees-list', class: 'rows invitee-list' });
    const organizer = m.organizer || {};
    ul.append(h('li', { class: 'invitee organizer', dataset: { member: organizer.member || '', response: 'organizer' } },
      h('span', { class: 'invitee-name', text: organizer.name || '' }), h('span', { class: 'muted' }),
      tr(h('span', { class: 'chip' }), 'meetings.organizer')));
    for (const p of a.people) {
      ul.append(h('li', { class: 'invitee', dataset: { member: p.member, response: p.answer || 'none' } },
        h('span', { class: 'invitee-name', text: p.name || p.member.slice(0, 8) }),
        h('span', { class: 'muted', text: deptName(p.dept) }),
        answerChip(p.answer)));
    }
    const counts = [['accept', a.accepted], ['tentative', a.tentative], ['decline', a.declined], ['none', a.no_answer]]
      .filter(([, n]) => n).map(([k, n]) => `${t('meetings.answer.' + k)} ${n}`).join(' · ');
    detailEl.append(h('section', { class: 'sheet' },
      h('div', { class: 'card-head' }, tr(h('h3'), 'meetings.people'), h('span', { id: 'meeting-counts', class: 'muted', text: counts })),
      ul));
  }

  async function answer(response, group) {
    for (const b of group.querySelectorAll('button')) b.disabled = true;
    try {
      await meetings('answer', { meeting: detail.id, response });
      showError(actionError, null);
    } catch (e) {
      showError(actionError, e);
    }
    await loadDetail();
    loadList();
  }

  async function openMinutes(button) {
    button.disabled = true;
    try {
      const r = await meetings('minutes', { meeting: detail.id });
      showError(actionError, null);
      if (r.minutes) ctx.go('docs', r.minutes);
    } catch (e) {
      showError(actionError, e);
    } finally {
      button.disabled = false;
    }
  }

  async function cancelMeeting(button) {
    if (!window.confirm(t('meetings.cancelConfirm', { title: detail.title }))) return;
    button.disabled = true;
    try {
      await meetings('cancel', { meeting: detail.id });
      showError(actionError, null);
    } catch (e) {
      showError(actionError, e);
    } finally {
      button.disabled = false;
    }
    await loadDetail();
    loadList();
  }

  // The form.
  async function loadPeople() {
    let rowsOf = [];
    try {
      const report = await post('/api/certs/list', { all: false });
      rowsOf = Array.isArray(report && report.json) ? report.json : [];
    } catch (_) {
      return; // invitees can still be typed
    }
    const me = await ctx.whoAmI();
    const seen = new Map();
    for (const c of rowsOf) {
      if (!c.subject || c.role === 'relay') continue;
      names.set(c.subject, c.name);
      if (c.role !== 'guest' && c.subject !== me.member) seen.set(c.subject, { key: c.subject, name: c.name, dept: c.dept || '' });
    }
    people = [...seen.values()].sort((x, y) => x.name.localeCompare(y.name, locale()));
    if (!destroyed) renderPicker();
    if (detail) renderDetail();
  }

  /** The token of a person in the invitees text: the name, or the key when two share it. */
  function tokenOf(p) {
    return people.filter((q) => q.name === p.name).length > 1 ? `member:${p.key}` : p.name;
  }

  function renderPicker() {
    clear(f.pickList);
    const tokens = new Set(splitList(f.invitees.value));
    const depts = new Set();
    for (const p of people) {
      const parts = p.dept.split('/').filter(Boolean);
      for (let i = 1; i <= parts.length; i += 1) depts.add(parts.slice(0, i).join('/'));
    }
    const option = (token, label, sub) => {
      const cb = h('input', { type: 'checkbox', value: token });
      cb.checked = tokens.has(token);
      cb.addEventListener('change', () => {
        const now = splitList(f.invitees.value).filter((x) => x !== token);
        if (cb.checked) now.push(token);
        f.invitees.value = now.join(', ');
      });
      return h('label', { class: 'check', dataset: { token } }, cb, h('span', { text: label }), sub ? h('span', { class: 'muted', text: sub }) : null);
    };
    if (depts.size) f.pickList.append(tr(h('div', { class: 'group-title' }), 'meetings.departments'));
    for (const d of [...depts].sort()) f.pickList.append(option('dept:' + d, d));
    if (people.length) f.pickList.append(tr(h('div', { class: 'group-title' }), 'meetings.peopleList'));
    for (const p of people) f.pickList.append(option(tokenOf(p), p.name, deptName(p.dept)));
  }
  pick.addEventListener('toggle', () => {
    if (pick.open) renderPicker();
  });
  function closePick(e) {
    if (pick.open && !pick.contains(e.target)) pick.open = false;
  }
  document.addEventListener('click', closePick);

  function resetForm() {
    // The next full hour.
    const next = Math.ceil(Date.now() / 3_600_000) * 3600;
    f.title.value = '';
    f.start.value = localInput(next);
    f.duration.value = String(MINUTES_DEFAULT);
    f.end.value = '';
    f.place.value = '';
    f.link.value = '';
    f.agenda.value = '';
    f.invitees.value = '';
    f.remind.value = String(REMIND_DEFAULT);
    showError(f.error, null);
  }
  resetForm();

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const fail = (key, el) => {
      showError(f.error, new Error(t(key)));
      el.focus();
    };
    const text = f.title.value.trim();
    if (!text) return fail('meetings.titleRequired', f.title);
    const start = fromLocalInput(f.start.value);
    if (start == null) return fail('meetings.startRequired', f.start);
    const fields = {
      title: text,
      start,
      place: f.place.value.trim(),
      link: f.link.value.trim(),
      agenda: f.agenda.value,
      invitees: splitList(f.invitees.value),
    };
    const end = fromLocalInput(f.end.value);
    if (end != null) {
      if (end <= start) return fail('meetings.endBeforeStart', f.end);
      fields.end = end;
    } else {
      const minutes = Number(f.duration.value || MINUTES_DEFAULT);
      if (!Number.isInteger(minutes) || minutes < 1) return fail('meetings.lengthInvalid', f.duration);
      fields.minutes = minutes;
    }
    const remind = Number(f.remind.value || '0');
    if (!Number.isInteger(remind) || remind < 0) return fail('meetings.remindInvalid', f.remind);
    fields.remind_minutes = remind;
    if (!fields.invitees.length) return fail('meetings.inviteesRequired', f.invitees);
    f.create.disabled = true;
    try {
      const made = await meetings('create', fields);
      resetForm();
      if (tab !== 'upcoming') showTab('upcoming');
      await loadList();
      ctx.navigate(made.id);
    } catch (err) {
      showError(f.error, err);
    } finally {
      f.create.disabled = false;
    }
    return undefined;
  });

  // Live updates.
  function changed(data) {
    if (openId !== 'new' && changedDoc(data, openId)) detailSoon();
    if (!data || (data.docs || []).length) listSoon();
  }
  function everything() {
    loadList();
    if (openId && openId !== 'new') loadDetail();
  }
  // A meeting becomes past as time goes by: the lists follow.
  const timer = setInterval(listSoon, 60_000);
  const offs = [
    onEvent('changed', changed),
    onEvent('certs', () => {
      loadPeople();
      if (openId && openId !== 'new') detailSoon();
    }),
    onEvent('lagged', everything),
    onEventsConnection((on) => {
      if (on) everything();
    }),
  ];

  loadPeople();
  renderList();
  loadList();

  return {
    open(param) {
      const next = param || null;
      if (next === openId) return;
      openId = next;
      detail = null;
      clear(detailEl);
      delete detailEl.dataset.meeting;
      plain(title, '');
      plain(sub, '');
      clear(headTools);
      showError(detailError, null);
      showError(actionError, null);
      const writing = openId === 'new';
      form.hidden = !writing;
      detailEl.hidden = writing;
      setOpenVisible(!!openId);
      for (const b of list.querySelectorAll('[data-meeting]')) b.classList.toggle('active', b.dataset.meeting === openId);
      if (writing) {
        tr(title, 'meetings.newTitle');
        f.title.focus({ preventScroll: true });
      } else if (openId) {
        detailEl.append(tr(h('p', { class: 'placeholder' }), 'common.loading'));
        loadDetail();
      }
    },
    relabel() {
      renderList();
      if (openId === 'new') tr(title, 'meetings.newTitle');
      if (detail) renderDetail();
      renderPicker();
    },
    unmount() {
      destroyed = true;
      clearInterval(timer);
      listSoon.cancel();
      detailSoon.cancel();
      document.removeEventListener('click', closePick);
      for (const off of offs) off();
      view.remove();
    },
  };
}
