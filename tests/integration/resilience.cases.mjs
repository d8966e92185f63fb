// Resilience: one retry on connect errors and on 5xx where a retry is safe, and concurrent
// identical misses collapsed into one upstream call.
import { after, before, describe, test } from 'node:test';
import { startWorkerd } from '../../tools/stack.mjs';
import assert from 'node:assert/strict';
import { call, chat, eventually, h, newProject, sql, unique, upstreamRequests } from './harness.mjs';

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

describe('clients that hang up', () => {
  // Plain workerd, as in production: wrangler dev's proxy in front of it hides a client's hang-up.
  let worker;
  after(async () => worker?.dispose());

  test('streamed misses cancelled midway: each logged (499 if cut short), and the isolate keeps its memory', async () => {
    worker = await startWorkerd(h.stack, { port: 0 });
    const { key } = await newProject();
    const health = async () => (await (await fetch(`${worker.url}/health`)).json()).checks.proxy.isolate;
    const chat = (key, content) => call('/v1/chat/completions', { key, body: { model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content }] }, base: worker.url });
    const hot = unique('kept in memory');
    await chat(key, hot);
    await eventually(async () => (await chat(key, hot)).headers.get('x-watchllm-cache') === 'HIT', { what: 'stored' });
    const before = await health();
    const ids = await Promise.all(
      Array.from({ length: 24 }, async (_, i) => {
        const controller = new AbortController();
        const r = await fetch(`${worker.url}/v1/chat/completions`, {
          method: 'POST',
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
          body: JSON.stringify({ model: 'openai/gpt-4o-mini', stream: true, messages: [{ role: 'user', content: unique(`hung up on ${i}`) }] }),
          signal: controller.signal,
        });
        assert.equal(r.status, 200);
        const reader = r.body.getReader();
        let seen = '';
        while (!seen.includes('"delta"')) seen += new TextDecoder().decode((await reader.read()).value);
        controller.abort();
        await reader.cancel().catch(() => {});
        return r.headers.get('x-watchllm-request-id');
      }),
    );
    // Before the fix, a cancelled body dropped the upstream read outside the request's context:
    // workerd refused that I/O, wasm-bindgen aborted the instance, and the rows were lost with it.
    const list = ids.map((id) => `'${id}'`).join(',');
    // The runtime may end a hung-up request's background work before it writes the row: the
    // next flush of any request (traffic goes on) writes it as cut short.
    const logged = () => Number(sql(`select count(*) from usage_logs where request_id in (${list})`));
    await eventually(async () => (await chat(key, hot)).status === 200 && logged() === ids.length, { timeoutMs: 20000, what: `usage rows of the cancelled streams (${logged()} of ${ids.length})` });
    // (A stream the upstream finished before the hang-up was noticed is logged as answered.)
    const outcomes = sql(`select distinct status_code || ' ' || coalesce(error_code, '') from usage_logs where request_id in (${list})`).split('\n');
    assert.ok(outcomes.includes('499 stream_aborted') && outcomes.every((o) => ['499 stream_aborted', '200'].includes(o.trim())), JSON.stringify(outcomes));
    const after = await health();
    assert.ok(after.l1_entries >= before.l1_entries, `L1 kept its entries (${before.l1_entries} before, ${after.l1_entries} after)`);
  });
});
