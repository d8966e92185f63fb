// Failing dependencies degrade service without letting anything unsafe through:
// Redis down -> still served (MISS, cache unavailable), health 503;
// Supabase down -> recently validated keys keep working, unknown keys get 503, health 503.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { call, chat, eventually, h, newProject, unique } from './harness.mjs';

describe('health', () => {
  test('200 with each dependency up and its latency', async () => {
    const r = await call('/health', { method: 'GET' });
    assert.equal(r.status, 200);
    assert.equal(r.json.status, 'ok');
    for (const dep of ['redis', 'supabase']) {
      assert.equal(r.json.checks[dep].status, 'up');
      assert.equal(typeof r.json.checks[dep].latency_ms, 'number');
    }
    assert.equal(r.json.checks.proxy.status, 'up');
  });

  test('a caller hanging up mid-request leaves the local Redis and Supabase endpoints up', async () => {
    // As a Worker's subrequests do when its client goes away: headers and half a body, then gone.
    const endpoints = [
      [h.stack.upstashUrl, '/pipeline', `Authorization: Bearer ${h.stack.upstashToken}`],
      [h.stack.supabaseUrl, '/auth/v1/token?grant_type=password', `apikey: ${h.stack.keys.anon}`],
    ];
    for (const [base, path, auth] of endpoints) {
      const { hostname, port } = new URL(base);
      await new Promise((resolve, reject) => {
        const socket = net.connect(Number(port), hostname, () => {
          socket.write(`POST ${path} HTTP/1.1\r\nHost: x\r\n${auth}\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n[["PI`);
          setTimeout(() => { socket.destroy(); resolve(); }, 50);
        });
        socket.on('error', reject);
      });
    }
    await new Promise((r) => setTimeout(r, 100));
    const r = await call('/health', { method: 'GET' });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual([r.json.checks.redis.status, r.json.checks.supabase.status], ['up', 'up']);
  });
});

describe('faults', () => {
  test('Redis down: requests are served as MISS with the cache marked unavailable; health 503', async () => {
    const { key } = await newProject();
    const content = unique('redis down');
    await chat(key, content);
    await h.stack.stopRedis();
    try {
      // Past the time an isolate serves what it holds in memory without confirming it.
      await new Promise((r) => setTimeout(r, 1200));
      const r = await chat(key, content);
      assert.equal(r.status, 200, r.text);
      assert.equal(r.headers.get('x-watchllm-cache'), 'MISS');
      assert.equal(r.headers.get('x-watchllm-cache-detail'), 'unavailable');
      const health = await call('/health', { method: 'GET' });
      assert.equal(health.status, 503);
      assert.deepEqual(health.json.down, ['redis']);
      assert.equal(health.json.checks.redis.status, 'down');
    } finally {
      await h.stack.startRedis();
    }
    // Once Redis is back (the adapter reconnects with a short backoff), caching resumes by itself.
    await eventually(async () => (await chat(key, unique('redis back'))).headers.get('x-watchllm-cache-detail') === 'stored', { what: 'cache to recover' });
  });

  test('Supabase down: a known key keeps working, an unknown key gets 503 (never 200); health 503', async () => {
    const known = await newProject();
    const unknown = await newProject();
    assert.equal((await chat(known.key, unique('warm'))).status, 200);
    await h.stack.stopPostrust();
    try {
      await new Promise((r) => setTimeout(r, 2300)); // past the fresh TTL: the stale entry is what serves
      const ok = await chat(known.key, unique('supabase down'));
      assert.equal(ok.status, 200, ok.text);
      const refused = await chat(unknown.key, unique('never seen'));
      assert.equal(refused.status, 503, refused.text);
      assert.equal(refused.json.error.code, 'service_unavailable');
      const fake = await chat('lgw_proj_ZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZ', 'x');
      assert.equal(fake.status, 503);
      const health = await call('/health', { method: 'GET' });
      assert.equal(health.status, 503);
      assert.deepEqual(health.json.down, ['supabase']);
    } finally {
      await h.stack.startPostrust();
    }
    assert.equal((await chat(unknown.key, unique('after'))).status, 200);
  });
});
