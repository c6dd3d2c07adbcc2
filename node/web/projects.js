// The projects screen: the projects this member can read, the open
// project's kanban board and one task's details. Cards move by HTML5 drag
// and drop, between columns and within one; touch screens (where browsers
// do not drag) and keyboards use the "Column" select of the task's
// details instead. Everything shown comes from POST /api/tasks actions
// (see node/src/tasks.rs), and the board is read again whenever the event
// stream says its document changed, here or on a peer.
// Addresses look like #/projects/<project> and #/projects/<project>/<task>.

import { tasks, post, h, clear, onEvent, onEventsConnection, debounce, paneToggle, serial } from './api.js';
import { t, tr, trPlaceholder, formatTime, formatDate, showError } from './i18n.js';

const PRIORITIES = ['low', 'normal', 'high', 'urgent'];
const STATUSES = ['todo', 'in_progress', 'done'];
/** The columns a new board starts with (id and name), shown in the page's language. */
const DEFAULT_COLUMNS = { todo: 'To do', in_progress: 'In progress', done: 'Done' };
/** The drag data type of a card, so that other drags (files, text) are not taken for one. */
const CARD_TYPE = 'application/x-outpost-task';
/** Titles, names and labels are at most 256 bytes (node/src/tasks.rs): 85 characters of Chinese. */
const TITLE_CHARS_MAX = '85';
const BOARD_SOON_MS = 150;
const LIST_SOON_MS = 1500;

/** Seconds since 1970 of the end of local day `value` (`YYYY-MM-DD`): a task due that day is overdue once the day is over. */
function dueFromDate(value) {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value || '');
  if (!m) return null;
  const end = new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3]), 23, 59, 0);
  return Math.floor(end.getTime() / 1000);
}

/** The local day (`YYYY-MM-DD`) of `secs`, for a date input. */
function dateOfDue(secs) {
  if (secs == null) return '';
  const d = new Date(secs * 1000);
  const two = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())}`;
}

/** Comma-separated text (either comma) as trimmed, non-empty parts. */
function splitList(text) {
  return text.split(/[,，]/).map((s) => s.trim()).filter(Boolean);
}

function columnName(c) {
  return DEFAULT_COLUMNS[c.id] === c.name ? t('projects.column.' + c.id) : c.name;
}

/** A small speech bubble, drawn inline so that no emoji font is needed. */
function commentIcon() {
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  for (const [k, v] of Object.entries({ viewBox: '0 0 16 16', width: '12', height: '12', class: 'icon', 'aria-hidden': 'true' })) svg.setAttribute(k, v);
  const path = document.createElementNS(ns, 'path');
  path.setAttribute('d', 'M2.5 3.5a1 1 0 0 1 1-1h9a1 1 0 0 1 1 1v6a1 1 0 0 1-1 1H7l-3 3v-3h-.5a1 1 0 0 1-1-1z');
  svg.append(path);
  return svg;
}

/** Tick boxes of members: `keys()` are the ticked ones; `onChange` is called on every tick. */
function memberChecks(id, onChange) {
  const box = h('div', { id, class: 'checks', role: 'group' });
  let ticked = new Set();
  let shownSig = null;
  return {
    el: box,
    keys: () => [...ticked],
    set(keys) {
      ticked = new Set(keys);
      for (const cb of box.querySelectorAll('input')) cb.checked = ticked.has(cb.value);
    },
    render(members, disabled) {
      const sig = JSON.stringify([members, !!disabled]);
      if (sig === shownSig) return;
      shownSig = sig;
      clear(box);
      if (!members.length) box.append(tr(h('span', { class: 'muted' }), 'projects.noMembers'));
      for (const m of members) {
        const cb = h('input', { type: 'checkbox', value: m.key, disabled });
        cb.checked = ticked.has(m.key);
        cb.addEventListener('change', () => {
          if (cb.checked) ticked.add(m.key);
          else ticked.delete(m.key);
          onChange([...ticked]);
        });
        box.append(h('label', { class: 'check', dataset: { member: m.key } }, cb, h('span', { text: m.name })));
      }
    },
  };
}

export function mount(root, ctx) {
  let projects = [];
  let openProject = null;
  let openTask = null;
  let board = null; // the `board` answer of the open project
  let drag = null; // {task} while a card of this page is dragged
  let moving = 0; // moves sent and not yet answered
  let renderLater = false; // a board came while a card was dragged or moved
  let filledFor = null; // the task the details show
  let destroyed = false;
  const names = new Map(); // member key -> name
  let members = []; // [{key, name}], the org's members with a valid certificate

  const personName = (key) => names.get(key) || (key ? key.slice(0, 8) : t('chat.unknown'));

  // List pane.
  const newName = trPlaceholder(h('input', { id: 'new-project-name', type: 'text', maxlength: TITLE_CHARS_MAX, autocomplete: 'off' }), 'projects.newName');
  const newBtn = tr(h('button', { id: 'new-project', type: 'button', class: 'secondary' }), 'projects.new');
  const listTitle = tr(h('h2', { class: 'pane-title' }), 'projects.title');
  const list = h('ul', { id: 'project-list', class: 'list', role: 'list' });
  const listError = h('p', { class: 'error', hidden: true });
  const listPane = h('section', { class: 'list-pane' },
    h('div', { class: 'pane-tools' }, h('div', { class: 'inline-form' }, newName, newBtn)), listTitle, listError, list);

  // Detail pane: the board's heading, the new task form, the board.
  const title = h('h2', { id: 'project-title', class: 'detail-title' });
  const sub = h('span', { class: 'detail-sub' });
  const viewOnly = tr(h('span', { class: 'badge view-only', hidden: true }), 'projects.viewOnly');
  const head = h('header', { class: 'detail-head' }, h('div', { class: 'detail-heading' }, title, sub), h('div', { class: 'detail-tools' }, viewOnly));

  const taskTitle = trPlaceholder(h('input', { id: 'new-task-title', type: 'text', maxlength: TITLE_CHARS_MAX, autocomplete: 'off' }), 'projects.newTask');
  const taskDue = h('input', { id: 'new-task-due', type: 'date' });
  const taskWho = memberChecks('new-task-assignees', () => renderWhoSummary());
  const whoSummary = h('summary', { class: 'button' });
  const whoMenu = h('details', { id: 'new-task-who', class: 'dropdown' }, whoSummary, h('div', { class: 'dropdown-menu' }, taskWho.el));
  const taskAdd = tr(h('button', { id: 'new-task-add', type: 'button', class: 'primary' }), 'projects.addTask');
  const tools = h('div', { class: 'board-tools' }, taskTitle,
    h('label', { class: 'field-inline' }, tr(h('span'), 'projects.due'), taskDue), whoMenu, taskAdd);

  const boardEl = h('div', { id: 'board', class: 'board' });
  const marker = h('li', { class: 'drop-marker', 'aria-hidden': 'true' });
  const newColumn = trPlaceholder(h('input', { id: 'new-column-name', type: 'text', maxlength: TITLE_CHARS_MAX, autocomplete: 'off' }), 'projects.newColumn');
  const columnStatus = h('select', { id: 'new-column-status' });
  const columnAdd = tr(h('button', { id: 'new-column-add', type: 'button', class: 'secondary' }), 'projects.addColumn');
  const addColumnBox = h('div', { class: 'board-add-column' }, newColumn, columnStatus, columnAdd);

  // Task details.
  const d = {
    title: h('input', { id: 'task-title', class: 'task-title', type: 'text', maxlength: TITLE_CHARS_MAX, autocomplete: 'off' }),
    close: h('button', { id: 'task-close', type: 'button', class: 'link' }),
    error: h('p', { class: 'error', hidden: true }),
    column: h('select', { id: 'task-move-select' }),
    priority: h('select', { id: 'task-priority' }),
    due: h('input', { id: 'task-due', type: 'date' }),
    labels: h('input', { id: 'task-labels', type: 'text', autocomplete: 'off' }),
    description: h('textarea', { id: 'task-description', rows: '4' }),
    progress: h('span', { class: 'task-progress' }),
    checklist: h('ul', { id: 'task-checklist', class: 'checklist' }),
    itemText: trPlaceholder(h('input', { id: 'task-item-text', type: 'text', maxlength: TITLE_CHARS_MAX, autocomplete: 'off' }), 'projects.newItem'),
    itemAdd: tr(h('button', { id: 'task-item-add', type: 'button', class: 'secondary' }), 'projects.addItem'),
    comments: h('ol', { id: 'task-comments', class: 'comments' }),
    commentText: trPlaceholder(h('textarea', { id: 'task-comment-text', rows: '2' }), 'projects.newComment'),
    commentAdd: tr(h('button', { id: 'task-comment-add', type: 'button', class: 'primary' }), 'projects.addComment'),
    meta: h('p', { class: 'task-meta' }),
  };
  tr(d.close, 'common.close');
  d.title.setAttribute('aria-label', t('projects.taskTitle'));
  const who = memberChecks('task-assignees', (keys) => write('update', { assignees: keys }));
  const field = (key, control, wide) => h('label', { class: 'field' + (wide ? ' wide' : '') }, tr(h('span', { class: 'field-name' }), key), control);
  const detailsEl = h('aside', { id: 'task-details', class: 'task-details', tabindex: '-1', hidden: true },
    h('header', { class: 'task-details-head' }, d.title, d.close),
    d.error,
    h('div', { class: 'task-fields' },
      field('projects.column', d.column),
      field('projects.priority', d.priority),
      field('projects.due', d.due),
      field('projects.labels', d.labels),
      h('div', { class: 'field wide' }, tr(h('span', { class: 'field-name' }), 'projects.assignees'), who.el),
      field('projects.description', d.description, true)),
    h('section', { class: 'task-section' },
      h('h3', null, tr(h('span'), 'projects.checklist'), ' ', d.progress),
      d.checklist,
      h('div', { class: 'inline-form' }, d.itemText, d.itemAdd)),
    h('section', { class: 'task-section' },
      tr(h('h3'), 'projects.comments'),
      d.comments,
      h('div', { class: 'composer-row' }, d.commentText, d.commentAdd)),
    d.meta);

  const placeholder = tr(h('p', { class: 'placeholder' }), 'projects.pick');
  const boardError = h('p', { class: 'error', hidden: true });
  const body = h('div', { class: 'board-wrap' }, boardEl, detailsEl);
  const detail = h('section', { class: 'detail-pane' }, head, boardError, placeholder, tools, body);
  const view = h('div', { class: 'split projects' }, listPane, detail);
  root.append(view);

  const setOpenVisible = paneToggle(view, placeholder, head, tools, body);
  setOpenVisible(false);

  function fillOptions(select, values, label, selected) {
    clear(select);
    for (const v of values) select.append(h('option', { value: v, text: label(v) }));
    if (selected != null) select.value = selected;
  }
  fillOptions(columnStatus, STATUSES, (s) => t('projects.status.' + s), 'in_progress');

  // Members, for assignees: names from their certificates.
  async function loadMembers() {
    let rows = [];
    try {
      const report = await post('/api/certs/list', { all: false });
      rows = Array.isArray(report && report.json) ? report.json : [];
    } catch (_) {
      return; // the names the boards carry are enough to show them
    }
    const seen = new Map();
    for (const c of rows) {
      if (c.role === 'relay' || !c.subject) continue;
      seen.set(c.subject, c.name || c.subject.slice(0, 8));
      names.set(c.subject, c.name);
    }
    members = [...seen].map(([key, name]) => ({ key, name })).sort((a, b) => a.name.localeCompare(b.name));
    if (destroyed) return;
    renderMembers();
    if (board) renderBoard();
  }

  function renderMembers() {
    taskWho.render(members, false);
    renderWhoSummary();
    fillDetails();
  }

  function renderWhoSummary() {
    const keys = taskWho.keys();
    whoSummary.textContent = keys.length ? keys.map(personName).join(', ') : t('projects.assignees');
  }

  // The list of projects.
  function renderList() {
    clear(list);
    if (!projects.length) {
      list.append(h('li', { class: 'empty' }, tr(h('span'), 'projects.none')));
      return;
    }
    for (const p of projects) {
      const meta = h('span', { class: 'item-meta' }, tr(h('span'), 'projects.openCount', { open: p.open, tasks: p.tasks }));
      if (!p.can_write) meta.append(tr(h('span', { class: 'tag' }), 'projects.viewOnly'));
      const item = h('button', {
        type: 'button',
        class: 'list-item project-item' + (p.project === openProject ? ' active' : ''),
        dataset: { project: p.project },
      }, h('span', { class: 'item-name', text: p.name }), meta);
      if (p.overdue) {
        item.append(h('span', { class: 'unread mention', title: t('projects.overdueCount', { n: p.overdue }), text: String(p.overdue) }));
      }
      item.addEventListener('click', () => ctx.navigate(p.project));
      list.append(h('li', null, item));
    }
  }

  const loadList = serial(async () => {
    if (destroyed) return;
    try {
      projects = (await tasks('list_projects')).projects || [];
      showError(listError, null);
    } catch (e) {
      showError(listError, e);
      return;
    }
    if (!destroyed) renderList();
  });
  const listSoon = debounce(loadList, LIST_SOON_MS);

  async function createProject() {
    const name = newName.value.trim();
    if (!name) {
      newName.focus();
      return;
    }
    newBtn.disabled = true;
    try {
      const r = await tasks('create_project', { name });
      newName.value = '';
      showError(listError, null);
      await loadList();
      ctx.navigate(r.project);
    } catch (e) {
      showError(listError, e);
    } finally {
      newBtn.disabled = false;
    }
  }
  newBtn.addEventListener('click', createProject);
  onEnter(newName, createProject);

  // The board.
  const loadBoard = serial(async () => {
    const id = openProject;
    if (!id || destroyed) return;
    let answer;
    try {
      answer = await tasks('board', { project: id });
      showError(boardError, null);
    } catch (e) {
      if (id === openProject) showError(boardError, e);
      return;
    }
    if (id !== openProject || destroyed) return;
    board = answer;
    for (const [key, name] of Object.entries(board.names || {})) names.set(key, name);
    // The list says what the board says, without reading every board.
    const row = projects.find((p) => p.project === board.project);
    if (row) {
      const cards = allCards();
      Object.assign(row, {
        name: board.name,
        tasks: cards.length,
        open: cards.filter((c) => c.status !== 'done').length,
        overdue: cards.filter((c) => c.overdue).length,
      });
      renderList();
    }
    if (drag || moving) renderLater = true;
    else renderBoard();
    fillDetails();
  });
  const boardSoon = debounce(loadBoard, BOARD_SOON_MS);

  function allCards() {
    return board ? board.board.columns.flatMap((c) => c.cards) : [];
  }

  function principalText(p) {
    if (p === 'everyone') return t('projects.everyone');
    if (p.startsWith('dept:')) return p.slice(5);
    if (p.startsWith('member:')) return personName(p.slice(7));
    if (p.startsWith('role:')) return t('role.' + p.slice(5));
    return p;
  }

  function renderHead() {
    title.textContent = board.name;
    const cards = allCards();
    const overdue = cards.filter((c) => c.overdue).length;
    const readers = (board.space && board.space.readers) || [];
    sub.textContent = [
      readers.length ? t('projects.members', { who: readers.map(principalText).join(', ') }) : null,
      t('projects.openCount', { open: cards.filter((c) => c.status !== 'done').length, tasks: cards.length }),
      overdue ? t('projects.overdueCount', { n: overdue }) : null,
    ].filter(Boolean).join(' · ');
    viewOnly.hidden = !!board.can_write;
    tools.hidden = !board.can_write;
  }

  function renderBoard() {
    renderLater = false;
    if (!board) return;
    renderHead();
    const focused = document.activeElement && document.activeElement.closest && document.activeElement.closest('.card');
    const focusTask = focused && boardEl.contains(focused) ? focused.dataset.task : null;
    const left = boardEl.scrollLeft;
    const tops = new Map([...boardEl.querySelectorAll('.board-column')].map((c) => [c.dataset.column, c.querySelector('.board-cards').scrollTop]));
    // The new column form stays in place, with what is typed into it.
    const keepBox = board.can_write;
    for (const el of [...boardEl.children]) {
      if (el !== addColumnBox || !keepBox) el.remove();
    }
    const columns = board.board.columns.map(renderColumn);
    if (keepBox && addColumnBox.parentNode === boardEl) {
      addColumnBox.before(...columns);
    } else {
      boardEl.append(...columns);
      if (keepBox) boardEl.append(addColumnBox);
    }
    boardEl.dataset.project = board.project;
    boardEl.scrollLeft = left;
    for (const col of boardEl.querySelectorAll('.board-column')) {
      const top = tops.get(col.dataset.column);
      if (top) col.querySelector('.board-cards').scrollTop = top;
    }
    if (focusTask) {
      const again = boardEl.querySelector(`.card[data-task="${CSS.escape(focusTask)}"]`);
      if (again) again.focus({ preventScroll: true });
    }
  }

  function renderColumn(c) {
    const cards = h('ol', { class: 'board-cards' });
    for (const card of c.cards) cards.append(renderCard(card));
    if (!c.cards.length) cards.append(tr(h('li', { class: 'board-empty' }), 'projects.emptyColumn'));
    const col = h('section', { class: 'board-column', dataset: { column: c.id, status: c.status } },
      h('header', { class: 'board-column-head' },
        h('h3', { class: 'board-column-name', text: columnName(c) }),
        h('span', { class: 'board-column-count', text: String(c.cards.length) })),
      cards);
    if (board.can_write) dropTarget(col, c.id);
    return col;
  }

  function renderCard(card) {
    const el = h('li', {
      class: 'card' + (card.overdue ? ' overdue' : '') + (card.id === openTask ? ' active' : ''),
      tabindex: '0',
      draggable: board.can_write ? 'true' : 'false',
      dataset: { task: card.id, status: card.status, priority: card.priority },
    });
    el.append(h('div', { class: 'card-title', text: card.title }));
    const badges = h('div', { class: 'card-badges' });
    if (card.overdue) badges.append(tr(h('span', { class: 'chip card-overdue' }), 'projects.overdue'));
    // Normal, the default, goes without saying.
    if (card.priority !== 'normal') {
      badges.append(tr(h('span', { class: 'chip card-priority priority-' + card.priority }), 'projects.priority.' + card.priority));
    }
    if (card.deadline != null) {
      badges.append(h('span', { class: 'chip card-due', title: formatTime(card.deadline), text: t('projects.dueOn', { date: formatDate(card.deadline) }) }));
    }
    for (const l of card.labels) badges.append(h('span', { class: 'chip card-label', text: l }));
    const foot = h('div', { class: 'card-foot' });
    if (card.checklist.length) {
      const done = card.checklist.filter((i) => i.done).length;
      foot.append(h('span', {
        class: 'card-checklist' + (done === card.checklist.length ? ' complete' : ''),
        title: t('projects.checklist'),
        text: `☑ ${done}/${card.checklist.length}`,
      }));
    }
    if (card.comments.length) {
      foot.append(h('span', { class: 'card-comments', title: t('projects.comments') }, commentIcon(), String(card.comments.length)));
    }
    if (card.assignees.length) {
      foot.append(h('span', { class: 'card-assignees' }, card.assignees.map((k) => {
        const name = personName(k);
        return h('span', { class: 'card-assignee', title: name }, h('span', { class: 'avatar', text: name.slice(0, 1).toUpperCase() }), h('span', { class: 'card-assignee-name', text: name }));
      })));
    }
    if (badges.childNodes.length) el.append(badges);
    if (foot.childNodes.length) el.append(foot);
    const show = () => ctx.navigate(board.project + '/' + card.id);
    el.addEventListener('click', show);
    el.addEventListener('keydown', (e) => {
      if (e.target === el && (e.key === 'Enter' || e.key === ' ')) {
        e.preventDefault();
        show();
      }
    });
    if (board.can_write) {
      el.addEventListener('dragstart', (e) => {
        drag = { task: card.id };
        e.dataTransfer.effectAllowed = 'move';
        e.dataTransfer.setData(CARD_TYPE, card.id);
        e.dataTransfer.setData('text/plain', card.title);
        // After the browser took its picture of the card.
        requestAnimationFrame(() => el.classList.add('dragging'));
      });
      el.addEventListener('dragend', endDrag);
    }
    return el;
  }

  // Drag and drop. The marker shows where a dropped card lands; its place
  // among the column's other cards is the move's position.
  function carriesCard(e) {
    return drag !== null || [...(e.dataTransfer ? e.dataTransfer.types : [])].includes(CARD_TYPE);
  }

  function placeMarker(col, y) {
    const cards = col.querySelector('.board-cards');
    const others = [...cards.querySelectorAll('.card')].filter((c) => !drag || c.dataset.task !== drag.task);
    const before = others.find((c) => {
      const r = c.getBoundingClientRect();
      return y < r.top + r.height / 2;
    });
    if (before) {
      if (marker.nextSibling !== before) cards.insertBefore(marker, before);
    } else if (cards.lastElementChild !== marker) {
      cards.append(marker);
    }
  }

  /** The number of cards above `el` in its column, `task`'s own card not counted. */
  function cardsAbove(el, task) {
    let n = 0;
    for (let c = el.previousElementSibling; c; c = c.previousElementSibling) {
      if (c.classList.contains('card') && c.dataset.task !== task) n += 1;
    }
    return n;
  }

  function dropTarget(col, column) {
    col.addEventListener('dragover', (e) => {
      if (!carriesCard(e)) return;
      e.preventDefault();
      e.dataTransfer.dropEffect = 'move';
      for (const other of boardEl.querySelectorAll('.board-column.drag-over')) {
        if (other !== col) other.classList.remove('drag-over');
      }
      col.classList.add('drag-over');
      placeMarker(col, e.clientY);
    });
    col.addEventListener('dragleave', (e) => {
      if (e.relatedTarget && col.contains(e.relatedTarget)) return;
      col.classList.remove('drag-over');
      if (col.contains(marker)) marker.remove();
    });
    col.addEventListener('drop', (e) => {
      if (!carriesCard(e)) return;
      e.preventDefault();
      const task = e.dataTransfer.getData(CARD_TYPE) || (drag && drag.task);
      if (!col.contains(marker)) placeMarker(col, e.clientY);
      const position = cardsAbove(marker, task);
      const card = task ? boardEl.querySelector(`.card[data-task="${CSS.escape(task)}"]`) : null;
      // A card of another board (from another window), or one dropped
      // where it already is, does not move.
      if (!card || (card.closest('.board-column') === col && cardsAbove(card, task) === position)) {
        endDrag();
        return;
      }
      marker.replaceWith(card);
      endDrag();
      moveCard(task, column, position);
    });
  }

  function endDrag() {
    drag = null;
    marker.remove();
    for (const el of boardEl.querySelectorAll('.drag-over, .dragging')) el.classList.remove('drag-over', 'dragging');
    if (renderLater && !moving) renderBoard();
  }

  async function moveCard(task, column, position) {
    moving += 1;
    try {
      await tasks('move', { task, column, position });
      showError(boardError, null);
    } catch (e) {
      showError(boardError, e);
    } finally {
      moving -= 1;
    }
    if (!moving) loadBoard();
  }

  // New tasks and columns.
  async function addTask() {
    const text = taskTitle.value.trim();
    if (!text || !board) {
      taskTitle.focus();
      return;
    }
    const fields = { project: board.project, title: text, assignees: taskWho.keys() };
    const due = dueFromDate(taskDue.value);
    if (due != null) fields.due = String(due);
    taskAdd.disabled = true;
    try {
      await tasks('add', fields);
      taskTitle.value = '';
      taskDue.value = '';
      taskWho.set([]);
      renderWhoSummary();
      whoMenu.open = false;
      showError(boardError, null);
    } catch (e) {
      showError(boardError, e);
    } finally {
      taskAdd.disabled = false;
    }
    loadBoard();
  }
  taskAdd.addEventListener('click', addTask);
  onEnter(taskTitle, addTask);

  async function addColumn() {
    const name = newColumn.value.trim();
    if (!name || !board) {
      newColumn.focus();
      return;
    }
    columnAdd.disabled = true;
    try {
      await tasks('add_column', { project: board.project, name, status: columnStatus.value });
      newColumn.value = '';
      showError(boardError, null);
    } catch (e) {
      showError(boardError, e);
    } finally {
      columnAdd.disabled = false;
    }
    loadBoard();
  }
  columnAdd.addEventListener('click', addColumn);
  onEnter(newColumn, addColumn);

  // Closes the assignee menu on a click elsewhere.
  function closeMenu(e) {
    if (whoMenu.open && !whoMenu.contains(e.target)) whoMenu.open = false;
  }
  document.addEventListener('click', closeMenu);

  // Task details: fields a member is typing into keep what they typed
  // when the board is read again.
  function setValue(el, v, force) {
    if (force || document.activeElement !== el) el.value = v;
  }

  function fillDetails() {
    const card = openTask ? allCards().find((c) => c.id === openTask) : null;
    for (const el of boardEl.querySelectorAll('.card')) el.classList.toggle('active', el.dataset.task === openTask);
    if (!card) {
      detailsEl.hidden = true;
      delete detailsEl.dataset.task;
      filledFor = null;
      if (openTask && board) showError(boardError, new Error(t('projects.noTask')));
      return;
    }
    const force = filledFor !== card.id;
    filledFor = card.id;
    const ro = !board.can_write;
    detailsEl.hidden = false;
    detailsEl.dataset.task = card.id;
    setValue(d.title, card.title, force);
    if (document.activeElement !== d.column) {
      fillOptions(d.column, board.board.columns.map((c) => c.id), (id) => columnName(board.board.columns.find((c) => c.id === id)), card.column);
    }
    if (document.activeElement !== d.priority) {
      fillOptions(d.priority, PRIORITIES, (p) => t('projects.priority.' + p), card.priority);
    }
    setValue(d.due, dateOfDue(card.deadline), force);
    setValue(d.labels, card.labels.join(', '), force);
    setValue(d.description, card.description, force);
    if (force) {
      d.itemText.value = '';
      d.commentText.value = '';
      showError(d.error, null);
    }
    // Members who hold no valid certificate now are still shown if assigned.
    const shown = [...members];
    for (const k of card.assignees) if (!shown.some((m) => m.key === k)) shown.push({ key: k, name: personName(k) });
    who.set(card.assignees);
    who.render(shown, ro);
    for (const el of [d.title, d.column, d.priority, d.due, d.labels, d.description, d.itemText, d.itemAdd, d.commentText, d.commentAdd]) {
      el.disabled = ro;
    }

    const done = card.checklist.filter((i) => i.done).length;
    d.progress.textContent = card.checklist.length ? `${done}/${card.checklist.length}` : '';
    const focusedItem = d.checklist.contains(document.activeElement) ? document.activeElement.closest('[data-item]') : null;
    clear(d.checklist);
    for (const item of card.checklist) {
      const cb = h('input', { type: 'checkbox', disabled: ro });
      cb.checked = item.done;
      cb.addEventListener('change', () => write('check', { item: item.id, done: cb.checked }));
      d.checklist.append(h('li', { class: 'checklist-item' + (item.done ? ' done' : ''), dataset: { item: item.id } },
        h('label', { class: 'check' }, cb, h('span', { text: item.text }))));
      if (focusedItem && focusedItem.dataset.item === item.id) cb.focus({ preventScroll: true });
    }

    clear(d.comments);
    if (!card.comments.length) d.comments.append(tr(h('li', { class: 'muted' }), 'projects.noComments'));
    for (const c of card.comments) {
      d.comments.append(h('li', { class: 'comment' },
        h('div', { class: 'message-head' },
          h('span', { class: 'message-author', text: personName(c.author) }),
          h('time', { class: 'message-time', text: formatTime(c.at) })),
        h('div', { class: 'message-body', text: c.text })));
    }
    tr(d.meta, 'projects.created', { name: personName(card.created_by), time: formatTime(card.created_at) });
  }

  /** One action on the task the details show; the board is read again after. */
  async function write(action, fields) {
    const task = detailsEl.dataset.task;
    if (!task) return false;
    let ok = true;
    try {
      await tasks(action, { task, ...fields });
      showError(d.error, null);
    } catch (e) {
      ok = false;
      showError(d.error, e);
    }
    loadBoard();
    return ok;
  }

  d.close.addEventListener('click', () => {
    const task = detailsEl.dataset.task;
    ctx.navigate(board ? board.project : openProject);
    // Keyboard users go on from the card they opened.
    const card = task ? boardEl.querySelector(`.card[data-task="${CSS.escape(task)}"]`) : null;
    if (card) card.focus({ preventScroll: true });
  });
  detailsEl.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') d.close.click();
  });
  d.title.addEventListener('change', () => {
    const text = d.title.value.trim();
    if (text) write('update', { title: text });
    else fillDetails();
  });
  d.column.addEventListener('change', () => write('move', { column: d.column.value }));
  d.priority.addEventListener('change', () => write('update', { priority: d.priority.value }));
  d.due.addEventListener('change', () => {
    const due = dueFromDate(d.due.value);
    write('update', due == null ? { clear_due: true } : { due: String(due) });
  });
  d.labels.addEventListener('change', () => write('update', { labels: splitList(d.labels.value) }));
  d.description.addEventListener('change', () => write('update', { description: d.description.value }));
  async function addItem() {
    const text = d.itemText.value.trim();
    if (!text) return;
    if (await write('add_item', { text })) d.itemText.value = '';
  }
  d.itemAdd.addEventListener('click', addItem);
  onEnter(d.itemText, addItem);
  async function addComment() {
    const text = d.commentText.value.trim();
    if (!text) return;
    if (await write('comment', { text })) d.commentText.value = '';
  }
  d.commentAdd.addEventListener('click', addComment);
  d.commentText.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey) && !e.isComposing) {
      e.preventDefault();
      addComment();
    }
  });

  // Live updates: the open board's document changing reads the board
  // again; any change may be a project's (or a new one), for the list.
  function changed(data) {
    const ids = ((data && data.docs) || []).map((x) => x.id);
    const open = board ? board.project : openProject;
    if (!data || (open && ids.includes(open))) boardSoon();
    if (!data || ids.length) listSoon();
  }
  function everything() {
    loadList();
    if (openProject) loadBoard();
  }
  const offs = [
    onEvent('changed', changed),
    onEvent('synced', () => listSoon()),
    onEvent('lagged', everything),
    onEventsConnection((on) => {
      if (on) everything();
    }),
  ];

  renderMembers();
  loadMembers();
  loadList();

  return {
    open(param) {
      const [project, task] = (param || '').split('/');
      if ((project || null) !== openProject) {
        openProject = project || null;
        board = null;
        filledFor = null;
        clear(boardEl);
        delete boardEl.dataset.project;
        title.textContent = '';
        sub.textContent = '';
        viewOnly.hidden = true;
        showError(boardError, null);
        setOpenVisible(!!openProject);
        for (const b of list.querySelectorAll('[data-project]')) b.classList.toggle('active', b.dataset.project === openProject);
        if (openProject) {
          boardEl.append(tr(h('p', { class: 'placeholder' }), 'common.loading'));
          loadBoard();
        }
      }
      const next = task || null;
      const opened = next && next !== openTask;
      openTask = next;
      if (board) fillDetails();
      // Keyboard users go on from the details; no input is focused, so
      // that no on-screen keyboard pops up.
      if (opened && !detailsEl.hidden) detailsEl.focus({ preventScroll: true });
    },
    relabel() {
      renderList();
      fillOptions(columnStatus, STATUSES, (s) => t('projects.status.' + s), columnStatus.value);
      renderWhoSummary();
      d.title.setAttribute('aria-label', t('projects.taskTitle'));
      if (board) {
        renderBoard();
        fillDetails();
      }
    },
    unmount() {
      destroyed = true;
      listSoon.cancel();
      boardSoon.cancel();
      document.removeEventListener('click', closeMenu);
      for (const off of offs) off();
      view.remove();
    },
  };
}

/** Calls `f` on Enter in `input` (not while an input method is composing). */
function onEnter(input, f) {
  input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.isComposing) {
      e.preventDefault();
      f();
    }
  });
}
