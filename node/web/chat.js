// The chats screen: channels, the open channel's messages, sending,
// threads, reactions, pins, read receipts and search. Everything shown
// comes from POST /api/chat actions (see node/src/chat.rs).

import { chat, post, enc, h, clear, onEvent, debounce, paneToggle } from './api.js';
import { t, tr, trPlaceholder, trTitle, formatTime, formatBytes, showError } from './i18n.js';

const QUICK_REACTIONS = ['👍', '❤️', '😄', '🎉'];
const RECEIPTS_MAX = 10;

function personName(p) {
  if (!p) return t('chat.unknown');
  return p.name || (p.member ? p.member.slice(0, 8) : t('chat.unknown'));
}

export function mount(root, ctx) {
  let me = null;
  ctx.whoAmI().then((m) => {
    me = m;
    scheduleReload();
  });

  let channels = [];
  let openId = null;
  let openInfo = null;
  let replyTo = null; // {id, name}
  const expanded = new Set(); // threads shown under their root
  const receipts = new Map(); // message id -> {read, unread}
  let searching = '';
  let destroyed = false;

  // List pane.
  const search = trPlaceholder(h('input', { id: 'chat-search', type: 'search', class: 'search', autocomplete: 'off' }), 'chat.search');
  const newName = trPlaceholder(h('input', { id: 'new-channel-name', type: 'text', maxlength: '120', autocomplete: 'off' }), 'chat.newChannelName');
  const newBtn = tr(h('button', { id: 'new-channel', type: 'button', class: 'secondary' }), 'chat.newChannel');
  const listTitle = tr(h('h2', { class: 'pane-title' }), 'chat.channels');
  const list = h('ul', { id: 'channel-list', class: 'list', role: 'list' });
  const listError = h('p', { class: 'error', hidden: true });
  const listPane = h('section', { class: 'list-pane' },
    h('div', { class: 'pane-tools' }, search, h('div', { class: 'inline-form' }, newName, newBtn)),
    listTitle, listError, list);

  // Detail pane.
  const title = h('h2', { id: 'channel-title', class: 'detail-title' });
  const topic = h('span', { class: 'detail-sub' });
  const badge = h('span', { class: 'badge', hidden: true });
  const head = h('header', { class: 'detail-head' }, h('div', { class: 'detail-heading' }, title, topic), badge);
  const messages = h('div', { id: 'messages', class: 'messages', role: 'log', 'aria-live': 'polite' });
  const placeholder = tr(h('p', { class: 'placeholder' }), 'chat.pick');
  const detailError = h('p', { class: 'error', hidden: true });
  const replyBanner = h('div', { class: 'reply-banner', hidden: true });
  const input = trPlaceholder(h('textarea', { id: 'message-input', rows: '2' }), 'chat.input');
  const send = tr(h('button', { id: 'send', type: 'button', class: 'primary' }), 'chat.send');
  const composer = h('div', { class: 'composer' }, replyBanner, h('div', { class: 'composer-row' }, input, send));
  const detail = h('section', { class: 'detail-pane' }, head, detailError, placeholder, messages, composer);
  const view = h('div', { class: 'split chats' }, listPane, detail);
  root.append(view);


  const setOpenVisible = paneToggle(view, placeholder, messages, composer, head);
  setOpenVisible(false);

  // Channel list.
  function renderList() {
    if (searching) return;
    tr(listTitle, 'chat.channels');
    clear(list);
    if (channels.length === 0) {
      list.append(h('li', { class: 'empty' }, tr(h('span'), 'chat.noChannels')));
      return;
    }
    for (const c of channels) {
      const unread = Number(c.unread) || 0;
      const item = h('button', {
        type: 'button',
        class: 'list-item channel-item' + (c.channel === openId ? ' active' : '') + (unread ? ' has-unread' : ''),
        dataset: { channel: c.channel, unread: String(unread) },
      });
      item.append(h('span', { class: 'item-name channel-name', text: c.name || c.channel.slice(0, 8) }));
      const meta = h('span', { class: 'item-meta' });
      if (c.kind === 'direct' || c.kind === 'group' || c.kind === 'everyone') {
        meta.append(tr(h('span', { class: 'channel-kind' }), 'chat.kind.' + c.kind));
      } else if (c.kind) {
        meta.append(h('span', { class: 'channel-kind', text: c.kind.replace(/^dept:/, '') }));
      }
      if (c.last) meta.append(h('span', { class: 'item-time', text: formatTime(c.last) }));
      item.append(meta);
      if (unread) {
        const u = h('span', { class: 'unread' + (c.mentions ? ' mention' : ''), title: t('chat.unread', { n: unread }), text: String(unread) });
        item.append(u);
      }
      item.addEventListener('click', () => ctx.navigate(c.channel));
      list.append(h('li', null, item));
    }
  }

  async function loadList() {
    try {
      channels = await chat('list');
      showError(listError, null);
    } catch (e) {
      showError(listError, e);
      return;
    }
    renderList();
  }

  // Messages.
  function nearBottom() {
    return messages.scrollHeight - messages.scrollTop - messages.clientHeight < 60;
  }

  function renderReactions(m) {
    const box = h('div', { class: 'reactions' });
    for (const [emoji, who] of Object.entries(m.reactions || {})) {
      if (!who.length) continue;
      const mine = me && who.some((p) => p.member === me.member);
      const b = h('button', {
        type: 'button',
        class: 'reaction' + (mine ? ' mine' : ''),
        title: who.map(personName).join(', '),
        dataset: { reaction: emoji },
      }, h('span', { class: 'emoji', text: emoji }), h('span', { class: 'count', text: String(who.length) }));
      b.addEventListener('click', () => act('react', { message: m.id, reaction: emoji, off: !!mine }));
      box.append(b);
    }
    return box;
  }

  function renderMessage(m, { inThread } = {}) {
    const own = me && m.author && m.author.member === me.member;
    const el = h('article', {
      class: 'message' + (own ? ' own' : '') + (m.mentions_me ? ' mentions-me' : '') + (m.recalled ? ' recalled' : '') + (m.pinned ? ' pinned' : ''),
      dataset: { messageId: m.id },
    });
    const headLine = h('div', { class: 'message-head' },
      h('span', { class: 'message-author', text: personName(m.author) }),
      h('time', { class: 'message-time', datetime: new Date(m.time * 1000).toISOString(), text: formatTime(m.time) }));
    if (m.edited) headLine.append(tr(h('span', { class: 'edited' }), 'chat.edited'));
    if (m.pinned) headLine.append(tr(h('span', { class: 'pinned-marker' }), 'chat.pinned'));
    if (m.pending) headLine.append(tr(h('span', { class: 'pending' }), 'chat.pending'));
    el.append(headLine);
    const body = h('div', { class: 'message-body' });
    if (m.recalled) tr(body, 'chat.recalled');
    else body.textContent = m.text;
    if (own && !m.recalled && editing && editing.id === m.id) {
      const box = h('textarea', { class: 'message-edit-text', rows: '2' });
      box.value = editing.text;
      box.addEventListener('input', () => {
        if (editing && editing.id === m.id) editing.text = box.value;
      });
      const save = tr(h('button', { type: 'button', class: 'message-edit-save' }), 'chat.editSave');
      const cancel = tr(h('button', { type: 'button', class: 'secondary message-edit-cancel' }), 'chat.editCancel');
      save.addEventListener('click', () => {
        const text = box.value.trim();
        if (!text) return;
        editing = null;
        ownAct(m.id, 'edit', { text });
      });
      cancel.addEventListener('click', () => {
        editing = null;
        scheduleReload();
      });
      box.addEventListener('keydown', (e) => {
        if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
          e.preventDefault();
          save.click();
        } else if (e.key === 'Escape') cancel.click();
      });
      el.append(h('div', { class: 'message-edit' }, box, h('div', { class: 'message-edit-tools' }, save, cancel)));
      setTimeout(() => box.focus(), 0);
    } else el.append(body);
    for (const a of m.attachments || []) {
      el.append(h('div', { class: 'attachment' }, tr(h('span'), 'chat.attachment', { name: a.name, size: formatBytes(a.bytes) })));
    }
    if (!m.recalled) el.append(renderReactions(m));

    const foot = h('div', { class: 'message-foot' });
    if (!inThread) {
      const n = Number(m.replies) || 0;
      if (n > 0) {
        const r = h('button', { type: 'button', class: 'link message-replies', dataset: { replies: String(n) } });
        if (n === 1) tr(r, 'chat.reply1');
        else tr(r, 'chat.replies', { n });
        r.addEventListener('click', () => {
          if (expanded.has(m.id)) expanded.delete(m.id);
          else expanded.add(m.id);
          scheduleReload();
        });
        foot.append(r);
      }
    }
    if (own && receipts.has(m.id)) {
      const rc = receipts.get(m.id);
      const total = rc.read.length + rc.unread.length;
      const span = h('span', { class: 'receipt', title: rc.read.map(personName).join(', '), dataset: { read: String(rc.read.length), total: String(total) } });
      if (total === 0) span.hidden = true;
      else if (rc.unread.length === 0) tr(span, 'chat.readByAll');
      else if (rc.read.length === 0) tr(span, 'chat.readByNone');
      else tr(span, 'chat.readBy', { read: rc.read.length, total });
      foot.append(span);
    }
    if (!m.recalled && !(openInfo && openInfo.archived)) {
      const tools = h('span', { class: 'message-tools' });
      if (!inThread) {
        const reply = tr(h('button', { type: 'button', class: 'link reply-button' }), 'chat.reply');
        reply.addEventListener('click', () => {
          replyTo = { id: m.id, name: personName(m.author) };
          renderReplyBanner();
          input.focus();
        });
        tools.append(reply);
      }
      for (const emoji of QUICK_REACTIONS) {
        const b = h('button', { type: 'button', class: 'link quick-reaction', text: emoji, dataset: { reaction: emoji } });
        trTitle(b, 'chat.react');
        const mine = me && (m.reactions?.[emoji] || []).some((p) => p.member === me.member);
        b.addEventListener('click', () => act('react', { message: m.id, reaction: emoji, off: !!mine }));
        tools.append(b);
      }
      const pin = tr(h('button', { type: 'button', class: 'link pin-button' }), m.pinned ? 'chat.unpin' : 'chat.pin');
      pin.addEventListener('click', () => act('pin', { message: m.id, off: !!m.pinned }));
      tools.append(pin);
      if (own) {
        const edit = tr(h('button', { type: 'button', class: 'link', dataset: { action: 'edit' } }), 'chat.edit');
        edit.addEventListener('click', () => {
          editing = { id: m.id, text: m.text || '' };
          scheduleReload();
        });
        const recall = tr(h('button', { type: 'button', class: 'link', dataset: { action: 'recall' } }), 'chat.recall');
        recall.addEventListener('click', () => {
          if (window.confirm(t('chat.recallConfirm'))) ownAct(m.id, 'recall', {});
        });
        tools.append(edit, recall);
      }
      foot.append(tools);
    }
    el.append(foot);
    return el;
  }

  function renderReplyBanner() {
    clear(replyBanner);
    if (!replyTo) {
      replyBanner.hidden = true;
      return;
    }
    replyBanner.hidden = false;
    const cancel = tr(h('button', { type: 'button', class: 'link' }), 'common.cancel');
    cancel.addEventListener('click', () => {
      replyTo = null;
      renderReplyBanner();
    });
    replyBanner.append(tr(h('span'), 'chat.replyingTo', { name: replyTo.name }), cancel);
  }

  // Editing or recalling one's own message.
  let editing = null;
  async function ownAct(message, what, body) {
    if (!openId) return;
    try {
      await post('/api/channels/' + enc(openId) + '/messages/' + enc(message) + '/' + what, body);
      showError(detailError, null);
    } catch (e) {
      showError(detailError, e);
    }
    scheduleReload();
  }

  async function act(action, fields) {
    if (!openId) return;
    try {
      await chat(action, { channel: openId, ...fields });
      showError(detailError, null);
    } catch (e) {
      showError(detailError, e);
    }
    scheduleReload();
  }

  async function loadReceipts(msgs) {
    if (!me) return false;
    const own = msgs.filter((m) => m.author && m.author.member === me.member && !m.recalled).slice(-RECEIPTS_MAX);
    const results = await Promise.all(own.map((m) =>
      chat('receipts', { channel: openId, message: m.id }).then((r) => [m.id, r]).catch(() => null)));
    let changed = false;
    for (const r of results) {
      if (!r) continue;
      const [id, v] = r;
      const before = receipts.get(id);
      if (!before || before.read.length !== v.read.length || before.unread.length !== v.unread.length) changed = true;
      receipts.set(id, { read: v.read || [], unread: v.unread || [] });
    }
    return changed;
  }

  let lastRendered = null;

  async function loadMessages(firstLoad) {
    const id = openId;
    if (!id) return;
    let data;
    try {
      data = await chat('read', { channel: id });
    } catch (e) {
      if (id === openId) showError(detailError, e);
      return;
    }
    if (id !== openId || destroyed) return;
    showError(detailError, null);
    openInfo = data;
    title.textContent = data.name || id.slice(0, 8);
    topic.textContent = data.topic || '';
    if (data.archived) {
      badge.hidden = false;
      tr(badge, 'chat.archived');
    } else {
      badge.hidden = true;
    }
    input.disabled = !!data.archived;
    send.disabled = !!data.archived;
    const threads = new Map();
    await Promise.all([...expanded].map(async (root) => {
      if (!data.messages.some((m) => m.id === root)) return;
      try {
        const th = await chat('read', { channel: id, thread: root, peek: true });
        threads.set(root, th.messages.filter((m) => m.id !== root));
      } catch (_) { /* the thread stays closed */ }
    }));
    lastRendered = { data, threads };
    render(firstLoad);
    if (await loadReceipts(data.messages) && id === openId) render(false);
  }

  function render(firstLoad) {
    if (!lastRendered) return;
    const { data, threads } = lastRendered;
    const stick = firstLoad || nearBottom();
    const scrollTop = messages.scrollTop;
    clear(messages);
    if (data.messages.length === 0) {
      messages.append(tr(h('p', { class: 'placeholder' }), 'chat.noMessages'));
    }
    for (const m of data.messages) {
      messages.append(renderMessage(m));
      const replies = threads.get(m.id);
      if (replies) {
        const box = h('div', { class: 'thread', dataset: { thread: m.id } });
        for (const r of replies) box.append(renderMessage(r, { inThread: true }));
        messages.append(box);
      }
    }
    if (stick) messages.scrollTop = messages.scrollHeight;
    else messages.scrollTop = scrollTop;
  }

  // Reloads: at most one at a time, again if asked meanwhile.
  let loading = false;
  let again = false;
  async function reload(firstLoad) {
    if (loading) {
      again = true;
      return;
    }
    loading = true;
    try {
      do {
        again = false;
        await Promise.all([loadMessages(firstLoad), searching ? runSearch() : loadList()]);
        firstLoad = false;
      } while (again && !destroyed);
    } finally {
      loading = false;
    }
  }
  const scheduleReload = debounce(() => reload(false), 100);

  // Sending.
  let sending = false;
  async function doSend() {
    const text = input.value;
    if (!openId || sending || !text.trim()) return;
    sending = true;
    send.disabled = true;
    const fields = { channel: openId, text };
    if (replyTo) fields.reply = replyTo.id;
    try {
      await chat('send', fields);
      if (input.value === text) input.value = '';
      replyTo = null;
      renderReplyBanner();
      showError(detailError, null);
      if (replyTo === null && fields.reply) expanded.add(fields.reply);
    } catch (e) {
      showError(detailError, e);
    } finally {
      sending = false;
      send.disabled = !!(openInfo && openInfo.archived);
    }
    await reload(false);
    messages.scrollTop = messages.scrollHeight;
    input.focus();
  }
  send.addEventListener('click', doSend);
  input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing && e.keyCode !== 229) {
      e.preventDefault();
      doSend();
    }
  });

  // New channel.
  async function createChannel() {
    const name = newName.value.trim();
    if (!name) {
      newName.focus();
      return;
    }
    newBtn.disabled = true;
    try {
      const r = await chat('create', { name });
      newName.value = '';
      showError(listError, null);
      await loadList();
      ctx.navigate(r.channel);
    } catch (e) {
      showError(listError, e);
    } finally {
      newBtn.disabled = false;
    }
  }
  newBtn.addEventListener('click', createChannel);
  newName.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.isComposing) {
      e.preventDefault();
      createChannel();
    }
  });

  // Search.
  async function runSearch() {
    const q = searching;
    if (!q) return;
    let hits;
    try {
      hits = await chat('search', { query: q });
      showError(listError, null);
    } catch (e) {
      if (q === searching) showError(listError, e);
      return;
    }
    if (q !== searching) return;
    tr(listTitle, 'chat.searchResults');
    clear(list);
    const clearBtn = tr(h('button', { type: 'button', class: 'link clear-search' }), 'chat.clearSearch');
    clearBtn.addEventListener('click', () => {
      search.value = '';
      searching = '';
      renderList();
    });
    list.append(h('li', { class: 'list-note' }, clearBtn));
    if (!hits.length) {
      list.append(h('li', { class: 'empty' }, tr(h('span'), 'chat.noResults')));
      return;
    }
    for (const m of hits) {
      const item = h('button', {
        type: 'button',
        class: 'list-item search-result',
        dataset: { resultChannel: m.channel, messageId: m.id },
      },
      h('span', { class: 'item-name', text: m.channel_name || m.channel.slice(0, 8) }),
      h('span', { class: 'item-meta' }, h('span', { text: personName(m.author) }), h('span', { class: 'item-time', text: formatTime(m.time) })),
      h('span', { class: 'item-snippet', text: m.recalled ? t('chat.recalled') : m.text }));
      item.addEventListener('click', () => ctx.navigate(m.channel));
      list.append(h('li', null, item));
    }
  }
  const searchSoon = debounce(() => {
    searching = search.value.trim();
    if (searching) runSearch();
    else renderList();
  }, 250);
  search.addEventListener('input', searchSoon);
  search.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.isComposing) {
      e.preventDefault();
      searchSoon.cancel();
      searching = search.value.trim();
      if (searching) runSearch();
      else renderList();
    }
    if (e.key === 'Escape') {
      search.value = '';
      searching = '';
      renderList();
    }
  });

  // Live updates. Every stored envelope also comes as `changed`, naming
  // its document: the open channel's reload the messages, other channels'
  // the list; documents that are no known channel may be a new one.
  const listSoon = debounce(() => {
    if (!searching) loadList();
  }, 1500);
  const listQuick = debounce(() => {
    if (!searching) loadList();
  }, 150);
  function changed(data) {
    const ids = ((data && data.docs) || []).map((d) => d.id);
    const open = openInfo ? openInfo.channel : openId;
    if (!data || ids.some((id) => id === open)) {
      scheduleReload();
    } else if (ids.some((id) => channels.some((c) => c.channel === id))) {
      listQuick();
    } else if (ids.length) {
      listSoon();
    }
  }
  const offs = [
    onEvent('changed', changed),
    onEvent('stored', () => listSoon()),
    onEvent('notification', scheduleReload),
  ];

  return {
    open(param) {
      if (param !== openId) {
        openId = param;
        openInfo = null;
        lastRendered = null;
        replyTo = null;
        expanded.clear();
        receipts.clear();
        renderReplyBanner();
        showError(detailError, null);
        clear(messages);
        title.textContent = '';
        topic.textContent = '';
        setOpenVisible(!!openId);
        for (const b of list.querySelectorAll('[data-channel]')) b.classList.toggle('active', b.dataset.channel === openId);
        if (openId) {
          messages.append(tr(h('p', { class: 'placeholder' }), 'common.loading'));
          // Opening marks the channel read: refresh the list after.
          reload(true);
        } else {
          loadList();
        }
        return;
      }
      reload(false);
    },
    relabel() {
      if (searching) runSearch();
      else renderList();
      render(false);
    },
    unmount() {
      destroyed = true;
      scheduleReload.cancel();
      searchSoon.cancel();
      listSoon.cancel();
      listQuick.cancel();
      for (const off of offs) off();
      view.remove();
    },
  };
}
