// The approvals screen: the requests waiting for this member's decision
// (the inbox) and the others they can read, their own requests with their
// progress, a request's details (where it stands, each step and who must
// act, the signed history) with approve, reject and withdraw, and a form
// that submits a request from a template, its fields drawn from the
// template. Everything comes from POST /api/approvals (node/src/approvals.rs);
// a request is read again whenever the event stream says its log changed,
// here or on a peer.
// Addresses look like #/approvals/inbox, #/approvals/mine/<request>,
// #/approvals/submit.

import { approvals, h, clear, onEvent, onEventsConnection, debounce, paneToggle, changedDoc, serial } from './api.js';
import { t, tr, plain, trPlaceholder, formatTime, formatDate, showError } from './i18n.js';
import { roleName, deptName } from './directory.js';

const TABS = ['inbox', 'mine', 'submit'];
/** The org's templates log (node/src/approvals.rs TEMPLATES_DOC): b"outpost template" in hex. */
const TEMPLATES_DOC = '6f7574706f73742074656d706c617465';
/** Titles are at most 256 bytes (outpost_workspace::approval): 85 characters of Chinese. */
const TITLE_CHARS_MAX = '85';
/** A comment is at most 1024 bytes. */
const COMMENT_CHARS_MAX = '340';
/** How much of a record, certificate or request id is shown (the whole one is in its title). */
const ID_SHOWN = 8;
const LIST_SOON_MS = 300;
const DETAIL_SOON_MS = 150;

/** A string of `key` if it exists, else `fallback`. */
function maybe(key, fallback, vars) {
  const s = t(key, vars);
  return s === key ? fallback : s;
}

/** A template's name for people: built-in ones are translated. */
function templateName(name) {
  return maybe('approvals.template.' + name, name);
}

/** A field's name for people. */
function fieldName(name) {
  return maybe('approvals.field.' + name, name);
}

/** An element showing a field's name, relabelled when the language changes if it is a built-in one. */
function fieldLabel(el, name) {
  const key = 'approvals.field.' + name;
  if (t(key) !== key) return tr(el, key);
  el.textContent = name;
  return el;
}

/** A step's name for people. */
function stepName(name) {
  return maybe('approvals.step.' + name, name);
}

/** Who decides a step, for people: `dept-head`, `role:admin`, or names. */
function approversText(step) {
  const spec = step.approvers;
  if (spec === 'dept-head') return t('approvals.approvers.deptHead');
  if (typeof spec === 'string' && spec.startsWith('role:')) return t('approvals.approvers.role', { role: roleName(spec.slice(5)) });
  return step.approvers_text || '';
}

function stateChip(state, extra) {
  return tr(h('span', { class: 'chip approval-state state-' + state + (extra ? ' ' + extra : '') }), 'approvals.state.' + state);
}

function shortId(id) {
  return h('code', { class: 'short-id', title: id || '', text: (id || '').slice(0, ID_SHOWN) });
}

/** A labelled form field. */
function field(labelKey, control, extra) {
  return h('label', { class: 'field' + (extra ? ' ' + extra : '') }, tr(h('span', { class: 'field-name' }), labelKey), control);
}

export function mount(root, ctx) {
  let tab = 'inbox';
  let openId = null;
  let rows = []; // `list` rows: every request this member can read
  let templates = null; // `templates` answer rows
  let detail = null; // the open request's status
  let me = null; // {member, role, dept}
  let destroyed = false;

  // List pane: the tabs, the lists.
  const tabBar = h('div', { class: 'pane-tabs', role: 'tablist' });
  const tabButtons = {};
  const inboxCount = h('span', { class: 'tab-count', hidden: true });
  for (const name of ['inbox', 'mine']) {
    const b = h('button', { type: 'button', class: 'tab', role: 'tab', dataset: { tab: name } }, tr(h('span'), 'approvals.tab.' + name));
    if (name === 'inbox') b.append(inboxCount);
    b.addEventListener('click', () => ctx.navigate(name));
    tabButtons[name] = b;
    tabBar.append(b);
  }
  const newBtn = tr(h('button', { type: 'button', class: 'primary', dataset: { tab: 'submit' } }), 'approvals.new');
  newBtn.addEventListener('click', () => ctx.navigate('submit'));
  tabButtons.submit = newBtn;
  const listError = h('p', { class: 'error', hidden: true });
  const lists = h('div', { id: 'approval-lists', class: 'lists' });
  const listPane = h('section', { class: 'list-pane' },
    h('div', { class: 'pane-tools' }, newBtn, tabBar), listError, lists);

  // Detail pane: a request, or the form.
  const title = h('h2', { class: 'detail-title' });
  const sub = h('span', { class: 'detail-sub' });
  const headTools = h('div', { class: 'detail-tools' });
  const head = h('header', { class: 'detail-head' }, h('div', { class: 'detail-heading' }, title, sub), headTools);
  const detailError = h('p', { class: 'error', hidden: true });
  const detailEl = h('div', { id: 'approval-detail', class: 'work-detail' });

  // The form.
  const f = {
    template: h('select', { id: 'approval-template' }),
    about: h('p', { id: 'approval-template-stages', class: 'muted' }),
    title: trPlaceholder(h('input', { id: 'approval-title', type: 'text', maxlength: TITLE_CHARS_MAX, autocomplete: 'off' }), 'approvals.titlePlaceholder'),
    fields: h('div', { id: 'approval-fields', class: 'form-grid' }),
    submit: tr(h('button', { id: 'approval-submit', type: 'submit', class: 'primary' }), 'approvals.submit'),
    error: h('p', { class: 'error', hidden: true }),
  };
  const form = h('form', { id: 'approval-form', class: 'form sheet', novalidate: true },
    h('div', { class: 'form-grid' }, field('approvals.templateLabel', f.template), field('approvals.title', f.title)),
    f.about,
    f.fields,
    h('div', { class: 'row-tools' }, f.submit),
    f.error);

  const placeholder = tr(h('p', { class: 'placeholder' }), 'approvals.pick');
  const body = h('div', { class: 'detail-body' }, detailError, detailEl, form);
  const detailPane = h('section', { class: 'detail-pane' }, head, placeholder, body);
  const view = h('div', { class: 'split work approvals' }, listPane, detailPane);
  root.append(view);
  const setOpenVisible = paneToggle(view, placeholder, head, body);
  setOpenVisible(false);

  // The lists.
  function row(r) {
    const meta = h('span', { class: 'item-meta' },
      h('span', { text: templateName(r.template) }),
      h('span', { text: r.mine ? t('approvals.byYou') : (r.applicant && r.applicant.name) || '' }),
      h('span', { text: formatDate(r.submitted) }));
    const progress = r.state === 'pending'
      ? h('span', { class: 'approval-progress', text: t('approvals.stageOf', { stage: r.stage, stages: r.stages }) })
      : null;
    const snippet = r.can_decide && r.can_decide.length && r.state === 'pending'
      ? h('span', { class: 'item-snippet you-decide', text: t('approvals.youDecide', { steps: r.can_decide.map(stepName).join(', ') }) })
      : r.state === 'pending' && r.waiting.length
        ? h('span', { class: 'item-snippet', text: t('approvals.waitingFor', { who: r.waiting.map(stepName).join(', ') }) })
        : null;
    const item = h('button', {
      type: 'button',
      class: 'list-item approval-row' + (r.request === openId ? ' active' : ''),
      dataset: { request: r.request, status: r.state },
    }, h('span', { class: 'item-name', text: r.title }), meta,
    h('span', { class: 'item-badges' }, stateChip(r.state), progress), snippet);
    item.addEventListener('click', () => ctx.navigate((tab === 'submit' ? 'mine' : tab) + '/' + r.request));
    return h('li', null, item);
  }

  function section(id, titleKey, items, emptyKey) {
    const ul = h('ul', { id, class: 'list', role: 'list' });
    if (!items.length) ul.append(h('li', { class: 'empty' }, tr(h('span'), emptyKey)));
    for (const r of items) ul.append(row(r));
    return [tr(h('h2', { class: 'pane-title' }), titleKey), ul];
  }

  function renderLists() {
    clear(lists);
    const inbox = rows.filter((r) => r.state === 'pending' && r.can_decide && r.can_decide.length);
    inboxCount.hidden = !inbox.length;
    inboxCount.textContent = String(inbox.length);
    if (tab === 'inbox') {
      lists.append(...section('approval-inbox', 'approvals.inboxTitle', inbox, 'approvals.inboxEmpty'));
      const others = rows.filter((r) => !r.mine && !inbox.includes(r));
      if (others.length) lists.append(...section('approval-others', 'approvals.othersTitle', others, 'approvals.none'));
    } else {
      lists.append(...section('approval-mine', 'approvals.mineTitle', rows.filter((r) => r.mine), 'approvals.mineEmpty'));
    }
  }

  const loadList = serial(async () => {
    if (destroyed) return;
    try {
      rows = (await approvals('list')).requests || [];
      showError(listError, null);
    } catch (e) {
      showError(listError, e);
      return;
    }
    if (!destroyed) renderLists();
  });
  const listSoon = debounce(loadList, LIST_SOON_MS);

  // A request.
  const loadDetail = serial(async () => {
    const id = openId;
    if (!id || destroyed) return;
    let s;
    try {
      s = await approvals('status', { request: id });
      showError(detailError, null);
    } catch (e) {
      if (id === openId) {
        showError(detailError, e);
        clear(detailEl);
      }
      return;
    }
    if (id !== openId || destroyed) return;
    detail = s;
    if (!me) me = await ctx.whoAmI();
    renderDetail();
  });
  const detailSoon = debounce(loadDetail, DETAIL_SOON_MS);

  /** The steps this member may decide now: the waiting ones whose deciders include them. */
  function myDecidable(s) {
    if (!me || s.state !== 'pending') return [];
    return (s.waiting_for || []).filter((w) => (w.members || []).some((m) => m.member === me.member)).map((w) => w.step);
  }

  function person(p) {
    const bits = [roleName(p.role), deptName(p.dept === '/' ? '' : p.dept)].filter(Boolean).join(' · ');
    return h('span', { class: 'approval-person' }, h('strong', { text: p.name || (p.member || '').slice(0, ID_SHOWN) }),
      bits ? h('span', { class: 'muted', text: ' ' + bits }) : null);
  }

  // Kept across renders, so that a refresh does not lose a comment being typed.
  const comment = trPlaceholder(h('textarea', { id: 'approval-comment', rows: '2', maxlength: COMMENT_CHARS_MAX }), 'approvals.commentPlaceholder');
  const stepSelect = h('select', { id: 'approval-step' });
  const approveBtn = tr(h('button', { id: 'approval-approve', type: 'button', class: 'primary' }), 'approvals.approve');
  const rejectBtn = tr(h('button', { id: 'approval-reject', type: 'button', class: 'danger' }), 'approvals.reject');
  const withdrawBtn = tr(h('button', { id: 'approval-withdraw', type: 'button', class: 'secondary' }), 'approvals.withdraw');
  const actionError = h('p', { class: 'error', hidden: true });
  let commentFor = null;

  function renderDetail() {
    const s = detail;
    if (!s) return;
    if (commentFor !== s.request) {
      comment.value = '';
      commentFor = s.request;
      showError(actionError, null);
    }
    plain(title, s.title);
    plain(sub, `${templateName(s.template.name)} · ${s.request.slice(0, ID_SHOWN)}`);
    sub.title = s.request;
    clear(headTools);
    headTools.append(stateChip(s.state));
    detailEl.dataset.request = s.request;
    detailEl.dataset.status = s.state;
    clear(detailEl);

    // Where it stands.
    const stages = s.stages.length;
    const facts = h('dl', { class: 'facts' },
      tr(h('dt'), 'approvals.applicant'), h('dd', null, person(s.applicant)),
      tr(h('dt'), 'approvals.submitted'), h('dd', { text: formatTime(s.submitted) }),
      tr(h('dt'), 'approvals.status'), h('dd', { id: 'approval-state' }, stateChip(s.state),
        s.state === 'pending' ? h('span', { class: 'muted', text: ' ' + t('approvals.stageOf', { stage: s.stage, stages }) }) : null));
    for (const fd of s.template.fields) {
      const v = s.fields[fd.name];
      if (v == null || v === '') continue;
      facts.append(h('dt', { text: fieldName(fd.name) }), h('dd', { class: 'field-value', dataset: { field: fd.name }, text: v }));
    }
    for (const [k, v] of Object.entries(s.fields)) {
      if (!s.template.fields.some((fd) => fd.name === k)) facts.append(h('dt', { text: k }), h('dd', { class: 'field-value', text: v }));
    }
    if (s.task) {
      const open = tr(h('button', { type: 'button', class: 'link', id: 'approval-task' }), 'approvals.openTask');
      open.addEventListener('click', () => ctx.go('projects', `${s.task.project}/${s.task.task}`));
      facts.append(tr(h('dt'), 'approvals.task'), h('dd', null, open));
    }
    detailEl.append(h('section', { class: 'sheet' }, facts));

    // What this member may do.
    const mine = myDecidable(s);
    const canWithdraw = s.state === 'pending' && me && s.applicant.member === me.member;
    if (mine.length) {
      clear(stepSelect);
      for (const st of mine) stepSelect.append(h('option', { value: st, text: stepName(st) }));
      stepSelect.hidden = mine.length < 2;
      const label = mine.length < 2
        ? tr(h('h3'), 'approvals.yourDecision', { step: stepName(mine[0]) })
        : tr(h('h3'), 'approvals.yourDecisionMany');
      detailEl.append(h('section', { id: 'approval-decide', class: 'sheet decide' }, label, stepSelect, comment,
        h('div', { class: 'row-tools' }, approveBtn, rejectBtn), actionError));
    } else if (canWithdraw) {
      detailEl.append(h('section', { class: 'sheet decide' }, tr(h('p', { class: 'muted' }), 'approvals.withdrawHelp'),
        h('div', { class: 'row-tools' }, withdrawBtn), actionError));
    } else {
      detailEl.append(actionError);
    }

    // The steps.
    const stageList = h('ol', { id: 'approval-stages', class: 'stages' });
    for (const stage of s.stages) {
      const current = s.state === 'pending' && stage.stage === s.stage;
      const steps = h('ul', { class: 'steps' });
      for (const step of stage.steps) {
        const waiting = (s.waiting_for || []).find((w) => w.stage === stage.stage && w.step === step.name);
        const who = waiting && waiting.members.length
          ? h('span', { class: 'step-who', text: t('approvals.mustAct', { who: waiting.members.map((m) => m.name).join(', ') }) })
          : null;
        steps.append(h('li', { class: 'step', dataset: { step: step.name, state: step.state } },
          h('span', { class: 'step-name', text: stepName(step.name) }),
          h('span', { class: 'muted step-approvers', text: approversText(step) }),
          stateChip(step.state, 'step-state'),
          who));
      }
      stageList.append(h('li', { class: 'stage' + (current ? ' current' : ''), dataset: { stage: String(stage.stage) } },
        h('div', { class: 'stage-head' }, tr(h('span', { class: 'stage-name' }), 'approvals.stage', { n: stage.stage }),
          current ? tr(h('span', { class: 'chip current-chip' }), 'approvals.current') : null),
        steps));
    }
    detailEl.append(h('section', { class: 'sheet' }, tr(h('h3'), 'approvals.steps'), stageList));

    // The signed history.
    const history = h('ol', { id: 'approval-history', class: 'history-log' });
    for (const e of s.history) {
      const action = e.action === 'approve' || e.action === 'reject'
        ? t('approvals.did.' + e.action, { step: stepName(e.step || '') })
        : t('approvals.did.' + e.action);
      const ids = h('span', { class: 'history-ids' },
        tr(h('span', { class: 'muted' }), 'approvals.cert'), shortId(e.signer.cert),
        tr(h('span', { class: 'muted' }), 'approvals.envelope'), shortId(e.record));
      history.append(h('li', {
        class: 'history-entry' + (e.counted ? '' : ' ignored'),
        dataset: { action: e.action, record: e.record, signer: e.signer.member, cert: e.signer.cert, counted: String(!!e.counted) },
      },
      h('div', { class: 'history-line' },
        h('time', { class: 'muted', text: formatTime(e.time) }),
        h('span', { class: 'history-signer' }, h('strong', { text: e.signer.name || e.signer.member.slice(0, ID_SHOWN) }),
          h('span', { class: 'chip person-role role-' + e.signer.role, text: roleName(e.signer.role) }),
          h('span', { class: 'muted', text: deptName(e.signer.dept === '/' ? '' : e.signer.dept) })),
        h('span', { class: 'history-action action-' + e.action, text: action })),
      e.comment ? h('div', { class: 'history-comment', text: e.comment }) : null,
      ids,
      e.counted ? null : h('div', { class: 'warn', text: t('approvals.notCounted', { why: (e.ignored && e.ignored.reason) || '' }) })));
    }
    detailEl.append(h('section', { class: 'sheet' }, tr(h('h3'), 'approvals.history'), tr(h('p', { class: 'muted' }), 'approvals.historyHelp'), history));
  }

  async function decide(approve) {
    if (!detail) return;
    const step = stepSelect.value || null;
    approveBtn.disabled = true;
    rejectBtn.disabled = true;
    try {
      detail = await approvals(approve ? 'approve' : 'reject', { request: detail.request, step, comment: comment.value.trim() });
      comment.value = '';
      showError(actionError, null);
      renderDetail();
    } catch (e) {
      showError(actionError, e);
    } finally {
      approveBtn.disabled = false;
      rejectBtn.disabled = false;
    }
    loadList();
  }
  approveBtn.addEventListener('click', () => decide(true));
  rejectBtn.addEventListener('click', () => decide(false));
  withdrawBtn.addEventListener('click', async () => {
    if (!detail || !window.confirm(t('approvals.withdrawConfirm'))) return;
    withdrawBtn.disabled = true;
    try {
      detail = await approvals('withdraw', { request: detail.request });
      showError(actionError, null);
      renderDetail();
    } catch (e) {
      showError(actionError, e);
    } finally {
      withdrawBtn.disabled = false;
    }
    loadList();
  });

  // The form.
  function chosenTemplate() {
    return (templates || []).find((x) => x.name === f.template.value) || null;
  }

  function renderTemplates() {
    const before = f.template.value;
    clear(f.template);
    for (const x of templates || []) {
      f.template.append(h('option', { value: x.name, text: x.builtin ? templateName(x.name) : x.name }));
    }
    if ((templates || []).some((x) => x.name === before)) f.template.value = before;
    renderFields();
  }

  let fieldsFor = null;
  function renderFields() {
    const tpl = chosenTemplate();
    clear(f.about);
    if (!tpl) {
      clear(f.fields);
      fieldsFor = null;
      return;
    }
    f.about.textContent = t('approvals.route', {
      stages: tpl.stages.map((stage, i) => `${i + 1}. ${stage.map((st) => `${stepName(st.name)} (${approversText(st)})`).join(' + ')}`).join(' → '),
    });
    // The values typed so far stay when the same template is drawn again.
    const sig = JSON.stringify(tpl.fields);
    if (sig === fieldsFor) return;
    fieldsFor = sig;
    clear(f.fields);
    for (const fd of tpl.fields) {
      const attrs = { class: 'approval-field', dataset: { field: fd.name, kind: fd.kind }, required: fd.required, autocomplete: 'off' };
      let input;
      if (fd.kind === 'date') input = h('input', { ...attrs, type: 'date' });
      else if (fd.kind === 'number') input = h('input', { ...attrs, type: 'text', inputmode: 'decimal' });
      else if (fd.kind === 'money') input = h('input', { ...attrs, type: 'text', inputmode: 'decimal', placeholder: '1200.50' });
      else input = h('textarea', { ...attrs, rows: '2' });
      const label = h('span', { class: 'field-name' }, fieldLabel(h('span'), fd.name),
        fd.required ? h('span', { class: 'required', 'aria-hidden': 'true', text: ' *' }) : null);
      f.fields.append(h('label', { class: 'field' + (fd.kind === 'text' ? ' wide' : '') }, label, input));
    }
  }
  f.template.addEventListener('change', renderFields);

  const loadTemplates = serial(async () => {
    try {
      templates = (await approvals('templates')).templates || [];
      showError(f.error, null);
    } catch (e) {
      showError(f.error, e);
      return;
    }
    if (!destroyed) renderTemplates();
  });

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const tpl = chosenTemplate();
    if (!tpl) return;
    const text = f.title.value.trim();
    if (!text) {
      showError(f.error, new Error(t('approvals.titleRequired')));
      f.title.focus();
      return;
    }
    const fields = {};
    for (const input of f.fields.querySelectorAll('.approval-field')) {
      const v = input.value.trim();
      const fd = tpl.fields.find((x) => x.name === input.dataset.field);
      if (!v && fd && fd.required) {
        showError(f.error, new Error(t('approvals.fieldRequired', { field: fieldName(fd.name) })));
        input.focus();
        return;
      }
      if (v && fd && fd.kind === 'money' && !/^\d+(\.\d{1,2})?$/.test(v)) {
        showError(f.error, new Error(t('approvals.moneyInvalid', { field: fieldName(fd.name) })));
        input.focus();
        return;
      }
      if (v) fields[input.dataset.field] = v;
    }
    f.submit.disabled = true;
    try {
      const made = await approvals('submit', { template: tpl.name, title: text, fields });
      showError(f.error, null);
      f.title.value = '';
      for (const input of f.fields.querySelectorAll('.approval-field')) input.value = '';
      await loadList();
      ctx.navigate('mine/' + made.request);
    } catch (err) {
      showError(f.error, err);
    } finally {
      f.submit.disabled = false;
    }
  });

  // Showing a tab and a request.
  function show(nextTab, id) {
    tab = TABS.includes(nextTab) ? nextTab : 'inbox';
    for (const [n, b] of Object.entries(tabButtons)) {
      const on = n === tab || (n === 'mine' && tab === 'submit');
      b.classList.toggle('active', on);
      b.setAttribute('aria-selected', String(on));
    }
    view.dataset.tab = tab;
    const submitting = tab === 'submit';
    const nextId = submitting ? null : id || null;
    if (nextId !== openId) {
      openId = nextId;
      detail = null;
      clear(detailEl);
      delete detailEl.dataset.request;
      delete detailEl.dataset.status;
      plain(title, '');
      plain(sub, '');
      clear(headTools);
      showError(detailError, null);
      if (openId) {
        detailEl.append(tr(h('p', { class: 'placeholder' }), 'common.loading'));
        loadDetail();
      }
    }
    form.hidden = !submitting;
    detailEl.hidden = submitting;
    if (submitting) {
      tr(title, 'approvals.newTitle');
      tr(sub, 'approvals.newHelp');
      sub.title = '';
      clear(headTools);
      showError(detailError, null);
      if (!templates) loadTemplates();
    }
    setOpenVisible(submitting || !!openId);
    renderLists();
  }

  // Live updates: a request's log changing reads it again; any change may
  // be a request's (or a new one), for the lists.
  function changed(data) {
    if (changedDoc(data, openId)) detailSoon();
    if (!data || (data.docs || []).length) listSoon();
    if (data && templates && changedDoc(data, TEMPLATES_DOC)) loadTemplates();
  }
  function everything() {
    loadList();
    if (openId) loadDetail();
    if (templates) loadTemplates();
  }
  const offs = [
    onEvent('changed', changed),
    onEvent('certs', () => {
      listSoon();
      if (openId) detailSoon();
    }),
    onEvent('lagged', everything),
    onEventsConnection((on) => {
      if (on) everything();
    }),
  ];

  ctx.whoAmI().then((who) => {
    me = who;
    if (detail && !destroyed) renderDetail();
  });
  loadList();

  return {
    open(param) {
      const [nextTab, id] = (param || '').split('/');
      show(nextTab || 'inbox', id);
    },
    relabel() {
      renderLists();
      renderTemplates();
      if (tab === 'submit') {
        tr(title, 'approvals.newTitle');
        tr(sub, 'approvals.newHelp');
      }
      if (detail) renderDetail();
    },
    unmount() {
      destroyed = true;
      listSoon.cancel();
      detailSoon.cancel();
      for (const off of offs) off();
      view.remove();
    },
  };
}
