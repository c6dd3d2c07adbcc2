// The page: layout, status bar, language toggle, reminder notes and the
// router between the chats, documents, files, projects, approvals,
// announcements, meetings, directory and admin screens.
// Addresses look like #/chats/<channel>, #/docs/<id>, #/files/<id>,
// #/projects/<id>, #/approvals/<list>/<request>, #/announcements/<id>,
// #/meetings/<id>, #/directory/<department>, #/admin/<tab>.

import { get, h, onEvent, onEventsConnection, debounce } from './api.js';
import { t, tr, getLang, setLang, onLangChange } from './i18n.js';
import * as chats from './chat.js';
import * as docs from './docs.js';
import * as files from './files.js';
import * as projects from './projects.js';
import * as approvals from './approvals.js';
import * as announcements from './announcements.js';
import * as meetings from './meetings.js';
import * as directory from './directory.js';
import * as admin from './admin.js';
import { startToasts } from './toast.js';

const SCREENS = { chats, docs, files, projects, approvals, announcements, meetings, directory, admin };
const STATUS_EVERY_MS = 5000;

const me = { member: null, name: null, role: null, dept: null };
let statusWaiters = [];

/** This node's member: `{member, name, role, dept}`, once the status answered. */
export function whoAmI() {
  if (me.member) return Promise.resolve(me);
  return new Promise((resolve) => statusWaiters.push(resolve));
}

function layout() {
  const root = document.getElementById('app') || document.body.appendChild(h('div', { id: 'app' }));
  root.textContent = '';
  const peers = h('span', { id: 'peers', class: 'peers', 'data-peers': '0', role: 'status' });
  tr(peers, 'status.loading');
  const member = h('span', { id: 'member', class: 'member' });
  const lang = h('button', { id: 'lang', class: 'lang', type: 'button' });
  const brand = h('div', { class: 'brand' });
  tr(brand, 'app.title');
  const top = h('header', { class: 'topbar' }, brand, h('div', { class: 'status' }, peers, member), lang);
  const nav = h('nav', { class: 'nav', 'aria-label': 'Outpost' });
  for (const name of Object.keys(SCREENS)) {
    const b = h('button', { type: 'button', class: 'nav-item', dataset: { nav: name } });
    tr(b, 'nav.' + name);
    b.addEventListener('click', () => {
      location.hash = '#/' + name;
    });
    nav.append(b);
  }
  const main = h('main', { id: 'screen', class: 'screen' });
  root.append(top, nav, main);
  return { peers, member, lang, nav, main };
}

const ui = layout();

function renderLangButton() {
  ui.lang.textContent = t('lang.toggle');
  ui.lang.title = t('lang.label');
  ui.lang.setAttribute('aria-label', t('lang.label'));
  ui.lang.dataset.lang = getLang();
}

ui.lang.addEventListener('click', () => setLang(getLang() === 'en' ? 'zh' : 'en'));
document.documentElement.lang = getLang() === 'zh' ? 'zh-CN' : 'en';
renderLangButton();

// Status bar.
let lastStatus = null;

function renderStatus() {
  const s = lastStatus;
  if (!s) return;
  if (s.error) {
    ui.peers.dataset.peers = '0';
    ui.peers.classList.add('off');
    tr(ui.peers, 'status.unreachable');
    return;
  }
  const n = Number(s.peers) || 0;
  ui.peers.dataset.peers = String(n);
  ui.peers.classList.toggle('off', n === 0);
  if (n === 0) tr(ui.peers, 'status.offline');
  else if (n === 1) tr(ui.peers, 'status.peer');
  else tr(ui.peers, 'status.peers', { n });
  const role = s.role || {};
  ui.member.textContent = '';
  if (role.name) ui.member.append(h('span', { class: 'member-name', text: role.name }));
  const roleName = role.role ? (t('role.' + role.role) === 'role.' + role.role ? role.role : t('role.' + role.role)) : null;
  const details = [roleName, role.dept && role.dept !== '/' ? role.dept : null].filter(Boolean).join(' · ');
  if (details) ui.member.append(h('span', { class: 'member-role', text: details }));
  if (s.org && s.org.name) ui.member.title = s.org.name;
}

let statusBusy = false;
async function refreshStatus() {
  if (statusBusy) return;
  statusBusy = true;
  try {
    const s = await get('/api/status');
    lastStatus = s;
    me.member = s.member;
    me.name = s.role ? s.role.name : null;
    me.role = s.role ? s.role.role : null;
    me.dept = s.role ? s.role.dept : null;
    const waiting = statusWaiters;
    statusWaiters = [];
    for (const f of waiting) f(me);
  } catch (e) {
    lastStatus = { error: e };
  } finally {
    statusBusy = false;
  }
  renderStatus();
}

refreshStatus();
setInterval(refreshStatus, STATUS_EVERY_MS);
const refreshSoon = debounce(refreshStatus, 100);
onEvent('synced', refreshSoon);
onEventsConnection((on) => {
  if (on) refreshSoon();
});

// Router.
let current = { name: null, screen: null };

function parseHash() {
  const parts = location.hash.replace(/^#\/?/, '').split('/');
  const name = SCREENS[parts[0]] ? parts[0] : 'chats';
  const param = parts.slice(1).map(decodeURIComponent).join('/') || null;
  return { name, param };
}

function navigate(name, param) {
  const hash = '#/' + name + (param ? '/' + encodeURIComponent(param) : '');
  if (location.hash !== hash) location.hash = hash;
}

function route() {
  const { name, param } = parseHash();
  for (const b of ui.nav.querySelectorAll('[data-nav]')) {
    const on = b.dataset.nav === name;
    b.classList.toggle('active', on);
    if (on) {
      b.setAttribute('aria-current', 'page');
      // A phone's nav bar scrolls sideways: keep the current screen's entry in sight.
      b.scrollIntoView({ block: 'nearest', inline: 'nearest' });
    } else {
      b.removeAttribute('aria-current');
    }
  }
  if (current.name === name && current.screen) {
    current.screen.open(param);
    return;
  }
  if (current.screen) current.screen.unmount();
  ui.main.textContent = '';
  ui.main.dataset.screen = name;
  const ctx = { whoAmI, navigate: (p) => navigate(name, p), go: navigate };
  current = { name, screen: SCREENS[name].mount(ui.main, ctx) };
  current.screen.open(param);
}

startToasts(document.getElementById('app'), navigate);
window.addEventListener('hashchange', route);
onLangChange(() => {
  renderLangButton();
  renderStatus();
  if (current.screen && current.screen.relabel) current.screen.relabel();
});
route();
