// Browser end-to-end test of the node's web page, driven by
// tests/tests/web_page.rs, which starts two nodes and passes what this
// script needs in the environment variable OUTPOST_E2E:
//
//   {"a": {"url", "login"}, "b": {"url", "login"},
//    "channel": "<channel id>", "channel_name": "...",
//    "doc": "<doc id>",
//    "project": "<project id>", "project_name": "...",
//    "tasks": {"hall": "<task id>", "release": "<task id>"},
//    "screenshots": "<dir>"}
//
// (`login` is the node's url + "/login?token=" + its token.) Browser A
// uses node a, browser B node b. The steps: the page and the API refuse a
// browser without the token; a chat message from each reaches the other;
// A edits one of its messages and recalls another, and B sees the new
// text marked edited and the other recalled;
// both type into one document at the same time and end with the same
// text holding both sentences whole; the document's history lists the
// changes; A moves the document into the folder "Minutes" and renames it,
// and B's list shows it there under the new name; A shares a new document
// with B as a reader only, and B's page says "View only"; a project made
// in A shows in B's list; a card added on A's
// board shows on B's, A drags it onto another column (a real HTML5 drop)
// and B's board shows it there, B comments on it and A sees the comment;
// and the page at phone width, where B moves a card with the task
// details' column select (touch screens cannot drag).
//
// Uses Debian's Chromium (/usr/bin/chromium) through playwright-core;
// `scripts/test` installs both. Prints {"ok": true, "steps": [...]} on
// success; on failure prints the step and the error to stderr, saves
// failure-a.png and failure-b.png (and the WebSocket frames each page
// sent and received, failure-ws-a.log and failure-ws-b.log), and exits
// with status 1.

import { chromium } from 'playwright-core';
import { STEP_TIMEOUT, check, current, setUp, step, steps, until } from './harness.mjs';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** How long one action or wait may take. */
/** Delay between keystrokes when typing into the document. */
const KEY_DELAY = 30;
const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };

const { config, shot } = setUp('tests/tests/web_page.rs', ['failure-a.png', 'failure-b.png', 'failure-ws-a.log', 'failure-ws-b.log']);

/** Waits until the page shows a `.message .message-body` reading exactly `text`. */
async function waitForMessage(page, who, text) {
  try {
    await page.waitForFunction(
      (t) => [...document.querySelectorAll('.message .message-body')].some((m) => m.textContent.trim() === t),
      text,
      { timeout: STEP_TIMEOUT },
    );
  } catch (e) {
    const shown = await page
      .$$eval('.message .message-body', (ms) => ms.map((m) => m.textContent.trim()))
      .catch(() => []);
    throw new Error(`${who} never showed the message ${JSON.stringify(text)}; it shows ${JSON.stringify(shown)} (${e.message.split('\n')[0]})`);
  }
}

/** Opens the channel in the chat view. */
async function openChannel(page) {
  await page.click('[data-nav=chats]');
  const item = page.locator(`[data-channel="${config.channel}"]`).first();
  await item.waitFor();
  const label = await item.textContent();
  check(
    label.includes(config.channel_name),
    `the channel's entry reads ${JSON.stringify(label)}, without its name ${JSON.stringify(config.channel_name)}`,
  );
  await item.click();
  await page.waitForSelector('#message-input');
}

/** Sends `text` in the open channel. */
async function send(page, text) {
  await page.fill('#message-input', text);
  await page.click('#send');
}

/** Opens the document in the documents view and waits for its editor. */
async function openDoc(page) {
  await page.click('[data-nav=docs]');
  await page.click(`[data-doc="${config.doc}"]`);
  await page.waitForSelector('#editor');
}

/** The task ids of the cards of column `column` on `page`'s board, in order. */
function cardsOf(page, column) {
  return page.$$eval(`#board .board-column[data-column="${column}"] .card`, (cards) => cards.map((c) => c.dataset.task));
}

/** Waits until `page`'s board shows `task` at `index` of `column`. */
async function waitForCard(page, who, task, column, index) {
  await until(`${who} shows the card ${task} at ${index} of column ${column}`, async () => {
    const cards = await cardsOf(page, column);
    return [cards[index] === task, `column ${column} holds ${JSON.stringify(cards)}`];
  });
}

/** Opens the project in the projects view and waits for its board. */
async function openProject(page) {
  await page.click('[data-nav=projects]');
  await page.click(`[data-project="${config.project}"]`);
  await page.waitForSelector(`#board[data-project="${config.project}"] .card`);
}

/** Fails unless the editor has the keyboard focus, so that typing goes into it. */
async function expectFocus(page, who) {
  const focused = await page.evaluate(() => {
    const e = document.activeElement;
    return e ? `${e.tagName.toLowerCase()}#${e.id}` : 'nothing';
  });
  check(focused === 'textarea#editor', `${who}: after clicking #editor, the focus is on ${focused}`);
}

/** What the editor of `page` shows: synced flag, heads and text. */
async function editorState(page) {
  const editor = page.locator('#editor');
  return {
    synced: await editor.getAttribute('data-synced'),
    heads: await editor.getAttribute('data-heads'),
    value: await editor.inputValue(),
  };
}

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
  ],
});

/** Errors the pages reported (uncaught exceptions, console errors). */
const pageErrors = [];
/** WebSocket frames each page sent and received, saved on failure. */
const wsFrames = {};
async function newPage(who) {
  const context = await browser.newContext({ viewport: DESKTOP });
  context.setDefaultTimeout(STEP_TIMEOUT);
  const page = await context.newPage();
  page.on('pageerror', (e) => pageErrors.push(`${who}: uncaught ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') pageErrors.push(`${who}: console: ${m.text()}`);
  });
  page.on('response', (r) => {
    if (r.status() >= 400) pageErrors.push(`${who}: ${r.request().method()} ${r.url()} answered ${r.status()}`);
  });
  const frames = [];
  wsFrames[who] = frames;
  const note = (dir, socket, payload) => {
    frames.push(`${new Date().toISOString()} ${dir} ${new URL(socket.url()).pathname} ${String(payload).slice(0, 2000)}`);
  };
  page.on('websocket', (socket) => {
    socket.on('framesent', (f) => note('>', socket, f.payload));
    socket.on('framereceived', (f) => note('<', socket, f.payload));
    socket.on('close', () => note('closed', socket, ''));
  });
  page.on('requestfailed', (r) => pageErrors.push(`${who}: ${r.method()} ${r.url()} failed: ${r.failure()?.errorText}`));
  return { context, page };
}

let A;
let B;
let exitCode = 0;
const stamp = `${Date.now().toString(36)}-${Math.floor(Math.random() * 1e6).toString(36)}`;
const chatA = `hello from A ${stamp}`;
const chatB = `reply from B ${stamp}`;
const cardTitle = `Print flyers ${stamp}`;
const commentB = `Proofs look good ${stamp}`;
const sentenceA = 'Hello from A. ';
const sentenceB = 'B was here. ';
let finalText = null;

try {
  await step('unauthenticated', async () => {
    const context = await browser.newContext();
    try {
      for (const path of ['/api/status', '/', '/login?token=wrong']) {
        const response = await context.request.get(config.a.url + path, {
          maxRedirects: 0,
          timeout: STEP_TIMEOUT,
        });
        check(
          response.status() === 401,
          `GET ${path} without the token answered ${response.status()}, not 401: ${(await response.text()).slice(0, 200)}`,
        );
      }
    } finally {
      await context.close();
    }
  });

  await step('login', async () => {
    A = await newPage('A');
    B = await newPage('B');
    for (const [who, side, node] of [['A', A, config.a], ['B', B, config.b]]) {
      const response = await side.page.goto(node.login, { timeout: STEP_TIMEOUT });
      check(response !== null, `${who}: /login gave no response`);
      check(response.status() === 200, `${who}: /login led to status ${response.status()}`);
      const url = new URL(side.page.url());
      check(url.pathname === '/', `${who}: /login did not redirect to /, the page is at ${side.page.url()}`);
      check(!url.search.includes('token'), `${who}: the page's address still holds the token: ${side.page.url()}`);
      const cookies = await side.context.cookies(node.url);
      check(cookies.length > 0, `${who}: /login set no cookie`);
      check(cookies.every((c) => c.httpOnly), `${who}: /login set a cookie that is not HttpOnly: ${JSON.stringify(cookies)}`);
      await side.page.waitForSelector('[data-nav=chats]');
    }
  });

  await step('chat A to B', async () => {
    await openChannel(A.page);
    await send(A.page, chatA);
    await waitForMessage(A.page, 'A (the sender)', chatA);
    await openChannel(B.page);
    await waitForMessage(B.page, 'B', chatA);
  });

  await step('chat B to A', async () => {
    await send(B.page, chatB);
    await waitForMessage(A.page, 'A', chatB);
    await waitForMessage(B.page, 'B (the sender)', chatB);
    await shot(A.page, 'chat-a.png');
    await shot(B.page, 'chat-b.png');
  });

  // A edits one of its messages and recalls another; B sees both.
  const chatEdit = `to be edited ${stamp}`;
  const chatEdited = `edited by A ${stamp}`;
  const chatRecall = `to be recalled ${stamp}`;
  await step('chat edit and recall', async () => {
    for (const text of [chatEdit, chatRecall]) {
      await send(A.page, text);
      await waitForMessage(A.page, 'A (the sender)', text);
      await waitForMessage(B.page, 'B', text);
    }
    const idOf = (text) => A.page.evaluate((t) => {
      const m = [...document.querySelectorAll('.message')].find((x) => x.querySelector('.message-body')?.textContent.trim() === t);
      return m ? m.dataset.messageId : null;
    }, text);
    const editId = await idOf(chatEdit);
    const recallId = await idOf(chatRecall);
    check(editId && recallId, 'A shows no id on its messages');
    await A.page.click(`.message[data-message-id="${editId}"] [data-action=edit]`);
    await A.page.fill('.message-edit-text', chatEdited);
    await A.page.click('.message-edit-save');
    await waitForMessage(B.page, 'B', chatEdited);
    await until('B marks the message edited', async () => {
      const marked = await B.page.locator(`.message[data-message-id="${editId}"] .edited`).count();
      return [marked === 1, `${marked} .edited marks on it`];
    });
    A.page.once('dialog', (d) => d.accept());
    await A.page.click(`.message[data-message-id="${recallId}"] [data-action=recall]`);
    await until('B shows the message recalled', async () => {
      const n = await B.page.locator(`.message.recalled[data-message-id="${recallId}"]`).count();
      return [n === 1, `${n} recalled messages with its id`];
    });
    check((await B.page.locator(`.message[data-message-id="${recallId}"] [data-action]`).count()) === 0,
      'B is offered to edit or recall A\'s message');
    await shot(A.page, 'chat-edit-a.png');
    await shot(B.page, 'chat-edit-b.png');
  });

  await step('open document', async () => {
    await Promise.all([openDoc(A.page), openDoc(B.page)]);
    await until('both editors are synced', async () => {
      const [a, b] = [await editorState(A.page), await editorState(B.page)];
      return [a.synced === 'true' && b.synced === 'true', JSON.stringify({ a, b })];
    });
  });

  await step('type at once', async () => {
    const typeA = (async () => {
      await A.page.locator('#editor').click();
      await A.page.keyboard.press('Control+End');
      await expectFocus(A.page, 'A');
      await A.page.keyboard.type(sentenceA, { delay: KEY_DELAY });
    })();
    const typeB = (async () => {
      await B.page.locator('#editor').click();
      await B.page.keyboard.press('Control+Home');
      await expectFocus(B.page, 'B');
      await B.page.keyboard.type(sentenceB, { delay: KEY_DELAY });
    })();
    await Promise.all([typeA, typeB]);
  });

  await step('document converges', async () => {
    await until('both editors are synced with equal heads and text holding both sentences', async () => {
      const [a, b] = [await editorState(A.page), await editorState(B.page)];
      const ok =
        a.synced === 'true' &&
        b.synced === 'true' &&
        a.heads !== null &&
        a.heads !== '' &&
        a.heads === b.heads &&
        a.value === b.value &&
        a.value.split(sentenceA).length === 2 &&
        a.value.split(sentenceB).length === 2;
      return [ok, JSON.stringify({ a, b })];
    });
    finalText = await A.page.locator('#editor').inputValue();
    check(finalText.startsWith(sentenceB), `B typed at the start, but the text is ${JSON.stringify(finalText)}`);
    check(finalText.trimEnd().endsWith(sentenceA.trimEnd()), `A typed at the end, but the text is ${JSON.stringify(finalText)}`);
    await shot(A.page, 'doc-a.png');
    await shot(B.page, 'doc-b.png');
  });

  await step('history', async () => {
    await A.page.click('#history-button');
    await until('the history lists at least 2 changes', async () => {
      const n = await A.page.locator('.history-item').count();
      return [n >= 2, `${n} .history-item elements`];
    });
    await shot(A.page, 'history.png');
  });

  // A moves the document into a folder and renames it; B's list follows.
  const docTitle = `Meeting notes ${stamp}`;
  await step('document folder and title', async () => {
    await A.page.click('#doc-share');
    await A.page.waitForSelector('#doc-manage:not([hidden])');
    await A.page.fill('#doc-folder', 'Minutes');
    await A.page.click('#doc-move');
    await until('A lists the document under Minutes', async () => {
      const n = await A.page.locator(`#doc-list .group[data-folder="Minutes"] [data-doc="${config.doc}"]`).count();
      return [n === 1, `${n} entries`];
    });
    await A.page.fill('#doc-title-input', docTitle);
    await A.page.click('#doc-rename');
    await until('A shows the new title', async () => {
      const title = (await A.page.locator('#doc-title').textContent()) ?? '';
      return [title === docTitle, `#doc-title is ${JSON.stringify(title)}`];
    });
    await shot(A.page, 'doc-share.png');
    await until('B lists the document under Minutes with its new name', async () => {
      const item = B.page.locator(`#doc-list .group[data-folder="Minutes"] [data-doc="${config.doc}"] .item-name`);
      const names = await item.allTextContents();
      return [names.length === 1 && names[0] === docTitle, `B's entries there: ${JSON.stringify(names)}`];
    });
    await A.page.click('#doc-share');
  });

  // A shares a new document with B as a reader only; B's page says so.
  await step('document view only', async () => {
    const keyOf = (page) => page.evaluate(async () => (await (await import('/web/api.js')).get('/api/status')).member);
    const [aKey, bKey] = [await keyOf(A.page), await keyOf(B.page)];
    check(aKey && bKey, 'no member keys in /api/status');
    const title = `For ben only ${stamp}`;
    await A.page.fill('#new-doc-title', title);
    await A.page.click('#new-doc');
    // The open entry and its space, read at once: the list may be drawn
    // again between two reads (the old entry then names the new space).
    const openEntry = () =>
      A.page.evaluate(() => {
        const item = document.querySelectorAll('#doc-list [data-doc].active');
        if (item.length !== 1) return { doc: null, space: null };
        return { doc: item[0].dataset.doc, space: item[0].closest('.group')?.dataset.space ?? null };
      });
    let before = null;
    await until('A opens the new document', async () => {
      const shown = (await A.page.locator('#doc-title').textContent()) ?? '';
      before = await openEntry();
      return [shown === title && before.doc !== null, `#doc-title is ${JSON.stringify(shown)}, the open entry ${before.doc}`];
    });
    await A.page.click('#doc-share');
    await A.page.fill('#doc-share-readers', `member:${bKey}`);
    await A.page.fill('#doc-share-writers', `member:${aKey}`);
    await A.page.click('#doc-share-save');
    let shared = null;
    await until('A lists the document in its own space', async () => {
      const shown = A.page.locator('#doc-manage-error:not([hidden])');
      const error = (await shown.count()) ? await shown.textContent() : null;
      check(!error, `A's share panel says ${error}`);
      const open = await openEntry();
      shared = open.doc !== before.doc && open.space !== before.space ? open.doc : null;
      return [shared !== null, `the open entry ${open.doc} is in space ${open.space} (was ${before.doc} in ${before.space})`];
    });
    const item = B.page.locator(`#doc-list [data-doc="${shared}"]`);
    await until('B lists the shared document', async () => [(await item.count()) === 1, `${shared} is not listed yet`]);
    await item.click();
    await B.page.waitForSelector('#doc-title');
    await until('B sees the document as view only', async () => {
      const badge = await B.page.locator('.detail-tools .view-only:not([hidden])').count();
      const text = badge ? await B.page.locator('.detail-tools .view-only').textContent() : '';
      return [badge === 1 && text === 'View only', `${badge} badges reading ${JSON.stringify(text)}`];
    });
    check(!(await B.page.locator('#doc-share').isVisible()), 'B, a reader only, is offered the share panel');
    await shot(B.page, 'doc-view-only.png');
    await openDoc(A.page);
    await openDoc(B.page);
  });

  // A makes a project in the page; B, already on the projects screen,
  // sees it listed without reloading.
  const board = { created: null, task: null };
  await step('project create', async () => {
    await B.page.click('[data-nav=projects]');
    await B.page.waitForSelector(`[data-project="${config.project}"]`);
    await A.page.click('[data-nav=projects]');
    const name = `Open day ${stamp}`;
    await A.page.fill('#new-project-name', name);
    await A.page.click('#new-project');
    await until('A shows the new project open', async () => {
      const title = await A.page.locator('#project-title').textContent();
      board.created = await A.page.locator('#board').getAttribute('data-project');
      return [title === name && !!board.created, `#project-title is ${JSON.stringify(title)}, #board[data-project] ${board.created}`];
    });
    await B.page.locator(`[data-project="${board.created}"]`).waitFor();
  });

  await step('open board', async () => {
    await Promise.all([openProject(A.page), openProject(B.page)]);
    for (const [who, page] of [['A', A.page], ['B', B.page]]) {
      const name = await page.locator('#project-title').textContent();
      check(name === config.project_name, `${who}: the board is titled ${JSON.stringify(name)}`);
      const columns = await page.$$eval('#board .board-column-name', (cs) => cs.map((c) => c.textContent));
      check(columns.join('|') === 'To do|In progress|Done', `${who}: the columns are ${JSON.stringify(columns)}`);
      const overdue = page.locator(`.card[data-task="${config.tasks.hall}"] .card-overdue`);
      check((await overdue.count()) === 1, `${who}: the card past its due date shows no overdue badge`);
    }
  });

  // A adds a card with a due day and an assignee; B's board shows it.
  await step('card A to B', async () => {
    const due = new Date(Date.now() + 30 * 86_400_000);
    const day = `${due.getFullYear()}-${String(due.getMonth() + 1).padStart(2, '0')}-${String(due.getDate()).padStart(2, '0')}`;
    await A.page.fill('#new-task-title', cardTitle);
    await A.page.fill('#new-task-due', day);
    await A.page.click('#new-task-who summary');
    await A.page.locator('#new-task-assignees').getByLabel('ben', { exact: true }).check();
    await A.page.click('#new-task-add');
    const card = A.page.locator('#board .board-column[data-column="todo"] .card', {
      has: A.page.locator('.card-title', { hasText: cardTitle }),
    });
    await card.waitFor();
    board.task = await card.getAttribute('data-task');
    const onB = B.page.locator(`#board .board-column[data-column="todo"] .card[data-task="${board.task}"]`);
    await onB.waitFor();
    const title = await onB.locator('.card-title').textContent();
    check(title === cardTitle, `B shows the card titled ${JSON.stringify(title)}`);
    const who = await onB.locator('.card-assignee-name').allTextContents();
    check(who.join(',') === 'ben', `B shows the card assigned to ${JSON.stringify(who)}`);
    check((await onB.locator('.card-due').count()) === 1, 'B shows the card without its due day');
  });

  // A drags the card onto the top of In progress: the page gets a real
  // drop event and sends the move; B's board follows.
  await step('drag A to B', async () => {
    await A.page.evaluate(() => {
      window.outpostDrops = 0;
      document.addEventListener('drop', () => { window.outpostDrops += 1; }, true);
    });
    const card = A.page.locator(`.card[data-task="${board.task}"]`);
    const onto = A.page.locator(`#board .board-column[data-column="in_progress"] .card[data-task="${config.tasks.release}"]`);
    await card.dragTo(onto, { targetPosition: { x: 30, y: 4 } });
    const drops = await A.page.evaluate(() => window.outpostDrops);
    check(drops === 1, `dragging the card fired ${drops} drop events, not 1`);
    await waitForCard(A.page, 'A', board.task, 'in_progress', 0);
    await waitForCard(B.page, 'B', board.task, 'in_progress', 0);
    await waitForCard(B.page, 'B', config.tasks.release, 'in_progress', 1);
    await shot(A.page, 'board-a.png');
  });

  // B opens the card's details and comments; A's card counts it.
  await step('comment B to A', async () => {
    await B.page.click(`.card[data-task="${board.task}"]`);
    await B.page.waitForSelector(`#task-details[data-task="${board.task}"]`);
    const column = await B.page.locator('#task-move-select').inputValue();
    check(column === 'in_progress', `B's details say the card is in column ${column}`);
    await B.page.fill('#task-comment-text', commentB);
    await B.page.click('#task-comment-add');
    await B.page.locator('#task-comments .comment', { hasText: commentB }).waitFor();
    await A.page.locator(`.card[data-task="${board.task}"] .card-comments`).waitFor();
    await B.page.locator('#task-details').evaluate((d) => { d.scrollTop = 0; });
    await shot(B.page, 'task-b.png');
  });

  // A uploads a file from the page; B finds it in the library and its
  // preview; the Rust side compares the bytes on both nodes.
  const upload = { name: `notes-${stamp}.txt`, text: `Uploaded from the page ${stamp}\n` };
  await step('file upload', async () => {
    await A.page.click('[data-nav=files]');
    await A.page.setInputFiles('#file-upload', {
      name: upload.name,
      mimeType: 'text/plain',
      buffer: Buffer.from(upload.text),
    });
    await until('A sees the uploaded file open', async () => {
      const title = (await A.page.locator('#file-title').textContent().catch(() => '')) ?? '';
      return [title === upload.name, `#file-title is ${JSON.stringify(title)}`];
    });
    upload.id = await A.page.locator('#file-list [data-file].active').getAttribute('data-file');
    await B.page.click('[data-nav=files]');
    const item = B.page.locator(`#file-list [data-file="${upload.id}"]`);
    await until('B lists the uploaded file', async () => [(await item.count()) === 1, 'not listed yet']);
    await item.click();
    await B.page.waitForSelector('#file-preview iframe.preview-frame[sandbox]');
    await shot(B.page, 'files-b.png');
    await openDoc(B.page);
  });

  await step('phone width', async () => {
    await B.page.setViewportSize(PHONE);
    await B.page.waitForSelector('#editor');
    await shot(B.page, 'phone-doc.png');
    await B.page.click('#doc-share');
    await B.page.waitForSelector('#doc-manage:not([hidden])');
    const overflow = await B.page.$eval('#doc-manage', (el) => el.scrollWidth - el.clientWidth);
    check(overflow <= 1, `the share panel is ${overflow}px wider than the phone's screen`);
    await shot(B.page, 'phone-doc-share.png');
    await B.page.click('#doc-share');
    await openChannel(B.page);
    await waitForMessage(B.page, 'B at phone width', chatB);
    await shot(B.page, 'phone-chat.png');
  });

  // Touch screens do not drag: B moves a card with the details' select.
  await step('phone board', async () => {
    await Promise.all([openProject(A.page), openProject(B.page)]);
    await shot(B.page, 'phone-board.png');
    await B.page.click(`.card[data-task="${config.tasks.hall}"]`);
    await B.page.waitForSelector(`#task-details[data-task="${config.tasks.hall}"]`);
    await shot(B.page, 'phone-task.png');
    await B.page.selectOption('#task-move-select', 'done');
    await waitForCard(B.page, 'B', config.tasks.hall, 'done', 1);
    await waitForCard(A.page, 'A', config.tasks.hall, 'done', 1);
  });

  process.stdout.write(
    `${JSON.stringify({
      ok: true,
      steps,
      chat: [chatA, chatB],
      doc_text: finalText,
      upload,
      board: { created: board.created, dragged: board.task, title: cardTitle, comment: commentB },
      page_errors: pageErrors,
    })}\n`,
  );
} catch (e) {
  exitCode = 1;
  console.error(`step "${current}" failed: ${e.stack ?? e}`);
  if (pageErrors.length > 0) console.error(`errors on the pages:\n  ${pageErrors.join('\n  ')}`);
  for (const [side, name] of [[A, 'failure-a.png'], [B, 'failure-b.png']]) {
    if (side) await shot(side.page, name).catch((err) => console.error(`cannot save ${name}: ${err.message}`));
  }
  for (const [who, frames] of Object.entries(wsFrames)) {
    const name = `failure-ws-${who.toLowerCase()}.log`;
    try {
      writeFileSync(join(config.screenshots, name), `${frames.join('\n')}\n`);
    } catch (err) {
      console.error(`cannot save ${name}: ${err.message}`);
    }
  }
  console.error(`screenshots and the pages' WebSocket frames (failure-ws-*.log) in ${config.screenshots}`);
  process.stdout.write(`${JSON.stringify({ ok: false, failed: current, error: String(e.message ?? e), steps })}\n`);
} finally {
  await browser.close().catch(() => {});
}
process.exit(exitCode);
