// A fake LLM provider for tests and benchmarks, speaking OpenAI's wire format (JSON and SSE
// streaming, tool calls, embeddings, OpenAI-format errors) under each provider's base path:
// /api/v1 (OpenRouter), /v1 (OpenAI), /openai/v1 (Groq). Answers are deterministic functions of
// the request. Markers in the last user message steer failures: [[fail-500]], [[fail-429]],
// [[slow:MS]], [[cut-stream]]. It records every request: GET /__requests, DELETE /__requests.
import http from 'node:http';
import crypto from 'node:crypto';

const PROVIDERS = [
  { name: 'openrouter', prefix: '/api/v1' },
  { name: 'groq', prefix: '/openai/v1' },
  { name: 'openai', prefix: '/v1' },
];

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const countTokens = (s) => Math.max(1, Math.ceil(String(s).split(/\s+/).filter(Boolean).length * 1.3));
const textOf = (content) => (typeof content === 'string' ? content : Array.isArray(content) ? content.map((p) => p.text || '').join(' ') : '');

export async function startFakeProvider({ port, keys, delayMs = 0, host = '127.0.0.1' }) {
  const requests = [];
  let counter = 0;
  const server = http.createServer(async (req, res) => {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const raw = Buffer.concat(chunks).toString('utf8');
    const url = new URL(req.url, 'http://x');
    const json = (status, body, headers = {}) => {
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(JSON.stringify(body));
    };
    if (url.pathname === '/__requests') {
      if (req.method === 'DELETE') requests.length = 0;
      return json(200, requests);
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
      const data = inputs.map((inp, index) => {
        const h = crypto.createHash('sha256').update(JSON.stringify(inp)).digest();
        const embedding = Array.from({ length: body.dimensions || 8 }, (_, i) => (h[i % 32] - 128) / 128);
        return { object: 'embedding', index, embedding };
      });
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
  await new Promise((resolve) => server.listen(port, host, resolve));
  return {
    url: `http://${host}:${port}`,
    baseUrls: { openrouter: `http://${host}:${port}/api/v1`, openai: `http://${host}:${port}/v1`, groq: `http://${host}:${port}/openai/v1` },
    close: () => new Promise((r) => { server.closeAllConnections?.(); server.close(r); }),
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { port, keys, delay } = Object.fromEntries(process.argv.slice(2).map((a) => a.replace(/^--/, '').split(/=(.*)/s).slice(0, 2)));
  const s = await startFakeProvider({ port: Number(port), keys: JSON.parse(keys), delayMs: Number(delay || 0) });
  console.log(`fake provider listening on ${s.url}`);
}
