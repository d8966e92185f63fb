// The dashboard end to end in headless Chromium (Debian's chromium driven by playwright-core),
// against the dashboard Worker in workerd, the local Supabase Auth stand-in and the proxy: sign up,
// create a project and a key, make proxied requests with that key, see them in the charts; BYOK,
// settings, revocation, sign-out and tenant isolation. Screenshots go to test-output/screenshots.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chat, eventually, h, sql, unique } from './harness.mjs';
import { audit, closeBrowser, newContext, newPage, shot, signedInContext } from './browser.mjs';
import { signJwt } from '../../tools/lib/crypto.mjs';

describe('dashboard (headless Chromium)', () => {
  after(closeBrowser);

  test('sign up, create a project and a key, proxy with it, and see the usage', async () => {
    const page = await newPage();
    const email = `${unique('owner').replace(/[^a-z0-9]/gi, '').toLowerCase()}@example.com`;
    await page.goto(`${h.stack.dashboardUrl}/projects`);
    assert.match(page.url(), /\/login$/, 'signed-out users are sent to the login page');
    await audit(page);
    await page.fill('#email', email);
    await page.fill('#password', 'correct horse battery');
    await page.click('button[value=signup]');
    await page.waitForURL(/\/projects$/);
    assert.equal(await page.textContent('#user-email'), email);
    await audit(page);
    await shot(page, '01-signed-up');

    await page.fill('#name', 'Browser project');
    await page.click('text=Create project');
    await page.waitForURL(/\/projects\/[0-9a-f-]{36}$/);
    const projectUrl = page.url();
    const projectId = projectUrl.split('/').pop();
    assert.equal(await page.textContent('#project-name'), 'Browser project');
    assert.equal(sql(`select u.email from projects p join auth.users u on u.id = p.owner_id where p.id = '${projectId}'`), email);
    await audit(page);

    await page.click('text=Create key');
    const key = (await page.textContent('#new-key')).trim();
    assert.match(key, /^lgw_proj_[A-Za-z0-9]{32}$/);
    assert.equal(sql(`select count(*) from api_keys where project_id = '${projectId}' and key_hash = encode(digest('${key}', 'sha256'), 'hex')`), '1', 'stored as its SHA-256 only');
    await audit(page);
    await shot(page, '02-key-created');
    assert.ok(!page.url().includes(key), 'the key never appears in a URL');
    await page.reload();
    assert.ok(!(await page.content()).includes(key), 'the key is shown only once');
    assert.equal(sql(`select count(*) from api_keys where project_id = '${projectId}'`), '1', 'reloading creates no second key');

    const content = unique('from the browser test');
    const miss = await chat(key, content);
    const hit = await chat(key, content);
    assert.equal(miss.status, 200, miss.text);
    assert.equal(hit.headers.get('x-watchllm-cache'), 'HIT');
    await eventually(() => sql(`select count(*) from usage_logs where project_id = '${projectId}'`) === '2', { what: 'usage rows' });

    await page.goto(projectUrl);
    assert.equal(await page.textContent('#stat-requests'), '2');
    assert.equal(await page.textContent('#stat-hit-rate'), '50.0%');
    assert.equal(await page.locator('#requests-chart rect[data-kind="HIT"]').getAttribute('data-count'), '1');
    assert.equal(await page.locator('#requests-chart rect[data-kind="MISS"]').getAttribute('data-count'), '1');
    assert.match(await page.textContent('#models'), /openai\/gpt-4o-mini/);
    assert.ok(Number(await page.locator('#cost-chart rect[data-kind="spent"]').getAttribute('data-usd')) > 0);
    assert.ok(Number(await page.locator('#cost-chart rect[data-kind="saved"]').getAttribute('data-usd')) > 0);
    assert.match(await page.textContent('#plan-usage'), /Plan free: 2 of 10000 requests this month/);
    await audit(page);
    await shot(page, '03-usage');

    // Per model: the table links narrow the charts to one model.
    await page.click('#models a:has-text("openai/gpt-4o-mini")');
    await page.waitForURL(/[?&]model=openai%2Fgpt-4o-mini$/);
    assert.equal(await page.textContent('#usage-title'), 'Usage, last 14 days: openai/gpt-4o-mini');
    assert.equal(await page.textContent('#stat-requests'), '2');
    await page.goto(`${projectUrl}?model=no-such-model`);
    assert.equal(await page.textContent('#stat-requests'), '0');
    await page.click('#all-models');

    // BYOK: stored encrypted, shown masked.
    await page.selectOption('select[name=provider]', 'openai');
    await page.fill('input[name=key]', 'sk-browser-test-secret-9876');
    await page.click('text=Add or replace');
    await page.waitForSelector('text=Provider key saved.');
    assert.match(await page.textContent('#provider-keys'), /sk-\.\.\.9876/);
    assert.ok(!(await page.content()).includes('sk-browser-test-secret-9876'));
    assert.match(sql(`select encrypted_key from provider_keys where project_id = '${projectId}'`), /^v1:/);
    await audit(page);

    // Replace shows the new mask; remove deletes it.
    await page.fill('input[name=key]', 'sk-browser-test-secret-5555');
    await page.click('text=Add or replace');
    await page.waitForSelector('text=Provider key saved.');
    assert.match(await page.textContent('#provider-keys'), /sk-\.\.\.5555/);
    assert.equal(sql(`select count(*) from provider_keys where project_id = '${projectId}'`), '1');
    await page.click('#provider-keys button:has-text("Remove")');
    await page.waitForSelector('text=Provider key removed.');
    assert.equal(sql(`select count(*) from provider_keys where project_id = '${projectId}'`), '0');

    // Test keys.
    await page.selectOption('select[name=kind]', 'test');
    await page.click('text=Create key');
    assert.match((await page.textContent('#new-key')).trim(), /^lgw_test_[A-Za-z0-9]{32}$/);

    // Cache settings reach the proxy's lookup view.
    await page.uncheck('input[name=semantic]');
    await page.fill('input[name=threshold]', '0.9');
    await page.fill('input[name=ttl]', '600');
    await page.selectOption('select[name=embedder]', 'openai');
    await page.click('text=Save settings');
    await page.waitForSelector('text=Cache settings saved.');
    assert.equal(sql(`select semantic_cache_enabled || '|' || similarity_threshold || '|' || cache_ttl_secs || '|' || semantic_embedder from projects where id = '${projectId}'`), 'false|0.9|600|openai');
    assert.equal(await page.locator('select[name=embedder]').inputValue(), 'openai');

    // Threshold floor, required namespace and allowed origins: bad values are explained and
    // nothing is saved; saved ones are enforced by the proxy for the project's key.
    const controls = () => sql(`select coalesce(similarity_threshold_floor::text, 'none') || '|' || require_cache_namespace || '|' || coalesce(array_to_string(allowed_origins, ','), 'any') from projects where id = '${projectId}'`);
    await page.fill('#threshold-floor', '0.95');
    await page.click('text=Save settings');
    await page.waitForSelector('text=floor cannot be above the threshold');
    await page.fill('#allowed-origins', 'https://app.example.com\nexample.com/app');
    await page.click('text=Save settings');
    await page.waitForSelector('text=is not an origin');
    assert.match(await page.textContent('[role=alert]'), /"example\.com\/app" is not an origin/);
    await audit(page);
    assert.equal(controls(), 'none|false|any', 'nothing saved');
    await page.fill('#threshold-floor', '0.85');
    await page.check('input[name=require_namespace]');
    await page.fill('#allowed-origins', 'HTTPS://App.Example.com/, https://*.example.org');
    await page.click('text=Save settings');
    await page.waitForSelector('text=Cache settings saved.');
    assert.equal(controls(), '0.85|true|https://app.example.com,https://*.example.org');
    assert.equal(await page.inputValue('#allowed-origins'), 'https://app.example.com\nhttps://*.example.org');
    assert.equal(await page.inputValue('#threshold-floor'), '0.85');
    assert.ok(await page.isChecked('input[name=require_namespace]'));
    await audit(page);
    await shot(page, '04-settings');
    const unnamed = await eventually(async () => {
      const r = await chat(key, unique('no namespace'));
      return r.status === 400 && r;
    }, { timeoutMs: 8000, what: 'namespace required' });
    assert.equal(unnamed.json.error.param, 'X-WatchLLM-Cache-Namespace');
    const ns = { 'x-watchllm-cache-namespace': 'user-1' };
    const listed = await chat(key, unique('listed origin'), {}, { ...ns, origin: 'https://app.example.com', 'x-watchllm-similarity-threshold': '0.6' });
    assert.equal(listed.status, 200, listed.text);
    assert.equal(listed.headers.get('x-watchllm-similarity-threshold'), '0.85; clamped-from=0.6', 'the floor applies');
    const subdomain = await chat(key, unique('wildcard origin'), {}, { ...ns, origin: 'https://shop.example.org' });
    assert.equal(subdomain.status, 200, subdomain.text);
    const foreign = await chat(key, unique('foreign origin'), {}, { ...ns, origin: 'https://not-listed.example' });
    assert.equal(foreign.status, 403, foreign.text);
    assert.equal(foreign.json.error.code, 'origin_not_allowed');
    // Emptied, the fields store null again: any origin, no floor.
    await page.fill('#threshold-floor', '');
    await page.fill('#allowed-origins', '');
    await page.uncheck('input[name=require_namespace]');
    await page.click('text=Save settings');
    await eventually(() => controls() === 'none|false|any', { what: 'settings cleared' });

    // Revoking the key stops it at the proxy (after the proxy's short auth cache).
    await page.click('#keys tr:has-text("live") button:has-text("Revoke")');
    await page.waitForSelector('text=Key revoked.');
    await shot(page, '05-revoked');
    await eventually(async () => (await chat(key, unique('after revoke'))).status === 401, { timeoutMs: 8000, what: 'revoked key refused' });

    // Another user cannot see or touch this project.
    const other = await newPage();
    await other.goto(`${h.stack.dashboardUrl}/login`);
    await other.fill('#email', `other-${email}`);
    await other.fill('#password', 'another password');
    await other.click('button[value=signup]');
    await other.waitForURL(/\/projects$/);
    assert.ok(!(await other.content()).includes('Browser project'));
    const peek = await other.goto(projectUrl);
    assert.equal(peek.status(), 404);
    const tamper = await other.request.post(`${projectUrl}/rename`, { form: { name: 'hijacked' } });
    assert.equal(tamper.status(), 404);
    assert.equal(sql(`select name from projects where id = '${projectId}'`), 'Browser project', 'the other user could not rename it');

    // Rename, then create and delete a second project.
    await page.fill('#project-admin input[name=name]', 'Renamed project');
    await page.click('text=Rename');
    await page.waitForSelector('text=Project renamed.');
    assert.equal(await page.textContent('#project-name'), 'Renamed project');
    await page.goto(`${h.stack.dashboardUrl}/projects`);
    await page.fill('#name', 'Short-lived');
    await page.click('text=Create project');
    await page.waitForURL(/\/projects\/[0-9a-f-]{36}$/);
    const doomed = page.url().split('/').pop();
    const unconfirmed = await page.request.post(`${page.url()}/delete`, { form: {} });
    assert.match(await unconfirmed.text(), /Tick the box to confirm/);
    assert.equal(sql(`select count(*) from projects where id = '${doomed}'`), '1', 'not deleted without confirmation');
    assert.match((await page.goto(page.url())).headers()['content-security-policy'], /default-src 'none'/);
    await page.check('#project-admin input[name=confirm]');
    await page.click('text=Delete project');
    await page.waitForURL(/\/projects$/);
    assert.ok(!(await page.textContent('#projects')).includes('Short-lived'));
    assert.match(await page.textContent('#projects'), /Renamed project/);
    assert.equal(sql(`select count(*) from projects where id = '${doomed}'`), '0');

    // Sign out ends the session.
    await page.click('text=Sign out');
    await page.waitForURL(/\/login$/);
    await page.goto(`${h.stack.dashboardUrl}/projects`);
    assert.match(page.url(), /\/login$/);
  });

  test('wrong passwords and duplicate sign-ups get Supabase Auth’s errors', async () => {
    const page = await newPage();
    const email = `${unique('dup').replace(/[^a-z0-9]/gi, '').toLowerCase()}@example.com`;
    await page.goto(`${h.stack.dashboardUrl}/login`);
    await page.fill('#email', email);
    await page.fill('#password', 'first password');
    await page.click('button[value=signup]');
    await page.waitForURL(/\/projects$/);
    await page.click('text=Sign out');
    await page.fill('#email', email);
    await page.fill('#password', 'first password');
    await page.click('button[value=signup]');
    assert.equal(await page.textContent('[role=alert]'), 'User already registered');
    await page.fill('#email', email);
    await page.fill('#password', 'wrong password');
    await page.click('button[value=signin]');
    assert.equal(await page.textContent('[role=alert]'), 'Invalid login credentials');
    await audit(page);
    await page.fill('#email', email);
    await page.fill('#password', 'first password');
    await page.click('button[value=signin]');
    await page.waitForURL(/\/projects$/);
  });

  test('an expired session is renewed with the refresh token; without one, back to sign-in', async () => {
    const email = `${unique('refresh').replace(/[^a-z0-9]/gi, '').toLowerCase()}@example.com`;
    const r = await fetch(`${h.stack.supabaseUrl}/auth/v1/signup`, { method: 'POST', headers: { apikey: h.stack.keys.anon, 'content-type': 'application/json' }, body: JSON.stringify({ email, password: 'refresh password' }) });
    const session = await r.json();
    const claims = JSON.parse(Buffer.from(session.access_token.split('.')[1], 'base64url').toString());
    const expired = signJwt({ ...claims, exp: Math.floor(Date.now() / 1000) - 10 }, h.stack.jwtSecret);
    const url = new URL(h.stack.dashboardUrl);
    const ctx = await newContext();
    await ctx.addCookies([
      { name: 'wl_session', value: expired, domain: url.hostname, path: '/' },
      { name: 'wl_refresh', value: session.refresh_token, domain: url.hostname, path: '/' },
    ]);
    const page = await ctx.newPage();
    await page.goto(`${h.stack.dashboardUrl}/projects`);
    assert.match(page.url(), /\/projects$/, 'still signed in');
    assert.equal(await page.textContent('#user-email'), email);
    const renewed = (await ctx.cookies()).find((c) => c.name === 'wl_session').value;
    assert.notEqual(renewed, expired);
    assert.ok(JSON.parse(Buffer.from(renewed.split('.')[1], 'base64url').toString()).exp > Date.now() / 1000);
    await ctx.close();

    const noRefresh = await newContext();
    await noRefresh.addCookies([{ name: 'wl_session', value: expired, domain: url.hostname, path: '/' }]);
    const p2 = await noRefresh.newPage();
    await p2.goto(`${h.stack.dashboardUrl}/projects`);
    assert.match(p2.url(), /\/login$/);
    await noRefresh.close();
  });

  test('a forged session cookie is refused', async () => {
    const ctx = await newContext();
    const url = new URL(h.stack.dashboardUrl);
    const forged = ['eyJhbGciOiJIUzI1NiJ9', Buffer.from(JSON.stringify({ sub: '00000000-0000-0000-0000-000000000000', role: 'authenticated', aud: 'authenticated', exp: 4102444800 })).toString('base64url'), 'AAAA'].join('.');
    await ctx.addCookies([{ name: 'wl_session', value: forged, domain: url.hostname, path: '/' }]);
    const page = await ctx.newPage();
    await page.goto(`${h.stack.dashboardUrl}/projects`);
    assert.match(page.url(), /\/login$/);
    await ctx.close();
  });

  test('errors have their own page and status: 404 for unknown or foreign pages, 502 when Supabase fails', async () => {
    const ctx = await signedInContext();
    const page = await ctx.newPage();
    const missing = await page.goto(`${h.stack.dashboardUrl}/no-such-page`);
    assert.equal(missing.status(), 404);
    assert.equal(await page.textContent('#error h1'), 'Not found');
    await audit(page);
    assert.ok(await page.isVisible('#user-email'), 'the signed-in header stays');
    const foreign = await page.goto(`${h.stack.dashboardUrl}/projects/00000000-0000-4000-8000-000000000000`);
    assert.equal(foreign.status(), 404);
    await h.stack.stopPostrust();
    try {
      const down = await page.goto(`${h.stack.dashboardUrl}/projects`);
      assert.equal(down.status(), 502);
      assert.equal(await page.textContent('#error h1'), 'A service we depend on failed');
      await audit(page);
      assert.ok(!(await page.content()).includes('rest/v1'), 'no internal detail on the page');
      await shot(page, '06-error-upstream');
      // The 5xx reaches Sentry (the capture server), without the session's token or cookie.
      const token = (await ctx.cookies()).find((c) => c.name === 'wl_session').value;
      const report = await eventually(async () => {
        const all = (await (await fetch(`${h.stack.telemetry.url}/__captured`)).json()).sentry;
        return all.find((s) => s.event.tags?.service === 'watchllm-dashboard' && s.event.tags?.route === 'GET /projects' && s.event.tags?.status === '502');
      }, { what: 'dashboard Sentry event' });
      assert.equal(report.event.tags.dependency, 'supabase');
      assert.equal(report.event.exception.values[0].type, 'upstream_error');
      assert.ok(!JSON.stringify(report).includes(token) && !JSON.stringify(report).includes('wl_session'));
    } finally {
      await h.stack.startPostrust();
    }
    assert.equal((await page.goto(`${h.stack.dashboardUrl}/projects`)).status(), 200);
    await ctx.close();
  });
});
