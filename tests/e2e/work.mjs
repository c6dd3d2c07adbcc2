// Browser end-to-end test of the web page's approvals, announcements and
// meetings screens, driven by tests/tests/web_work.rs, which starts the
// nodes and passes what this script needs in the environment variable
// OUTPOST_E2E:
//
//   {"h": {"url", "login"}, "m": {"url", "login"},
//    "members": {"hana": KEY, "mei": KEY},
//    "template": "<a one-stage leave template the admin added>",
//    "screenshots": "<dir>"}
//
// Browser H is Hana, head of HQ/East, on node h; browser M is Mei, a
// member of HQ/East, on node m. The steps: M submits a leave request from
// the template's form; it appears in H's inbox by itself, H approves it
// with a comment, and M's open request turns approved with H's signed
// decision in its history. H publishes an announcement to dept:HQ/East
// asking for acknowledgement (a member sees no publish form); M sees it
// unread with the badge, its Markdown rendered and its HTML shown as
// text, and acknowledges it; H's read tracking shows her acknowledged. H
// creates a meeting starting in a few minutes inviting Mei; M accepts it
// and H's page shows the acceptance. A task due in two hours is assigned
// to Mei; M's page shows its reminder and the meeting's, and each opens
// what it is about. M opens the minutes in the documents screen and H
// opens the same document. M also withdraws a second request. Screenshots (desktop and phone width) go to
// <screenshots>.
//
// Prints {"ok": true, "steps": [...], "request", "decision": {"cert",
// "record"}, "comment", "withdrawn", "announcement", "meeting", "minutes",
// "project", "task"} on success; on failure prints the step and the
// error to stderr, saves failure-work-h.png and failure-work-m.png, and
// exits with status 1.

import { chromium } from 'playwright-core';
import { STEP_TIMEOUT, check, current, setUp, step, steps, until } from './harness.mjs';

/** How long one action or wait may take. */
/** How long a reminder may take: the node's scheduler runs every 15 s. */
const REMINDER_TIMEOUT = 60_000;
const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };
/** The meeting starts this long after the script creates it, inside its reminder time. */
const MEETING_IN_MS = 10 * 60_000;

const { config, shot } = setUp('tests/tests/web_work.rs', ['failure-work-h.png', 'failure-work-m.png']);

/** `ms` from now as a `datetime-local` value in this machine's time zone (the browsers' too). */
function localInput(ms) {
  const d = new Date(ms);
  const two = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())}T${two(d.getHours())}:${two(d.getMinutes())}`;
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

/** Errors the pages reported that no step asked for (uncaught exceptions, console errors). */
const pageErrors = [];
async function newPage(who) {
  const context = await browser.newContext({ viewport: DESKTOP });
  context.setDefaultTimeout(STEP_TIMEOUT);
  const page = await context.newPage();
  page.on('pageerror', (e) => pageErrors.push(`${who}: uncaught ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') pageErrors.push(`${who}: console: ${m.text()}`);
  });
  // Confirmation dialogs (withdraw, cancel) are accepted.
  page.on('dialog', (d) => d.accept());
  return { context, page };
}

/** Logs `side` in with its node's link and waits for the navigation. */
async function login(who, side, node) {
  const response = await side.page.goto(node.login, { timeout: STEP_TIMEOUT });
  check(response !== null && response.status() === 200, `${who}: /login led to status ${response?.status()}`);
  for (const nav of ['approvals', 'announcements', 'meetings']) await side.page.waitForSelector(`[data-nav=${nav}]`);
  // The status bar knows who this is (the screens ask it for rights).
  await side.page.waitForFunction(() => document.querySelector('#member .member-name') !== null);
}

/** Closes every reminder note on `page`, so that screenshots do not depend on when they came. */
async function closeToasts(page) {
  for (const b of await page.locator('#toasts .toast-close').all()) await b.click().catch(() => {});
}

let H;
let M;
let exitCode = 0;
const { hana, mei } = config.members;
const leave = { title: 'Ski week', from: '2031-02-03', to: '2031-02-07', reason: 'Family trip', comment: 'Enjoy the snow' };
const notice = {
  title: 'Moving to the new office',
  body: [
    '## The new office',
    '',
    'We move on **Friday**; pack your desk by *Thursday*.',
    '',
    '- Label your boxes',
    '- Take your plants home',
    '',
    'Floor plan: [the plan](https://example.com/plan).',
    '',
    'Markup is shown as written: <img src=x onerror="window.__hacked=1">',
  ].join('\n'),
};
const task = { title: 'Pack the boxes', project: 'Office move' };
const meeting = { title: 'Quarter review', place: 'Room 4', link: 'https://meet.example.com/q4', agenda: '1. Numbers\n2. **Plans**' };
const out = { request: null, withdrawn: null, announcement: null, meeting: null, minutes: null, project: null, task: null };

try {
  await step('login', async () => {
    H = await newPage('H');
    M = await newPage('M');
    await login('H', H, config.h);
    await login('M', M, config.m);
  });

  await step('submit a leave request', async () => {
    await M.page.click('[data-nav=approvals]');
    await M.page.click('[data-tab=submit]');
    await M.page.waitForSelector(`#approval-template option[value="${config.template}"]`, { state: 'attached' });
    await M.page.selectOption('#approval-template', config.template);
    await M.page.locator('.approval-field[data-field="from"]').waitFor();
    // A required field left empty: the form says which, and nothing is sent.
    await M.page.fill('#approval-title', leave.title);
    await M.page.click('#approval-submit');
    const shown = await M.page.locator('#approval-form .error:not([hidden])').textContent();
    check(shown.includes('From'), `the form's error is ${JSON.stringify(shown)}`);
    await M.page.fill('.approval-field[data-field="from"]', leave.from);
    await M.page.fill('.approval-field[data-field="to"]', leave.to);
    await M.page.fill('.approval-field[data-field="reason"]', leave.reason);
    await shot(M.page, 'approvals-submit.png');
    await M.page.click('#approval-submit');
    const detail = M.page.locator('#approval-detail[data-status="pending"]');
    await detail.waitFor();
    out.request = await detail.getAttribute('data-request');
    check(/^[0-9a-f]{32}$/.test(out.request), `the request id is ${out.request}`);
    await M.page.locator(`#approval-mine .approval-row[data-request="${out.request}"][data-status="pending"]`).waitFor();
    await M.page.locator('#approval-stages .step[data-step="head"][data-state="pending"]').waitFor();
    const who = await M.page.locator('#approval-stages .step[data-step="head"] .step-who').textContent();
    check(who.includes('Hana'), `the step says ${JSON.stringify(who)}, not that Hana must act`);
    const from = await M.page.locator('#approval-detail .field-value[data-field="from"]').textContent();
    check(from === leave.from, `the request shows from = ${JSON.stringify(from)}`);
    check(await M.page.locator('#approval-approve').count() === 0, 'the applicant may approve her own request');
    await M.page.locator('#approval-withdraw').waitFor();
  });

  await step('approve in the head\'s inbox', async () => {
    await H.page.click('[data-nav=approvals]');
    // It arrives from Mei's node while the page is open.
    const row = H.page.locator(`#approval-inbox .approval-row[data-request="${out.request}"][data-status="pending"]`);
    await row.waitFor();
    await row.click();
    await H.page.locator(`#approval-detail[data-request="${out.request}"]`).waitFor();
    await H.page.fill('#approval-comment', leave.comment);
    await shot(H.page, 'approvals-decide.png');
    await H.page.click('#approval-approve');
    await H.page.locator(`#approval-detail[data-request="${out.request}"][data-status="approved"]`).waitFor();
    const entry = H.page.locator(`#approval-history .history-entry[data-action="approve"][data-signer="${hana}"]`);
    await entry.waitFor();
    check(await H.page.locator('#approval-approve').count() === 0, 'the approve button stays after the request is approved');
    await until('the inbox empties', async () => {
      const n = await H.page.locator(`#approval-inbox .approval-row[data-request="${out.request}"]`).count();
      return [n === 0, `${n} rows`];
    });
    await H.page.locator(`#approval-others .approval-row[data-request="${out.request}"][data-status="approved"]`).waitFor();
  });

  await step('the applicant sees it approved', async () => {
    // Her page still shows the request: it follows the event stream.
    await M.page.locator(`#approval-detail[data-request="${out.request}"][data-status="approved"]`).waitFor();
    const entry = M.page.locator(`#approval-history .history-entry[data-action="approve"][data-signer="${hana}"][data-counted="true"]`);
    await entry.waitFor();
    const text = await entry.textContent();
    for (const want of ['Hana', 'department head', leave.comment]) check(text.includes(want), `the decision reads ${JSON.stringify(text)}, without ${want}`);
    const cert = await entry.getAttribute('data-cert');
    const record = await entry.getAttribute('data-record');
    check((await entry.locator('.short-id').first().getAttribute('title')) === cert, 'the certificate id is not shown');
    check((await entry.locator('.short-id').nth(1).getAttribute('title')) === record, 'the envelope id is not shown');
    check(await M.page.locator('#approval-withdraw').count() === 0, 'an approved request can be withdrawn');
    await M.page.locator(`#approval-mine .approval-row[data-request="${out.request}"][data-status="approved"]`).waitFor();
    const state = await M.page.locator('#approval-state').textContent();
    check(state.includes('Approved'), `the status reads ${JSON.stringify(state)}`);
    out.decision = { cert, record };
    await shot(M.page, 'approvals.png');
  });

  await step('withdraw a request', async () => {
    await M.page.click('[data-tab=submit]');
    await M.page.selectOption('#approval-template', 'leave');
    await M.page.locator('#approval-template-stages').filter({ hasText: 'HR' }).waitFor();
    await M.page.fill('#approval-title', 'Dentist');
    await M.page.fill('.approval-field[data-field="from"]', '2031-03-02');
    await M.page.fill('.approval-field[data-field="to"]', '2031-03-02');
    await M.page.click('#approval-submit');
    const detail = M.page.locator('#approval-detail[data-status="pending"]');
    await detail.waitFor();
    out.withdrawn = await detail.getAttribute('data-request');
    check(out.withdrawn !== out.request, 'the second request has the first one\'s id');
    await M.page.click('#approval-withdraw');
    await M.page.locator(`#approval-detail[data-request="${out.withdrawn}"][data-status="withdrawn"]`).waitFor();
    await M.page.locator(`#approval-history .history-entry[data-action="withdraw"][data-signer="${mei}"]`).waitFor();
    await M.page.locator(`#approval-mine .approval-row[data-request="${out.withdrawn}"][data-status="withdrawn"]`).waitFor();
    check(await M.page.locator('#approval-withdraw').count() === 0, 'a withdrawn request can be withdrawn again');
  });

  await step('publish an announcement', async () => {
    await M.page.click('[data-nav=announcements]');
    await M.page.locator('#announcement-list').waitFor();
    check(await M.page.locator('#announce-new').isHidden(), 'a member sees the publish button');
    await H.page.click('[data-nav=announcements]');
    await H.page.click('#announce-new');
    await H.page.locator('#announce-form').waitFor();
    check((await H.page.inputValue('#announce-audience')) === 'dept:HQ/East', 'the audience is not the head\'s department');
    await H.page.fill('#announce-title', notice.title);
    await H.page.fill('#announce-body', notice.body);
    await H.page.check('#announce-ack-required');
    await H.page.locator('#announce-preview strong').waitFor();
    await H.page.click('#announce-publish');
    const detail = H.page.locator('#announcement-detail[data-announcement]');
    await detail.waitFor();
    out.announcement = await detail.getAttribute('data-announcement');
    await H.page.locator(`#announcement-reads .read-row[data-member="${mei}"][data-status="not_read"]`).waitFor();
    check(await H.page.locator('#announcement-ack').count() === 0, 'the publisher is asked to acknowledge');
  });

  await step('read and acknowledge it', async () => {
    const row = M.page.locator(`.announcement-row[data-announcement="${out.announcement}"]`);
    await M.page.locator(`.announcement-row[data-announcement="${out.announcement}"][data-ack="needed"][data-read="false"].has-unread`).waitFor();
    const badge = await row.locator('.ack-chip').textContent();
    check(badge === 'Acknowledgement required', `the badge reads ${JSON.stringify(badge)}`);
    await shot(M.page, 'announcements-unread.png');
    await row.click();
    const body = M.page.locator('#announcement-body');
    await body.waitFor();
    check((await body.locator('h4').textContent()) === 'The new office', 'the heading is not rendered');
    check((await body.locator('strong').textContent()) === 'Friday', 'bold is not rendered');
    check((await body.locator('em').textContent()) === 'Thursday', 'italic is not rendered');
    check((await body.locator('ul > li').count()) === 2, 'the list is not rendered');
    check((await body.locator('a').getAttribute('href')) === 'https://example.com/plan', 'the link is not rendered');
    check((await body.locator('img').count()) === 0, 'HTML in the body became an element');
    check((await body.textContent()).includes('<img src=x'), 'HTML in the body is not shown as text');
    check(await M.page.evaluate(() => window.__hacked === undefined), 'HTML in the body ran');
    // Opening it marked it read.
    await M.page.locator(`.announcement-row[data-announcement="${out.announcement}"][data-read="true"]`).waitFor();
    await M.page.click('#announcement-ack');
    await M.page.locator('#announcement-acknowledged').waitFor();
    await M.page.locator(`.announcement-row[data-announcement="${out.announcement}"][data-ack="done"]`).waitFor();
  });

  await step('the publisher sees the acknowledgement', async () => {
    await H.page.locator(`#announcement-reads .read-row[data-member="${mei}"][data-status="acknowledged"]`).waitFor();
    const reads = H.page.locator('#announcement-reads');
    check((await reads.getAttribute('data-acknowledged')) === '1', 'the summary does not count one acknowledgement');
    check((await reads.locator('.read-dept[data-dept="HQ/East"]').count()) === 1, 'the reads are not grouped by department');
    await shot(H.page, 'announcements.png');
  });

  await step('create a meeting', async () => {
    await H.page.click('[data-nav=meetings]');
    await H.page.click('#meeting-new');
    await H.page.locator('#meeting-form').waitFor();
    await H.page.fill('#meeting-title', meeting.title);
    await H.page.fill('#meeting-start', localInput(Date.now() + MEETING_IN_MS));
    await H.page.fill('#meeting-duration', '45');
    await H.page.fill('#meeting-place', meeting.place);
    await H.page.fill('#meeting-link', meeting.link);
    await H.page.fill('#meeting-agenda', meeting.agenda);
    await H.page.fill('#meeting-remind', '15');
    // Invitees picked from the list fill the field.
    await H.page.click('#meeting-pick summary');
    await H.page.locator('#meeting-pick .check[data-token="Mei"] input').check();
    check((await H.page.inputValue('#meeting-invitees')) === 'Mei', 'picking Mei does not invite her');
    await H.page.click('#meeting-title');
    await shot(H.page, 'meetings-create.png');
    await H.page.click('#meeting-create');
    const detail = H.page.locator('#meeting-detail[data-meeting]');
    await detail.waitFor();
    out.meeting = await detail.getAttribute('data-meeting');
    await H.page.locator(`#meeting-invitees-list .invitee[data-member="${mei}"][data-response="none"]`).waitFor();
    await H.page.locator(`.meeting-row[data-meeting="${out.meeting}"]`).waitFor();
    check((await H.page.locator('#meeting-when').textContent()).includes('45'), 'the meeting does not last 45 minutes');
  });

  await step('accept the meeting', async () => {
    await M.page.click('[data-nav=meetings]');
    const row = M.page.locator(`.meeting-row[data-meeting="${out.meeting}"]`);
    await row.waitFor();
    await row.click();
    await M.page.locator(`#meeting-detail[data-meeting="${out.meeting}"]`).waitFor();
    check((await M.page.locator('#meeting-link-shown').getAttribute('href')) === meeting.link, 'the call link is not a link');
    check((await M.page.locator('#meeting-agenda-shown strong').textContent()) === 'Plans', 'the agenda is not rendered');
    await M.page.click('button[data-answer="accept"]');
    await M.page.locator(`#meeting-detail[data-meeting="${out.meeting}"][data-my-answer="accept"]`).waitFor();
    check((await M.page.getAttribute('button[data-answer="accept"]', 'aria-pressed')) === 'true', 'the accept button is not pressed');
  });

  await step('the organizer sees the acceptance', async () => {
    await H.page.locator(`#meeting-invitees-list .invitee[data-member="${mei}"][data-response="accept"]`).waitFor();
    const counts = await H.page.locator('#meeting-counts').textContent();
    check(counts.includes('Accepted 1'), `the counts read ${JSON.stringify(counts)}`);
  });

  await step('the reminders show', async () => {
    // A task assigned to Mei, due in two hours, made through Hana's node's
    // API: its reminder falls due at once, like the meeting's (which starts
    // within its reminder time). The nodes' schedulers send both at their
    // next round, and Mei's page shows them over whatever screen is open.
    Object.assign(out, await H.page.evaluate(async ({ assignee, title, project }) => {
      const call = async (body) => {
        const r = await fetch('/api/tasks', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
        if (!r.ok) throw new Error(`${body.action}: ${r.status} ${await r.text()}`);
        return r.json();
      };
      const board = await call({ action: 'create_project', name: project });
      const due = String(Math.floor(Date.now() / 1000) + 2 * 3600);
      const made = await call({ action: 'add', project: board.project, title, assignees: [assignee], due });
      return { project: board.project, task: made.task };
    }, { assignee: mei, title: task.title, project: task.project }));
    await M.page.click('[data-nav=approvals]');
    const forTask = M.page.locator(`#toasts .toast[data-kind="task_reminder"][data-id="${out.task}"]`);
    const forMeeting = M.page.locator(`#toasts .toast[data-kind="meeting_reminder"][data-id="${out.meeting}"]`);
    await forMeeting.waitFor({ timeout: REMINDER_TIMEOUT });
    await forTask.waitFor({ timeout: REMINDER_TIMEOUT });
    const meetingText = await forMeeting.textContent();
    check(meetingText.includes(meeting.title) && meetingText.includes(meeting.place), `the meeting's reminder reads ${JSON.stringify(meetingText)}`);
    const taskText = await forTask.textContent();
    check(taskText.includes(task.title) && taskText.includes(task.project), `the task's reminder reads ${JSON.stringify(taskText)}`);
    await shot(M.page, 'reminder.png');
    await forTask.locator('.toast-open').click();
    await M.page.locator(`#task-details[data-task="${out.task}"]`).waitFor();
    check(new URL(M.page.url()).hash === `#/projects/${encodeURIComponent(`${out.project}/${out.task}`)}`, `the task's reminder opened ${M.page.url()}`);
    check(await forTask.count() === 0, 'the opened reminder stays');
    await forMeeting.locator('.toast-open').click();
    await M.page.locator(`#meeting-detail[data-meeting="${out.meeting}"]`).waitFor();
    check(new URL(M.page.url()).hash === `#/meetings/${out.meeting}`, `the meeting's reminder opened ${M.page.url()}`);
  });

  await step('minutes', async () => {
    await M.page.click('#meeting-minutes');
    await until('the minutes open in the documents screen', async () => {
      const hash = new URL(M.page.url()).hash;
      return [/^#\/docs\/[0-9a-f]{32}$/.test(hash), `the address is ${M.page.url()}`];
    });
    out.minutes = new URL(M.page.url()).hash.slice('#/docs/'.length);
    await M.page.locator('#doc-title').waitFor();
    await until('the minutes document is shown', async () => {
      const title = await M.page.locator('#doc-title').textContent();
      return [title === `Minutes: ${meeting.title}`, `the title is ${JSON.stringify(title)}`];
    });
    // The organizer's page learns of the minutes and opens the same document.
    await closeToasts(H.page);
    const open = H.page.locator('#meeting-minutes');
    await until('the organizer\'s page offers the minutes', async () => {
      const text = await open.textContent();
      return [text === 'Open the minutes', `the button reads ${JSON.stringify(text)}`];
    }, STEP_TIMEOUT * 2);
    await open.click();
    await until('the organizer opens the same minutes', async () => {
      const hash = new URL(H.page.url()).hash;
      return [hash === `#/docs/${out.minutes}`, `the address is ${H.page.url()}`];
    });
  });

  await step('screenshots', async () => {
    await closeToasts(H.page);
    await closeToasts(M.page);
    await H.page.click('[data-nav=meetings]');
    await H.page.locator(`.meeting-row[data-meeting="${out.meeting}"]`).click();
    await H.page.locator(`#meeting-invitees-list .invitee[data-member="${mei}"][data-response="accept"]`).waitFor();
    await closeToasts(H.page);
    await shot(H.page, 'meetings.png');
    await H.page.setViewportSize(PHONE);
    // The nav entry, which scrolls sideways on a phone, comes into sight; then the meeting again.
    await H.page.click('[data-nav=meetings]');
    await H.page.locator(`.meeting-row[data-meeting="${out.meeting}"]`).click();
    await H.page.locator(`#meeting-invitees-list .invitee[data-member="${mei}"][data-response="accept"]`).waitFor();
    await shot(H.page, 'meetings-phone.png');
    await H.page.click('[data-nav=announcements]');
    await H.page.locator(`.announcement-row[data-announcement="${out.announcement}"]`).click();
    await H.page.locator(`#announcement-reads .read-row[data-member="${mei}"][data-status="acknowledged"]`).waitFor();
    await shot(H.page, 'announcements-phone.png');
    await H.page.click('[data-nav=approvals]');
    await H.page.locator(`.approval-row[data-request="${out.request}"]`).click();
    await H.page.locator(`#approval-detail[data-request="${out.request}"][data-status="approved"]`).waitFor();
    await shot(H.page, 'approvals-phone.png');
    // Chinese.
    await H.page.setViewportSize(DESKTOP);
    await H.page.click('#lang');
    const label = await H.page.locator('[data-nav=approvals]').textContent();
    check(label === '审批', `the approvals nav entry reads ${JSON.stringify(label)} in Chinese`);
    const state = await H.page.locator('#approval-state .approval-state').textContent();
    check(state === '已批准', `the status reads ${JSON.stringify(state)} in Chinese`);
    await shot(H.page, 'approvals-zh.png');
    await H.page.click('#lang');
  });

  check(pageErrors.length === 0, `the pages reported errors:\n  ${pageErrors.join('\n  ')}`);
  process.stdout.write(`${JSON.stringify({ ok: true, steps, ...out, comment: leave.comment, page_errors: pageErrors })}\n`);
} catch (e) {
  exitCode = 1;
  console.error(`step "${current}" failed: ${e.stack ?? e}`);
  if (pageErrors.length > 0) console.error(`errors on the pages:\n  ${pageErrors.join('\n  ')}`);
  for (const [side, name] of [[H, 'failure-work-h.png'], [M, 'failure-work-m.png']]) {
    if (side) await shot(side.page, name).catch((err) => console.error(`cannot save ${name}: ${err.message}`));
  }
  console.error(`screenshots in ${config.screenshots}`);
  process.stdout.write(`${JSON.stringify({ ok: false, failed: current, error: String(e.message ?? e), steps, ...out })}\n`);
} finally {
  await browser.close().catch(() => {});
}
process.exit(exitCode);
