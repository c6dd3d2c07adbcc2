// The directory screen: the org's people, from the role certificates this
// node knows (POST /api/certs/list), with the departments of their
// certificates as a tree. A department picked in the tree, a role, a level
// and a name narrow the list; "Message" opens a direct chat
// (POST /api/channels/direct). Whose devices are connected to this node
// comes from the device certificates and GET /api/peers.
// Addresses look like #/directory and #/directory/<department path>.

import { get, post, h, clear, onEvent, onEventsConnection, debounce } from './api.js';
import { t, tr, trPlaceholder, trTitle, locale, showError } from './i18n.js';

const ROLES = ['admin', 'dept-head', 'member', 'guest'];
/** Tree levels shown open until someone folds them. */
const OPEN_DEPTH = 3;
const PEERS_EVERY_MS = 10_000;
const RELOAD_SOON_MS = 300;
/** The part of a member key the list shows. */
const KEY_PREFIX = 8;

/** A role's name in the page's language. */
export function roleName(role) {
  if (!role) return '';
  const key = 'role.' + role;
  return t(key) === key ? role : t(key);
}

/** A department path for people: the root is the whole org. */
export function deptName(dept) {
  return dept ? dept : t('directory.wholeOrg');
}

/** Is department `dept` `within` (or equal to) another? */
function isWithin(dept, within) {
  if (!within) return true;
  return dept === within || dept.startsWith(within + '/');
}

/** The people in `certs` (a `cert list` answer): one per member, by their latest certificate; relays are nodes, not people. */
export function peopleOf(certs) {
  const byMember = new Map();
  for (const c of certs) {
    if (!c.subject || c.role === 'relay') continue;
    const before = byMember.get(c.subject);
    if (!before || c.not_before > before.not_before || (c.not_before === before.not_before && c.id > before.id)) {
      byMember.set(c.subject, c);
    }
  }
  return [...byMember.values()];
}

/** The department tree of `people`: {name, path, count, children: Map}. */
function treeOf(people) {
  const root = { name: '', path: '', count: 0, children: new Map() };
  for (const p of people) {
    let node = root;
    node.count += 1;
    for (const part of p.dept ? p.dept.split('/') : []) {
      const path = node.path ? node.path + '/' + part : part;
      if (!node.children.has(part)) node.children.set(part, { name: part, path, count: 0, children: new Map() });
      node = node.children.get(part);
      node.count += 1;
    }
  }
  return root;
}

function initials(name) {
  const s = (name || '?').trim();
  return (s.codePointAt(0) ? String.fromCodePoint(s.codePointAt(0)) : '?').toUpperCase();
}

export function mount(root, ctx) {
  let me = null;
  let people = [];
  let online = new Set(); // member keys with a device connected to this node
  let deviceOwners = new Map(); // peer id -> member key
  let dept = null; // the department picked in the tree; null: the whole org
  const folded = new Set(); // department paths folded by hand
  const unfolded = new Set(); // deeper department paths opened by hand
  let loaded = false;
  let destroyed = false;

  // The tree pane: search, role and level, the departments.
  const search = trPlaceholder(h('input', { id: 'directory-search', type: 'search', class: 'search', autocomplete: 'off' }), 'directory.search');
  const roleSelect = h('select', { id: 'directory-role' });
  const levelSelect = h('select', { id: 'directory-level' });
  trTitle(roleSelect, 'directory.filterRole');
  trTitle(levelSelect, 'directory.filterLevel');
  const treeTitle = tr(h('h2', { class: 'pane-title' }), 'directory.title');
  const tree = h('ul', { id: 'org-tree', class: 'tree', role: 'tree' });
  trTitle(tree, 'directory.title');
  const listError = h('p', { class: 'error', hidden: true });
  const treePane = h('section', { class: 'list-pane' },
    h('div', { class: 'pane-tools' }, search, h('div', { class: 'inline-form filters' }, roleSelect, levelSelect)),
    treeTitle, listError, tree);

  // The people pane.
  const title = h('h2', { id: 'directory-title', class: 'detail-title' });
  const sub = h('span', { id: 'directory-count', class: 'detail-sub' });
  const clearBtn = tr(h('button', { id: 'directory-clear', type: 'button', class: 'link', hidden: true }), 'directory.clearFilters');
  const head = h('header', { class: 'detail-head' }, h('div', { class: 'detail-heading' }, title, sub), h('div', { class: 'detail-tools' }, clearBtn));
  const peopleError = h('p', { class: 'error', hidden: true });
  const list = h('ul', { id: 'people', class: 'people', role: 'list' });
  const detail = h('section', { class: 'detail-pane' }, head, peopleError, h('div', { class: 'people-wrap' }, list));
  const view = h('div', { class: 'split directory', dataset: { open: 'true' } }, treePane, detail);
  root.append(view);

  function fillSelects() {
    const role = roleSelect.value;
    const level = levelSelect.value;
    clear(roleSelect);
    roleSelect.append(h('option', { value: '', text: t('directory.anyRole') }));
    const roles = new Set(people.map((p) => p.role));
    for (const r of ROLES.filter((x) => roles.has(x))) roleSelect.append(h('option', { value: r, text: roleName(r) }));
    clear(levelSelect);
    levelSelect.append(h('option', { value: '', text: t('directory.anyLevel') }));
    const levels = [...new Set(people.map((p) => p.level))].sort((a, b) => a - b);
    for (const l of levels) levelSelect.append(h('option', { value: String(l), text: t('directory.level', { n: l }) }));
    roleSelect.value = [...roleSelect.options].some((o) => o.value === role) ? role : '';
    levelSelect.value = [...levelSelect.options].some((o) => o.value === level) ? level : '';
  }

  function isOpen(node, depth) {
    if (folded.has(node.path)) return false;
    if (dept !== null && isWithin(dept, node.path) && dept !== node.path) return true;
    return depth < OPEN_DEPTH || unfolded.has(node.path);
  }

  // One department and, when open, the ones under it. Paths are at most
  // 16 levels deep (node/src/certs.rs), so the recursion is bounded.
  function renderNode(node, depth) {
    const children = [...node.children.values()].sort((a, b) => a.name.localeCompare(b.name, locale()));
    const open = children.length > 0 && isOpen(node, depth);
    const active = (dept ?? '') === node.path;
    const item = h('li', { class: 'tree-node', role: 'treeitem', dataset: { dept: node.path } });
    if (children.length) item.setAttribute('aria-expanded', String(open));
    if (active) item.setAttribute('aria-selected', 'true');
    const toggle = h('button', { type: 'button', class: 'tree-toggle', tabindex: '-1' });
    if (children.length) {
      toggle.textContent = open ? '▾' : '▸';
      trTitle(toggle, open ? 'directory.collapse' : 'directory.expand');
      toggle.addEventListener('click', () => {
        if (open) {
          folded.add(node.path);
          unfolded.delete(node.path);
        } else {
          folded.delete(node.path);
          unfolded.add(node.path);
        }
        renderTree();
      });
    } else {
      toggle.disabled = true;
      toggle.setAttribute('aria-hidden', 'true');
    }
    const label = h('button', {
      type: 'button',
      class: 'tree-label' + (active ? ' active' : ''),
      dataset: { dept: node.path },
    }, h('span', { class: 'tree-name', text: node.path ? node.name : t('directory.wholeOrg') }),
    h('span', { class: 'tree-count', text: String(node.count) }));
    label.addEventListener('click', () => ctx.navigate(node.path || null));
    const row = h('div', { class: 'tree-row' }, toggle, label);
    row.style.setProperty('--depth', String(depth));
    item.append(row);
    if (open) {
      const group = h('ul', { role: 'group' });
      for (const c of children) group.append(renderNode(c, depth + 1));
      item.append(group);
    }
    return item;
  }

  function renderTree() {
    clear(tree);
    if (!loaded) return;
    tree.append(renderNode(treeOf(people), 0));
  }

  function matches(p) {
    const q = search.value.trim().toLocaleLowerCase();
    return isWithin(p.dept || '', dept)
      && (!roleSelect.value || p.role === roleSelect.value)
      && (!levelSelect.value || String(p.level) === levelSelect.value)
      && (!q || (p.name || '').toLocaleLowerCase().includes(q));
  }

  function renderPerson(p) {
    const mine = me && p.subject === me.member;
    const on = online.has(p.subject) || mine;
    const name = h('span', { class: 'person-name', text: p.name || p.subject.slice(0, KEY_PREFIX) });
    const dot = h('span', { class: 'dot' + (on ? ' on' : '') });
    trTitle(dot, on ? 'directory.connected' : 'directory.notConnected');
    const nameLine = h('div', { class: 'person-line' }, dot, name);
    if (mine) nameLine.append(tr(h('span', { class: 'tag' }), 'directory.you'));
    const subLine = h('div', { class: 'person-sub' },
      p.position ? h('span', { class: 'person-position', text: p.position }) : null,
      h('span', { class: 'person-dept', text: deptName(p.dept) }));
    const meta = h('div', { class: 'person-meta' },
      h('span', { class: 'chip person-role role-' + p.role, text: roleName(p.role) }),
      tr(h('span', { class: 'chip person-level' }), 'directory.level', { n: p.level }),
      h('code', { class: 'person-key', title: p.subject, text: p.subject.slice(0, KEY_PREFIX) }));
    const item = h('li', { class: 'person', dataset: { member: p.subject, dept: p.dept || '', role: p.role, level: String(p.level) } },
      h('span', { class: 'avatar', 'aria-hidden': 'true', text: initials(p.name) }),
      h('div', { class: 'person-main' }, nameLine, subLine),
      meta);
    if (p.email) item.querySelector('.person-sub').append(h('a', { class: 'person-email', href: 'mailto:' + p.email, text: p.email }));
    if (!mine) {
      const message = tr(h('button', { type: 'button', class: 'secondary person-message' }), 'directory.message');
      message.addEventListener('click', () => openDirect(p, message));
      item.append(message);
    } else {
      // Keeps the rows' columns aligned; nothing to click.
      item.append(tr(h('button', { type: 'button', class: 'secondary person-message-space', tabindex: '-1', 'aria-hidden': 'true', disabled: true }), 'directory.message'));
    }
    return item;
  }

  function renderPeople() {
    clear(list);
    title.textContent = dept === null ? t('directory.wholeOrg') : dept;
    clearBtn.hidden = !(dept !== null || roleSelect.value || levelSelect.value || search.value.trim());
    if (!loaded) {
      list.append(h('li', { class: 'empty' }, tr(h('span'), 'common.loading')));
      sub.textContent = '';
      return;
    }
    const shown = people.filter(matches).sort((a, b) => (a.name || '').localeCompare(b.name || '', locale()));
    sub.textContent = shown.length === 1 ? t('directory.person1') : t('directory.people', { n: shown.length });
    view.dataset.shown = String(shown.length);
    if (!people.length) {
      list.append(h('li', { class: 'empty' }, tr(h('span'), 'directory.noPeople')));
      return;
    }
    if (!shown.length) {
      list.append(h('li', { class: 'empty' }, tr(h('span'), 'directory.none')));
      return;
    }
    for (const p of shown) list.append(renderPerson(p));
  }

  function render() {
    fillSelects();
    renderTree();
    renderPeople();
  }

  async function openDirect(p, button) {
    button.disabled = true;
    try {
      const r = await post('/api/channels/direct', { member: p.subject });
      showError(peopleError, null);
      ctx.go('chats', r.channel);
    } catch (e) {
      showError(peopleError, e);
    } finally {
      button.disabled = false;
    }
  }

  async function loadPeople() {
    let report;
    try {
      report = await post('/api/certs/list', { all: false });
      showError(listError, null);
    } catch (e) {
      showError(listError, e);
      return;
    }
    if (destroyed) return;
    people = peopleOf(Array.isArray(report && report.json) ? report.json : []);
    loaded = true;
    view.dataset.loaded = 'true';
    render();
  }

  // Which members are connected: their devices' peer ids among this node's peers.
  async function loadOnline() {
    try {
      const [devices, peers] = await Promise.all([
        deviceOwners.size ? null : post('/api/certs/list', { all: false, devices: true }),
        get('/api/peers'),
      ]);
      if (devices) deviceOwners = new Map((devices.json || []).map((d) => [d.device, d.member]));
      const next = new Set();
      for (const p of peers || []) {
        const owner = deviceOwners.get(p.peer_id);
        if (owner) next.add(owner);
      }
      const changed = next.size !== online.size || [...next].some((k) => !online.has(k));
      online = next;
      if (changed && !destroyed) renderPeople();
    } catch (_) { /* the dots stay as they were */ }
  }

  function reloadAll() {
    deviceOwners = new Map();
    loadPeople();
    loadOnline();
  }
  const reloadSoon = debounce(reloadAll, RELOAD_SOON_MS);
  const peopleSoon = debounce(renderPeople, 150);

  search.addEventListener('input', peopleSoon);
  search.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') {
      search.value = '';
      renderPeople();
    }
  });
  roleSelect.addEventListener('change', renderPeople);
  levelSelect.addEventListener('change', renderPeople);
  clearBtn.addEventListener('click', () => {
    search.value = '';
    roleSelect.value = '';
    levelSelect.value = '';
    if (dept !== null) ctx.navigate(null);
    else renderPeople();
  });

  ctx.whoAmI().then((m) => {
    me = m;
    if (!destroyed) renderPeople();
  });
  const timer = setInterval(loadOnline, PEERS_EVERY_MS);
  const offs = [
    onEvent('certs', reloadSoon),
    onEvent('synced', () => loadOnline()),
    onEventsConnection((on) => {
      if (on) reloadSoon();
    }),
  ];
  renderPeople();
  reloadAll();

  return {
    open(param) {
      dept = param || null;
      renderTree();
      renderPeople();
    },
    relabel() {
      if (loaded) render();
    },
    unmount() {
      destroyed = true;
      clearInterval(timer);
      reloadSoon.cancel();
      peopleSoon.cancel();
      for (const off of offs) off();
      view.remove();
    },
  };
}
