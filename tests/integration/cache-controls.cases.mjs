// Cache controls in HTTP's terms (#18): Cache-Control no-store / no-cache / max-age / s-maxage /
// stale-if-error on requests, Age and Cache-Control on responses, per-request TTLs within the
// plan's bound, namespaces that partition a project's cache (exact and semantic), projects that
// require one, and threshold floors. Provider outages are the fake provider's: every request
// carrying a test's prompt fails (503, no answer, a dropped connection) until the test ends it.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { call, chat, eventually, h, newProject, openai, redis, sql, sseData, unique, upstreamRequests } from './harness.mjs';

const cacheOf = (r) => r.headers.get('x-watchllm-cache');
const detailOf = (r) => r.headers.get('x-watchllm-cache-detail');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const user = (content) => [{ role: 'user', content }];
const ask = (key, messages, headers = {}, extra = {}) => call('/v1/chat/completions', { key, headers, body: { model: 'openai/gpt-4o-mini', messages, ...extra } });
/** Asks until the first answer is stored (stores run after the response, in waitUntil). */
const primed = async (key, content, headers = {}) => {
  const first = await chat(key, content, {}, headers);
  assert.equal(first.status, 200, first.text);
  await eventually(async () => cacheOf(await chat(key, content, {}, headers)) === 'HIT', { what: 'entry stored' });
  return first;
};
const outage = async (match, mode) => {
  const r = await fetch(`${h.stack.fake.url}/__outage`, { method: 'POST', body: JSON.stringify({ match, mode }) });
  assert.equal(r.status, 200);
};
/** The stored entry of a project's only chat prompt: when it was stored, when it stops being fresh, and Redis's TTL. */
const storedEntry = (projectId) =>
  eventually(() => {
    const k = redis('--scan', '--pattern', `wl:c2:${projectId}:g*:chat:*`).split('\n').filter((x) => x && !x.endsWith(':inflight'))[0];
    if (!k) return false;
    const [stored, expires] = redis('GET', k).split('|').map(Number);
    return { stored, expires, ttl: Number(redis('TTL', k)) };
  }, { what: 'the stored entry' });

describe('cache controls', () => {
  test('Cache-Control: no-store neither reads nor writes, no-cache refreshes; responses say what was done', async () => {
    const { key } = await newProject();
    const content = unique('cc store');
    const skipped = await chat(key, content, {}, { 'cache-control': 'no-store' });
    assert.equal(skipped.status, 200, skipped.text);
    assert.equal(cacheOf(skipped), 'MISS');
    assert.equal(detailOf(skipped), 'bypass');
    assert.equal(skipped.headers.get('cache-control'), 'no-store');

    const first = await chat(key, content);
    assert.equal(cacheOf(first), 'MISS', 'no-store stored nothing');
    assert.equal(detailOf(first), 'stored');
    assert.equal(first.headers.get('cache-control'), 'private, s-maxage=3600');
    const hit = await eventually(async () => {
      const r = await chat(key, content);
      return cacheOf(r) === 'HIT' && r;
    }, { what: 'the entry stored' });
    const fresh = Number(/^private, s-maxage=(\d+)$/.exec(hit.headers.get('cache-control'))?.[1]);
    assert.ok(fresh > 3590 && fresh <= 3600, hit.headers.get('cache-control'));
    assert.ok(Number(hit.headers.get('age')) >= 0, 'Age on a hit');

    const refreshed = await chat(key, content, {}, { 'cache-control': 'No-Cache' });
    assert.equal(cacheOf(refreshed), 'MISS');
    assert.equal(detailOf(refreshed), 'refresh');
    assert.notEqual(refreshed.json.id, first.json.id);
    await eventually(async () => (await chat(key, content)).json.id === refreshed.json.id, { what: 'the refreshed entry served' });
    assert.equal((await upstreamRequests(content)).length, 3, 'no-store, the first miss and the refresh');
  });

  test('max-age: an entry older than the request accepts is not served; Age counts its seconds', async () => {
    const { key } = await newProject();
    const content = unique('cc max-age');
    const first = await primed(key, content);
    await sleep(2100);
    const aged = await chat(key, content);
    assert.equal(cacheOf(aged), 'HIT');
    assert.equal(aged.json.id, first.json.id);
    assert.ok(Number(aged.headers.get('age')) >= 2, `Age ${aged.headers.get('age')}`);
    assert.ok(Number(aged.headers.get('x-watchllm-cache-age')) >= 2);
    assert.equal(cacheOf(await chat(key, content, {}, { 'cache-control': 'max-age=60' })), 'HIT', 'young enough for 60 s');

    const younger = await chat(key, content, {}, { 'cache-control': 'max-age=1' });
    assert.equal(cacheOf(younger), 'MISS', younger.text);
    assert.equal(detailOf(younger), 'stored');
    assert.notEqual(younger.json.id, first.json.id);
    // The fresh answer replaced the old one, for everyone.
    const next = await eventually(async () => {
      const r = await chat(key, content, {}, { 'cache-control': 'max-age=1' });
      return cacheOf(r) === 'HIT' && r;
    }, { what: 'the new entry' });
    assert.equal(next.json.id, younger.json.id);
    assert.equal((await upstreamRequests(content)).length, 2);
  });

  test('s-maxage and X-WatchLLM-Cache-TTL set how long an answer is fresh, within the plan\'s bound', async () => {
    const { key, project } = await newProject({ plan: 'free' });
    const content = unique('cc ttl');
    const short = await chat(key, content, {}, { 'cache-control': 's-maxage=2' });
    assert.equal(short.headers.get('cache-control'), 'private, s-maxage=2');
    const entry = await storedEntry(project.id);
    assert.equal(entry.expires - entry.stored, 2000, 'fresh for 2 s');
    assert.ok(entry.ttl > 3000, `kept past its expiry for stale-if-error (TTL ${entry.ttl})`);
    assert.equal(cacheOf(await chat(key, content)), 'HIT');
    await sleep(2100);
    const expired = await chat(key, content);
    assert.equal(cacheOf(expired), 'MISS', 'never served past its expiry');
    assert.notEqual(expired.json.id, short.json.id);

    const other = unique('cc ttl header');
    const viaHeader = await chat(key, other, {}, { 'x-watchllm-cache-ttl': '120' });
    assert.equal(viaHeader.headers.get('cache-control'), 'private, s-maxage=120');
    assert.equal(viaHeader.headers.get('x-watchllm-cache-ttl'), null, 'not clamped: not mentioned');

    const long = await chat(key, unique('cc ttl long'), {}, { 'x-watchllm-cache-ttl': '9999999' });
    assert.equal(long.status, 200, long.text);
    assert.equal(long.headers.get('x-watchllm-cache-ttl'), '86400; clamped-from=9999999', 'the free plan keeps answers a day at most');
    assert.equal(long.headers.get('cache-control'), 'private, s-maxage=86400');
  });

  test('stale-if-error: a provider outage is answered with the expired entry within the window, and only then', async () => {
    const { key } = await newProject();
    const content = unique('cc stale');
    const first = await chat(key, content, {}, { 'x-watchllm-cache-ttl': '1' });
    assert.equal(first.status, 200, first.text);
    const expiresAt = Date.now() + 1000;
    await sleep(1300);
    await outage(content, '503');
    try {
      const plain = await chat(key, content);
      assert.equal(plain.status, 502, 'without stale-if-error, the provider\'s failure is the answer');
      assert.equal(plain.json.error.type, 'server_error');
      assert.equal(plain.headers.get('cache-control'), 'no-store');

      const stale = await chat(key, content, {}, { 'cache-control': 'stale-if-error=60' });
      assert.equal(stale.status, 200, stale.text);
      assert.equal(cacheOf(stale), 'HIT');
      assert.equal(detailOf(stale), 'stale');
      assert.equal(stale.json.id, first.json.id);
      assert.equal(stale.headers.get('cache-control'), 'private, s-maxage=0');
      assert.ok(Number(stale.headers.get('age')) >= 1);

      const streamed = await ask(key, user(content), { 'cache-control': 'stale-if-error=60' }, { stream: true });
      assert.equal(streamed.status, 200, streamed.text);
      assert.equal(detailOf(streamed), 'stale');
      assert.match(streamed.headers.get('content-type'), /text\/event-stream/);
      const text = sseData(streamed.text).filter((d) => d !== '[DONE]').map((d) => JSON.parse(d).choices[0]?.delta?.content ?? '').join('');
      assert.equal(text, first.json.choices[0].message.content);

      // A provider that does not answer at all (the proxy's deadline is 1.5 s in the tests).
      await outage(content, 'hang');
      const timedOut = await chat(key, content, {}, { 'cache-control': 'stale-if-error=60' });
      assert.equal(detailOf(timedOut), 'stale', timedOut.text);
      await outage(content, 'drop');
      const dropped = await chat(key, content, {}, { 'cache-control': 'stale-if-error=60' });
      assert.equal(detailOf(dropped), 'stale', dropped.text);

      // Past the window the request allows: the error, not the old answer.
      await sleep(Math.max(0, expiresAt + 2100 - Date.now()));
      const tooOld = await chat(key, content, {}, { 'cache-control': 'stale-if-error=1' });
      assert.equal(tooOld.status, 502, tooOld.text);
      assert.equal(tooOld.json.error.type, 'server_error');
    } finally {
      await outage(content, null);
    }
    const recovered = await chat(key, content, {}, { 'cache-control': 'stale-if-error=60' });
    assert.equal(cacheOf(recovered), 'MISS', 'an expired entry is never served while the provider answers');
    assert.notEqual(recovered.json.id, first.json.id);
  });

  test('namespaces partition a project\'s cache, exact and semantic; a purge names its namespace', async () => {
    const { key } = await newProject();
    const ns = (name) => ({ 'x-watchllm-cache-namespace': name });
    const content = unique('cc namespace');
    const a = await primed(key, content, ns('tenant-a'));
    const b = await chat(key, content, {}, ns('tenant-b'));
    assert.equal(cacheOf(b), 'MISS', 'another namespace never sees tenant-a\'s answer');
    assert.notEqual(b.json.id, a.json.id);
    assert.equal(cacheOf(await chat(key, content)), 'MISS', 'nor does a request without one');
    await eventually(async () => cacheOf(await chat(key, content, {}, ns('tenant-b'))) === 'HIT', { what: 'tenant-b\'s own entry' });

    // Semantic: a rewording is served inside the namespace only.
    const stored = `Explain the theory of relativity in simple terms`;
    const reworded = `In simple terms, explain the theory of relativity`;
    const first = await ask(key, user(stored), ns('tenant-a'));
    await eventually(async () => cacheOf(await ask(key, user(stored), ns('tenant-a'))) === 'HIT', { what: 'stored' });
    assert.equal(cacheOf(await ask(key, user(reworded), ns('tenant-b'))), 'MISS');
    const same = await ask(key, user(reworded), ns('tenant-a'));
    assert.equal(cacheOf(same), 'HIT-SEMANTIC');
    assert.equal(same.json.choices[0].message.content, first.json.choices[0].message.content);

    // Purging one entry purges it in the namespace named, not in the others.
    const purged = await call('/v1/cache', { method: 'DELETE', key, headers: ns('tenant-a'), body: { model: 'openai/gpt-4o-mini', messages: user(content) } });
    assert.equal(purged.status, 200, purged.text);
    assert.equal(purged.json.deleted, 1);
    assert.equal(cacheOf(await chat(key, content, {}, ns('tenant-a'))), 'MISS');
    assert.equal(cacheOf(await chat(key, content, {}, ns('tenant-b'))), 'HIT');
  });

  test('a project that requires a namespace refuses requests without one (400), before any provider call', async () => {
    const { key, project } = await newProject();
    sql(`update projects set require_cache_namespace = true where id = '${project.id}'`);
    const content = unique('cc required');
    const refused = await chat(key, content);
    assert.equal(refused.status, 400, refused.text);
    assert.equal(refused.json.error.type, 'invalid_request_error');
    assert.equal(refused.json.error.code, 'missing_required_parameter');
    assert.equal(refused.json.error.param, 'X-WatchLLM-Cache-Namespace');
    assert.equal((await upstreamRequests(content)).length, 0);
    const named = await chat(key, content, {}, { 'x-watchllm-cache-namespace': 'user-7' });
    assert.equal(named.status, 200, named.text);
  });

  test('threshold floors: a request may raise the threshold, never lower it below the project\'s floor', async () => {
    // "Cook rice quickly" / "Quickly cook rice": similarity 0.947, served at 0.9, not at 0.95.
    const floored = await newProject();
    sql(`update projects set similarity_threshold_floor = 0.95 where id = '${floored.project.id}'`);
    const open = await newProject();
    for (const p of [floored, open]) {
      await ask(p.key, user('Cook rice quickly'));
      await eventually(async () => cacheOf(await ask(p.key, user('Cook rice quickly'))) === 'HIT', { what: 'stored' });
    }
    const clamped = await ask(floored.key, user('Quickly cook rice'), { 'x-watchllm-similarity-threshold': '0.9' });
    assert.equal(cacheOf(clamped), 'MISS', 'the floor held');
    assert.equal(clamped.headers.get('x-watchllm-similarity-threshold'), '0.95; clamped-from=0.9');
    const allowed = await ask(open.key, user('Quickly cook rice'), { 'x-watchllm-similarity-threshold': '0.9' });
    assert.equal(cacheOf(allowed), 'HIT-SEMANTIC', 'control: without a floor, 0.9 serves it');
    assert.equal(allowed.headers.get('x-watchllm-similarity-threshold'), null);

    await ask(floored.key, user('Explain the theory of relativity in simple terms'));
    await eventually(async () => cacheOf(await ask(floored.key, user('Explain the theory of relativity in simple terms'))) === 'HIT', { what: 'stored' });
    const raised = await ask(floored.key, user('In simple terms, explain the theory of relativity'), { 'x-watchllm-similarity-threshold': '0.999' });
    assert.equal(cacheOf(raised), 'MISS', 'raised above the pair\'s similarity');
  });

  test('malformed controls are 400s in OpenAI\'s format naming the header; nothing reaches the provider', async () => {
    const { key } = await newProject();
    const content = unique('cc malformed');
    for (const [name, value, param] of [
      ['cache-control', 'max-age=soon', 'Cache-Control'],
      ['cache-control', 'stale-if-error', 'Cache-Control'],
      ['cache-control', 's-maxage=-1', 'Cache-Control'],
      ['x-watchllm-cache-ttl', '1h', 'X-WatchLLM-Cache-TTL'],
      ['x-watchllm-cache-ttl', '0', 'X-WatchLLM-Cache-TTL'],
      ['x-watchllm-similarity-threshold', '0', 'X-WatchLLM-Similarity-Threshold'],
      ['x-watchllm-cache-namespace', 'x'.repeat(129), 'X-WatchLLM-Cache-Namespace'],
      ['x-watchllm-cache-namespace', 'tenant\u00e9', 'X-WatchLLM-Cache-Namespace'],
    ]) {
      const r = await chat(key, content, {}, { [name]: value });
      assert.equal(r.status, 400, `${name}: ${value}: ${r.text}`);
      assert.equal(r.json.error.type, 'invalid_request_error');
      assert.equal(r.json.error.param, param);
      assert.ok(r.json.error.message.length > 20);
    }
    assert.equal((await upstreamRequests(content)).length, 0);
  });

  test('the official openai client sends the controls as request headers', async () => {
    const { key } = await newProject();
    const client = openai(key);
    const content = unique('cc client');
    const create = (headers) => client.chat.completions.create({ model: 'openai/gpt-4o-mini', messages: user(content) }, { headers }).withResponse();
    const tenant = { 'X-WatchLLM-Cache-Namespace': 'user-1', 'Cache-Control': 's-maxage=300' };
    const first = await create(tenant);
    assert.equal(first.response.headers.get('x-watchllm-cache'), 'MISS');
    assert.equal(first.response.headers.get('cache-control'), 'private, s-maxage=300');
    const hit = await eventually(async () => {
      const r = await create({ 'X-WatchLLM-Cache-Namespace': 'user-1' });
      return r.response.headers.get('x-watchllm-cache') === 'HIT' && r;
    }, { what: 'the entry stored' });
    assert.deepEqual(hit.data.choices, first.data.choices);
    const fresh = Number(/s-maxage=(\d+)/.exec(hit.response.headers.get('cache-control'))[1]);
    assert.ok(fresh <= 300 && fresh > 290, `fresh for ${fresh} s more`);
    const other = await create({ 'X-WatchLLM-Cache-Namespace': 'user-2' });
    assert.equal(other.response.headers.get('x-watchllm-cache'), 'MISS');
    const bypass = await create({ 'X-WatchLLM-Cache-Namespace': 'user-1', 'Cache-Control': 'no-store' });
    assert.equal(bypass.response.headers.get('x-watchllm-cache-detail'), 'bypass');
    await assert.rejects(create({ 'X-WatchLLM-Similarity-Threshold': 'high' }), (e) => e.status === 400 && e.param === 'X-WatchLLM-Similarity-Threshold');
  });
});
