// What the browser scripts share: the configuration their Rust test
// passes in OUTPOST_E2E, screenshots, named steps (the failing one is
// reported), checks, and polling until something holds.

import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

/** How long one waiting step may take, in ms. */
export const STEP_TIMEOUT = 20_000;

/**
 * Reads the configuration (exits with 2 when the script was not started
 * by `testFile`), makes the screenshot directory, removes `stale` files a
 * failed earlier run left there, and returns `{ config, shot }`.
 */
export function setUp(testFile, stale) {
  const config = JSON.parse(process.env.OUTPOST_E2E ?? 'null');
  if (!config) {
    console.error(`OUTPOST_E2E is not set: run this script through ${testFile}`);
    process.exit(2);
  }
  mkdirSync(config.screenshots, { recursive: true });
  // A failure of an earlier run must not be taken for this run's.
  for (const name of stale) {
    rmSync(join(config.screenshots, name), { force: true });
  }
  const shot = (page, name) => page.screenshot({ path: join(config.screenshots, name), fullPage: false });
  return { config, shot };
}

/** The steps done so far, with how long each took. */
export const steps = [];
/** The step running now. */
export let current = 'start';

/** Runs one named step, noting how long it took. */
export async function step(name, body) {
  current = name;
  const started = Date.now();
  await body();
  steps.push({ step: name, ms: Date.now() - started });
}

/** Fails unless `cond` holds. */
export function check(cond, message) {
  if (!cond) throw new Error(message);
}

/** Polls `probe` (which returns [ok, description]) until ok or timeout. */
export async function until(what, probe, timeout = STEP_TIMEOUT) {
  const started = Date.now();
  let last = 'not checked yet';
  for (;;) {
    try {
      const [ok, description] = await probe();
      if (ok) return;
      last = description;
    } catch (e) {
      last = `error: ${e.message}`;
    }
    if (Date.now() - started > timeout) {
      throw new Error(`timed out after ${timeout} ms waiting until ${what}; last seen: ${last}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}
