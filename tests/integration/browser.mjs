// Headless Chromium (Debian's chromium driven by playwright-core) for the dashboard and docs tests:
// one browser per run, screenshots in test-output/screenshots, and an accessibility audit with
// axe-core (WCAG 2.0/2.1 A and AA rules) that fails on any violation, naming the rule and the
// elements, and on any Content-Security-Policy violation. Every page a test opens is recorded, so
// accessibility.cases.mjs can check that each kind of page visited was also audited. Simple
// Analytics' hosts are answered by stand-ins inside the browser (the machine is offline), so pages
// load exactly as with analytics on.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { ROOT } from '../../tools/stack.mjs';
import { h, unique } from './harness.mjs';

const SHOTS = path.join(ROOT, 'test-output', 'screenshots');
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
// Injected through the DevTools protocol (page.evaluate), which the pages' CSP does not govern, so
// the audit sees the page exactly as served.
const AXE_SOURCE = fs.readFileSync(path.join(ROOT, 'node_modules/axe-core/axe.min.js'), 'utf8');
const WCAG_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];

let browser;
/** Kinds of page (path with ids replaced) opened, and audited, during the run. */
export const pagesVisited = new Set();
export const pagesAudited = new Set();

export const pageKind = (url) => {
  const u = new URL(url);
  return u.pathname.replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, ':id');
};

function track(page) {
  page.on('framenavigated', (frame) => {
    if (frame === page.mainFrame() && frame.url().startsWith(h.stack.dashboardUrl)) pagesVisited.add(pageKind(frame.url()));
  });
  return page;
}

export async function launchBrowser() {
  fs.mkdirSync(SHOTS, { recursive: true });
  browser ??= await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu'] });
  return browser;
}

export async function closeBrowser() {
  await browser?.close();
  browser = undefined;
}

/** What the Simple Analytics stand-ins served, per context (script loads, pixel hits). */
export const SIMPLE_ANALYTICS_STUB = 'window.__saLoaded = (window.__saLoaded || 0) + 1;';

/** A browser context whose pages are tracked (options as for browser.newContext). */
export async function newContext(options = {}) {
  const ctx = await (await launchBrowser()).newContext(options);
  ctx.on('page', track);
  await ctx.route('https://scripts.simpleanalyticscdn.com/**', (r) => r.fulfill({ contentType: 'application/javascript', body: SIMPLE_ANALYTICS_STUB }));
  await ctx.route('https://queue.simpleanalyticscdn.com/**', (r) => r.fulfill({ contentType: 'image/gif', body: Buffer.from('R0lGODlhAQABAAAAACw=', 'base64') }));
  // Runs before the page's own code and outside its CSP: records every violation the page causes.
  await ctx.addInitScript(() => {
    window.__cspViolations = [];
    document.addEventListener('securitypolicyviolation', (e) => window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`));
  });
  return ctx;
}

/** CSP violations the page has caused so far. */
export const cspViolations = (page) => page.evaluate(() => window.__cspViolations ?? []);

/** A tracked page in a context of its own. */
export async function newPage(options = {}) {
  const ctx = await newContext(options);
  return ctx.newPage();
}

export const shot = (page, name) => page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });

/** Runs axe-core's WCAG A/AA rules on the page as it is now; any violation fails the test. */
export async function audit(page) {
  if (!(await page.evaluate(() => typeof window.axe === 'object'))) await page.evaluate(AXE_SOURCE);
  const violations = await page.evaluate(async (tags) => {
    const r = await window.axe.run(document, { runOnly: { type: 'tag', values: tags }, resultTypes: ['violations'] });
    return r.violations.map((v) => ({ rule: v.id, impact: v.impact, help: v.help, elements: v.nodes.map((n) => `${n.target.join(' ')}: ${n.failureSummary.replace(/\s+/g, ' ')}`) }));
  }, WCAG_TAGS);
  pagesAudited.add(pageKind(page.url()));
  assert.deepEqual(await cspViolations(page), [], `Content-Security-Policy violations on ${page.url()}`);
  const report = violations.map((v) => `- ${v.rule} (${v.impact}): ${v.help}\n    ${v.elements.join('\n    ')}`).join('\n');
  assert.equal(violations.length, 0, `axe-core: ${violations.length} WCAG violation(s) on ${page.url()}\n${report}`);
}

/** A new user signed up through Supabase Auth, as a browser context carrying their session. */
export async function signedInContext(options = {}) {
  const email = `${unique('user').replace(/[^a-z0-9]/gi, '').toLowerCase()}@example.com`;
  const r = await fetch(`${h.stack.supabaseUrl}/auth/v1/signup`, { method: 'POST', headers: { apikey: h.stack.keys.anon, 'content-type': 'application/json' }, body: JSON.stringify({ email, password: 'a good password' }) });
  const session = await r.json();
  assert.equal(r.status, 200, JSON.stringify(session));
  const ctx = await newContext(options);
  await ctx.addCookies([{ name: 'wl_session', value: session.access_token, domain: new URL(h.stack.dashboardUrl).hostname, path: '/' }]);
  return Object.assign(ctx, { email });
}
