// The official `openai` npm client pointed at the proxy: plain, streaming, tools, embeddings,
// legacy completions and the model list, each first a MISS and then a HIT.
import { describe, test, before } from 'node:test';
import assert from 'node:assert/strict';
import { h, newProject, openai, unique, upstreamRequests } from './harness.mjs';

describe('official openai client through the proxy', () => {
  let client;
  before(async () => {
    const { key } = await newProject();
    client = openai(key);
  });

  test('chat completion: MISS then HIT with identical content and WatchLLM headers', async () => {
    const content = unique('What is the capital of France?');
    const first = await client.chat.completions.create({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content }] }).withResponse();
    assert.equal(first.response.headers.get('x-watchllm-cache'), 'MISS');
    assert.equal(first.response.headers.get('x-watchllm-provider'), 'openrouter');
    assert.ok(Number(first.response.headers.get('x-watchllm-cost-usd')) > 0);
    assert.match(first.data.choices[0].message.content, /capital of France/);

    const second = await client.chat.completions.create({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content }] }).withResponse();
    assert.equal(second.response.headers.get('x-watchllm-cache'), 'HIT');
    assert.equal(second.response.headers.get('x-watchllm-cost-usd'), '0');
    assert.equal(Number(second.response.headers.get('x-watchllm-tokens-saved')), first.data.usage.prompt_tokens);
    assert.ok(Number(second.response.headers.get('x-watchllm-cache-age')) >= 0);
    assert.ok(Number(second.response.headers.get('x-watchllm-latency-ms')) >= 0);
    assert.deepEqual(second.data.choices, first.data.choices);
    assert.equal((await upstreamRequests(content)).length, 1, 'the HIT did not reach the provider');
  });

  test('streaming: MISS streams chunks, then a HIT replays a valid stream with the same text', async () => {
    const content = unique('Tell me a story');
    const collect = async () => {
      const { data: stream, response } = await client.chat.completions.create({ model: 'openai/gpt-4o-mini', stream: true, messages: [{ role: 'user', content }] }).withResponse();
      let text = '';
      let chunks = 0;
      let finish;
      for await (const chunk of stream) {
        chunks += 1;
        text += chunk.choices[0]?.delta?.content ?? '';
        finish = chunk.choices[0]?.finish_reason ?? finish;
        assert.equal(chunk.usage ?? null, null, 'no usage chunk unless asked for');
      }
      return { text, chunks, finish, cache: response.headers.get('x-watchllm-cache') };
    };
    const miss = await collect();
    assert.equal(miss.cache, 'MISS');
    assert.ok(miss.chunks > 3, 'the miss was streamed in several chunks');
    assert.equal(miss.finish, 'stop');
    const hit = await collect();
    assert.equal(hit.cache, 'HIT');
    assert.equal(hit.text, miss.text);
    assert.equal(hit.finish, 'stop');
    const upstream = await upstreamRequests(content);
    assert.equal(upstream.length, 1);
    assert.equal(upstream[0].body.stream_options.include_usage, true, 'the proxy asks upstream for usage');
  });

  test('streaming with include_usage passes the usage chunk through, and a HIT replays it', async () => {
    const content = unique('Count to three');
    const run = async () => {
      const stream = await client.chat.completions.create({ model: 'openai/gpt-4o-mini', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content }] });
      let usage = null;
      for await (const chunk of stream) if (chunk.usage) usage = chunk.usage;
      return usage;
    };
    const a = await run();
    assert.ok(a.total_tokens > 0);
    const b = await run();
    assert.deepEqual(b, a);
  });

  test('a streamed answer also serves the same request without streaming', async () => {
    const content = unique('Shared entry');
    const stream = await client.chat.completions.create({ model: 'openai/gpt-4o-mini', stream: true, messages: [{ role: 'user', content }] });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
    const { data, response } = await client.chat.completions.create({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content }] }).withResponse();
    assert.equal(response.headers.get('x-watchllm-cache'), 'HIT');
    assert.equal(data.choices[0].message.content, text);
    assert.equal(data.object, 'chat.completion');
  });

  test('tools: tool calls pass through, are cached, and stream as tool-call deltas', async () => {
    const content = unique('Weather in Paris?');
    const tools = [{ type: 'function', function: { name: 'get_weather', description: 'Weather for a city', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }];
    const req = { model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content }], tools, tool_choice: 'auto' };
    const first = await client.chat.completions.create(req);
    assert.equal(first.choices[0].finish_reason, 'tool_calls');
    assert.equal(first.choices[0].message.tool_calls[0].function.name, 'get_weather');
    const upstream = await upstreamRequests(content);
    assert.deepEqual(upstream[0].body.tools, tools, 'tools forwarded unchanged');
    const { data, response } = await client.chat.completions.create(req).withResponse();
    assert.equal(response.headers.get('x-watchllm-cache'), 'HIT');
    assert.deepEqual(data.choices[0].message.tool_calls, first.choices[0].message.tool_calls);

    const stream = await client.chat.completions.create({ ...req, stream: true });
    let args = '';
    let name;
    for await (const chunk of stream) {
      const tc = chunk.choices[0]?.delta?.tool_calls?.[0];
      if (tc?.function?.name) name = tc.function.name;
      args += tc?.function?.arguments ?? '';
    }
    assert.equal(name, 'get_weather');
    assert.equal(args, first.choices[0].message.tool_calls[0].function.arguments);
  });

  test('embeddings: MISS then HIT, cached for 24 hours', async () => {
    const input = unique('embed me');
    const a = await client.embeddings.create({ model: 'openai/text-embedding-3-small', input, encoding_format: 'float' }).withResponse();
    assert.equal(a.response.headers.get('x-watchllm-cache'), 'MISS');
    assert.ok(a.data.data[0].embedding.length > 0);
    const b = await client.embeddings.create({ model: 'openai/text-embedding-3-small', input, encoding_format: 'float' }).withResponse();
    assert.equal(b.response.headers.get('x-watchllm-cache'), 'HIT');
    assert.deepEqual(b.data.data[0].embedding, a.data.data[0].embedding);
  });

  test('legacy completions, plain and streaming', async () => {
    const prompt = unique('Say hello');
    const a = await client.completions.create({ model: 'openai/gpt-3.5-turbo-instruct', prompt }).withResponse();
    assert.equal(a.response.headers.get('x-watchllm-cache'), 'MISS');
    assert.match(a.data.choices[0].text, /Say hello/);
    const stream = await client.completions.create({ model: 'openai/gpt-3.5-turbo-instruct', prompt, stream: true });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.text ?? '';
    assert.equal(text, a.data.choices[0].text, 'the streamed HIT replays the cached text');
    assert.equal((await upstreamRequests(prompt)).length, 1);
  });

  test('model list', async () => {
    const models = await client.models.list();
    const ids = models.data.map((m) => m.id);
    assert.ok(ids.includes('gpt-4o') && ids.includes('claude-3-haiku') && ids.includes('mixtral-8x7b'));
  });
});
