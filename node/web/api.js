// Talking to the node: JSON over fetch, server-sent events, the live
// editing WebSocket. The page is served by the node itself, so requests
// are same-origin and carry the session cookie; the token never reaches
// this code.

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message || code || `HTTP ${status}`);
    this.status = status;
    this.code = code;
  }
}

/** Calls `path` with an optional JSON body; the parsed answer, or throws ApiError. */
export async function request(path, { method, body, signal } = {}) {
  const opts = { method: method || (body === undefined ? 'GET' : 'POST'), headers: {}, signal };
  if (body !== undefined) {
    opts.headers['Content-Type'] = 'application/json';
    opts.body = JSON.stringify(body);
  }
  opts.headers.Accept = 'application/json';
  let res;
  try {
    res = await fetch(path, opts);
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(0, 'network', e.message || 'the node cannot be reached');
  }
  const text = await res.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch (_) {
      data = null;
    }
  }
  if (!res.ok) {
    const err = data && data.error;
    throw new ApiError(res.status, err ? err.code : 'http', err ? err.message : (text || `HTTP ${res.status}`).trim());
  }
  return data;
}

export const get = (path, opts) => request(path, opts);
export const post = (path, body, opts) => request(path, { ...opts, method: 'POST', body: body ?? {} });

/** One chat action (`POST /api/chat`). */
export function chat(action, fields = {}) {
  return post('/api/chat', { action, ...fields });
}

/** One library action (`POST /api/library`). */
export function library(action, fields = {}) {
  return post('/api/library', { action, ...fields });
}

/** One project or task action (`POST /api/tasks`). */
export function tasks(action, fields = {}) {
  return post('/api/tasks', { action, ...fields });
}

/** One approval action (`POST /api/approvals`). */
export function approvals(action, fields = {}) {
  return post('/api/approvals', { action, ...fields });
}

/** One announcement action (`POST /api/announcements`). */
export function announcements(action, fields = {}) {
  return post('/api/announcements', { action, ...fields });
}

/** One meeting action (`POST /api/meetings`). */
export function meetings(action, fields = {}) {
  return post('/api/meetings', { action, ...fields });
}

export const enc = encodeURIComponent;

// Server-sent events: one EventSource for the page, shared by every screen.
const EVENT_NAMES = ['stored', 'changed', 'presence', 'notification', 'reminder', 'certs', 'synced', 'lagged'];
const handlers = new Map();
let source = null;
let connected = false;
const connectionListeners = new Set();

function ensureEvents() {
  if (source) return;
  source = new EventSource('/api/events');
  for (const name of EVENT_NAMES) {
    source.addEventListener(name, (ev) => {
      let data = null;
      try {
        data = JSON.parse(ev.data);
      } catch (_) {
        data = null;
      }
      for (const f of handlers.get(name) || []) {
        try {
          f(data);
        } catch (e) {
          console.error(e);
        }
      }
    });
  }
  source.addEventListener('open', () => setConnected(true));
  source.addEventListener('error', () => setConnected(false));
}

function setConnected(on) {
  if (on === connected) return;
  connected = on;
  for (const f of connectionListeners) f(on);
}

/** Calls `f(data)` on every server-sent event `name`; returns an unsubscribe function. */
export function onEvent(name, f) {
  ensureEvents();
  if (!handlers.has(name)) handlers.set(name, new Set());
  handlers.get(name).add(f);
  return () => handlers.get(name).delete(f);
}

export function onEventsConnection(f) {
  ensureEvents();
  connectionListeners.add(f);
  return () => connectionListeners.delete(f);
}

/** The WebSocket URL of document `id`'s live editing. */
export function liveUrl(id) {
  const scheme = location.protocol === 'https:' ? 'wss://' : 'ws://';
  return scheme + location.host + '/api/docs/' + enc(id) + '/live';
}

/** Calls `f` at most once per `ms`, after the last call. */
export function debounce(f, ms) {
  let timer = null;
  const d = (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      timer = null;
      f(...args);
    }, ms);
  };
  d.cancel = () => clearTimeout(timer);
  return d;
}

/** A DOM element: `h('div', {class: 'x', dataset: {id}}, child, 'text')`. Text is never parsed as HTML. */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v == null || v === false) continue;
      if (k === 'class') el.className = v;
      else if (k === 'dataset') Object.assign(el.dataset, v);
      else if (k === 'text') el.textContent = v;
      else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
      else if (v === true) el.setAttribute(k, '');
      else el.setAttribute(k, String(v));
    }
  }
  for (const c of children.flat()) {
    if (c == null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** Whether a `changed` event's data names document `id` (or cannot say: no data). */
export function changedDoc(data, id) {
  if (!id) return false;
  if (!data || !Array.isArray(data.docs)) return true;
  return data.docs.some((d) => d.id === id);
}

/** Runs `f` once at a time; a call while it runs makes it run once more after. */
export function serial(f) {
  let busy = false;
  let again = false;
  return async function run() {
    if (busy) {
      again = true;
      return;
    }
    busy = true;
    try {
      do {
        again = false;
        await f();
      } while (again);
    } finally {
      busy = false;
    }
  };
}

/** Removes every child of `el`. */
export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

// A split screen's detail pane: `show(true)` hides the placeholder and shows
// `parts`; `view.dataset.open` tells the phone layout which pane to show.
export function paneToggle(view, placeholder, ...parts) {
  return function show(on) {
    view.dataset.open = on ? 'true' : 'false';
    placeholder.hidden = on;
    for (const p of parts) p.hidden = !on;
  };
}
