// Reminders as small notes in a corner of the page, over every screen:
// the node's `reminder` events (a task's deadline, a meeting about to
// start; node/src/reminders.rs). A note says what and when, and opens the
// task or the meeting. It stays until it is closed or opened (a reminder
// missed while away from the screen is still there), the newest few at
// once.

import { h, onEvent } from './api.js';
import { t, tr, trTitle, formatTime } from './i18n.js';

/** Most notes at once; the oldest goes first. */
const SHOWN_MAX = 4;

/** A note's text for the reminder `n`, as [title key, vars, detail]. */
function describe(n) {
  if (n.kind === 'meeting_reminder') {
    return {
      head: ['toast.meeting', {}],
      title: n.title || '',
      detail: [t('toast.startsAt', { time: formatTime(n.start) }), n.place].filter(Boolean).join(' · '),
      open: ['meetings', n.meeting],
    };
  }
  if (n.kind === 'task_reminder') {
    return {
      head: [n.lead === 'hour' ? 'toast.dueHour' : 'toast.dueDay', {}],
      title: n.title || '',
      detail: [n.project_name, t('toast.dueAt', { time: formatTime(n.deadline) })].filter(Boolean).join(' · '),
      open: ['projects', n.project && n.task ? `${n.project}/${n.task}` : n.project],
    };
  }
  return null;
}

/** Shows reminders as they come; `go(screen, param)` opens what one is about. */
export function startToasts(root, go) {
  const box = h('div', { id: 'toasts', class: 'toasts', role: 'status', 'aria-live': 'polite' });
  root.append(box);

  function show(n) {
    const d = n && describe(n);
    if (!d) return;
    const close = h('button', { type: 'button', class: 'link toast-close', text: '×' });
    trTitle(close, 'common.close');
    const open = tr(h('button', { type: 'button', class: 'link toast-open' }), 'toast.open');
    const note = h('div', { class: 'toast', dataset: { kind: n.kind, id: n.meeting || n.task || '' } },
      h('div', { class: 'toast-body' },
        tr(h('div', { class: 'toast-head' }), d.head[0], d.head[1]),
        h('div', { class: 'toast-title', text: d.title }),
        d.detail ? h('div', { class: 'toast-detail', text: d.detail }) : null,
        open),
      close);
    const drop = () => note.remove();
    close.addEventListener('click', drop);
    open.addEventListener('click', () => {
      go(d.open[0], d.open[1]);
      drop();
    });
    box.append(note);
    while (box.children.length > SHOWN_MAX) box.firstElementChild.remove();
  }

  onEvent('reminder', show);
  return { show };
}
