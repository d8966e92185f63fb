// Anthropic through its own Messages API with the project's key: OpenAI requests translated on the
// way out, answers and streamed events translated back, so the official openai client works
// unchanged against claude-* models. The fake provider validates requests as Anthropic does
// (x-api-key, anthropic-version, max_tokens, alternating user/assistant turns, no OpenAI fields).
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { addProviderKey, call, h, newProject, openai, unique, upstreamRequests } from './harness.mjs';

describe('anthropic (BYOK, Messages API translation)', () => {
  let key;
  before(async () => {
    const p = await newProject();
    key = p.key;
    await addProviderKey(p.project.id, 'anthropic', h.stack.providerKeys.anthropic);
  });

  test('a chat request is translated, answered in OpenAI format, then cached', async () => {
    const content = unique('hello claude');
    const body = { model: 'claude-3-haiku', messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content }], temperature: 0.3, stop: 'END' };
    const r = await call('/v1/chat/completions', { key, body });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers.get('x-watchllm-provider'), 'anthropic');
    assert.equal(r.headers.get('x-watchllm-cache'), 'MISS');
    assert.equal(r.json.object, 'chat.completion');
    assert.match(r.json.id, /^chatcmpl-msg_fake\d+$/);
    assert.equal(r.json.choices[0].message.role, 'assistant');
    assert.match(r.json.choices[0].message.content, /^Answer #\d+ to: hello claude/);
    assert.equal(r.json.choices[0].finish_reason, 'stop');
    const u = r.json.usage;
    assert.ok(u.prompt_tokens > 0 && u.completion_tokens > 0 && u.total_tokens === u.prompt_tokens + u.completion_tokens);
    assert.ok(Number(r.headers.get('x-watchllm-cost-usd')) > 0, 'priced from claude-3-haiku rates');

    const [up] = await upstreamRequests(content);
    assert.equal(up.provider, 'anthropic');
    assert.equal(up.endpoint, '/messages');
    assert.equal(up.headers['x-api-key'], h.stack.providerKeys.anthropic);
    assert.equal(up.headers['anthropic-version'], '2023-06-01');
    assert.equal(up.headers.authorization, undefined, 'no OpenAI-style bearer to Anthropic');
    assert.deepEqual(up.body, { model: 'claude-3-haiku-20240307', system: 'Be brief.', messages: [{ role: 'user', content }], max_tokens: 4096, temperature: 0.3, stop_sequences: ['END'] });

    const again = await call('/v1/chat/completions', { key, body });
    assert.equal(again.headers.get('x-watchllm-cache'), 'HIT');
    assert.equal(again.json.choices[0].message.content, r.json.choices[0].message.content);
    assert.equal((await upstreamRequests(content)).length, 1);
  });

  test('streaming with the official openai client: Anthropic events become OpenAI chunks', async () => {
    const content = unique('stream claude');
    const client = openai(key);
    const stream = await client.chat.completions.create({ model: 'claude-3-haiku', messages: [{ role: 'user', content }], stream: true, stream_options: { include_usage: true } });
    let text = '';
    let finish;
    let usage;
    for await (const chunk of stream) {
      assert.equal(chunk.object, 'chat.completion.chunk');
      text += chunk.choices[0]?.delta?.content ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
      usage = chunk.usage ?? usage;
    }
    assert.match(text, /^Answer #\d+ to: stream claude/);
    assert.equal(finish, 'stop');
    assert.ok(usage.prompt_tokens > 0 && usage.completion_tokens > 0);
    const [up] = await upstreamRequests(content);
    assert.equal(up.body.stream, true);
    assert.equal(up.body.stream_options, undefined, 'OpenAI-only fields are not sent to Anthropic');

    // The assembled answer was stored: a streamed replay of the same text.
    const replay = await client.chat.completions.create({ model: 'claude-3-haiku', messages: [{ role: 'user', content }], stream: true }).withResponse();
    assert.equal(replay.response.headers.get('x-watchllm-cache'), 'HIT');
    let replayed = '';
    for await (const chunk of replay.data) replayed += chunk.choices[0]?.delta?.content ?? '';
    assert.equal(replayed, text);
  });

  test('tools: tool_use comes back as tool_calls, streamed or not, and results go back as tool_result', async () => {
    const client = openai(key);
    const tools = [{ type: 'function', function: { name: 'lookup', description: 'Look something up', parameters: { type: 'object', properties: { query: { type: 'string' } } } } }];
    const content = unique('weather in Paris');
    const first = await client.chat.completions.create({ model: 'claude-3-haiku', messages: [{ role: 'user', content }], tools, tool_choice: 'auto' });
    const call0 = first.choices[0].message.tool_calls[0];
    assert.equal(first.choices[0].finish_reason, 'tool_calls');
    assert.equal(call0.type, 'function');
    assert.equal(call0.function.name, 'lookup');
    assert.deepEqual(JSON.parse(call0.function.arguments), { query: content });
    const [up] = await upstreamRequests(content);
    assert.deepEqual(up.body.tools, [{ name: 'lookup', description: 'Look something up', input_schema: tools[0].function.parameters }]);
    assert.deepEqual(up.body.tool_choice, { type: 'auto' });

    const streamed = await client.chat.completions.create({ model: 'claude-3-haiku', messages: [{ role: 'user', content: content + ' (streamed)' }], tools, stream: true });
    let args = '';
    let name;
    let finish;
    for await (const chunk of streamed) {
      const tc = chunk.choices[0]?.delta?.tool_calls?.[0];
      if (tc?.function?.name) name = tc.function.name;
      args += tc?.function?.arguments ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    assert.equal(name, 'lookup');
    assert.deepEqual(JSON.parse(args), { query: content + ' (streamed)' });
    assert.equal(finish, 'tool_calls');

    // The follow-up turn: assistant tool_calls + tool result -> tool_use + tool_result blocks.
    const followUp = unique('thanks');
    const second = await client.chat.completions.create({
      model: 'claude-3-haiku',
      tools,
      tool_choice: 'none',
      messages: [
        { role: 'user', content },
        first.choices[0].message,
        { role: 'tool', tool_call_id: call0.id, content: '18°C and sunny' },
        { role: 'user', content: followUp },
      ],
    });
    assert.match(second.choices[0].message.content, /^Answer #\d+ to: /);
    const [up2] = await upstreamRequests(followUp);
    assert.deepEqual(up2.body.messages[1], { role: 'assistant', content: [{ type: 'tool_use', id: call0.id, name: 'lookup', input: { query: content } }] });
    assert.deepEqual(up2.body.messages[2], { role: 'user', content: [{ type: 'tool_result', tool_use_id: call0.id, content: '18°C and sunny' }, { type: 'text', text: followUp }] });
    assert.deepEqual(up2.body.tool_choice, { type: 'none' });
  });

  test('requests Anthropic cannot take get a clear 400 and never reach it', async () => {
    const content = unique('too hot');
    const r = await call('/v1/chat/completions', { key, body: { model: 'claude-3-haiku', messages: [{ role: 'user', content }], temperature: 1.7 } });
    assert.equal(r.status, 400);
    assert.equal(r.json.error.type, 'invalid_request_error');
    assert.equal(r.json.error.param, 'temperature');
    assert.match(r.json.error.message, /0 to 1/);
    assert.equal((await upstreamRequests(content)).length, 0);
  });

  test('Anthropic errors map to OpenAI format with the provider named; 529 overloaded is retried once', async () => {
    const limited = unique('[[fail-429]]');
    const r429 = await call('/v1/chat/completions', { key, body: { model: 'claude-3-haiku', messages: [{ role: 'user', content: limited }] } });
    assert.equal(r429.status, 429);
    assert.equal(r429.headers.get('retry-after'), '7', "the provider's Retry-After is passed on");
    assert.match(r429.json.error.message, /^anthropic: Number of request tokens/);
    assert.equal(r429.json.error.code, 'rate_limit_error');

    const overloaded = unique('[[fail-529]]');
    const r529 = await call('/v1/chat/completions', { key, body: { model: 'claude-3-haiku', messages: [{ role: 'user', content: overloaded }] } });
    assert.equal(r529.status, 502);
    assert.equal(r529.json.error.code, 'overloaded_error');
    assert.match(r529.json.error.message, /^anthropic: Overloaded/);
    assert.equal((await upstreamRequests(overloaded)).length, 2, 'one retry, then the error');
  });

  test('deadlines are per provider: Anthropic at 800 ms here, the others at 1500 ms', async () => {
    const slow = unique('[[slow:1000]] think');
    const t = Date.now();
    const r = await call('/v1/chat/completions', { key, body: { model: 'claude-3-haiku', messages: [{ role: 'user', content: slow }] } });
    assert.equal(r.status, 504);
    assert.match(r.json.error.message, /^anthropic did not respond within 800 ms/);
    assert.ok(Date.now() - t < 1400);
    const other = await call('/v1/chat/completions', { key, body: { model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: slow }] } });
    assert.equal(other.status, 200, 'OpenRouter still has its 1500 ms');
  });
});
