// Monthly plan quotas (counted with the per-minute limit in the lookup's one round trip, cache
// hits included; test keys against the sandbox plan) and cache purges that hold on every isolate:
// a second workerd instance (its own isolate and memory) shares Redis and Supabase with the first.
import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import { call, chat, deliverWebhook, eventually, h, newProject, redis, secondIsolate, sql, stripeEvent, unique } from './harness.mjs';

const cacheOf = (r) => r.headers.get('x-watchllm-cache');
const month = () => {
  const d = new Date();
  return d.getUTCFullYear() * 100 + d.getUTCMonth() + 1;
};

describe('monthly quotas', () => {
  test('a project over its plan\'s month gets 429 monthly_quota_exceeded; a Pro one does not; hits count', async () => {
    sql(`insert into plans (name, requests_per_minute, monthly_requests) values ('tiny-month', 100, 3) on conflict do nothing`);
    const { key, project } = await newProject({ plan: 'tiny-month' });
    const prompt = unique('quota');
    const remaining = [];
    for (let i = 0; i < 3; i++) {
      const r = await chat(key, prompt); // a MISS, then hits: every request counts
      assert.equal(r.status, 200, r.text);
      remaining.push(Number(r.headers.get('x-watchllm-quota-remaining')));
    }
    assert.deepEqual(remaining, [2, 1, 0]);
    const over = await chat(key, prompt);
    assert.equal(over.status, 429);
    assert.equal(over.json.error.code, 'monthly_quota_exceeded');
    assert.equal(over.json.error.type, 'requests');
    assert.match(over.json.error.message, /tiny-month plan allows 3 requests per month/);
    assert.match(over.json.error.message, /resets at \d{4}-\d\d-01T00:00:00\.000Z/);
    assert.ok(over.json.error.message.includes(`/projects/${project.id}`), 'links to upgrade');
    const now = Date.now();
    const d = new Date(now);
    const nextMonth = Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
    const retry = Number(over.headers.get('retry-after'));
    assert.ok(Math.abs(retry - (nextMonth - now) / 1000) < 120, `Retry-After ${retry}`);

    // The dashboard's figure counts what the proxy counted.
    const usage = await eventually(async () => {
      const [row] = await h.admin.rpc('plan_usage', { p_project: project.id });
      return Number(row.requests_this_month) === 3 && row;
    }, { what: 'plan_usage to count the 3 admitted requests' });
    assert.equal(usage.monthly_requests, 3);

    const pro = await newProject({ plan: 'pro' });
    for (let i = 0; i < 5; i++) assert.equal((await chat(pro.key, prompt)).status, 200);
  });

  test('test keys count against the sandbox quota, apart from live keys', async () => {
    const { project, key: live } = await newProject({ plan: 'pro' });
    const { key: testKey } = await (async () => {
      const { createApiKey } = await import('../../tools/lib/projects.mjs');
      return createApiKey(h.admin, project.id, { kind: 'test' });
    })();
    const sandbox = Number(sql(`select monthly_requests from plans where name = 'sandbox'`));
    redis('SET', `wl:mq:${project.id}:test:${month()}`, String(sandbox));
    const r = await chat(testKey, unique('sandbox month'));
    assert.equal(r.status, 429);
    assert.equal(r.json.error.code, 'monthly_quota_exceeded');
    assert.match(r.json.error.message, new RegExp(`sandbox plan allows ${sandbox} requests`));
    assert.equal((await chat(live, unique('live month'))).status, 200, 'live keys have their own month');
  });

  test('an upgrade (Stripe webhook) lifts the quota within the key-cache TTL', async () => {
    sql(`insert into plans (name, requests_per_minute, monthly_requests) values ('one-a-month', 100, 1) on conflict do nothing`);
    const { key, project } = await newProject({ plan: 'one-a-month' });
    assert.equal((await chat(key, unique('upgrade'))).status, 200);
    assert.equal((await chat(key, unique('upgrade'))).status, 429);
    const completed = stripeEvent('checkout.session.completed', { id: `cs_${Date.now()}`, object: 'checkout.session', mode: 'subscription', client_reference_id: project.id, customer: `cus_${Date.now()}`, subscription: 'sub_up', metadata: { project_id: project.id, plan: 'pro' } });
    assert.equal((await deliverWebhook(completed)).status, 200);
    assert.equal(sql(`select plan from projects where id = '${project.id}'`), 'pro');
    // The proxy trusts a key's record for AUTH_CACHE_TTL_SECS (2 s in the tests).
    await eventually(async () => (await chat(key, unique('upgraded'))).status === 200, { timeoutMs: 5000, what: 'the Pro quota to apply' });
  });
});

describe('cache purge', () => {
  let other;
  after(async () => other?.dispose());

  test('DELETE /v1/cache: the next identical request is a MISS on another isolate; other projects keep theirs', async () => {
    other = await secondIsolate();
    const a = await newProject();
    const b = await newProject();
    const prompt = unique('purge me');
    const body = { model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: prompt }] };
    for (const p of [a, b]) {
      await chat(p.key, prompt);
      await eventually(async () => cacheOf(await chat(p.key, prompt)) === 'HIT', { what: 'stored' });
    }
    // The other isolate serves it from Redis, then from its own memory.
    for (let i = 0; i < 3; i++) assert.equal(cacheOf(await other.send('/v1/chat/completions', { key: a.key, body })), 'HIT');

    const t0 = Date.now();
    const purged = await call('/v1/cache', { method: 'DELETE', key: a.key });
    assert.equal(purged.status, 200, purged.text);
    assert.deepEqual({ ...purged.json, generation: undefined }, { object: 'cache.purge', project_id: a.project.id, purged: 'all', deleted: null, generation: undefined });
    assert.ok(Date.now() - t0 >= 1000, 'returns once no isolate may serve from memory what it held');

    assert.equal(cacheOf(await other.send('/v1/chat/completions', { key: a.key, body })), 'MISS', 'the other isolate');
    assert.equal(cacheOf(await chat(b.key, prompt)), 'HIT', 'another project keeps its entry');
  });

  test('a body shaped like a request purges that entry only', async () => {
    const { key } = await newProject();
    const [x, y] = [unique('purge x'), unique('purge y')];
    for (const p of [x, y]) {
      await chat(key, p);
      await eventually(async () => cacheOf(await chat(key, p)) === 'HIT', { what: 'stored' });
    }
    const r = await call('/v1/cache', { method: 'DELETE', key, body: { model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: x }] } });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.purged, 'entry');
    assert.equal(r.json.deleted, 1);
    assert.equal(cacheOf(await chat(key, x)), 'MISS');
    assert.equal(cacheOf(await chat(key, y)), 'HIT');
    const again = await call('/v1/cache', { method: 'DELETE', key, body: { model: 'openai/text-embedding-3-small', input: unique('never stored') } });
    assert.equal(again.json.deleted, 0, 'says when there was nothing to purge');
  });

  test('bad bodies get 400, test keys purge single entries only, other methods 405', async () => {
    const { project, key } = await newProject();
    const notJson = await call('/v1/cache', { method: 'DELETE', key, rawBody: '{nope', headers: { 'content-type': 'application/json' } });
    assert.equal(notJson.status, 400);
    assert.equal(notJson.json.error.code, 'invalid_json');
    const unshaped = await call('/v1/cache', { method: 'DELETE', key, body: { model: 'm' } });
    assert.equal(unshaped.status, 400);
    const badModel = await call('/v1/cache', { method: 'DELETE', key, body: { messages: [{ role: 'user', content: 'x' }] } });
    assert.equal(badModel.status, 400);
    assert.equal(badModel.json.error.param, 'model');
    const { createApiKey } = await import('../../tools/lib/projects.mjs');
    const { key: testKey } = await createApiKey(h.admin, project.id, { kind: 'test' });
    const all = await call('/v1/cache', { method: 'DELETE', key: testKey });
    assert.equal(all.status, 403);
    assert.equal(all.json.error.type, 'permission_error');
    const one = await call('/v1/cache', { method: 'DELETE', key: testKey, body: { model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'x' }] } });
    assert.equal(one.status, 200);
    assert.equal((await call('/v1/cache', { method: 'DELETE' })).status, 401);
    assert.equal((await call('/v1/cache', { method: 'POST', key })).status, 405);
  });
});
