// The admin screen, in three tabs. Certificates: the org's certificates
// (active, revoked, expired), issuing one for a pasted request, revoking
// one (with a reason), installing and verifying a pasted one. Devices:
// this member's devices and every device certified in the org, with
// revoke. Health: this node's status and its peers, refreshed live, and
// usage statistics (GET /api/stats) as charts.
// Everything comes from POST /api/certs/*, GET /api/status and
// GET /api/peers. Buttons that need rights (issuing; revoking what this
// member did not issue) show only when this member's certificate has them;
// the node checks again and refuses anyway, and its errors are shown.
// Addresses look like #/admin/certs, #/admin/devices, #/admin/health.

import { get, post, h, clear, onEvent, onEventsConnection, debounce } from './api.js';
import { t, tr, trPlaceholder, trTitle, formatTime, formatDate, formatBytes, locale, showError } from './i18n.js';
import { roleName, deptName } from './directory.js';

const TABS = ['certs', 'devices', 'health'];
const STATES = ['active', 'revoked', 'expired', 'all'];
const ISSUE_ROLES = { admin: ['admin', 'dept-head', 'member', 'guest', 'relay'], 'dept-head': ['member', 'guest', 'relay'] };
const VALID_UNITS = ['d', 'w', 'y', 'h'];
/** A revocation's reason is 1 to 256 bytes (node/src/certs.rs). */
const REASON_BYTES_MAX = 256;
const HEALTH_EVERY_MS = 5000;
const RELOAD_SOON_MS = 300;
const COPIED_MS = 2000;
/** How much of a serial or peer id a row shows (the whole one is in its title). */
const SERIAL_SHOWN = 8;
const PEER_SHOWN = 16;

/** Where a certificate stands: `active`, `revoked`, `expired` or `other` (pending, refused, not yet valid). */
function stateOf(c) {
  const s = c.status || {};
  if (s.valid) return 'active';
  if (s.state === 'revoked' || s.state === 'expired') return s.state;
  return 'other';
}

function statusChip(c) {
  const state = stateOf(c);
  const chip = h('span', { class: 'chip state state-' + state, title: (c.status && c.status.status) || '' });
  if (state === 'active') chip.textContent = t('admin.validUntil', { date: formatDate(c.not_after) });
  else chip.textContent = t('admin.state.' + state);
  return chip;
}

/** Comma-separated text (either comma) as trimmed, non-empty parts. */
function splitList(text) {
  return text.split(/[,，]/).map((s) => s.trim()).filter(Boolean);
}

/** A duration in seconds for people: days and hours, or minutes and seconds. */
function formatDuration(secs) {
  const s = Math.max(0, Math.floor(secs));
  const d = Math.floor(s / 86400);
  const hrs = Math.floor((s % 86400) / 3600);
  const min = Math.floor((s % 3600) / 60);
  const parts = [];
  if (d) parts.push(t('admin.dur.d', { n: d }));
  if (hrs) parts.push(t('admin.dur.h', { n: hrs }));
  if (!d && min) parts.push(t('admin.dur.m', { n: min }));
  if (!d && !hrs) parts.push(t('admin.dur.s', { n: s % 60 }));
  return parts.join(' ');
}

/** A file name made of `name` for a download. */
function fileName(name, ext) {
  const base = String(name || 'outpost').replace(/[^\p{L}\p{N}._-]+/gu, '-').replace(/^-+|-+$/g, '') || 'outpost';
  return base + ext;
}

/** A labelled form field. */
function field(key, control, extra) {
  return h('label', { class: 'field' + (extra ? ' ' + extra : '') }, tr(h('span', { class: 'field-name' }), key), control);
}

/** An armored text (certificate, revocation) shown for copying and downloading. */
function armoredResult(id) {
  const summary = h('p', { id: id + '-summary', class: 'result-summary' });
  const notes = h('ul', { class: 'result-notes' });
  const text = h('textarea', { id: id + '-armored', class: 'armored', readonly: true, rows: '7', spellcheck: 'false', wrap: 'off' });
  const copy = tr(h('button', { id: id + '-copy', type: 'button', class: 'secondary' }), 'admin.copy');
  const download = tr(h('a', { id: id + '-download', class: 'button secondary', href: '#' }), 'admin.download');
  const el = h('div', { id: id + '-result', class: 'result', hidden: true }, summary, notes, text, h('div', { class: 'row-tools' }, copy, download));
  let url = null;
  let copiedTimer = null;
  copy.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(text.value);
    } catch (_) {
      text.select();
      document.execCommand('copy');
    }
    tr(copy, 'admin.copied');
    clearTimeout(copiedTimer);
    copiedTimer = setTimeout(() => tr(copy, 'admin.copy'), COPIED_MS);
  });
  text.addEventListener('focus', () => text.select());
  return {
    el,
    /** Shows `made` (`{armored, summary, notes}`) under the message `key`, downloadable as `name`. */
    show(made, key, vars, name) {
      tr(summary, key, vars);
      summary.title = made.summary || '';
      clear(notes);
      for (const n of [made.summary, ...(made.notes || [])].filter(Boolean)) notes.append(h('li', { text: n }));
      text.value = made.armored || '';
      if (url) URL.revokeObjectURL(url);
      url = URL.createObjectURL(new Blob([text.value], { type: 'text/plain' }));
      download.href = url;
      download.setAttribute('download', name);
      el.hidden = false;
    },
    hide() {
      el.hidden = true;
    },
    drop() {
      clearTimeout(copiedTimer);
      if (url) URL.revokeObjectURL(url);
    },
  };
}

/** A text area for a pasted armored text, with a button that loads it from a file. */
function pasteBox(id, placeholderKey) {
  const text = trPlaceholder(h('textarea', { id, class: 'armored', rows: '5', spellcheck: 'false', wrap: 'off' }), placeholderKey);
  const picker = h('input', { id: id + '-file', type: 'file', hidden: true });
  const load = tr(h('button', { type: 'button', class: 'link load-file' }), 'admin.loadFile');
  let source = null;
  load.addEventListener('click', () => picker.click());
  picker.addEventListener('change', async () => {
    const file = picker.files && picker.files[0];
    picker.value = '';
    if (!file) return;
    text.value = await file.text();
    source = file.name;
  });
  text.addEventListener('input', () => {
    source = null;
  });
  return { text, el: h('div', { class: 'paste' }, text, h('div', { class: 'paste-tools' }, load, picker)), source: () => source };
}

export function mount(root, ctx) {
  let tab = 'certs';
  let status = null; // GET /api/status
  let certs = null; // the org's certificates, revoked and expired too
  let devices = null; // the org's device certificates, revoked and expired too
  let peers = null; // GET /api/peers
  let revoking = null; // {kind, row, result} the dialog asks about
  let destroyed = false;

  const me = () => (status && status.role ? { ...status.role, member: status.member } : { member: status && status.member });
  const isAdmin = () => me().role === 'admin';
  const canIssue = () => !!ISSUE_ROLES[me().role];
  // Admins revoke anything; others what they issued (a department head's
  // members, anyone's own devices).
  const canRevoke = (issuer) => isAdmin() || (!!issuer && issuer === me().member && me().role !== 'relay');
  const connected = () => new Set((peers || []).map((p) => p.peer_id));

  // Tabs.
  const tabBar = h('div', { class: 'tabs', role: 'tablist' });
  trTitle(tabBar, 'nav.admin');
  const tabButtons = {};
  for (const name of TABS) {
    const b = tr(h('button', { type: 'button', class: 'tab', role: 'tab', dataset: { tab: name } }), 'admin.tab.' + name);
    b.addEventListener('click', () => ctx.navigate(name));
    tabButtons[name] = b;
    tabBar.append(b);
  }

  // Certificates.
  const certState = h('select', { id: 'cert-state' });
  trTitle(certState, 'admin.col.status');
  const certFilter = trPlaceholder(h('input', { id: 'cert-filter', type: 'search', autocomplete: 'off' }), 'admin.filter');
  const certCount = h('span', { id: 'cert-count', class: 'muted' });
  const certError = h('p', { class: 'error', hidden: true });
  const certList = h('ul', { id: 'cert-list', class: 'rows cert-list', role: 'list' });
  const revokeResult = armoredResult('revoke');
  const certCard = h('section', { id: 'admin-cert-list', class: 'card wide' },
    h('header', { class: 'card-head' }, tr(h('h3'), 'admin.certs'), certCount,
      h('div', { class: 'card-tools' }, certState, certFilter)),
    certError, revokeResult.el, certList);

  const req = pasteBox('issue-request', 'admin.requestPlaceholder');
  const f = {
    role: h('select', { id: 'issue-role' }),
    dept: h('input', { id: 'issue-dept', type: 'text', list: 'issue-depts', autocomplete: 'off', maxlength: '1100' }),
    depts: h('datalist', { id: 'issue-depts' }),
    position: h('input', { id: 'issue-position', type: 'text', autocomplete: 'off' }),
    level: h('input', { id: 'issue-level', type: 'number', min: '0', max: '65535', step: '1', value: '0' }),
    email: h('input', { id: 'issue-email', type: 'email', autocomplete: 'off' }),
    name: h('input', { id: 'issue-name', type: 'text', autocomplete: 'off' }),
    valid: h('input', { id: 'issue-valid', type: 'number', min: '1', step: '1', value: '365' }),
    unit: h('select', { id: 'issue-valid-unit' }),
    resources: h('input', { id: 'issue-resources', type: 'text', autocomplete: 'off' }),
    submit: tr(h('button', { id: 'issue-submit', type: 'submit', class: 'primary' }), 'admin.issueButton'),
    error: h('p', { class: 'error', hidden: true }),
  };
  trPlaceholder(f.dept, 'admin.deptPlaceholder');
  trPlaceholder(f.name, 'admin.namePlaceholder');
  trPlaceholder(f.resources, 'admin.resourcesPlaceholder');
  const issued = armoredResult('issue');
  const issueForm = h('form', { id: 'issue-form', class: 'form', novalidate: true },
    h('div', { class: 'field wide' }, tr(h('label', { class: 'field-name', for: 'issue-request' }), 'admin.request'), req.el),
    h('div', { class: 'form-grid' },
      field('admin.role', f.role),
      h('label', { class: 'field' }, tr(h('span', { class: 'field-name' }), 'admin.dept'), f.dept, f.depts),
      field('admin.position', f.position),
      field('admin.level', f.level),
      field('admin.email', f.email),
      field('admin.name', f.name),
      h('div', { class: 'field' }, tr(h('span', { class: 'field-name' }), 'admin.valid'), h('div', { class: 'inline-form' }, f.valid, f.unit)),
      field('admin.resources', f.resources)),
    h('div', { class: 'row-tools' }, f.submit),
    f.error);
  trTitle(f.unit, 'admin.valid');
  const issueCard = h('section', { id: 'admin-issue', class: 'card', hidden: true },
    h('header', { class: 'card-head' }, tr(h('h3'), 'admin.issue')),
    tr(h('p', { class: 'muted' }), 'admin.issueHelp'),
    issueForm, issued.el);
  const noRights = tr(h('p', { id: 'admin-no-rights', class: 'muted', hidden: true }), 'admin.needsRights');

  const inst = pasteBox('install-bundle', 'admin.bundlePlaceholder');
  const installBtn = tr(h('button', { id: 'install-submit', type: 'button', class: 'primary' }), 'admin.installButton');
  const installError = h('p', { class: 'error', hidden: true });
  const installResult = h('div', { id: 'install-result', class: 'result ok', hidden: true });
  const installCard = h('section', { id: 'admin-install', class: 'card' },
    h('header', { class: 'card-head' }, tr(h('h3'), 'admin.install')),
    tr(h('p', { class: 'muted' }), 'admin.installHelp'),
    inst.el, h('div', { class: 'row-tools' }, installBtn), installError, installResult);

  const ver = pasteBox('verify-bundle', 'admin.bundlePlaceholder');
  const verifyBtn = tr(h('button', { id: 'verify-submit', type: 'button', class: 'secondary' }), 'admin.verifyButton');
  const verifyError = h('p', { class: 'error', hidden: true });
  const verifyResult = h('div', { id: 'verify-result', class: 'result', hidden: true });
  const verifyCard = h('section', { id: 'admin-verify', class: 'card' },
    h('header', { class: 'card-head' }, tr(h('h3'), 'admin.verify')),
    tr(h('p', { class: 'muted' }), 'admin.verifyHelp'),
    ver.el, h('div', { class: 'row-tools' }, verifyBtn), verifyError, verifyResult);

  const certsPanel = h('div', { id: 'admin-certs', class: 'panel', role: 'tabpanel', dataset: { panel: 'certs' } },
    certCard, issueCard, h('div', { class: 'card-column' }, noRights, installCard, verifyCard));

  // Devices.
  const myDevices = h('ul', { id: 'my-devices', class: 'rows device-list', role: 'list' });
  const orgDevices = h('ul', { id: 'org-devices', class: 'rows device-list', role: 'list' });
  const deviceState = h('select', { id: 'device-state' });
  trTitle(deviceState, 'admin.col.status');
  const deviceError = h('p', { class: 'error', hidden: true });
  const deviceRevokeResult = armoredResult('device-revoke');
  const devicesPanel = h('div', { id: 'admin-devices', class: 'panel', role: 'tabpanel', dataset: { panel: 'devices' } },
    h('section', { class: 'card wide' },
      h('header', { class: 'card-head' }, tr(h('h3'), 'admin.myDevices')),
      tr(h('p', { class: 'muted' }), 'admin.devicesHelp'),
      deviceError, deviceRevokeResult.el, myDevices),
    h('section', { class: 'card wide' },
      h('header', { class: 'card-head' }, tr(h('h3'), 'admin.orgDevices'), h('div', { class: 'card-tools' }, deviceState)),
      orgDevices));

  // Usage statistics (GET /api/stats): active members per day as bars, use
  // per module as a horizontal bar each, tasks and files as they stand.
  const usage = {
    days: h('select', { id: 'usage-days' }, ...[7, 30, 90].map((d) => h('option', { value: String(d), text: String(d) }))),
    summary: h('p', { id: 'usage-summary' }),
    chart: h('div', { id: 'usage-chart', class: 'usage-chart' }),
    modules: h('ul', { id: 'usage-modules', class: 'usage-modules', role: 'list' }),
    facts: h('dl', { id: 'usage-facts', class: 'facts' }),
    error: h('p', { class: 'error', hidden: true }),
  };
  usage.days.value = '30';
  trTitle(usage.days, 'admin.usageDays');
  function usageCard() {
    return h('section', { id: 'admin-usage', class: 'card wide' },
      h('header', { class: 'card-head' }, tr(h('h3'), 'admin.usage'), h('div', { class: 'card-tools' }, usage.days)),
      usage.error, usage.summary, usage.chart, usage.modules, usage.facts);
  }
  function barChart(rows) {
    const NS = 'http://www.w3.org/2000/svg';
    const most = Math.max(1, ...rows.map((r) => r.active_members));
    const w = 600, hgt = 120, gap = 2, bw = Math.max(2, (w - gap * rows.length) / rows.length);
    const svg = document.createElementNS(NS, 'svg');
    svg.setAttribute('viewBox', `0 0 ${w} ${hgt + 16}`);
    svg.setAttribute('role', 'img');
    svg.setAttribute('aria-label', t('admin.usageActive'));
    rows.forEach((r, i) => {
      const bh = Math.round((r.active_members / most) * hgt);
      const rect = document.createElementNS(NS, 'rect');
      rect.setAttribute('x', String(i * (bw + gap)));
      rect.setAttribute('y', String(hgt - bh));
      rect.setAttribute('width', String(bw));
      rect.setAttribute('height', String(Math.max(bh, r.active_members ? 1 : 0)));
      rect.setAttribute('class', 'usage-bar');
      rect.dataset.day = r.day;
      rect.dataset.active = String(r.active_members);
      const title = document.createElementNS(NS, 'title');
      title.textContent = `${r.day}: ${r.active_members}`;
      rect.append(title);
      svg.append(rect);
    });
    for (const [i, anchor] of [[0, 'start'], [rows.length - 1, 'end']]) {
      if (!rows[i]) continue;
      const label = document.createElementNS(NS, 'text');
      label.setAttribute('x', String(anchor === 'start' ? 0 : w));
      label.setAttribute('y', String(hgt + 14));
      label.setAttribute('text-anchor', anchor);
      label.setAttribute('class', 'usage-label');
      label.textContent = rows[i].day;
      svg.append(label);
    }
    return svg;
  }
  async function loadUsage() {
    try {
      const s = await get(`/api/stats?days=${usage.days.value}`);
      usage.error.hidden = true;
      usage.summary.textContent = t('admin.usageSummary', { members: s.active_members, from: s.from, to: s.to });
      clear(usage.chart);
      usage.chart.append(barChart(s.days || []));
      clear(usage.modules);
      const uses = Object.entries(s.use || {}).filter(([, n]) => n > 0).sort((a, b) => b[1] - a[1]);
      const top = Math.max(1, ...uses.map(([, n]) => n));
      for (const [m, n] of uses) {
        // Widths through the CSSOM: the page's policy allows no style attributes.
        const fill = h('span', { class: 'usage-fill' });
        fill.style.width = `${Math.round((n / top) * 100)}%`;
        usage.modules.append(h('li', { dataset: { module: m, count: String(n) } },
          h('span', { class: 'usage-module', text: t(`admin.module.${m}`) }),
          h('span', { class: 'usage-track' }, fill),
          h('span', { class: 'usage-count', text: String(n) })));
      }
      if (!uses.length) usage.modules.append(tr(h('li', { class: 'muted' }), 'admin.usageNone'));
      clear(usage.facts);
      const tk = s.tasks || {}, fl = s.files || {};
      usage.facts.append(
        tr(h('dt'), 'admin.usageTasks'),
        h('dd', { id: 'usage-tasks', text: t('admin.usageTasksText', { tasks: tk.tasks, done: tk.done, rate: Math.round((tk.completion_rate || 0) * 100), overdue: tk.overdue }) }),
        tr(h('dt'), 'admin.usageFiles'),
        h('dd', { id: 'usage-files', text: t('admin.usageFilesText', { files: fl.files, versions: fl.versions, size: formatBytes(fl.bytes || 0) }) }));
    } catch (e) {
      showError(usage.error, e);
    }
  }
  usage.days.addEventListener('change', loadUsage);

  // The audit log (POST /api/audit, admins only): the newest entries, and
  // a check of the stored chain that names what is missing or altered.
  const audit = {
    list: h('ul', { id: 'audit-list', class: 'rows audit-list', role: 'list' }),
    verify: tr(h('button', { id: 'audit-verify', type: 'button', class: 'secondary' }), 'admin.auditVerify'),
    result: h('div', { id: 'audit-result', hidden: true }),
    note: h('p', { class: 'muted' }),
    error: h('p', { class: 'error', hidden: true }),
  };
  function auditCard() {
    return h('section', { id: 'admin-audit', class: 'card' },
      h('header', { class: 'card-head' }, tr(h('h3'), 'admin.audit'), h('div', { class: 'card-tools' }, audit.verify)),
      audit.error, audit.result, audit.note, audit.list);
  }
  const AUDIT_SHOWN = 50;
  async function loadAudit() {
    const card = document.getElementById('admin-audit');
    if (card) card.hidden = !isAdmin();
    if (!isAdmin()) return;
    try {
      const a = await post('/api/audit', { action: 'list' });
      audit.error.hidden = true;
      const entries = (a.entries || []).slice(-AUDIT_SHOWN).reverse();
      clear(audit.list);
      audit.note.textContent = t('admin.auditNote', { days: a.retention_days, count: (a.entries || []).length });
      for (const e of entries) {
        audit.list.append(h('li', { class: 'audit-row', dataset: { action: e.action, record: e.record } },
          h('span', { class: 'audit-time muted', text: formatTime(e.time * 1000) }),
          h('span', { class: 'audit-actor', text: e.actor?.name || e.actor?.key?.slice(0, 8) }),
          h('code', { class: 'audit-action', text: e.action }),
          h('span', { class: 'audit-target', text: [e.target, e.detail].filter(Boolean).join(' · ') })));
      }
      if (!entries.length) audit.list.append(tr(h('li', { class: 'muted' }), 'admin.auditEmpty'));
    } catch (e) {
      showError(audit.error, e);
    }
  }
  audit.verify.addEventListener('click', async () => {
    try {
      const v = await post('/api/audit', { action: 'verify' });
      clear(audit.result);
      audit.result.hidden = false;
      audit.result.dataset.ok = String(v.ok);
      audit.result.className = v.ok ? 'ok-note' : 'error';
      audit.result.append(h('p', { text: v.ok ? t('admin.auditOk', { entries: v.entries }) : t('admin.auditBad', { count: v.problems.length }) }));
      for (const p of v.problems || []) audit.result.append(h('p', { class: 'audit-problem', text: p.message }));
    } catch (e) {
      showError(audit.error, e);
    }
  });

  // Health.
  const nodeStatus = h('dl', { id: 'node-status', class: 'facts' });
  const statusError = h('p', { class: 'error', hidden: true });
  const refreshed = h('span', { id: 'health-refreshed', class: 'muted' });
  const peerCount = h('span', { id: 'peer-count', class: 'muted' });
  const peerList = h('ul', { id: 'peer-list', class: 'rows peer-list', role: 'list' });
  const peerError = h('p', { class: 'error', hidden: true });
  const healthPanel = h('div', { id: 'admin-health', class: 'panel', role: 'tabpanel', dataset: { panel: 'health' } },
    h('section', { class: 'card' }, h('header', { class: 'card-head' }, tr(h('h3'), 'admin.node'), refreshed), statusError, nodeStatus),
    h('section', { class: 'card' }, h('header', { class: 'card-head' }, tr(h('h3'), 'admin.peers'), peerCount), peerError, peerList),
    auditCard(),
    usageCard());

  // The revoke dialog.
  const dlg = {
    what: h('p', { id: 'revoke-what', class: 'revoke-what' }),
    self: tr(h('p', { class: 'warn', hidden: true }), 'admin.revokeThisDevice'),
    reason: h('textarea', { id: 'revoke-reason', rows: '3', maxlength: String(REASON_BYTES_MAX) }),
    error: h('p', { class: 'error', hidden: true }),
    cancel: tr(h('button', { id: 'revoke-cancel', type: 'button', class: 'secondary' }), 'common.cancel'),
    confirm: tr(h('button', { id: 'revoke-confirm', type: 'button', class: 'danger' }), 'admin.revokeConfirm'),
  };
  const dialog = h('dialog', { id: 'revoke-dialog', class: 'dialog', 'aria-labelledby': 'revoke-title' },
    tr(h('h3', { id: 'revoke-title' }), 'admin.revokeTitle'),
    dlg.what,
    tr(h('p', { class: 'muted' }), 'admin.revokeWarn'),
    dlg.self,
    field('admin.reason', dlg.reason, 'wide'),
    dlg.error,
    h('div', { class: 'dialog-tools' }, dlg.cancel, dlg.confirm));

  const view = h('div', { class: 'admin' }, tabBar, h('div', { class: 'admin-body' }, certsPanel, devicesPanel, healthPanel), dialog);
  root.append(view);

  function fillOptions(select, values, label, selected) {
    const before = selected ?? select.value;
    clear(select);
    for (const v of values) select.append(h('option', { value: v, text: label(v) }));
    select.value = values.includes(before) ? before : values[0];
  }

  function fillIssueForm() {
    const roles = ISSUE_ROLES[me().role] || [];
    // The first time, a member; then whatever was picked.
    fillOptions(f.role, ['', ...roles], (r) => (r ? roleName(r) : t('admin.roleFromInvite')), f.role.options.length ? f.role.value : 'member');
    fillOptions(f.unit, VALID_UNITS, (u) => t('admin.unit.' + u));
    if (me().role === 'dept-head' && !f.dept.value) f.dept.value = me().dept || '';
    clear(f.depts);
    const known = new Set();
    for (const c of certs || []) {
      const parts = (c.dept || '').split('/').filter(Boolean);
      for (let i = 1; i <= parts.length; i += 1) known.add(parts.slice(0, i).join('/'));
    }
    const scope = me().role === 'dept-head' ? me().dept || '' : '';
    for (const d of [...known].sort()) {
      if (!scope || d === scope || d.startsWith(scope + '/')) f.depts.append(h('option', { value: d }));
    }
  }

  function renderRights() {
    const can = canIssue();
    issueCard.hidden = !can;
    noRights.hidden = can || !status;
    view.dataset.role = me().role || '';
    if (can) fillIssueForm();
  }

  // The certificates list.
  function certMatches(c) {
    const state = certState.value;
    if (state !== 'all' && stateOf(c) !== state) return false;
    const q = certFilter.value.trim().toLocaleLowerCase();
    if (!q) return true;
    return [c.name, c.dept, c.serial, c.id, c.position, c.email, c.subject].some((v) => (v || '').toLocaleLowerCase().includes(q));
  }

  /** A row's Revoke button: `kind` is `cert` or `device`; `result` shows the revocation made. */
  function revokeButton(kind, row, result) {
    const b = tr(h('button', { type: 'button', class: 'link danger-link row-revoke' }), 'admin.revoke');
    b.addEventListener('click', () => askRevoke(kind, row, result));
    return b;
  }

  function renderCerts() {
    clear(certList);
    if (!certs) return;
    const shown = certs.filter(certMatches);
    certCount.textContent = shown.length === 1 ? t('admin.count1') : t('admin.count', { n: shown.length });
    certList.append(h('li', { class: 'row-head cert-row', 'aria-hidden': 'true' },
      ...['name', 'role', 'dept', 'level', 'serial', 'status', 'actions'].map((k) => tr(h('span'), 'admin.col.' + k))));
    if (!shown.length) {
      certList.append(h('li', { class: 'empty' }, tr(h('span'), 'admin.noCerts')));
      return;
    }
    for (const c of shown) {
      const state = stateOf(c);
      const actions = h('span', { class: 'row-actions' });
      if (state === 'active' && canRevoke(c.issuer)) actions.append(revokeButton('cert', c, revokeResult));
      certList.append(h('li', { class: 'cert-row state-' + state, dataset: { serial: c.serial, id: c.id, state, member: c.subject } },
        h('span', { class: 'row-name' }, h('span', { class: 'cert-name', text: c.name }), c.position ? h('span', { class: 'muted', text: c.position }) : null),
        h('span', { class: 'cell-role' }, h('span', { class: 'chip person-role role-' + c.role, text: roleName(c.role) })),
        h('span', { class: 'cert-dept', text: deptName(c.dept) }),
        h('span', { class: 'cert-level' }, h('span', { class: 'level-number', text: String(c.level) }),
          h('span', { class: 'level-words', text: t('directory.level', { n: c.level }) })),
        h('code', { class: 'cert-serial', title: c.serial, text: c.serial.slice(0, SERIAL_SHOWN) }),
        h('span', { class: 'cell-status' }, statusChip(c)),
        actions));
    }
  }

  // The devices lists: device certificates, and relays (nodes with a role certificate of their own).
  function deviceRows() {
    const rows = (devices || []).map((d) => ({
      kind: 'device', id: d.id, serial: d.serial, name: d.name, peer: d.device, member: d.member,
      memberName: d.member_name, dept: d.dept, this: d.this_device, status: d.status, not_after: d.not_after,
      issuer: d.member,
    }));
    for (const c of certs || []) {
      if (c.role !== 'relay') continue;
      rows.push({ kind: 'relay', id: c.id, serial: c.serial, name: c.name, peer: null, member: c.subject,
        memberName: null, dept: c.dept, this: status && c.subject === status.member, status: c.status, not_after: c.not_after, issuer: c.issuer });
    }
    return rows;
  }

  function deviceRow(d, withMember) {
    const state = stateOf(d);
    const on = d.this || (d.peer && connected().has(d.peer));
    const dot = h('span', { class: 'dot' + (on ? ' on' : '') });
    trTitle(dot, on ? 'directory.connected' : 'directory.notConnected');
    const name = h('span', { class: 'row-name' }, h('span', { class: 'device-name' }, dot, h('span', { text: d.name || d.serial })));
    if (d.this) name.firstChild.append(tr(h('span', { class: 'tag' }), 'admin.thisDevice'));
    if (d.kind === 'relay') name.firstChild.append(tr(h('span', { class: 'tag' }), 'admin.relayNode'));
    const who = withMember
      ? h('span', { class: 'device-member' }, h('span', { text: d.memberName || (d.member || '').slice(0, SERIAL_SHOWN) }),
        d.dept != null ? h('span', { class: 'muted', text: deptName(d.dept) }) : null)
      : h('span', { class: 'device-member' });
    const actions = h('span', { class: 'row-actions' });
    if (state === 'active' && canRevoke(d.issuer)) actions.append(revokeButton(d.kind === 'relay' ? 'cert' : 'device', d, deviceRevokeResult));
    return h('li', { class: 'device-row state-' + state, dataset: { serial: d.serial, id: d.id, device: d.peer || '', member: d.member || '', state } },
      name, who,
      h('code', { class: 'device-peer', title: d.peer || '', text: d.peer ? d.peer.slice(-PEER_SHOWN) : '' }),
      h('span', { class: 'cell-status' }, statusChip(d)),
      actions);
  }

  function renderDevices() {
    clear(myDevices);
    clear(orgDevices);
    if (!devices || !status) return;
    const rows = deviceRows();
    const mine = rows.filter((d) => d.member === status.member && d.kind === 'device' && stateOf(d) === 'active');
    if (!mine.length) myDevices.append(h('li', { class: 'empty' }, tr(h('span'), 'admin.noDevices')));
    for (const d of mine) myDevices.append(deviceRow(d, false));
    const all = deviceState.value === 'all';
    const org = rows.filter((d) => all || stateOf(d) === 'active')
      .sort((a, b) => (a.memberName || a.name || '').localeCompare(b.memberName || b.name || '', locale()));
    if (!org.length) orgDevices.append(h('li', { class: 'empty' }, tr(h('span'), 'admin.noDevices')));
    for (const d of org) orgDevices.append(deviceRow(d, true));
  }

  // Health.
  function fact(key, ...values) {
    return [tr(h('dt'), key), h('dd', null, ...values)];
  }

  function renderHealth() {
    clear(nodeStatus);
    if (!status) return;
    const s = status;
    const role = s.role;
    const docs = s.docs || [];
    const pending = docs.reduce((n, d) => n + (Number(d.pending) || 0), 0);
    const invalid = docs.reduce((n, d) => n + (Number(d.invalid) || 0), 0);
    const started = Number(s.started) || 0;
    const listen = h('ul', { id: 'node-listen', class: 'plain' });
    for (const a of s.listen || []) listen.append(h('li', null, h('code', { text: a })));
    nodeStatus.append(
      ...fact('admin.org', h('span', { id: 'node-org', text: (s.org && s.org.name) || '' }), ' ', h('code', { class: 'muted', text: s.org ? s.org.id : '' })),
      ...fact('admin.member', h('span', { text: role ? role.name : '' }), ' ', h('code', { id: 'node-member', class: 'muted', title: s.member, text: (s.member || '').slice(0, 16) })),
      ...fact('admin.yourRole', h('span', { id: 'node-role', text: role ? [roleName(role.role), deptName(role.dept)].join(' · ') : t('admin.noRole') }),
        role ? h('span', { class: 'muted', text: ' · ' + t('admin.validUntil', { date: formatDate(role.until) }) }) : null),
      ...fact('admin.device', h('code', { id: 'node-peer', class: 'wrap', text: s.peer_id || '' })),
      ...fact('admin.uptime', h('span', { id: 'node-uptime', text: started ? formatDuration(Date.now() / 1000 - started) : '' }),
        started ? h('span', { class: 'muted', text: ' · ' + t('admin.startedAt', { time: formatTime(started) }) }) : null),
      ...fact('admin.store', h('span', { text: t('admin.storeSize', { size: formatBytes(s.store_bytes), n: s.envelopes }) }),
        h('br'), h('code', { class: 'muted wrap', text: s.store || '' })),
      ...fact('admin.docs', h('span', { text: t('admin.docsState', { n: docs.length, pending, invalid }) })),
      ...fact('admin.listen', listen),
    );
    refreshed.textContent = t('admin.refreshed', { time: new Date().toLocaleTimeString(locale()) });
  }

  function renderPeers() {
    clear(peerList);
    if (!peers) return;
    peerCount.textContent = String(peers.length);
    if (!peers.length) {
      peerList.append(h('li', { class: 'empty' }, tr(h('span'), 'admin.noPeers')));
      return;
    }
    const syncs = new Map(((status && status.syncs) || []).map((s) => [s.peer_id, s]));
    for (const p of [...peers].sort((a, b) => (a.name || '').localeCompare(b.name || '', locale()))) {
      const sync = syncs.get(p.peer_id);
      const name = h('span', { class: 'row-name' },
        h('span', { class: 'device-name' }, h('span', { class: 'dot on' }), h('span', { class: 'peer-name', text: p.name || t('admin.notAdmitted') })));
      const addrs = h('span', { class: 'peer-addrs' });
      for (const a of p.addrs || []) addrs.append(h('code', { text: a }));
      const synced = sync
        ? tr(h('span', { class: 'muted peer-sync' }), 'admin.lastSync', {
          time: formatTime(Math.floor(sync.ended / 1000)),
          sent: formatBytes(sync.bytes_sent),
          received: formatBytes(sync.bytes_received),
        })
        : h('span');
      peerList.append(h('li', { class: 'peer-row', dataset: { peer: p.peer_id } },
        name,
        h('span', null, p.role ? h('span', { class: 'chip person-role role-' + p.role, text: roleName(p.role) }) : null),
        h('code', { class: 'device-peer', title: p.peer_id, text: p.peer_id.slice(-PEER_SHOWN) }),
        addrs,
        synced));
    }
  }

  // Loading.
  async function loadStatus() {
    try {
      status = await get('/api/status');
      showError(statusError, null);
    } catch (e) {
      showError(statusError, e);
      return;
    }
    if (destroyed) return;
    renderRights();
    renderHealth();
  }

  let peersShown = null;
  async function loadPeers() {
    let next;
    try {
      next = await get('/api/peers');
      showError(peerError, null);
    } catch (e) {
      showError(peerError, e);
      return;
    }
    if (destroyed) return;
    peers = next;
    // Polled: the lists are drawn again only when something changed.
    const sig = JSON.stringify([next, status && status.syncs]);
    if (sig === peersShown) return;
    peersShown = sig;
    renderPeers();
    renderDevices();
  }

  async function loadCerts() {
    const [c, d] = await Promise.allSettled([
      post('/api/certs/list', { all: true }),
      post('/api/certs/list', { all: true, devices: true }),
    ]);
    if (destroyed) return;
    if (c.status === 'fulfilled') {
      certs = Array.isArray(c.value.json) ? c.value.json : [];
      showError(certError, null);
    } else {
      showError(certError, c.reason);
    }
    if (d.status === 'fulfilled') {
      devices = Array.isArray(d.value.json) ? d.value.json : [];
      showError(deviceError, null);
    } else {
      showError(deviceError, d.reason);
    }
    view.dataset.loaded = 'true';
    renderRights();
    renderCerts();
    renderDevices();
  }

  async function loadHealth() {
    await loadStatus();
    await loadPeers();
  }

  async function reloadAll() {
    await loadStatus();
    await Promise.all([loadCerts(), loadPeers()]);
  }
  const reloadSoon = debounce(reloadAll, RELOAD_SOON_MS);

  // Issuing.
  issueForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    const request = req.text.value.trim();
    if (!request) {
      showError(f.error, new Error(t('admin.requestRequired')));
      req.text.focus();
      return;
    }
    const level = Number(f.level.value || '0');
    const valid = Number(f.valid.value || '0');
    if (!Number.isInteger(level) || level < 0 || level > 65535) {
      showError(f.error, new Error(t('admin.levelInvalid')));
      f.level.focus();
      return;
    }
    if (!Number.isInteger(valid) || valid < 1) {
      showError(f.error, new Error(t('admin.validInvalid')));
      f.valid.focus();
      return;
    }
    const body = {
      request,
      source: req.source() || t('admin.pastedRequest'),
      role: f.role.value || null,
      dept: f.dept.value.trim(),
      position: f.position.value.trim(),
      level,
      email: f.email.value.trim(),
      name: f.name.value.trim() || null,
      resources: splitList(f.resources.value),
      valid: `${valid}${f.unit.value}`,
      as_root: false,
    };
    f.submit.disabled = true;
    issued.hide();
    try {
      const made = await post('/api/certs/issue', body);
      showError(f.error, null);
      const who = (made.json && made.json.name) || '';
      issued.show(made, 'admin.issued', { name: who }, fileName(who, '.cert'));
      req.text.value = '';
      f.name.value = '';
      loadCerts();
    } catch (err) {
      showError(f.error, err);
    } finally {
      f.submit.disabled = false;
    }
  });

  // Installing and verifying.
  installBtn.addEventListener('click', async () => {
    const bundle = inst.text.value.trim();
    installResult.hidden = true;
    if (!bundle) {
      showError(installError, new Error(t('admin.bundleRequired')));
      return;
    }
    installBtn.disabled = true;
    try {
      const report = await post('/api/certs/install', { bundle, source: inst.source() || t('admin.pastedText') });
      showError(installError, null);
      clear(installResult);
      installResult.append(tr(h('strong'), 'admin.installed'), h('pre', { text: report.text || '' }));
      installResult.hidden = false;
      inst.text.value = '';
      reloadAll();
    } catch (e) {
      showError(installError, e);
    } finally {
      installBtn.disabled = false;
    }
  });

  verifyBtn.addEventListener('click', async () => {
    const bundle = ver.text.value.trim();
    verifyResult.hidden = true;
    if (!bundle) {
      showError(verifyError, new Error(t('admin.bundleRequired')));
      return;
    }
    verifyBtn.disabled = true;
    try {
      const v = await post('/api/certs/verify', { bundle, source: ver.source() || t('admin.pastedText'), at: null });
      showError(verifyError, null);
      clear(verifyResult);
      verifyResult.className = 'result ' + (v.valid ? 'ok' : 'bad');
      verifyResult.dataset.valid = String(!!v.valid);
      verifyResult.append(tr(h('strong'), v.valid ? 'admin.verified' : 'admin.notVerified'),
        h('pre', { text: (v.valid ? v.report && v.report.text : v.message) || '' }));
      verifyResult.hidden = false;
    } catch (e) {
      showError(verifyError, e);
    } finally {
      verifyBtn.disabled = false;
    }
  });

  // Revoking.
  function askRevoke(kind, row, result) {
    revoking = { kind, row, result };
    const what = kind === 'device'
      ? t('admin.revokeDevice', { name: row.name || row.serial, member: row.memberName || (row.member || '').slice(0, SERIAL_SHOWN), serial: row.serial })
      : t('admin.revokeCert', { name: row.name, role: roleName(row.role || 'relay'), dept: deptName(row.dept), serial: row.serial });
    dlg.what.textContent = what;
    dlg.self.hidden = !(row.this || row.this_device || (status && row.subject === status.member));
    dlg.reason.value = '';
    showError(dlg.error, null);
    dlg.confirm.disabled = false;
    dialog.showModal();
    dlg.reason.focus();
  }

  dlg.cancel.addEventListener('click', () => dialog.close());
  dlg.reason.addEventListener('input', () => showError(dlg.error, null));
  dialog.addEventListener('close', () => {
    revoking = null;
  });
  dlg.confirm.addEventListener('click', async () => {
    if (!revoking) return;
    const reason = dlg.reason.value.trim();
    if (!reason) {
      showError(dlg.error, new Error(t('admin.reasonRequired')));
      dlg.reason.focus();
      return;
    }
    if (new TextEncoder().encode(reason).length > REASON_BYTES_MAX) {
      showError(dlg.error, new Error(t('admin.reasonTooLong')));
      return;
    }
    const { row, result } = revoking;
    dlg.confirm.disabled = true;
    try {
      const made = await post('/api/certs/revoke', { serial: row.id, reason, as_root: false });
      dialog.close();
      result.show(made, 'admin.revokedNotice', { name: row.name || row.serial }, fileName(`revoked-${row.name || row.serial}`, '.revocation'));
      await loadCerts();
    } catch (e) {
      showError(dlg.error, e);
    } finally {
      dlg.confirm.disabled = false;
    }
  });

  // Filters.
  fillOptions(certState, STATES, (s) => t('admin.state.' + s), 'active');
  fillOptions(deviceState, ['active', 'all'], (s) => t('admin.state.' + s), 'active');
  fillOptions(f.unit, VALID_UNITS, (u) => t('admin.unit.' + u), 'd');
  certState.addEventListener('change', renderCerts);
  const certsSoon = debounce(renderCerts, 150);
  certFilter.addEventListener('input', certsSoon);
  deviceState.addEventListener('change', renderDevices);

  function showTab(name) {
    tab = TABS.includes(name) ? name : 'certs';
    for (const [n, b] of Object.entries(tabButtons)) {
      b.classList.toggle('active', n === tab);
      b.setAttribute('aria-selected', String(n === tab));
    }
    certsPanel.hidden = tab !== 'certs';
    devicesPanel.hidden = tab !== 'devices';
    healthPanel.hidden = tab !== 'health';
    view.dataset.tab = tab;
    if (tab === 'health') {
      loadHealth();
      loadUsage();
      loadAudit();
    }
  }

  // Health is followed live; devices' connected dots too.
  const timer = setInterval(() => {
    if (tab === 'health') loadHealth();
    else if (tab === 'devices') loadPeers();
  }, HEALTH_EVERY_MS);
  const offs = [
    onEvent('certs', reloadSoon),
    onEvent('synced', () => {
      if (tab === 'health') loadHealth();
    }),
    onEventsConnection((on) => {
      if (on) reloadSoon();
    }),
  ];
  reloadAll();

  return {
    open(param) {
      showTab(param);
    },
    relabel() {
      fillOptions(certState, STATES, (s) => t('admin.state.' + s));
      fillOptions(deviceState, ['active', 'all'], (s) => t('admin.state.' + s));
      fillOptions(f.unit, VALID_UNITS, (u) => t('admin.unit.' + u));
      renderRights();
      renderCerts();
      renderDevices();
      renderHealth();
      renderPeers();
    },
    unmount() {
      destroyed = true;
      clearInterval(timer);
      reloadSoon.cancel();
      certsSoon.cancel();
      issued.drop();
      revokeResult.drop();
      deviceRevokeResult.drop();
      for (const off of offs) off();
      if (dialog.open) dialog.close();
      view.remove();
    },
  };
}
