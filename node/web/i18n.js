// Interface strings in English and Chinese. The choice is kept in
// localStorage; elements built with `tr` carry their key in data-i18n so a
// language switch relabels them in place.

const STRINGS = {
  en: {
    'app.title': 'Outpost',
    'nav.chats': 'Chats',
    'nav.docs': 'Documents',
    'nav.files': 'Files',
    'nav.projects': 'Projects',
    'status.offline': 'offline',
    'status.peers': '{n} peers',
    'status.peer': '1 peer',
    'status.unreachable': 'node unreachable',
    'status.loading': 'connecting…',
    'role.admin': 'admin',
    'role.dept-head': 'department head',
    'role.member': 'member',
    'role.guest': 'guest',
    'lang.toggle': '中文',
    'lang.label': 'Switch to Chinese',
    'common.loading': 'Loading…',
    'common.retry': 'Retry',
    'common.close': 'Close',
    'common.back': 'Back',
    'common.error': 'Error: {message}',
    'common.empty': 'Nothing here yet.',
    'common.cancel': 'Cancel',
    'chat.channels': 'Channels',
    'chat.search': 'Search messages',
    'chat.searchResults': 'Search results',
    'chat.noResults': 'No messages match.',
    'chat.clearSearch': 'Clear search',
    'chat.newChannelName': 'New channel name',
    'chat.newChannel': 'Create channel',
    'chat.pick': 'Pick a channel on the left.',
    'chat.noChannels': 'No channels yet: create one.',
    'chat.noMessages': 'No messages yet. Say hello.',
    'chat.input': 'Write a message (Enter sends, Shift+Enter for a new line)',
    'chat.send': 'Send',
    'chat.unread': '{n} unread',
    'chat.replies': '{n} replies',
    'chat.reply1': '1 reply',
    'chat.reply': 'Reply',
    'chat.replyingTo': 'Replying to {name}',
    'chat.thread': 'Thread',
    'chat.pinned': 'Pinned',
    'chat.pin': 'Pin',
    'chat.unpin': 'Unpin',
    'chat.edited': '(edited)',
    'chat.recalled': 'This message was recalled.',
    'chat.pending': 'not yet delivered',
    'chat.readBy': 'Read by {read} of {total}',
    'chat.readByAll': 'Read by everyone',
    'chat.readByNone': 'Not read yet',
    'chat.archived': 'Archived: read-only',
    'chat.members': '{n} members',
    'chat.mention': '@',
    'chat.attachment': 'Attachment: {name} ({size})',
    'chat.react': 'React',
    'chat.kind.everyone': 'everyone',
    'chat.kind.direct': 'direct',
    'chat.kind.group': 'group',
    'chat.unknown': 'unknown',
    'docs.title': 'Documents',
    'docs.newTitle': 'New document title',
    'docs.new': 'New document',
    'docs.untitled': 'Untitled',
    'docs.none': 'No documents yet: create one.',
    'docs.pick': 'Pick a document on the left.',
    'docs.topFolder': '(top)',
    'docs.space': 'Space: {name}',
    'docs.unnamedSpace': 'Unnamed space',
    'docs.viewOnly': 'View only',
    'docs.history': 'History',
    'docs.hideHistory': 'Hide history',
    'docs.restore': 'Restore this version',
    'docs.restored': 'Restored.',
    'docs.versionText': 'This version',
    'docs.diff': 'Changes from this version to now',
    'docs.noHistory': 'No changes yet.',
    'docs.saving': 'Saving…',
    'docs.saved': 'Saved',
    'docs.offline': 'Reconnecting…',
    'docs.here': 'Here now:',
    'docs.alone': 'Only you',
    'docs.refused': 'Edit refused: {message}',
    'docs.editor': 'Document text',
    'files.title': 'Files',
    'files.none': 'No files yet: add one here or with `outpost file put`.',
    'files.add': 'Add a file',
    'files.newVersion': 'Upload a new version',
    'files.pick': 'Pick a file on the left.',
    'files.download': 'Download',
    'files.preview': 'Preview',
    'files.noPreview': 'No preview for this type of file.',
    'files.versions': 'Versions',
    'files.versionCount': '{n} versions',
    'files.version1': '1 version',
    'files.version': 'Version {n}',
    'files.by': 'by {name}',
    'projects.title': 'Projects',
    'projects.newName': 'New project name',
    'projects.new': 'Create',
    'projects.none': 'No projects yet: create one.',
    'projects.pick': 'Pick a project on the left.',
    'projects.openCount': '{open} open of {tasks}',
    'projects.overdueCount': '{n} overdue',
    'projects.members': 'Members: {who}',
    'projects.everyone': 'everyone',
    'projects.viewOnly': 'View only',
    'projects.newTask': 'New task title',
    'projects.addTask': 'Add task',
    'projects.newColumn': 'New column',
    'projects.addColumn': 'Add column',
    'projects.status.todo': 'to do',
    'projects.status.in_progress': 'in progress',
    'projects.status.done': 'done',
    'projects.column.todo': 'To do',
    'projects.column.in_progress': 'In progress',
    'projects.column.done': 'Done',
    'projects.emptyColumn': 'No cards.',
    'projects.overdue': 'Overdue',
    'projects.dueOn': 'Due {date}',
    'projects.priority.low': 'Low',
    'projects.priority.normal': 'Normal',
    'projects.priority.high': 'High',
    'projects.priority.urgent': 'Urgent',
    'projects.taskTitle': 'Task title',
    'projects.column': 'Column',
    'projects.priority': 'Priority',
    'projects.due': 'Due',
    'projects.labels': 'Labels (a, b)',
    'projects.assignees': 'Assignees',
    'projects.noMembers': 'No members known yet.',
    'projects.description': 'Description',
    'projects.checklist': 'Checklist',
    'projects.newItem': 'New checklist item',
    'projects.addItem': 'Add',
    'projects.comments': 'Comments',
    'projects.noComments': 'No comments yet.',
    'projects.newComment': 'Write a comment (Ctrl+Enter sends)',
    'projects.addComment': 'Comment',
    'projects.created': 'Created by {name}, {time}',
    'projects.noTask': 'This board has no such task.',
  },
  zh: {
    'app.title': 'Outpost',
    'nav.chats': '聊天',
    'nav.docs': '文档',
    'nav.files': '文件',
    'nav.projects': '项目',
    'status.offline': '离线',
    'status.peers': '{n} 个节点',
    'status.peer': '1 个节点',
    'status.unreachable': '无法连接节点',
    'status.loading': '连接中…',
    'role.admin': '管理员',
    'role.dept-head': '部门负责人',
    'role.member': '成员',
    'role.guest': '访客',
    'lang.toggle': 'EN',
    'lang.label': '切换到英文',
    'common.loading': '加载中…',
    'common.retry': '重试',
    'common.close': '关闭',
    'common.back': '返回',
    'common.error': '错误：{message}',
    'common.empty': '这里还没有内容。',
    'common.cancel': '取消',
    'chat.channels': '频道',
    'chat.search': '搜索消息',
    'chat.searchResults': '搜索结果',
    'chat.noResults': '没有匹配的消息。',
    'chat.clearSearch': '清除搜索',
    'chat.newChannelName': '新频道名称',
    'chat.newChannel': '创建频道',
    'chat.pick': '请在左侧选择一个频道。',
    'chat.noChannels': '还没有频道：创建一个吧。',
    'chat.noMessages': '还没有消息，打个招呼吧。',
    'chat.input': '输入消息（Enter 发送，Shift+Enter 换行）',
    'chat.send': '发送',
    'chat.unread': '{n} 条未读',
    'chat.replies': '{n} 条回复',
    'chat.reply1': '1 条回复',
    'chat.reply': '回复',
    'chat.replyingTo': '回复 {name}',
    'chat.thread': '话题',
    'chat.pinned': '已置顶',
    'chat.pin': '置顶',
    'chat.unpin': '取消置顶',
    'chat.edited': '（已编辑）',
    'chat.recalled': '此消息已撤回。',
    'chat.pending': '尚未送达',
    'chat.readBy': '{total} 人中 {read} 人已读',
    'chat.readByAll': '全部已读',
    'chat.readByNone': '尚无人读',
    'chat.archived': '已归档：只读',
    'chat.members': '{n} 位成员',
    'chat.mention': '@',
    'chat.attachment': '附件：{name}（{size}）',
    'chat.react': '回应',
    'chat.kind.everyone': '全员',
    'chat.kind.direct': '私信',
    'chat.kind.group': '群组',
    'chat.unknown': '未知',
    'docs.title': '文档',
    'docs.newTitle': '新文档标题',
    'docs.new': '新建文档',
    'docs.untitled': '无标题',
    'docs.none': '还没有文档：新建一个吧。',
    'docs.pick': '请在左侧选择一个文档。',
    'docs.topFolder': '（顶层）',
    'docs.space': '空间：{name}',
    'docs.unnamedSpace': '未命名空间',
    'docs.viewOnly': '只读',
    'docs.history': '历史',
    'docs.hideHistory': '隐藏历史',
    'docs.restore': '恢复此版本',
    'docs.restored': '已恢复。',
    'docs.versionText': '此版本',
    'docs.diff': '从此版本到现在的改动',
    'docs.noHistory': '还没有改动。',
    'docs.saving': '保存中…',
    'docs.saved': '已保存',
    'docs.offline': '重新连接中…',
    'docs.here': '正在查看：',
    'docs.alone': '只有你',
    'docs.refused': '编辑被拒绝：{message}',
    'docs.editor': '文档正文',
    'files.title': '文件',
    'files.none': '还没有文件：在这里添加，或用 `outpost file put`。',
    'files.add': '添加文件',
    'files.newVersion': '上传新版本',
    'files.pick': '请在左侧选择一个文件。',
    'files.download': '下载',
    'files.preview': '预览',
    'files.noPreview': '此类文件无法预览。',
    'files.versions': '版本',
    'files.versionCount': '{n} 个版本',
    'files.version1': '1 个版本',
    'files.version': '版本 {n}',
    'files.by': '由 {name}',
    'projects.title': '项目',
    'projects.newName': '新项目名称',
    'projects.new': '创建',
    'projects.none': '还没有项目：创建一个吧。',
    'projects.pick': '请在左侧选择一个项目。',
    'projects.openCount': '{tasks} 个任务，{open} 个未完成',
    'projects.overdueCount': '{n} 个已逾期',
    'projects.members': '成员：{who}',
    'projects.everyone': '所有人',
    'projects.viewOnly': '只读',
    'projects.newTask': '新任务标题',
    'projects.addTask': '添加任务',
    'projects.newColumn': '新列',
    'projects.addColumn': '添加列',
    'projects.status.todo': '待办',
    'projects.status.in_progress': '进行中',
    'projects.status.done': '已完成',
    'projects.column.todo': '待办',
    'projects.column.in_progress': '进行中',
    'projects.column.done': '已完成',
    'projects.emptyColumn': '没有卡片。',
    'projects.overdue': '已逾期',
    'projects.dueOn': '截止 {date}',
    'projects.priority.low': '低',
    'projects.priority.normal': '普通',
    'projects.priority.high': '高',
    'projects.priority.urgent': '紧急',
    'projects.taskTitle': '任务标题',
    'projects.column': '列',
    'projects.priority': '优先级',
    'projects.due': '截止日期',
    'projects.labels': '标签（以逗号分隔）',
    'projects.assignees': '负责人',
    'projects.noMembers': '还不知道任何成员。',
    'projects.description': '描述',
    'projects.checklist': '检查清单',
    'projects.newItem': '新清单项',
    'projects.addItem': '添加',
    'projects.comments': '评论',
    'projects.noComments': '还没有评论。',
    'projects.newComment': '写评论（Ctrl+Enter 发送）',
    'projects.addComment': '评论',
    'projects.created': '由 {name} 创建于 {time}',
    'projects.noTask': '此看板上没有这个任务。',
  },
};

const KEY = 'outpost.lang';
const listeners = new Set();

function initial() {
  try {
    const saved = localStorage.getItem(KEY);
    if (saved === 'en' || saved === 'zh') return saved;
  } catch (_) { /* storage may be blocked */ }
  const nav = typeof navigator === 'undefined' ? '' : navigator.language || '';
  return nav.toLowerCase().startsWith('zh') ? 'zh' : 'en';
}

let lang = initial();

export function getLang() {
  return lang;
}

export function locale() {
  return lang === 'zh' ? 'zh-CN' : 'en-GB';
}

/** The string `key` in the current language, with `{name}` filled from `vars`. */
export function t(key, vars) {
  let s = STRINGS[lang][key] ?? STRINGS.en[key] ?? key;
  if (vars) {
    s = s.replace(/\{(\w+)\}/g, (m, k) => (k in vars ? String(vars[k]) : m));
  }
  return s;
}

/** Sets `el`'s text to string `key`, relabelled when the language changes. */
export function tr(el, key, vars) {
  el.dataset.i18n = key;
  if (vars) el.dataset.i18nVars = JSON.stringify(vars);
  else delete el.dataset.i18nVars;
  el.textContent = t(key, vars);
  return el;
}

/** Sets `el`'s placeholder (and accessible label) to string `key`. */
export function trPlaceholder(el, key) {
  el.dataset.i18nPlaceholder = key;
  el.placeholder = t(key);
  el.setAttribute('aria-label', t(key));
  return el;
}

/** Sets `el`'s title (and accessible label) to string `key`. */
export function trTitle(el, key) {
  el.dataset.i18nTitle = key;
  el.title = t(key);
  el.setAttribute('aria-label', t(key));
  return el;
}

function relabel(root) {
  for (const el of root.querySelectorAll('[data-i18n]')) {
    const vars = el.dataset.i18nVars ? JSON.parse(el.dataset.i18nVars) : undefined;
    el.textContent = t(el.dataset.i18n, vars);
  }
  for (const el of root.querySelectorAll('[data-i18n-placeholder]')) {
    el.placeholder = t(el.dataset.i18nPlaceholder);
    el.setAttribute('aria-label', el.placeholder);
  }
  for (const el of root.querySelectorAll('[data-i18n-title]')) {
    el.title = t(el.dataset.i18nTitle);
    el.setAttribute('aria-label', el.title);
  }
}

export function setLang(next) {
  if (next !== 'en' && next !== 'zh') return;
  lang = next;
  try {
    localStorage.setItem(KEY, lang);
  } catch (_) { /* storage may be blocked */ }
  document.documentElement.lang = lang === 'zh' ? 'zh-CN' : 'en';
  relabel(document);
  for (const f of listeners) f(lang);
}

export function onLangChange(f) {
  listeners.add(f);
  return () => listeners.delete(f);
}

/** A time (seconds since 1970) for people. */
export function formatTime(secs) {
  if (!secs) return '';
  const d = new Date(secs * 1000);
  const now = new Date();
  const sameDay = d.toDateString() === now.toDateString();
  const opts = sameDay
    ? { hour: '2-digit', minute: '2-digit' }
    : { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' };
  return d.toLocaleString(locale(), opts);
}

/** A day (of a time in seconds since 1970) for people; the year only when it is not this year's. */
export function formatDate(secs) {
  if (secs == null) return '';
  const d = new Date(secs * 1000);
  const opts = { month: 'short', day: 'numeric' };
  if (d.getFullYear() !== new Date().getFullYear()) opts.year = 'numeric';
  return d.toLocaleDateString(locale(), opts);
}

/** A byte count for people. */
export function formatBytes(n) {
  if (n == null) return '';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i += 1;
  }
  return (i === 0 ? String(v) : v.toFixed(v < 10 ? 1 : 0)) + ' ' + units[i];
}

// Shows error `e` (or hides the element when there is none) in `el`.
export function showError(el, e) {
  el.hidden = !e;
  el.textContent = e ? t('common.error', { message: e.message || String(e) }) : '';
}
