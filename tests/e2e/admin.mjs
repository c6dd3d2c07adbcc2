// Browser end-to-end test of the web page's directory and admin screens,
// driven by tests/tests/web_admin.rs, which starts the nodes and passes
// what this script needs in the environment variable OUTPOST_E2E:
//
//   {"a": {"url", "login"}, "b": {"url", "login"},
//    "members": {"alice": KEY, "bob": KEY, "carol": KEY, "erin": KEY},
//    "request": "<dave's armored certificate request>",
//    "dept": "<the department to certify dave in>",
//    "handshake": "<dir>", "screenshots": "<dir>"}
//
// Browser A is admin Alice on node a; browser B is Bob (a member) on node
// b. The steps: A's directory lists the org by department; a request that
// is not one is refused with the node's error shown; dave's request is
// issued in A's admin screen and the certificate downloaded into
// <handshake>/issued.cert, then this script waits for
// <handshake>/dave-up.json, which the Rust side writes once it has
// installed that certificate on dave's home and started his node; A's
// directory then lists dave under his department, connected, and the
// department, role, level and name filters show exactly the expected
// people; A's devices list shows dave's device and the health tab his
// node; "Message" opens a direct chat; B sees no issue form and no revoke
// button but his own device's; A revokes carol (confirming with a reason)
// and carol leaves the directory. Screenshots (desktop and phone width)
// go to <screenshots>.
//
// Prints {"ok": true, "steps": [...], "revoked": {"member", "reason"},
// "dave": {"member", "serial"}} on success; on failure prints the step and
// the error to stderr, saves failure-admin-a.png and failure-admin-b.png,
// and exits with status 1.

import { chromium } from 'playwright-core';
import { STEP_TIMEOUT, check, current, setUp, step, steps, until } from './harness.mjs';
import { existsSync, readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';

/** How long one action or wait may take. */
/** How long the Rust side may take to install dave's certificate and start his node. */
const HANDSHAKE_TIMEOUT = 120_000;
const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };

const { config, shot } = setUp('tests/tests/web_admin.rs', ['failure-admin-a.png', 'failure-admin-b.png']);

/** The member keys of the people the directory shows, sorted. */
function shownPeople(page) {
  return page.$$eval('#people .person[data-member]', (ps) => ps.map((p) => p.dataset.member).sort());
}

/** Waits until the directory shows exactly `keys` (any order). */
async function expectPeople(page, who, keys, what) {
  const want = [...keys].sort();
  await until(`${who}'s directory shows exactly ${what}`, async () => {
    const got = await shownPeople(page);
    return [JSON.stringify(got) === JSON.stringify(want), `it shows ${JSON.stringify(got)}, not ${JSON.stringify(want)}`];
  });
}

/** The text of the first visible `.error` under `selector`. */
async function errorIn(page, selector) {
  const el = page.locator(`${selector} .error:not([hidden])`).first();
  await el.waitFor();
  return (await el.textContent()) ?? '';
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
  const context = await browser.newContext({ viewport: DESKTOP, acceptDownloads: true });
  context.setDefaultTimeout(STEP_TIMEOUT);
  const page = await context.newPage();
  page.on('pageerror', (e) => pageErrors.push(`${who}: uncaught ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') pageErrors.push(`${who}: console: ${m.text()}`);
  });
  return { context, page };
}

/** Logs `side` in with its node's link and waits for the navigation. */
async function login(who, side, node) {
  const response = await side.page.goto(node.login, { timeout: STEP_TIMEOUT });
  check(response !== null && response.status() === 200, `${who}: /login led to status ${response?.status()}`);
  check(!new URL(side.page.url()).search.includes('token'), `${who}: the address still holds the token`);
  await side.page.waitForSelector('[data-nav=directory]');
  await side.page.waitForSelector('[data-nav=admin]');
}

let A;
let B;
let exitCode = 0;
const { alice, bob, carol, erin } = config.members;
const reason = `Left the company ${Date.now().toString(36)}`;
const dave = { member: null, serial: null };

try {
  await step('login', async () => {
    A = await newPage('A');
    B = await newPage('B');
    await login('A', A, config.a);
    await login('B', B, config.b);
  });

  await step('directory', async () => {
    await A.page.click('[data-nav=directory]');
    await A.page.waitForSelector('#org-tree .tree-label[data-dept=""]');
    await expectPeople(A.page, 'A', [alice, bob, carol, erin], 'the whole org');
    const depts = await A.page.$$eval('#org-tree .tree-label', (ls) => ls.map((l) => l.dataset.dept));
    for (const d of ['', 'HQ', 'HQ/East', 'HQ/East/Sales', 'HQ/RnD']) {
      check(depts.includes(d), `the tree lists ${JSON.stringify(depts)}, without ${JSON.stringify(d)}`);
    }
    const row = A.page.locator(`.person[data-member="${bob}"]`);
    check((await row.locator('.person-name').textContent()) === 'bob', 'bob\'s row is not named bob');
    check((await row.locator('.person-dept').textContent()) === 'HQ/East', 'bob\'s row does not say HQ/East');
    check((await row.locator('.person-key').textContent()) === bob.slice(0, 8), 'bob\'s row does not show his key prefix');
    check((await A.page.locator(`.person[data-member="${alice}"] .person-message`).count()) === 0, 'Alice can message herself');
  });

  await step('issue refused', async () => {
    await A.page.click('[data-nav=admin]');
    await A.page.waitForSelector('#admin-issue:not([hidden])');
    await A.page.fill('#issue-request', 'not a request');
    await A.page.click('#issue-submit');
    const shown = await errorIn(A.page, '#issue-form');
    check(shown.includes('BEGIN OUTPOST'), `the page shows ${JSON.stringify(shown)}, not the node's error`);
  });

  await step('issue', async () => {
    await A.page.fill('#issue-request', config.request);
    await A.page.selectOption('#issue-role', 'member');
    await A.page.fill('#issue-dept', config.dept);
    await A.page.fill('#issue-position', 'Researcher');
    await A.page.fill('#issue-level', '4');
    await A.page.fill('#issue-email', 'dave@acme.test');
    await A.page.fill('#issue-valid', '90');
    await A.page.selectOption('#issue-valid-unit', 'd');
    await A.page.click('#issue-submit');
    await A.page.waitForSelector('#issue-result:not([hidden])');
    check(!(await A.page.locator('#issue-form .error').isVisible()), 'issuing shows an error');
    const armored = await A.page.inputValue('#issue-armored');
    check(armored.startsWith('-----BEGIN OUTPOST CERTIFICATE-----'), `the result is not a certificate: ${armored.slice(0, 80)}`);
    await shot(A.page, 'admin-issued.png');
    // The download is what the Rust side installs on dave's home.
    const [download] = await Promise.all([A.page.waitForEvent('download'), A.page.click('#issue-download')]);
    check(download.suggestedFilename().endsWith('.cert'), `the download is named ${download.suggestedFilename()}`);
    const part = join(config.handshake, 'issued.cert.part');
    await download.saveAs(part);
    check(readFileSync(part, 'utf8') === armored, 'the download differs from the certificate shown');
    renameSync(part, join(config.handshake, 'issued.cert'));
    // The new certificate is listed at once on the issuer's node.
    const row = A.page.locator('#cert-list .cert-row', { has: A.page.locator('.cert-name', { hasText: 'dave' }) });
    await row.waitFor();
    dave.member = await row.getAttribute('data-member');
    dave.serial = await row.getAttribute('data-serial');
    check((await row.locator('.cert-dept').textContent()) === config.dept, 'dave\'s certificate is not in his department');
  });

  await step('dave joins', async () => {
    const up = join(config.handshake, 'dave-up.json');
    await until('the Rust side has started dave\'s node', async () => [existsSync(up), 'no dave-up.json yet'], HANDSHAKE_TIMEOUT);
    const started = JSON.parse(readFileSync(up, 'utf8'));
    check(started.member === dave.member, `dave's node runs member ${started.member}, not ${dave.member}`);
    dave.peer = started.peer_id;
    // His device certificate comes from his node (the `certs` event).
    await A.page.click('.tab[data-tab=devices]');
    await A.page.locator(`#org-devices .device-row[data-device="${dave.peer}"]`).waitFor();
    await A.page.locator(`#org-devices .device-row[data-device="${dave.peer}"] .dot.on`).waitFor();
    await shot(A.page, 'admin-devices.png');
    await A.page.click('.tab[data-tab=health]');
    await A.page.locator(`#peer-list .peer-row[data-peer="${dave.peer}"]`).waitFor();
    const uptime = await A.page.locator('#node-uptime').textContent();
    check(uptime.trim() !== '', 'the health tab shows no uptime');
    // Usage statistics: one bar a day for the 30 days shown.
    await A.page.locator('#usage-chart svg rect.usage-bar').first().waitFor({ state: 'attached' });
    const bars = await A.page.locator('#usage-chart svg rect.usage-bar').count();
    check(bars === 30, `the usage chart has ${bars} bars, not 30`);
    check((await A.page.locator('#usage-summary').textContent()).trim() !== '', 'the usage summary is empty');
    check((await A.page.locator('#usage-tasks').textContent()).trim() !== '', 'the usage facts are empty');
    // The audit log lists what Alice did: dave's certificate.
    await A.page.locator('#audit-list .audit-row[data-action="cert.issue"]').first().waitFor();
    await A.page.click('#audit-verify');
    await A.page.locator('#audit-result[data-ok="true"]').waitFor();
    await shot(A.page, 'admin-health.png');
  });

  await step('directory lists dave', async () => {
    await A.page.click('[data-nav=directory]');
    const row = A.page.locator(`.person[data-member="${dave.member}"]`);
    await row.waitFor();
    check((await row.locator('.person-dept').textContent()) === config.dept, 'dave is not listed in his department');
    check((await row.locator('.person-role').textContent()) === 'member', 'dave is not listed as a member');
    await row.locator('.dot.on').waitFor();
    await A.page.click(`#org-tree .tree-label[data-dept="${config.dept}"]`);
    await expectPeople(A.page, 'A', [carol, dave.member], config.dept);
    check(new URL(A.page.url()).hash === `#/directory/${encodeURIComponent(config.dept)}`, `the address is ${A.page.url()}`);
    await A.page.click('#org-tree .tree-label[data-dept="HQ/East"]');
    await expectPeople(A.page, 'A', [bob, erin], 'HQ/East and below');
    await A.page.click('#org-tree .tree-label[data-dept="HQ/East/Sales"]');
    await expectPeople(A.page, 'A', [erin], 'HQ/East/Sales');
    await A.page.click('#org-tree .tree-label[data-dept="HQ"]');
    await expectPeople(A.page, 'A', [bob, carol, erin, dave.member], 'HQ and below');
    await A.page.selectOption('#directory-level', '4');
    await expectPeople(A.page, 'A', [dave.member], 'level 4 of HQ');
    await A.page.click('#directory-clear');
    await expectPeople(A.page, 'A', [alice, bob, carol, erin, dave.member], 'the whole org again');
    await A.page.selectOption('#directory-role', 'guest');
    await expectPeople(A.page, 'A', [erin], 'the guests');
    await A.page.selectOption('#directory-role', 'admin');
    await expectPeople(A.page, 'A', [alice], 'the admins');
    await A.page.selectOption('#directory-role', '');
    await A.page.fill('#directory-search', 'DAV');
    await expectPeople(A.page, 'A', [dave.member], 'the people named like "dav"');
    await A.page.fill('#directory-search', '王');
    await expectPeople(A.page, 'A', [erin], 'the people named like "王"');
    await A.page.fill('#directory-search', '');
    await expectPeople(A.page, 'A', [alice, bob, carol, erin, dave.member], 'everyone');
    // The same page after a reload.
    await A.page.reload();
    await A.page.locator(`.person[data-member="${dave.member}"]`).waitFor();
    await shot(A.page, 'directory.png');
  });

  await step('message', async () => {
    await A.page.click(`.person[data-member="${bob}"] .person-message`);
    await until('the chats screen opens a direct channel', async () => {
      const hash = new URL(A.page.url()).hash;
      return [/^#\/chats\/[0-9a-f]{32}$/.test(hash), `the address is ${A.page.url()}`];
    });
    await A.page.waitForSelector('#message-input');
    await A.page.locator('#channel-list [data-channel].active').waitFor();
  });

  await step('member rights', async () => {
    await B.page.click('[data-nav=admin]');
    await B.page.waitForSelector('#admin-no-rights:not([hidden])');
    check(await B.page.locator('#admin-issue').isHidden(), 'a member sees the issue form');
    await B.page.locator(`#cert-list .cert-row[data-member="${alice}"]`).waitFor();
    check((await B.page.locator('#cert-list .row-revoke').count()) === 0, 'a member sees revoke buttons on certificates');
    await B.page.click('.tab[data-tab=devices]');
    await B.page.locator('#my-devices .device-row .row-revoke').waitFor();
    check((await B.page.locator('#org-devices .row-revoke').count()) === 1, 'a member may revoke other members\' devices');
    await B.page.click('[data-nav=directory]');
    await expectPeople(B.page, 'B', [alice, bob, carol, erin, dave.member], 'the whole org');
  });

  await step('revoke', async () => {
    await A.page.click('[data-nav=admin]');
    await A.page.click('.tab[data-tab=certs]');
    const row = A.page.locator(`#cert-list .cert-row[data-member="${carol}"]`);
    await row.locator('.row-revoke').click();
    await A.page.waitForSelector('#revoke-dialog[open]');
    const what = await A.page.locator('#revoke-what').textContent();
    check(what.includes('carol'), `the dialog asks about ${JSON.stringify(what)}`);
    // No reason, no revocation.
    await A.page.click('#revoke-confirm');
    await errorIn(A.page, '#revoke-dialog');
    check(await A.page.locator('#revoke-dialog').isVisible(), 'the dialog closed without a reason');
    await A.page.fill('#revoke-reason', reason);
    await shot(A.page, 'admin-revoke.png');
    await A.page.click('#revoke-confirm');
    await A.page.waitForSelector('#revoke-dialog:not([open])', { state: 'attached' });
    await A.page.waitForSelector('#revoke-result:not([hidden])');
    await until('carol leaves the active certificates', async () => [(await row.count()) === 0, 'still listed']);
    await A.page.selectOption('#cert-state', 'revoked');
    await A.page.locator(`#cert-list .cert-row[data-member="${carol}"][data-state="revoked"]`).waitFor();
    await A.page.selectOption('#cert-state', 'active');
    await A.page.click('[data-nav=directory]');
    await A.page.click(`#org-tree .tree-label[data-dept="${config.dept}"]`);
    await expectPeople(A.page, 'A', [dave.member], `${config.dept} without carol`);
  });

  await step('screenshots', async () => {
    await A.page.click('[data-nav=admin]');
    await A.page.click('.tab[data-tab=certs]');
    await A.page.locator(`#cert-list .cert-row[data-member="${dave.member}"]`).waitFor();
    await A.page.locator('.admin-body').evaluate((b) => { b.scrollTop = 0; });
    await shot(A.page, 'admin.png');
    await A.page.setViewportSize(PHONE);
    // Brings the nav bar's entry, which scrolls sideways on a phone, into sight.
    await A.page.click('[data-nav=admin]');
    await A.page.locator(`#cert-list .cert-row[data-member="${dave.member}"]`).waitFor();
    await shot(A.page, 'admin-phone.png');
    await A.page.click('[data-nav=directory]');
    await A.page.click('#org-tree .tree-label[data-dept=""]');
    await expectPeople(A.page, 'A', [alice, bob, erin, dave.member], 'the whole org at phone width');
    await shot(A.page, 'directory-phone.png');
    // Chinese.
    await A.page.click('#lang');
    const label = await A.page.locator('[data-nav=directory]').textContent();
    check(label === '通讯录', `the directory's nav entry reads ${JSON.stringify(label)} in Chinese`);
    await shot(A.page, 'directory-phone-zh.png');
    await A.page.setViewportSize(DESKTOP);
    await A.page.click('[data-nav=admin]');
    await A.page.locator(`#cert-list .cert-row[data-member="${dave.member}"]`).waitFor();
    await shot(A.page, 'admin-zh.png');
    await A.page.click('#lang');
  });

  // The 422 of the request that was not one is the only error expected.
  const unexpected = pageErrors.filter((e) => !e.includes('422'));
  check(unexpected.length === 0, `the pages reported errors:\n  ${unexpected.join('\n  ')}`);

  process.stdout.write(`${JSON.stringify({ ok: true, steps, revoked: { member: carol, reason }, dave, page_errors: pageErrors })}\n`);
} catch (e) {
  exitCode = 1;
  console.error(`step "${current}" failed: ${e.stack ?? e}`);
  if (pageErrors.length > 0) console.error(`errors on the pages:\n  ${pageErrors.join('\n  ')}`);
  for (const [side, name] of [[A, 'failure-admin-a.png'], [B, 'failure-admin-b.png']]) {
    if (side) await shot(side.page, name).catch((err) => console.error(`cannot save ${name}: ${err.message}`));
  }
  console.error(`screenshots in ${config.screenshots}`);
  process.stdout.write(`${JSON.stringify({ ok: false, failed: current, error: String(e.message ?? e), steps })}\n`);
} finally {
  await browser.close().catch(() => {});
}
process.exit(exitCode);
