// API keys (hashed in Supabase, validated through its REST API) and per-plan rate limits in Redis.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { call, chat, h, newProject, redis, sql, unique } from './harness.mjs';
import { createApiKey } from '../../tools/lib/projects.mjs';
import { sha256Hex } from '../../tools/lib/crypto.mjs';

const is401 = (r) => {
  assert.equal(r.status, 401, r.text);
  assert.equal(r.json.error.code, 'invalid_api_key');
};

describe('authentication', () => {
  test('missing, malformed, unknown and revoked keys are 401 in OpenAI format', async () => {
    is401(await chat(undefined, 'x'));
    is401(await call('/v1/chat/completions', { headers: { authorization: 'Basic abc' }, body: {} }));
    is401(await chat('sk-proj-notoursatall1234567890', 'x'));
    is401(await chat('lgw_proj_short', 'x'));
    is401(await chat('lgw_proj_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', 'x'));
    const { project } = await newProject();
    const revoked = await createApiKey(h.admin, project.id);
    await h.admin.update(`api_keys?id=eq.${revoked.row.id}`, { revoked: true, revoked_at: new Date().toISOString() });
    const r = await chat(revoked.key, 'x');
    is401(r);
    assert.match(r.json.error.message, /revoked/);
    is401(await call('/v1/models', { method: 'GET' }));
  });

  test('keys are stored only as SHA-256 hashes', async () => {
    const { key, keyRow } = await newProject();
    assert.equal(sql(`select count(*) from api_keys where key_hash = '${keyRow.key_hash}'`), '1');
    assert.equal(sql(`select count(*) from api_keys where key_prefix = '${key}' or key_hash = '${key}'`), '0');
  });

  test('a revoked key stops working once its cached validation expires', async () => {
    const { key, keyRow } = await newProject();
    assert.equal((await chat(key, unique('before revoke'))).status, 200);
    await h.admin.update(`api_keys?id=eq.${keyRow.id}`, { revoked: true });
    await new Promise((r) => setTimeout(r, 2300)); // AUTH_CACHE_TTL_SECS=2 in this suite
    is401(await chat(key, unique('after revoke')));
  });

  test('the anon key cannot read keys through Supabase REST', async () => {
    const r = await fetch(`${h.stack.supabaseUrl}/rest/v1/api_key_lookup?select=*`, { headers: { apikey: h.stack.keys.anon } });
    assert.ok(r.status === 401 || r.status === 403 || (r.status === 200 && (await r.json()).length === 0), `status ${r.status}`);
    const noKey = await fetch(`${h.stack.supabaseUrl}/rest/v1/plans`);
    assert.equal(noKey.status, 401);
  });
});

describe('rate limits', () => {
  test('per-key limit from the plan: 429 with Retry-After and x-ratelimit headers', async () => {
    sql(`insert into plans (name, requests_per_minute, monthly_requests) values ('tiny-test', 3, 100) on conflict do nothing`);
    const { key, project } = await newProject({ plan: 'tiny-test' });
    const seen = [];
    for (let i = 0; i < 3; i++) {
      const r = await chat(key, unique('limited'));
      assert.equal(r.status, 200);
      assert.equal(r.headers.get('x-ratelimit-limit-requests'), '3');
      seen.push(Number(r.headers.get('x-ratelimit-remaining-requests')));
    }
    assert.deepEqual(seen, [2, 1, 0]);
    const r = await chat(key, unique('limited'));
    assert.equal(r.status, 429);
    assert.equal(r.json.error.code, 'rate_limit_exceeded');
    const retry = Number(r.headers.get('retry-after'));
    assert.ok(retry >= 1 && retry <= 60, `retry-after ${retry}`);
    assert.match(r.headers.get('x-ratelimit-reset-requests'), /^\d+s$/);
    // Both counters expire (the lookup script sets the expiry only on the call that creates one).
    const hash = sha256Hex(key).slice(0, 32);
    // KEYS, one command: a --scan of the suite's keyspace blocks this process (and the stack in it).
    const scan = (pattern) => redis('keys', pattern).split('\n').filter(Boolean);
    const [rate, quota] = [scan(`wl:rl:${hash}:*`), scan(`wl:mq:${project.id}:*`)];
    assert.ok(rate.length >= 1 && quota.length === 1, `${rate} ${quota}`);
    for (const c of [...rate, ...quota]) {
      const ttl = Number(redis('ttl', c));
      assert.ok(ttl > 0, `${c} expires (ttl ${ttl})`);
    }
  });

  test('test keys get the sandbox limits whatever the plan', async () => {
    const { key } = await newProject({ plan: 'pro', kind: 'test' });
    assert.ok(key.startsWith('lgw_test_'));
    const r = await chat(key, unique('sandbox'));
    assert.equal(r.status, 200);
    const sandbox = sql(`select requests_per_minute from plans where name = 'sandbox'`);
    assert.equal(r.headers.get('x-ratelimit-limit-requests'), sandbox);
    const live = await newProject({ plan: 'pro' });
    const rl = await chat(live.key, unique('pro'));
    assert.equal(rl.headers.get('x-ratelimit-limit-requests'), sql(`select requests_per_minute from plans where name = 'pro'`));
  });
});
