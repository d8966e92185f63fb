// Bad input and upstream failures: clear OpenAI-format errors with the right status, nothing cached.
import { describe, test, before } from 'node:test';
import assert from 'node:assert/strict';
import { call, chat, newProject, redis, unique, upstreamRequests } from './harness.mjs';

const isOpenAiError = (r, status, code) => {
  assert.equal(r.status, status, r.text);
  assert.equal(typeof r.json?.error?.message, 'string', r.text);
  assert.ok(r.json.error.message.length > 10);
  assert.equal(typeof r.json.error.type, 'string');
  if (code) assert.equal(r.json.error.code, code);
};

describe('bad input', () => {
  let key;
  let project;
  before(async () => ({ key, project } = await newProject()));
  const entries = () => redis('--scan', '--pattern', `wl:c2:${project.id}:*`).split('\n').filter(Boolean).length;

  test('malformed JSON, wrong types and missing fields are 400s naming the parameter', async () => {
    const before = entries();
    isOpenAiError(await call('/v1/chat/completions', { key, rawBody: '{"model": "x", ', headers: { 'content-type': 'application/json' } }), 400, 'invalid_json');
    isOpenAiError(await call('/v1/chat/completions', { key, rawBody: '' }), 400, 'invalid_json');
    let r = await call('/v1/chat/completions', { key, body: { messages: [{ role: 'user', content: 'x' }] } });
    isOpenAiError(r, 400, 'missing_required_parameter');
    assert.equal(r.json.error.param, 'model');
    r = await call('/v1/chat/completions', { key, body: { model: 'openai/gpt-4o' } });
    assert.equal(r.json.error.param, 'messages');
    r = await call('/v1/chat/completions', { key, body: { model: 42, messages: [] } });
    isOpenAiError(r, 400, 'invalid_type');
    r = await call('/v1/chat/completions', { key, body: { model: 'openai/gpt-4o', messages: [{ role: 'user', content: 'x' }], temperature: 'hot' } });
    assert.equal(r.json.error.param, 'temperature');
    r = await call('/v1/chat/completions', { key, body: { model: 'openai/gpt-4o', messages: 'hello' } });
    assert.equal(r.json.error.param, 'messages');
    r = await call('/v1/embeddings', { key, body: { model: 'openai/text-embedding-3-small' } });
    assert.equal(r.json.error.param, 'input');
    r = await call('/v1/completions', { key, body: { model: 'openai/gpt-3.5-turbo-instruct' } });
    assert.equal(r.json.error.param, 'prompt');
    r = await call('/v1/chat/completions', { key, body: { model: 'frobnicator-9000', messages: [{ role: 'user', content: 'x' }] } });
    isOpenAiError(r, 400, 'model_not_found');
    assert.equal(entries(), before, 'nothing was cached');
  });

  test('bodies over the 4 MiB limit get 413', async () => {
    const big = 'x'.repeat(4 * 1024 * 1024 + 10);
    isOpenAiError(await call('/v1/chat/completions', { key, body: { model: 'openai/gpt-4o', messages: [{ role: 'user', content: big }] } }), 413, 'request_too_large');
  });

  test('unknown routes are 404 and wrong methods 405', async () => {
    isOpenAiError(await call('/v1/nothing-here', { key, body: {} }), 404, 'unknown_url');
    isOpenAiError(await call('/v2/chat/completions', { key, body: {} }), 404, 'unknown_url');
    isOpenAiError(await call('/v1/chat/completions', { method: 'GET', key }), 405, 'method_not_allowed');
    isOpenAiError(await call('/v1/embeddings', { method: 'PUT', key, body: {} }), 405, 'method_not_allowed');
    isOpenAiError(await call('/health', { method: 'POST', body: {} }), 405, 'method_not_allowed');
  });
});

describe('upstream failures', () => {
  let key;
  before(async () => ({ key } = await newProject()));

  test('upstream 5xx becomes a 502 naming the provider, and is not cached', async () => {
    const content = unique('[[fail-500]] boom');
    const r = await chat(key, content);
    isOpenAiError(r, 502);
    assert.match(r.json.error.message, /openrouter/);
    assert.equal(r.headers.get('x-watchllm-cache-detail'), 'not-cached');
    await chat(key, content);
    assert.equal((await upstreamRequests(content)).length, 2, 'the error was not served from cache');
  });

  test('upstream 429 stays a 429 in OpenAI format', async () => {
    const r = await chat(key, unique('[[fail-429]]'));
    isOpenAiError(r, 429, 'rate_limit_exceeded');
    assert.match(r.json.error.message, /openrouter/);
  });

  test('an upstream that does not answer in time gives 504', async () => {
    const content = unique('[[slow:2500]] take your time');
    const t = Date.now();
    const r = await chat(key, content);
    isOpenAiError(r, 504, 'upstream_timeout');
    assert.ok(Date.now() - t < 2400, 'the proxy gave up at its timeout');
  });

  test('a stream cut off before it finished is not cached', async () => {
    const content = unique('[[cut-stream]] partial');
    const r = await chat(key, content, { stream: true });
    assert.equal(r.status, 200);
    assert.ok(!r.text.includes('[DONE]'));
    await new Promise((res) => setTimeout(res, 300));
    const again = await chat(key, content, { stream: true });
    assert.equal(again.headers.get('x-watchllm-cache'), 'MISS');
    assert.equal((await upstreamRequests(content)).length, 2);
  });
});
