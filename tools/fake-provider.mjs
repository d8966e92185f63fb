// A fake LLM provider for tests and benchmarks, speaking OpenAI's wire format (JSON and SSE
// streaming, tool calls, embeddings, OpenAI-format errors) under each provider's base path:
// /api/v1 (OpenRouter), /v1 (OpenAI), /openai/v1 (Groq), and Anthropic's Messages API under
// /anthropic/v1/messages (x-api-key + anthropic-version, its request validation, its JSON and
// its named SSE events, its error bodies). Answers are deterministic functions of the request.
// Markers in the last user message steer failures: [[fail-500]], [[fail-429]], [[fail-529]],
// [[fail-once-503]] and [[drop-once]] (only the first request carrying that exact text fails:
// 503, or the connection is dropped), [[slow:MS]], [[cut-stream]]. It records every request:
// GET /__requests, DELETE /__requests; GET /__count (how many so far). Outages of the same
// prompt a test cached before: POST /__outage {"match": "<text>", "mode": "503" | "500" | "hang" |
// "drop"} fails every request whose messages contain the text, until the same with "mode": null
// (or DELETE /__outage for all).
import http from 'node:http';
import crypto from 'node:crypto';
import { readBody } from './lib/read-body.mjs';

const PROVIDERS = [
  { name: 'anthropic', prefix: '/anthropic/v1' },
  { name: 'openrouter', prefix: '/api/v1' },
  { name: 'groq', prefix: '/openai/v1' },
  { name: 'openai', prefix: '/v1' },
];

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const countTokens = (s) => Math.max(1, Math.ceil(String(s).split(/\s+/).filter(Boolean).length * 1.3));
const textOf = (content) => (typeof content === 'string' ? content : Array.isArray(content) ? content.map((p) => p.text || (typeof p.content === 'string' ? p.content : '')).join(' ') : '');

// Stand-in for a learned embedding model: a bag of words in which a few synonyms share a slot, so
// "purchase an automobile" lands where "buy a car" does (which a purely lexical embedder misses).
const SYNONYMS = { purchase: 'buy', acquire: 'buy', automobile: 'car', vehicle: 'car', cheapest: 'cheap', inexpensive: 'cheap', tips: 'advice', guidance: 'advice' };
const STOP = new Set(['a', 'an', 'the', 'to', 'of', 'for', 'my', 'i', 'do', 'how', 'is', 'what']);
export function embedText(input, dims) {
  const v = new Array(dims).fill(0);
  const words = String(typeof input === 'string' ? input : JSON.stringify(input)).toLowerCase().match(/[a-z0-9]+/g) || [];
  for (const w of words) {
    if (STOP.has(w)) continue;
    const h = crypto.createHash('sha256').update(SYNONYMS[w] || w).digest();
    v[h.readUInt32BE(0) % dims] += h[4] & 1 ? 1 : -1;
  }
  const norm = Math.hypot(...v) || 1;
  return v.map((x) => x / norm);
}

export async function startFakeProvider({ port, keys, delayMs = 0, host = '127.0.0.1' }) {
  const requests = [];
  const failedOnce = new Set();
  let counter = 0;
  const outages = new Map();
  const server = http.createServer(async (req, res) => {
    const bytes = await readBody(req);
    if (!bytes) return; // the caller hung up: nothing to answer
    const raw = bytes.toString('utf8');
    const url = new URL(req.url, 'http://x');
    const json = (status, body, headers = {}) => {
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(JSON.stringify(body));
    };
    if (url.pathname === '/__requests') {
      if (req.method === 'DELETE') requests.length = 0;
      return json(200, requests);
    }
    if (url.pathname === '/__count') return json(200, { count: requests.length });
    if (url.pathname === '/__outage') {
      if (req.method === 'DELETE') outages.clear();
      else {
        const { match, mode } = JSON.parse(raw);
        if (mode) outages.set(match, mode);
        else outages.delete(match);
      }
      return json(200, Object.fromEntries(outages));
    }
    const provider = PROVIDERS.find((p) => url.pathname.startsWith(p.prefix + '/'));
    if (!provider) return json(404, { error: { message: `no route ${url.pathname}`, type: 'invalid_request_error', code: null } });
    const endpoint = url.pathname.slice(provider.prefix.length);
    let body;
    try {
      body = JSON.parse(raw);
    } catch {
      return json(400, { error: { message: 'invalid JSON', type: 'invalid_request_error', code: null } });
    }
    const auth = req.headers.authorization || '';
    requests.push({ provider: provider.name, endpoint, authorization: auth, body, headers: req.headers });
    const markerText = JSON.stringify(body.messages ?? body.input ?? body.prompt ?? '');
    for (const [match, mode] of outages) {
      if (!markerText.includes(JSON.stringify(match).slice(1, -1))) continue;
      if (mode === 'drop') return req.socket.destroy();
      if (mode === 'hang') return; // never answers: the proxy's deadline ends it
      return json(Number(mode), { error: { message: 'The server is temporarily unavailable.', type: 'server_error', code: null } });
    }
    for (const marker of ['[[fail-once-503]]', '[[drop-once]]']) {
      if (markerText.includes(marker) && !failedOnce.has(marker + markerText)) {
        failedOnce.add(marker + markerText);
        if (marker === '[[drop-once]]') return req.socket.destroy();
        return provider.name === 'anthropic'
          ? json(503, { type: 'error', error: { type: 'api_error', message: 'Service temporarily unavailable' } })
          : json(503, { error: { message: 'Service temporarily unavailable', type: 'server_error', code: null } });
      }
    }
    if (provider.name === 'anthropic') return anthropic({ req, res, body, endpoint, json, next: () => ++counter });
    if (auth !== `Bearer ${keys[provider.name]}`) {
      return json(401, { error: { message: 'Incorrect API key provided', type: 'invalid_request_error', code: 'invalid_api_key' } });
    }
    const lastUser = textOf([...(body.messages || [])].reverse().find((m) => m.role === 'user')?.content ?? body.prompt ?? body.input ?? '');
    const slow = /\[\[slow:(\d+)\]\]/.exec(lastUser);
    if (delayMs) await sleep(delayMs);
    if (slow) await sleep(Number(slow[1]));
    if (lastUser.includes('[[fail-500]]')) return json(500, { error: { message: 'The server had an error while processing your request.', type: 'server_error', code: null } });
    if (lastUser.includes('[[fail-429]]')) return json(429, { error: { message: 'Rate limit reached for requests', type: 'requests', code: 'rate_limit_exceeded' } }, { 'retry-after': '1' });

    counter += 1;
    const id = `chatcmpl-fake${counter}`;
    const created = Math.floor(Date.now() / 1000);
    const model = body.model;

    if (endpoint === '/embeddings') {
      const inputs = Array.isArray(body.input) && typeof body.input[0] !== 'number' ? body.input : [body.input];
      const data = inputs.map((inp, index) => ({ object: 'embedding', index, embedding: embedText(inp, body.dimensions || 8) }));
      const tokens = inputs.reduce((n, i) => n + countTokens(JSON.stringify(i)), 0);
      return json(200, { object: 'list', data, model, usage: { prompt_tokens: tokens, total_tokens: tokens } });
    }

    const promptText = endpoint === '/completions' ? String(body.prompt) : (body.messages || []).map((m) => textOf(m.content)).join(' ');
    const answer = `Answer #${counter} to: ${lastUser}`;
    const usage = { prompt_tokens: countTokens(promptText), completion_tokens: countTokens(answer), total_tokens: countTokens(promptText) + countTokens(answer) };
    const tool = body.tools?.length && body.tool_choice !== 'none' ? body.tools[0].function : null;
    const toolCall = tool && { id: `call_${counter}`, type: 'function', function: { name: tool.name, arguments: JSON.stringify({ query: lastUser }) } };

    if (!body.stream) {
      if (endpoint === '/completions') {
        return json(200, { id: `cmpl-fake${counter}`, object: 'text_completion', created, model, choices: [{ index: 0, text: answer, logprobs: null, finish_reason: 'stop' }], usage });
      }
      const message = toolCall ? { role: 'assistant', content: null, tool_calls: [toolCall], refusal: null } : { role: 'assistant', content: answer, refusal: null };
      return json(200, { id, object: 'chat.completion', created, model, system_fingerprint: 'fp_fake', choices: [{ index: 0, message, logprobs: null, finish_reason: toolCall ? 'tool_calls' : 'stop' }], usage });
    }

    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
    const includeUsage = body.stream_options?.include_usage === true;
    const write = (obj) => res.write(`data: ${JSON.stringify(obj)}\n\n`);
    const base = endpoint === '/completions' ? { id: `cmpl-fake${counter}`, object: 'text_completion', created, model } : { id, object: 'chat.completion.chunk', created, model, system_fingerprint: 'fp_fake' };
    const extra = includeUsage ? { usage: null } : {};
    if (provider.name === 'openrouter') res.write(': OPENROUTER PROCESSING\n\n');
    const words = answer.split(/(?<= )/);
    if (endpoint === '/completions') {
      for (const w of words) write({ ...base, choices: [{ index: 0, text: w, logprobs: null, finish_reason: null }], ...extra });
      if (lastUser.includes('[[cut-stream]]')) return res.end();
      write({ ...base, choices: [{ index: 0, text: '', logprobs: null, finish_reason: 'stop' }], ...extra });
    } else {
      write({ ...base, choices: [{ index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }], ...extra });
      if (toolCall) {
        const args = toolCall.function.arguments;
        const half = Math.floor(args.length / 2);
        write({ ...base, choices: [{ index: 0, delta: { tool_calls: [{ index: 0, id: toolCall.id, type: 'function', function: { name: toolCall.function.name, arguments: '' } }] }, logprobs: null, finish_reason: null }], ...extra });
        write({ ...base, choices: [{ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: args.slice(0, half) } }] }, logprobs: null, finish_reason: null }], ...extra });
        write({ ...base, choices: [{ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: args.slice(half) } }] }, logprobs: null, finish_reason: null }], ...extra });
      } else {
        for (const w of words) {
          write({ ...base, choices: [{ index: 0, delta: { content: w }, logprobs: null, finish_reason: null }], ...extra });
          if (lastUser.includes('[[slow-stream]]')) await sleep(20);
        }
      }
      if (lastUser.includes('[[cut-stream]]')) return res.end();
      write({ ...base, choices: [{ index: 0, delta: {}, logprobs: null, finish_reason: toolCall ? 'tool_calls' : 'stop' }], ...extra });
    }
    if (includeUsage) write({ ...base, choices: [], usage });
    res.write('data: [DONE]\n\n');
    res.end();
  });
  async function anthropic({ req, res, body, endpoint, json, next }) {
    const error = (status, type, message, headers) => json(status, { type: 'error', error: { type, message } }, headers);
    if (endpoint !== '/messages') return error(404, 'not_found_error', `Not found: ${endpoint}`);
    if (req.headers['x-api-key'] !== keys.anthropic) return error(401, 'authentication_error', 'invalid x-api-key');
    if (!req.headers['anthropic-version']) return error(400, 'invalid_request_error', 'anthropic-version: header is required');
    if (typeof body.model !== 'string') return error(400, 'invalid_request_error', 'model: Field required');
    if (!Number.isInteger(body.max_tokens) || body.max_tokens < 1) return error(400, 'invalid_request_error', 'max_tokens: Field required');
    if (!Array.isArray(body.messages) || body.messages.length === 0) return error(400, 'invalid_request_error', 'messages: Field required');
    for (const [i, m] of body.messages.entries()) {
      if (!['user', 'assistant'].includes(m.role)) return error(400, 'invalid_request_error', `messages.${i}.role: Input should be 'user' or 'assistant'`);
      if (i > 0 && body.messages[i - 1].role === m.role) return error(400, 'invalid_request_error', 'messages: roles must alternate between "user" and "assistant"');
    }
    if (body.messages[0].role !== 'user') return error(400, 'invalid_request_error', 'messages: first message must use the "user" role');
    if (body.temperature !== undefined && (body.temperature < 0 || body.temperature > 1)) return error(400, 'invalid_request_error', 'temperature: Input should be less than or equal to 1');
    for (const k of Object.keys(body)) {
      if (!['model', 'messages', 'system', 'max_tokens', 'temperature', 'top_p', 'top_k', 'stop_sequences', 'stream', 'metadata', 'tools', 'tool_choice'].includes(k)) return error(400, 'invalid_request_error', `${k}: Extra inputs are not permitted`);
    }
    const lastUser = textOf([...body.messages].reverse().find((m) => m.role === 'user').content);
    const slow = /\[\[slow:(\d+)\]\]/.exec(lastUser);
    if (delayMs) await sleep(delayMs);
    if (slow) await sleep(Number(slow[1]));
    if (lastUser.includes('[[fail-500]]')) return error(500, 'api_error', 'Internal server error');
    if (lastUser.includes('[[fail-529]]')) return error(529, 'overloaded_error', 'Overloaded');
    if (lastUser.includes('[[fail-429]]')) return error(429, 'rate_limit_error', 'Number of request tokens has exceeded your per-minute rate limit', { 'retry-after': '7' });
    const n = next();
    const id = `msg_fake${n}`;
    const system = typeof body.system === 'string' ? body.system : textOf(body.system);
    const inputTokens = countTokens([system, ...body.messages.map((m) => textOf(m.content))].join(' '));
    const tool = body.tools?.length && body.tool_choice?.type !== 'none' ? body.tools[0] : null;
    const answer = `Answer #${n} to: ${lastUser}`;
    const outputTokens = countTokens(answer);
    const content = tool
      ? [{ type: 'tool_use', id: `toolu_fake${n}`, name: tool.name, input: { query: lastUser } }]
      : [{ type: 'text', text: answer }];
    const stopReason = tool ? 'tool_use' : 'end_turn';
    if (!body.stream) {
      return json(200, { id, type: 'message', role: 'assistant', model: body.model, content, stop_reason: stopReason, stop_sequence: null, usage: { input_tokens: inputTokens, output_tokens: outputTokens } });
    }
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive' });
    const send = (event, data) => res.write(`event: ${event}\ndata: ${JSON.stringify({ type: event, ...data })}\n\n`);
    send('message_start', { message: { id, type: 'message', role: 'assistant', model: body.model, content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: inputTokens, output_tokens: 1 } } });
    if (tool) {
      send('content_block_start', { index: 0, content_block: { type: 'tool_use', id: content[0].id, name: tool.name, input: {} } });
      const args = JSON.stringify(content[0].input);
      const half = Math.floor(args.length / 2);
      send('content_block_delta', { index: 0, delta: { type: 'input_json_delta', partial_json: args.slice(0, half) } });
      send('content_block_delta', { index: 0, delta: { type: 'input_json_delta', partial_json: args.slice(half) } });
    } else {
      send('content_block_start', { index: 0, content_block: { type: 'text', text: '' } });
      send('ping', {});
      for (const w of answer.split(/(?<= )/)) send('content_block_delta', { index: 0, delta: { type: 'text_delta', text: w } });
    }
    if (lastUser.includes('[[cut-stream]]')) return res.end();
    send('content_block_stop', { index: 0 });
    send('message_delta', { delta: { stop_reason: stopReason, stop_sequence: null }, usage: { output_tokens: outputTokens } });
    send('message_stop', {});
    res.end();
  }

  await new Promise((resolve) => server.listen(port, host, resolve));
  return {
    url: `http://${host}:${port}`,
    baseUrls: { openrouter: `http://${host}:${port}/api/v1`, openai: `http://${host}:${port}/v1`, groq: `http://${host}:${port}/openai/v1`, anthropic: `http://${host}:${port}/anthropic/v1` },
    close: () => new Promise((r) => { server.closeAllConnections?.(); server.close(r); }),
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { port, keys, delay } = Object.fromEntries(process.argv.slice(2).map((a) => a.replace(/^--/, '').split(/=(.*)/s).slice(0, 2)));
  const s = await startFakeProvider({ port: Number(port), keys: JSON.parse(keys), delayMs: Number(delay || 0) });
  console.log(`fake provider listening on ${s.url}`);
}
