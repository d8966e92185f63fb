// The exact cache: project scoping, TTLs, cache controls, what is never cached, usage logs.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { call, chat, eventually, newProject, redis, sql, unique, upstreamRequests } from './harness.mjs';

describe('exact cache', () => {
  test('no cross-project hits: two projects asking the same thing each pay once', async () => {
    const a = await newProject();
    const b = await newProject();
    const content = unique('Same question');
    assert.equal((await chat(a.key, content)).headers.get('x-watchllm-cache'), 'MISS');
    assert.equal((await chat(a.key, content)).headers.get('x-watchllm-cache'), 'HIT');
    const rb = await chat(b.key, content);
    assert.equal(rb.headers.get('x-watchllm-cache'), 'MISS');
    assert.equal((await upstreamRequests(content)).length, 2);
    const keys = redis('--scan', '--pattern', 'wl:c2:*').split('\n');
    assert.ok(keys.some((k) => k.includes(a.project.id)) && keys.some((k) => k.includes(b.project.id)));
  });

  test('field order and streaming flag do not change the key; parameters do', async () => {
    const { key } = await newProject();
    const content = unique('Order');
    await call('/v1/chat/completions', { key, body: { model: 'openai/gpt-4o-mini', temperature: 0, messages: [{ role: 'user', content }] } });
    const reordered = await call('/v1/chat/completions', { key, rawBody: JSON.stringify({ messages: [{ content, role: 'user' }], temperature: 0, model: 'openai/gpt-4o-mini' }), headers: { 'content-type': 'application/json' } });
    assert.equal(reordered.headers.get('x-watchllm-cache'), 'HIT');
    const hotter = await call('/v1/chat/completions', { key, body: { model: 'openai/gpt-4o-mini', temperature: 0.7, messages: [{ role: 'user', content }] } });
    assert.equal(hotter.headers.get('x-watchllm-cache'), 'MISS');
    const otherModel = await call('/v1/chat/completions', { key, body: { model: 'openai/gpt-4o', temperature: 0, messages: [{ role: 'user', content }] } });
    assert.equal(otherModel.headers.get('x-watchllm-cache'), 'MISS');
  });

  test('entries expire after 1 hour (completions) and 24 hours (embeddings)', async () => {
    const { key, project } = await newProject();
    await chat(key, unique('ttl chat'));
    await call('/v1/embeddings', { key, body: { model: 'openai/text-embedding-3-small', input: unique('ttl embed') } });
    const ttlOf = (endpoint) =>
      eventually(() => {
        const k = redis('--scan', '--pattern', `wl:c2:${project.id}:${endpoint}:*`).split('\n').filter(Boolean)[0];
        return k && Number(redis('TTL', k));
      }, { what: `${endpoint} entry` });
    const chatTtl = await ttlOf('chat');
    const embedTtl = await ttlOf('embeddings');
    assert.ok(chatTtl > 3500 && chatTtl <= 3600, `chat TTL ${chatTtl}`);
    assert.ok(embedTtl > 86300 && embedTtl <= 86400, `embeddings TTL ${embedTtl}`);
  });

  test('bypass skips the cache entirely; refresh replaces the entry', async () => {
    const { key } = await newProject();
    const content = unique('controls');
    const first = await chat(key, content);
    const bypass = await chat(key, content, {}, { 'x-watchllm-bypass-cache': 'true' });
    assert.equal(bypass.headers.get('x-watchllm-cache'), 'MISS');
    assert.equal(bypass.headers.get('x-watchllm-cache-detail'), 'bypass');
    const refresh = await chat(key, content, {}, { 'x-watchllm-refresh-cache': '1' });
    assert.equal(refresh.headers.get('x-watchllm-cache-detail'), 'refresh');
    assert.notEqual(refresh.json.id, first.json.id);
    const after = await eventually(async () => {
      const r = await chat(key, content);
      return r.json.id === refresh.json.id && r;
    }, { what: 'refreshed entry' });
    assert.equal(after.headers.get('x-watchllm-cache'), 'HIT');
    assert.equal((await upstreamRequests(content)).length, 3);
  });

  test('usage is logged per request with cost, and a HIT logs what it saved', async () => {
    const { key, project } = await newProject();
    const content = unique('log me');
    const miss = await chat(key, content);
    const hit = await chat(key, content);
    const rows = await eventually(() => {
      const out = sql(`select cache_status || '|' || status_code || '|' || cost_usd || '|' || cost_saved_usd || '|' || tokens_saved || '|' || request_id from usage_logs where project_id = '${project.id}' order by id`);
      return out.split('\n').filter(Boolean).length === 2 && out.split('\n');
    }, { what: 'two usage rows' });
    const [m, h] = rows.map((r) => r.split('|'));
    assert.equal(m[0], 'MISS');
    assert.equal(m[1], '200');
    assert.ok(Math.abs(Number(m[2]) - Number(miss.headers.get('x-watchllm-cost-usd'))) < 1e-8);
    assert.equal(m[5], miss.headers.get('x-watchllm-request-id'));
    assert.equal(h[0], 'HIT');
    assert.equal(Number(h[2]), 0);
    assert.ok(Math.abs(Number(h[3]) - Number(m[2])) < 1e-8, 'cost saved equals what the miss cost');
    assert.equal(Number(h[4]), Number(hit.headers.get('x-watchllm-tokens-saved')));
  });
});
