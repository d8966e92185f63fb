// The docs at /docs: every page opened in Chromium at desktop and phone width (screenshots, an
// axe-core audit, side navigation, heading anchors, nothing wider than a phone), the limits read
// from the plans table, and every code sample on the pages run against the local stack: Python
// with the official openai package (.venv, from scripts/setup.sh), Node (openai, the Vercel AI SDK)
// and curl. A sample's output must match its data-expect pattern, so a sample that drifts from
// what the proxy does fails here.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ROOT } from '../../tools/stack.mjs';
import { h, newProject, sql } from './harness.mjs';
import { audit, closeBrowser, newPage, shot } from './browser.mjs';

const SLUGS = ['', 'authentication', 'providers', 'endpoints', 'caching', 'headers', 'errors', 'limits', 'health'];
const SAMPLES_DIR = path.join(ROOT, 'test-output', 'samples');
const PHONE = { width: 390, height: 844 };
const url = (slug) => `${h.stack.dashboardUrl}/docs${slug ? `/${slug}` : ''}`;

/** How each sample language is run: file extension and command. */
const RUNNERS = {
  python: { ext: 'py', cmd: (f) => [path.join(ROOT, '.venv/bin/python'), [f]] },
  js: { ext: 'mjs', cmd: (f) => [process.execPath, [f]] },
  sh: { ext: 'sh', cmd: (f) => ['bash', ['-e', '-o', 'pipefail', f]] },
};

describe('docs', () => {
  let page;
  before(async () => {
    page = await newPage();
  });
  after(closeBrowser);

  test('every page: side navigation, heading anchors, accessible, readable at phone width (screenshots)', async () => {
    for (const [i, slug] of SLUGS.entries()) {
      for (const [label, viewport] of [['desktop', { width: 1280, height: 900 }], ['phone', PHONE]]) {
        await page.setViewportSize(viewport);
        const r = await page.goto(url(slug));
        assert.equal(r.status(), 200, url(slug));
        const nav = await page.$$eval('nav.docs-nav > ul > li > a', (as) => as.map((a) => ({ href: a.getAttribute('href'), current: a.getAttribute('aria-current') })));
        assert.deepEqual(nav.map((a) => a.href), SLUGS.map((s) => new URL(url(s)).pathname));
        assert.deepEqual(nav.filter((a) => a.current === 'page').map((a) => a.href), [new URL(url(slug)).pathname]);
        const headings = await page.$$eval('.docs-body h2, .docs-body h3', (hs) => hs.map((h) => ({ id: h.id, href: h.querySelector('a.anchor')?.getAttribute('href') })));
        assert.ok(headings.length > 0, `${slug}: sections`);
        for (const hd of headings) assert.equal(hd.href, `#${hd.id}`, `${slug}: heading ${hd.id} links to itself`);
        const layout = await page.evaluate(() => ({
          page: document.documentElement.scrollWidth,
          viewport: window.innerWidth,
          pres: [...document.querySelectorAll('pre')].map((p) => p.getBoundingClientRect().right),
        }));
        assert.ok(layout.page <= layout.viewport, `${slug} (${label}): page is ${layout.page}px wide in a ${layout.viewport}px window`);
        for (const right of layout.pres) assert.ok(right <= layout.viewport, `${slug} (${label}): a code block reaches ${right}px; it should scroll instead`);
        await audit(page);
        await shot(page, `docs-${String(i + 1).padStart(2, '0')}-${slug || 'quick-start'}-${label}`);
      }
    }
    assert.equal((await page.goto(url('no-such-page'))).status(), 404);
    await audit(page);
  });

  test('limits and plans come from the plans table', async () => {
    sql(`insert into plans (name, requests_per_minute, monthly_requests, price_usd_month) values ('docs-test', 77, 1234567, 12.5)`);
    try {
      await page.goto(url('limits'));
      const rows = await page.$$eval('.docs-body table tr', (trs) => trs.map((tr) => [...tr.cells].map((c) => c.textContent.trim())));
      assert.deepEqual(rows.find((r) => r[0] === 'docs-test'), ['docs-test', '77', '1,234,567', '$12.50', '30 days']);
      const free = sql(`select requests_per_minute || '|' || monthly_requests || '|' || retention_days from plans where name = 'free'`).split('|');
      assert.deepEqual(rows.find((r) => r[0] === 'free'), ['free', free[0], Number(free[1]).toLocaleString('en-US'), '$0', `${free[2]} days`]);
      const sandbox = sql(`select requests_per_minute from plans where name = 'sandbox'`);
      assert.match(await page.textContent('.docs-body'), new RegExp(`sandbox\\s+plan's\\s+${sandbox}\\s+requests per minute`));
    } finally {
      sql(`delete from plans where name = 'docs-test'`);
    }
  });

  test('every code sample on the pages runs against the local stack and prints what it should', async () => {
    fs.rmSync(SAMPLES_DIR, { recursive: true, force: true });
    fs.mkdirSync(SAMPLES_DIR, { recursive: true });
    const samples = [];
    for (const slug of SLUGS) {
      await page.goto(url(slug));
      const found = await page.$$eval('pre[data-sample]', (ps) => ps.map((p) => ({ lang: p.dataset.sample, expect: p.dataset.expect, code: p.textContent })));
      found.forEach((s, i) => samples.push({ ...s, where: `${slug || 'quick-start'} #${i + 1}` }));
    }
    assert.ok(samples.length >= 15, `${samples.length} samples`);
    assert.deepEqual([...new Set(samples.map((s) => s.lang))].sort(), ['js', 'python', 'sh']);

    const failures = [];
    for (const [i, s] of samples.entries()) {
      const runner = RUNNERS[s.lang];
      assert.ok(runner, `${s.where}: no runner for ${s.lang}`);
      assert.ok(s.expect, `${s.where}: a sample says what it prints (expect=)`);
      // Each sample gets a project of its own, so cache results never depend on another sample.
      const { key } = await newProject();
      const file = path.join(SAMPLES_DIR, `${String(i + 1).padStart(2, '0')}-${s.where.replace(/\W+/g, '-')}.${runner.ext}`);
      fs.writeFileSync(file, s.code);
      const [cmd, args] = runner.cmd(file);
      const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 30000, env: { PATH: process.env.PATH, HOME: process.env.HOME, WATCHLLM_API_KEY: key } });
      const out = (r.stdout || '').trim();
      if (r.status !== 0 || !new RegExp(s.expect, 'im').test(out)) {
        failures.push(`${s.where} (${s.lang}, ${path.relative(ROOT, file)}): exit ${r.status}, expected /${s.expect}/im\n--- stdout\n${out}\n--- stderr\n${(r.stderr || '').trim().slice(0, 2000)}`);
      }
    }
    assert.equal(failures.length, 0, `${failures.length} of ${samples.length} samples failed:\n\n${failures.join('\n\n')}`);
  });
});
