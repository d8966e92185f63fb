// Resilience: one retry on connect errors and on 5xx where a retry is safe, and concurrent
// identical misses collapsed into one upstream call.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { call, chat, eventually, newProject, sql, unique, upstreamRequests } from './harness.mjs';

describe('retries', () => {
  let key;
  let project;
  before(async () => ({ key, project } = await newProject()));

  test('a 503 is retried once and the request succeeds', async () => {
    const content = unique('[[fail-once-503]] flaky');
    const r = await chat(key, content);
    assert.equal(r.status, 200, r.text);
    assert.equal((await upstreamRequests(content)).length, 2);
    const id = r.headers.get('x-watchllm-request-id');
    const attempts = await eventually(() => sql(`select upstream_attempts from usage_logs where request_id = '${id}'`), { what: 'usage row' });
    assert.equal(attempts, '2');
  });

  test('a dropped connection is retried once', async () => {
    const content = unique('[[drop-once]] reset');
    const r = await chat(key, content, { stream: true });
    assert.equal(r.status, 200, r.text);
    assert.ok(r.text.trim().endsWith('data: [DONE]'));
    assert.equal((await upstreamRequests(content)).length, 2);
  });

  test('a chat 500 is not retried (the model may have run); an embeddings 500 is', async () => {
    const content = unique('[[fail-500]] once only');
    assert.equal((await chat(key, content)).status, 502);
    assert.equal((await upstreamRequests(content)).length, 1);

    const input = unique('[[fail-500]] embed');
    const e = await call('/v1/embeddings', { key, body: { model: 'openai/text-embedding-3-small', input } });
    assert.equal(e.status, 502);
    assert.equal((await upstreamRequests(input)).length, 2);
  });
});

describe('concurrent identical misses', () => {
  test('collapse into one upstream call; the others are served its answer', async () => {
    const { key } = await newProject();
    const content = unique('[[slow:400]] popular question');
    const results = await Promise.all(Array.from({ length: 5 }, () => chat(key, content)));
    assert.ok(results.every((r) => r.status === 200), results.map((r) => r.text).join('\n'));
    assert.equal((await upstreamRequests(content)).length, 1, 'one upstream call for five requests');
    const statuses = results.map((r) => `${r.headers.get('x-watchllm-cache')}/${r.headers.get('x-watchllm-cache-detail')}`).sort();
    assert.deepEqual(statuses, ['HIT/collapsed', 'HIT/collapsed', 'HIT/collapsed', 'HIT/collapsed', 'MISS/stored']);
    const answers = new Set(results.map((r) => r.json.choices[0].message.content));
    assert.equal(answers.size, 1);
  });

  test('streamed followers get a replay of the leader’s answer', async () => {
    const { key } = await newProject();
    const content = unique('[[slow:300]] popular stream');
    const results = await Promise.all(Array.from({ length: 3 }, () => chat(key, content, { stream: true })));
    assert.equal((await upstreamRequests(content)).length, 1);
    for (const r of results) assert.ok(r.text.trim().endsWith('data: [DONE]'), r.text);
  });

  test('when the leader fails, followers are not served its error: each goes upstream itself', async () => {
    const { key } = await newProject();
    const content = unique('[[slow:300]] [[fail-500]] unlucky');
    const results = await Promise.all(Array.from({ length: 3 }, () => chat(key, content)));
    assert.ok(results.every((r) => r.status === 502));
    assert.equal((await upstreamRequests(content)).length, 3);
  });

  test('different projects never share an in-flight answer', async () => {
    const a = await newProject();
    const b = await newProject();
    const content = unique('[[slow:300]] same words, two tenants');
    const [ra, rb] = await Promise.all([chat(a.key, content), chat(b.key, content)]);
    assert.equal(ra.headers.get('x-watchllm-cache'), 'MISS');
    assert.equal(rb.headers.get('x-watchllm-cache'), 'MISS');
    assert.equal((await upstreamRequests(content)).length, 2);
  });
});
