// Browser clients: a web page on another origin imports the official `openai` package (served
// from node_modules as it is published) and calls the proxy from headless Chromium, as a
// front-end developer would with `dangerouslyAllowBrowser`. The SDK's preflights (x-stainless-*
// headers and all) must pass, the page must read the X-WatchLLM-* headers, a stream must read the
// same text as the JSON answer, and a project's origin allow-list must refuse a foreign page.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { ROOT } from '../../tools/stack.mjs';
import { closeBrowser, newPage, shot } from './browser.mjs';
import { h, newProject, sql, unique } from './harness.mjs';

const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>A page calling WatchLLM with the openai SDK</title></head>
<body><main><h1>openai SDK in the browser</h1><pre id="out">running</pre></main>
<script type="module">
import OpenAI from '/openai/index.mjs';
const q = new URLSearchParams(location.search);
const client = new OpenAI({ baseURL: q.get('base'), apiKey: q.get('key'), dangerouslyAllowBrowser: true, maxRetries: 0 });
const ask = { model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: q.get('prompt') }] };
try {
  const first = await client.chat.completions.create(ask).withResponse();
  const second = await client.chat.completions.create(ask).withResponse();
  let streamed = '';
  for await (const chunk of await client.chat.completions.create({ ...ask, stream: true })) streamed += chunk.choices[0]?.delta?.content ?? '';
  const head = (r) => ({ cache: r.response.headers.get('x-watchllm-cache'), limit: r.response.headers.get('x-ratelimit-limit-requests'), text: r.data.choices[0].message.content });
  window.result = { first: head(first), second: head(second), streamed };
} catch (e) {
  window.result = { error: { status: e.status, name: e.constructor.name, message: e.message } };
}
document.getElementById('out').textContent = JSON.stringify(window.result, null, 2);
</script></body></html>`;

/** A static server on its own port (another origin than the proxy's): the page and the SDK. */
function pageServer() {
  const sdk = path.join(ROOT, 'node_modules/openai');
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    if (url.pathname === '/') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      return res.end(PAGE);
    }
    const file = path.normalize(path.join(sdk, url.pathname.replace(/^\/openai\//, '')));
    if (!url.pathname.startsWith('/openai/') || !file.startsWith(sdk) || !fs.existsSync(file)) {
      res.writeHead(404);
      return res.end();
    }
    res.writeHead(200, { 'content-type': file.endsWith('.mjs') || file.endsWith('.js') ? 'text/javascript' : 'application/octet-stream' });
    fs.createReadStream(file).pipe(res);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

describe('browser clients (the official openai SDK in a web page)', () => {
  let server;
  let origin;
  before(async () => {
    server = await pageServer();
    origin = `http://127.0.0.1:${server.address().port}`;
  });
  after(async () => {
    server?.close();
    await closeBrowser();
  });

  const run = async (key, name) => {
    const page = await newPage();
    const prompt = unique('browser');
    await page.goto(`${origin}/?${new URLSearchParams({ base: `${h.stack.workerUrl}/v1`, key, prompt })}`);
    await page.waitForFunction(() => window.result, null, { timeout: 20000 });
    const result = await page.evaluate(() => window.result);
    await shot(page, name);
    await page.context().close();
    return { result };
  };

  // Playwright's request interception (browser.mjs) turns Chromium's HTTP cache off, so every call
  // here carries the Cache-Control: no-cache and Pragma: no-cache a browser with DevTools' "Disable
  // cache" sends: the second call is a HIT all the same (src/controls.rs).
  test('plain, cached (X-WatchLLM-Cache read by the page) and streamed calls from another origin', async () => {
    const { key } = await newProject({ kind: 'test' });
    const { result } = await run(key, 'browser-sdk');
    assert.equal(result.error, undefined, JSON.stringify(result.error));
    assert.equal(result.first.cache, 'MISS');
    assert.equal(result.second.cache, 'HIT');
    assert.ok(Number(result.first.limit) > 0, 'rate-limit headers are readable');
    assert.equal(result.second.text, result.first.text);
    assert.equal(result.streamed, result.first.text, 'the stream reads the same text');
    // Chromium refuses a cross-origin call whose preflight does not allow every header it asks
    // for, so the calls above passed it; this is the answer it got, header by header.
    const asked = 'authorization, content-type, x-stainless-os, x-stainless-arch, x-stainless-lang, x-stainless-runtime, x-stainless-runtime-version, x-stainless-package-version, x-stainless-retry-count, x-stainless-timeout, openai-organization, openai-project, idempotency-key';
    const pre = await fetch(`${h.stack.workerUrl}/v1/chat/completions`, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': asked } });
    assert.equal(pre.status, 204);
    const allowed = pre.headers.get('access-control-allow-headers').split(', ');
    for (const name of asked.split(', ')) assert.ok(allowed.includes(name), `${name} allowed`);
    assert.equal(pre.headers.get('access-control-allow-origin'), origin);
    assert.match(pre.headers.get('access-control-allow-methods'), /DELETE/);
    assert.equal(pre.headers.get('access-control-max-age'), '7200');
    assert.match(pre.headers.get('vary'), /Origin/);
  });

  test('a project that allows only its own origins refuses a foreign page with a readable 403', async () => {
    const { key, project } = await newProject();
    sql(`update projects set allowed_origins = array['https://app.example.com'] where id = '${project.id}'`);
    await new Promise((r) => setTimeout(r, 2100)); // the key's record is trusted for 2 s in the tests
    const { result } = await run(key, 'browser-sdk-foreign-origin');
    assert.equal(result.error?.status, 403, JSON.stringify(result));
    assert.match(result.error.message, /origin .* not allowed/);
    sql(`update projects set allowed_origins = array['${origin}'] where id = '${project.id}'`);
    await new Promise((r) => setTimeout(r, 2100));
    const allowed = await run(key, 'browser-sdk-allowed-origin');
    assert.equal(allowed.result.error, undefined, JSON.stringify(allowed.result));
  });
});
