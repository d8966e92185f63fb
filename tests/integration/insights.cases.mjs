// What teams use a gateway's dashboard for, in Chromium: the request log (filters and ranges in
// the URL, keyset pages, a streamed CSV export of the filtered rows), latency p50/p95 per day by
// cache outcome, the usage view refreshing itself within 10 s while open (and working without
// JavaScript), Simple Analytics under the strict CSP (never on the page that shows a new key), and
// Sentry reports for panics. Screenshots in test-output/screenshots.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chat, eventually, h, sql, unique } from './harness.mjs';
import { audit, closeBrowser, cspViolations, newContext, shot, signedInContext } from './browser.mjs';
import { createApiKey } from '../../tools/lib/projects.mjs';

const captured = async () => (await fetch(`${h.stack.telemetry.url}/__captured`)).json();

/** A signed-in owner with a project (made through the dashboard) and a live key for it. */
async function ownerWithProject(name) {
  const ctx = await signedInContext();
  const page = await ctx.newPage();
  await page.goto(`${h.stack.dashboardUrl}/projects`);
  await page.fill('#name', name);
  await page.click('text=Create project');
  await page.waitForURL(/\/projects\/[0-9a-f-]{36}$/);
  const projectId = page.url().split('/').pop();
  const { key, row } = await createApiKey(h.admin, projectId, { kind: 'live' });
  return { ctx, page, projectId, key, keyId: row.id, url: page.url() };
}

/** 120 requests over the last ~14 hours and 5 from 20 days ago, in known proportions. */
function seed(projectId, keyId) {
  sql(`insert into usage_logs (request_id, project_id, api_key_id, key_kind, endpoint, model, provider, cache_status, status_code, prompt_tokens, completion_tokens, cost_usd, cost_saved_usd, latency_ms, similarity, error_code, created_at)
    select 'seed-' || i, '${projectId}', case when i % 2 = 0 then '${keyId}'::uuid end, 'live', 'chat.completions',
      case when i % 2 = 0 then 'openai/gpt-4o-mini' else 'claude-3-haiku' end, 'openrouter',
      (array['HIT', 'HIT-SEMANTIC', 'MISS'])[i % 3 + 1], case when i % 10 = 0 then 502 else 200 end,
      10, 20, case when i % 3 = 2 then 0.0001 else 0 end, case when i % 3 < 2 then 0.0001 else 0 end,
      i * 3, case when i % 3 = 1 then 0.97 end, case when i % 10 = 0 then 'upstream_error' end,
      now() - make_interval(mins => i * 7)
    from generate_series(1, 120) i;
    insert into usage_logs (request_id, project_id, endpoint, model, cache_status, status_code, latency_ms, created_at)
    select 'old-' || i, '${projectId}', 'chat.completions', 'old-model', 'MISS', 200, 100, now() - interval '20 days' - make_interval(mins => i)
    from generate_series(1, 5) i;`);
}

const cells = (page, col) => page.$$eval(`#requests tbody tr td:nth-child(${col})`, (tds) => tds.map((td) => td.textContent.trim()));
const ids = (page) => page.$$eval('#requests tbody tr', (trs) => trs.map((tr) => Number(tr.dataset.id)));

describe('dashboard insights: request log, latency, live charts, analytics, Sentry', () => {
  let owner;
  before(async () => {
    owner = await ownerWithProject('Insights project');
    seed(owner.projectId, owner.keyId);
  });
  after(async () => {
    await owner?.ctx.close();
    await closeBrowser();
  });

  test('request log: newest first, keyset pages, filters and range in the URL, streamed CSV of the filtered rows', async () => {
    const { page, projectId, keyId } = owner;
    const log = `${owner.url}/requests`;
    await page.goto(log);
    await audit(page);
    const first = await ids(page);
    assert.equal(first.length, 50);
    const newest = sql(`select id from usage_logs where project_id = '${projectId}' order by created_at desc, id desc limit 50`).split('\n').map(Number);
    assert.deepEqual(first, newest, 'newest first');

    await page.click('#older');
    assert.match(page.url(), /before=/);
    const second = await ids(page);
    assert.equal(second.length, 50);
    assert.ok(second.every((id) => !first.includes(id)), 'pages do not overlap');
    assert.deepEqual(second, sql(`select id from usage_logs where project_id = '${projectId}' order by created_at desc, id desc offset 50 limit 50`).split('\n').map(Number));
    await page.click('#older');
    assert.equal((await ids(page)).length, 20, 'the last 20 of the 120 in the default 14 days');
    assert.equal(await page.$('#older'), null);
    await page.click('#newest');
    assert.deepEqual(await ids(page), first);

    // Filters through the form, kept in the URL.
    await page.selectOption('#cache', 'MISS');
    await page.selectOption('#status', '5xx');
    await page.selectOption('#key', keyId);
    await page.click('text=Apply');
    await page.waitForURL(/cache=MISS/);
    assert.match(page.url(), /status=5xx/);
    const filtered = sql(`select count(*) from usage_logs where project_id = '${projectId}' and cache_status = 'MISS' and status_code >= 500 and api_key_id = '${keyId}'`);
    assert.ok(Number(filtered) > 0);
    assert.equal((await ids(page)).length, Number(filtered));
    assert.ok((await cells(page, 5)).every((c) => c === 'MISS'));
    assert.ok((await cells(page, 11)).every((c) => c.startsWith('5')));
    await page.reload();
    assert.equal(await page.inputValue('#cache'), 'MISS', 'a reload keeps the view');
    assert.equal((await ids(page)).length, Number(filtered));
    await audit(page);
    await shot(page, '08-request-log-filtered');

    // The CSV export has exactly the filtered rows, whatever the page.
    const csvUrl = await page.getAttribute('#export-csv', 'href');
    const csv = await page.request.get(`${h.stack.dashboardUrl}${csvUrl}`);
    assert.equal(csv.status(), 200);
    assert.match(csv.headers()['content-type'], /^text\/csv/);
    assert.match(csv.headers()['content-disposition'], /attachment; filename="watchllm-requests-/);
    const lines = (await csv.text()).trim().split('\r\n');
    assert.equal(lines[0], 'time,request_id,key,endpoint,model,provider,cache_status,similarity,latency_ms,prompt_tokens,completion_tokens,cost_usd,cost_saved_usd,status,error_code');
    assert.equal(lines.length - 1, Number(filtered));
    assert.ok(lines.slice(1).every((l) => l.split(',')[6] === 'MISS' && l.split(',')[13] === '502'));
    const all = await page.request.get(`${log}.csv?range=30d`);
    assert.equal((await all.text()).trim().split('\r\n').length - 1, 125, 'every row of the range, beyond one page');

    // A custom range reaches the old rows only.
    const day = (d) => new Date(Date.now() - d * 86400000).toISOString().slice(0, 10);
    await page.goto(`${log}?range=custom&from=${day(22)}&to=${day(19)}`);
    assert.deepEqual([...new Set(await cells(page, 3))], ['old-model']);
    assert.equal((await ids(page)).length, 5);
    assert.equal(await page.inputValue('#range'), 'custom');

    // Bad input gets a clear error.
    const bad = await page.goto(`${log}?cache=hit`);
    assert.equal(bad.status(), 400);
    assert.match(await page.textContent('#error'), /Unknown cache status 'hit': use HIT, HIT-SEMANTIC or MISS\./);
    await audit(page);
    const foreignKey = await page.goto(`${log}?key=00000000-0000-4000-8000-000000000000`);
    assert.equal(foreignKey.status(), 400, "another project's key is not a filter");
  });

  test('latency p50/p95 per day by cache outcome, and the range applies to every chart', async () => {
    const { page, projectId } = owner;
    await page.goto(`${owner.url}?range=7d`);
    const today = new Date().toISOString().slice(0, 10);
    // The chart reads p50/p95 from the rollups' log-scale histograms: the same estimate recomputed
    // from the raw rows, and within a bucket (19%) of the exact nearest-rank percentile, the one
    // the histogram estimates (percentile_disc: with few rows, percentile_cont's interpolation
    // falls between two latencies, e.g. 7.5 ms between 3 and 12).
    const expected = sql(`select cache_status,
        (hist_p50_p95(latency_hist(latency_bucket(latency_ms)), count(*)))[1], (hist_p50_p95(latency_hist(latency_bucket(latency_ms)), count(*)))[2],
        percentile_disc(0.5) within group (order by latency_ms), percentile_disc(0.95) within group (order by latency_ms)
      from usage_logs where project_id = '${projectId}' and created_at >= '${today}T00:00:00Z' group by cache_status order by cache_status`).split('\n');
    for (const line of expected) {
      const [status, p50, p95, exact50, exact95] = line.split('|');
      const bar = page.locator(`#latency-chart g[data-day="${today}"][data-kind="${status}"]`);
      for (const [attr, estimate, exact] of [['data-p50', p50, exact50], ['data-p95', p95, exact95]]) {
        const shown = Number(await bar.getAttribute(attr));
        assert.ok(Math.abs(shown - Number(estimate)) <= 1, `${status} ${attr}: ${shown} vs ${estimate}`);
        assert.ok(Math.abs(shown - Number(exact)) <= 0.19 * Number(exact) + 1, `${status} ${attr}: ${shown} vs exact ${exact}`);
      }
    }
    assert.equal(await page.textContent('#usage-title'), 'Usage, last 7 days');
    const chartDays = await page.locator('#requests-chart rect[data-day]').evaluateAll((rs) => new Set(rs.map((r) => r.dataset.day)).size);
    assert.ok(chartDays >= 1 && chartDays <= 7, `${chartDays} days charted`);
    await page.goto(`${owner.url}?range=30d`);
    assert.equal(await page.textContent('#stat-requests'), '125', 'the 20-day-old rows are in the last 30 days');
    await page.goto(`${owner.url}?range=24h`);
    assert.ok(Number(await page.textContent('#stat-requests')) < 125);
    await page.click('#usage-data summary');
    await audit(page);
    await shot(page, '09-latency-and-ranges');
  });

  test('live: the open usage view shows new traffic within 10 s without a reload, and works without JavaScript', async () => {
    const { page, key, url } = owner;
    await page.goto(`${url}?range=24h`);
    await page.evaluate(() => {
      window.__sameDocument = true;
    });
    const before = Number(await page.textContent('#stat-requests'));
    const content = unique('live');
    assert.equal((await chat(key, content)).status, 200);
    assert.equal((await chat(key, content)).headers.get('x-watchllm-cache'), 'HIT');
    const t0 = Date.now();
    await page.waitForFunction((n) => Number(document.querySelector('#stat-requests').textContent) === n, before + 2, { timeout: 10000 });
    assert.ok(Date.now() - t0 <= 10000);
    assert.equal(await page.evaluate(() => window.__sameDocument), true, 'updated in place, not reloaded');
    assert.deepEqual(await cspViolations(page), [], 'the live script runs under the CSP');
    await shot(page, '10-live-update');

    const noJs = await newContext({ javaScriptEnabled: false });
    await noJs.addCookies(await owner.ctx.cookies());
    const plain = await noJs.newPage();
    assert.equal((await plain.goto(`${url}?range=24h`)).status(), 200);
    assert.equal(Number(await plain.textContent('#stat-requests')), before + 2, 'a plain load shows the same figures');
    await plain.selectOption('#range', '7d');
    await plain.click('#range-form button');
    await plain.waitForURL(/range=7d/);
    await noJs.close();
  });

  test('Simple Analytics: on every page under the CSP, but never on the page that shows a new key', async () => {
    const { page, url } = owner;
    const r = await page.goto(url);
    const csp = r.headers()['content-security-policy'];
    assert.match(csp, /script-src 'sha256-[A-Za-z0-9+/=]+' https:\/\/scripts\.simpleanalyticscdn\.com;/);
    assert.doesNotMatch(csp, /script-src[^;]*unsafe-inline/);
    assert.equal(await page.getAttribute('script[src^="https://scripts.simpleanalyticscdn.com"]', 'data-hostname'), 'app.watchllm.test');
    await page.waitForFunction(() => window.__saLoaded === 1);
    assert.deepEqual(await cspViolations(page), []);

    await page.click('text=Create key');
    await page.waitForSelector('#new-key');
    const html = await page.content();
    assert.ok(!html.includes('simpleanalytics'), 'no analytics where a key is shown');
    assert.equal(await page.evaluate(() => window.__saLoaded), undefined);
    await page.goto(`${h.stack.dashboardUrl}/docs`);
    await page.waitForFunction(() => window.__saLoaded === 1);
  });

  test('Sentry: a panic is reported as an envelope by the next request, scrubbed of key-like strings', async () => {
    const panicked = await fetch(`${h.stack.dashboardUrl}/__test/panic`);
    assert.equal(panicked.status, 500);
    assert.equal((await fetch(`${h.stack.dashboardUrl}/health`)).status, 200, 'the Worker recovers');
    const report = await eventually(async () => (await captured()).sentry.find((s) => s.event.exception?.values?.[0]?.type === 'panic' && s.event.tags?.service === 'watchllm-dashboard'), { what: 'panic report' });
    assert.match(report.event.message.formatted, /test panic/);
    assert.equal(report.event.tags.route, 'GET /__test/panic');
    assert.equal(report.event.release.split('@')[0], 'watchllm-dashboard');
    assert.ok(!JSON.stringify(report).includes('ThisLooksLikeAKey'), 'scrubbed');
  });
});
