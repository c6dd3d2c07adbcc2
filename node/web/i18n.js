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
    'nav.directory': 'Directory',
    'nav.admin': 'Admin',
    'status.offline': 'offline',
    'status.peers': '{n} peers',
    'status.peer': '1 peer',
    'status.unreachable': 'node unreachable',
    'status.loading': 'connecting…',
    'role.admin': 'admin',
    'role.dept-head': 'department head',
    'role.member': 'member',
    'role.guest': 'guest',
    'role.relay': 'relay',
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
    'directory.title': 'Departments',
    'directory.wholeOrg': 'Whole org',
    'directory.search': 'Search people by name',
    'directory.filterRole': 'Role',
    'directory.filterLevel': 'Level',
    'directory.anyRole': 'Any role',
    'directory.anyLevel': 'Any level',
    'directory.level': 'Level {n}',
    'directory.people': '{n} people',
    'directory.person1': '1 person',
    'directory.none': 'No one matches these filters.',
    'directory.noPeople': 'No certified members are known to this node yet.',
    'directory.clearFilters': 'Clear filters',
    'directory.message': 'Message',
    'directory.you': 'you',
    'directory.connected': 'Connected to this node',
    'directory.notConnected': 'Not connected to this node',
    'directory.expand': 'Expand',
    'directory.collapse': 'Collapse',
    'admin.tab.certs': 'Certificates',
    'admin.tab.devices': 'Devices',
    'admin.tab.health': 'Health',
    'admin.certs': 'Certificates',
    'admin.count': '{n} certificates',
    'admin.count1': '1 certificate',
    'admin.filter': 'Filter by name, department or serial',
    'admin.state.active': 'Active',
    'admin.state.revoked': 'Revoked',
    'admin.state.expired': 'Expired',
    'admin.state.other': 'Not valid',
    'admin.state.all': 'All',
    'admin.col.name': 'Name',
    'admin.col.role': 'Role',
    'admin.col.dept': 'Department',
    'admin.col.level': 'Level',
    'admin.col.serial': 'Serial',
    'admin.col.status': 'Status',
    'admin.col.actions': '',
    'admin.validUntil': 'valid until {date}',
    'admin.noCerts': 'No certificates match.',
    'admin.revoke': 'Revoke',
    'admin.issue': 'Issue a certificate',
    'admin.issueHelp': 'Paste the request a new member made with `outpost cert request` (or load its file), then give their role and department.',
    'admin.request': 'Certificate request',
    'admin.requestPlaceholder': 'Paste the request: -----BEGIN OUTPOST REQUEST----- …',
    'admin.requestRequired': 'Paste a certificate request first.',
    'admin.pastedRequest': 'the pasted request',
    'admin.pastedText': 'the pasted text',
    'admin.loadFile': 'Load from a file…',
    'admin.role': 'Role',
    'admin.roleFromInvite': 'Set by the invite in the request',
    'admin.dept': 'Department',
    'admin.deptPlaceholder': 'e.g. HQ/East; empty: the whole org',
    'admin.position': 'Position',
    'admin.level': 'Level',
    'admin.levelInvalid': 'The level is a whole number from 0 to 65535.',
    'admin.email': 'Email',
    'admin.name': 'Name',
    'admin.namePlaceholder': 'The name in the request',
    'admin.valid': 'Valid for',
    'admin.validInvalid': 'The validity is a whole number of at least 1.',
    'admin.unit.h': 'hours',
    'admin.unit.d': 'days',
    'admin.unit.w': 'weeks',
    'admin.unit.y': 'years',
    'admin.resources': 'Resources (for guests)',
    'admin.resourcesPlaceholder': 'ids, separated by commas',
    'admin.issueButton': 'Issue certificate',
    'admin.issued': 'Certificate issued for {name}. Send it to them: they install it with `outpost cert install FILE`.',
    'admin.copy': 'Copy',
    'admin.copied': 'Copied',
    'admin.download': 'Download',
    'admin.needsRights': 'Issuing and revoking certificates needs an admin or department head certificate.',
    'admin.install': 'Install a certificate',
    'admin.installHelp': 'A certificate, revocation or org export someone sent you: this node stores it and passes it on.',
    'admin.bundlePlaceholder': 'Paste it: -----BEGIN OUTPOST CERTIFICATE----- …',
    'admin.bundleRequired': 'Paste a certificate first.',
    'admin.installButton': 'Install',
    'admin.installed': 'Installed.',
    'admin.verify': 'Verify a certificate',
    'admin.verifyHelp': 'Checks a certificate against everything this node knows: its chain to the org, revocations and validity. Nothing is stored.',
    'admin.verifyButton': 'Verify',
    'admin.verified': 'Valid.',
    'admin.notVerified': 'Not valid.',
    'admin.revokeTitle': 'Revoke this certificate?',
    'admin.revokeCert': '{name}, {role} of {dept} (serial {serial})',
    'admin.revokeDevice': 'Device {name} of {member} (serial {serial})',
    'admin.revokeWarn': 'Every certificate issued under it falls with it (a member’s devices, the members a department head certified), and every node disconnects them as the revocation arrives. A revocation cannot be undone.',
    'admin.revokeThisDevice': 'This is your own certificate or the device you are using: after the revocation this node can no longer reach the others.',
    'admin.reason': 'Reason (kept with the revocation)',
    'admin.reasonRequired': 'Give a reason.',
    'admin.reasonTooLong': 'The reason is too long (at most 256 bytes).',
    'admin.revokeConfirm': 'Revoke',
    'admin.revokedNotice': 'Revoked: {name}. Running nodes pass the revocation on by themselves; send this text to nodes that will not meet yours.',
    'admin.myDevices': 'Your devices',
    'admin.orgDevices': 'Devices in the org',
    'admin.devicesHelp': 'Each node of a member is a device, certified with the member’s key when it joins. Revoking a device disconnects it; the member keeps their certificate.',
    'admin.noDevices': 'No devices.',
    'admin.thisDevice': 'this device',
    'admin.relayNode': 'relay',
    'admin.node': 'This node',
    'admin.refreshed': 'Updated {time}',
    'admin.org': 'Org',
    'admin.member': 'Member',
    'admin.yourRole': 'Role',
    'admin.noRole': 'no valid certificate',
    'admin.device': 'Device (peer id)',
    'admin.uptime': 'Running for',
    'admin.startedAt': 'since {time}',
    'admin.store': 'Store',
    'admin.storeSize': '{size}, {n} changes',
    'admin.docs': 'Documents',
    'admin.docsState': '{n} documents; {pending} changes waiting, {invalid} refused',
    'admin.listen': 'Listening on',
    'admin.peers': 'Connected peers',
    'admin.noPeers': 'No peers are connected.',
    'admin.notAdmitted': 'not admitted',
    'admin.lastSync': 'Last sync {time}: {sent} sent, {received} received',
    'admin.dur.d': '{n} d',
    'admin.dur.h': '{n} h',
    'admin.dur.m': '{n} min',
    'admin.dur.s': '{n} s',
    'admin.comingSoon': 'Not yet',
    'admin.audit': 'Audit log',
    'admin.auditSoon': 'The audit log (who issued, revoked and changed what, and when) arrives with the operations module. Until then, the Certificates tab lists revoked certificates, and `outpost space history` shows who changed a space’s permissions.',
    'admin.usage': 'Usage statistics',
    'admin.usageSoon': 'Usage statistics (active members, messages, documents and storage over time) arrive with the operations module.',
  },
  zh: {
    'app.title': 'Outpost',
    'nav.chats': '聊天',
    'nav.docs': '文档',
    'nav.files': '文件',
    'nav.projects': '项目',
    'nav.directory': '通讯录',
    'nav.admin': '管理',
    'status.offline': '离线',
    'status.peers': '{n} 个节点',
    'status.peer': '1 个节点',
    'status.unreachable': '无法连接节点',
    'status.loading': '连接中…',
    'role.admin': '管理员',
    'role.dept-head': '部门负责人',
    'role.member': '成员',
    'role.guest': '访客',
    'role.relay': '中继',
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
    'directory.title': '部门',
    'directory.wholeOrg': '全组织',
    'directory.search': '按姓名搜索',
    'directory.filterRole': '角色',
    'directory.filterLevel': '级别',
    'directory.anyRole': '所有角色',
    'directory.anyLevel': '所有级别',
    'directory.level': '{n} 级',
    'directory.people': '{n} 人',
    'directory.person1': '1 人',
    'directory.none': '没有符合筛选条件的人。',
    'directory.noPeople': '本节点还不知道任何已认证的成员。',
    'directory.clearFilters': '清除筛选',
    'directory.message': '发消息',
    'directory.you': '我',
    'directory.connected': '已连接到本节点',
    'directory.notConnected': '未连接到本节点',
    'directory.expand': '展开',
    'directory.collapse': '折叠',
    'admin.tab.certs': '证书',
    'admin.tab.devices': '设备',
    'admin.tab.health': '运行状况',
    'admin.certs': '证书',
    'admin.count': '{n} 个证书',
    'admin.count1': '1 个证书',
    'admin.filter': '按姓名、部门或序列号筛选',
    'admin.state.active': '有效',
    'admin.state.revoked': '已吊销',
    'admin.state.expired': '已过期',
    'admin.state.other': '无效',
    'admin.state.all': '全部',
    'admin.col.name': '姓名',
    'admin.col.role': '角色',
    'admin.col.dept': '部门',
    'admin.col.level': '级别',
    'admin.col.serial': '序列号',
    'admin.col.status': '状态',
    'admin.col.actions': '',
    'admin.validUntil': '有效期至 {date}',
    'admin.noCerts': '没有匹配的证书。',
    'admin.revoke': '吊销',
    'admin.issue': '签发证书',
    'admin.issueHelp': '粘贴新成员用 `outpost cert request` 生成的申请（或从文件载入），再填写其角色和部门。',
    'admin.request': '证书申请',
    'admin.requestPlaceholder': '粘贴申请：-----BEGIN OUTPOST REQUEST----- …',
    'admin.requestRequired': '请先粘贴证书申请。',
    'admin.pastedRequest': '粘贴的申请',
    'admin.pastedText': '粘贴的文本',
    'admin.loadFile': '从文件载入…',
    'admin.role': '角色',
    'admin.roleFromInvite': '由申请中的邀请决定',
    'admin.dept': '部门',
    'admin.deptPlaceholder': '例如 HQ/East；留空表示全组织',
    'admin.position': '职位',
    'admin.level': '级别',
    'admin.levelInvalid': '级别须为 0 到 65535 之间的整数。',
    'admin.email': '邮箱',
    'admin.name': '姓名',
    'admin.namePlaceholder': '申请中的姓名',
    'admin.valid': '有效期',
    'admin.validInvalid': '有效期须为不小于 1 的整数。',
    'admin.unit.h': '小时',
    'admin.unit.d': '天',
    'admin.unit.w': '周',
    'admin.unit.y': '年',
    'admin.resources': '资源（访客用）',
    'admin.resourcesPlaceholder': 'ID，用逗号分隔',
    'admin.issueButton': '签发证书',
    'admin.issued': '已为 {name} 签发证书。请发给对方，用 `outpost cert install FILE` 安装。',
    'admin.copy': '复制',
    'admin.copied': '已复制',
    'admin.download': '下载',
    'admin.needsRights': '签发和吊销证书需要管理员或部门负责人证书。',
    'admin.install': '安装证书',
    'admin.installHelp': '别人发给你的证书、吊销或组织导出包：本节点会保存并转发。',
    'admin.bundlePlaceholder': '粘贴：-----BEGIN OUTPOST CERTIFICATE----- …',
    'admin.bundleRequired': '请先粘贴证书。',
    'admin.installButton': '安装',
    'admin.installed': '已安装。',
    'admin.verify': '验证证书',
    'admin.verifyHelp': '依据本节点所知的一切检查证书：到组织的证书链、吊销和有效期。不保存任何内容。',
    'admin.verifyButton': '验证',
    'admin.verified': '有效。',
    'admin.notVerified': '无效。',
    'admin.revokeTitle': '吊销此证书？',
    'admin.revokeCert': '{name}，{dept} 的{role}（序列号 {serial}）',
    'admin.revokeDevice': '{member} 的设备 {name}（序列号 {serial}）',
    'admin.revokeWarn': '在它之下签发的证书（成员的设备、部门负责人认证的成员）会一并失效，各节点收到吊销后会断开它们。吊销无法撤销。',
    'admin.revokeThisDevice': '这是你自己的证书或正在使用的设备：吊销后本节点将无法再连接其他节点。',
    'admin.reason': '原因（随吊销一起保存）',
    'admin.reasonRequired': '请填写原因。',
    'admin.reasonTooLong': '原因太长（最多 256 字节）。',
    'admin.revokeConfirm': '吊销',
    'admin.revokedNotice': '已吊销：{name}。运行中的节点会自动转发吊销；请把这段文本发给不会与你的节点相遇的节点。',
    'admin.myDevices': '你的设备',
    'admin.orgDevices': '组织中的设备',
    'admin.devicesHelp': '成员的每个节点都是一台设备，加入时由成员密钥认证。吊销设备会断开它，成员的证书保持不变。',
    'admin.noDevices': '没有设备。',
    'admin.thisDevice': '本设备',
    'admin.relayNode': '中继',
    'admin.node': '本节点',
    'admin.refreshed': '更新于 {time}',
    'admin.org': '组织',
    'admin.member': '成员',
    'admin.yourRole': '角色',
    'admin.noRole': '没有有效证书',
    'admin.device': '设备（节点 ID）',
    'admin.uptime': '已运行',
    'admin.startedAt': '自 {time} 起',
    'admin.store': '存储',
    'admin.storeSize': '{size}，{n} 个变更',
    'admin.docs': '文档',
    'admin.docsState': '{n} 个文档；{pending} 个变更等待中，{invalid} 个被拒绝',
    'admin.listen': '监听地址',
    'admin.peers': '已连接的节点',
    'admin.noPeers': '没有已连接的节点。',
    'admin.notAdmitted': '未准入',
    'admin.lastSync': '上次同步 {time}：发送 {sent}，接收 {received}',
    'admin.dur.d': '{n} 天',
    'admin.dur.h': '{n} 小时',
    'admin.dur.m': '{n} 分钟',
    'admin.dur.s': '{n} 秒',
    'admin.comingSoon': '尚未提供',
    'admin.audit': '审计日志',
    'admin.auditSoon': '审计日志（谁在何时签发、吊销、更改了什么）将随运维模块提供。在此之前，“证书”标签页列出已吊销的证书，`outpost space history` 显示谁更改了空间的权限。',
    'admin.usage': '使用统计',
    'admin.usageSoon': '使用统计（活跃成员、消息、文档和存储随时间的变化）将随运维模块提供。',
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
