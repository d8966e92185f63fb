// Routing: OpenRouter for vendor/model names and by default; the project's own OpenAI or Groq key
// (decrypted from Supabase) for native model names.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { addProviderKey, chat, call, h, newProject, sql, unique, upstreamRequests } from './harness.mjs';

describe('providers', () => {
  test('vendor/model names go to OpenRouter with the platform key', async () => {
    const { key } = await newProject();
    const content = unique('route me');
    const r = await chat(key, content);
    assert.equal(r.headers.get('x-watchllm-provider'), 'openrouter');
    const [up] = await upstreamRequests(content);
    assert.equal(up.provider, 'openrouter');
    assert.equal(up.authorization, `Bearer ${h.stack.providerKeys.openrouter}`);
    assert.equal(up.body.model, 'openai/gpt-4o-mini');
  });

  test('native names without a project key go to OpenRouter under its id', async () => {
    const { key } = await newProject();
    const content = unique('native default');
    const r = await call('/v1/chat/completions', { key, body: { model: 'claude-3-haiku', messages: [{ role: 'user', content }] } });
    assert.equal(r.status, 200);
    const [up] = await upstreamRequests(content);
    assert.equal(up.provider, 'openrouter');
    assert.equal(up.body.model, 'anthropic/claude-3-haiku');
  });

  test('a project OpenAI key is decrypted and used for gpt-4o; a Groq key for mixtral-8x7b', async () => {
    const { key, project } = await newProject();
    await addProviderKey(project.id, 'openai', h.stack.providerKeys.openai);
    await addProviderKey(project.id, 'groq', h.stack.providerKeys.groq);
    const stored = sql(`select string_agg(encrypted_key, ',') from provider_keys where project_id = '${project.id}'`);
    assert.ok(!stored.includes(h.stack.providerKeys.openai) && !stored.includes(h.stack.providerKeys.groq), 'stored encrypted');

    const c1 = unique('byok openai');
    const r1 = await call('/v1/chat/completions', { key, body: { model: 'gpt-4o', messages: [{ role: 'user', content: c1 }] } });
    assert.equal(r1.status, 200, r1.text);
    assert.equal(r1.headers.get('x-watchllm-provider'), 'openai');
    const [u1] = await upstreamRequests(c1);
    assert.equal(u1.provider, 'openai');
    assert.equal(u1.authorization, `Bearer ${h.stack.providerKeys.openai}`);
    assert.equal(u1.body.model, 'gpt-4o');

    const c2 = unique('byok groq');
    const r2 = await call('/v1/chat/completions', { key, body: { model: 'mixtral-8x7b', messages: [{ role: 'user', content: c2 }], stream: true } });
    assert.equal(r2.status, 200);
    assert.equal(r2.headers.get('x-watchllm-provider'), 'groq');
    const [u2] = await upstreamRequests(c2);
    assert.equal(u2.provider, 'groq');
    assert.equal(u2.body.model, 'mixtral-8x7b-32768');
    assert.ok(r2.text.trim().endsWith('data: [DONE]'));
  });

  test('a wrong provider key surfaces the provider 401 as an error, not cached', async () => {
    const { key, project } = await newProject();
    await addProviderKey(project.id, 'openai', 'sk-wrong-key-123456');
    const content = unique('bad byok');
    const r = await call('/v1/chat/completions', { key, body: { model: 'gpt-4o', messages: [{ role: 'user', content }] } });
    assert.equal(r.status, 401);
    assert.match(r.json.error.message, /^openai: /);
    assert.ok(!r.text.includes('sk-wrong'), 'the key is never echoed');
  });
});
