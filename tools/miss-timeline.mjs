// `npm run bench:miss`: where a MISS's overhead goes, timed from outside the Worker. The client,
// a relay in front of the Upstash REST adapter and a small OpenAI-format upstream (20 ms delay)
// stamp one monotonic clock (CLOCK_MONOTONIC, shared by processes), so each MISS splits into:
// client to the Redis call (toRelay), the Redis call (relay), Redis to the upstream call
// (relayToUp), and the upstream's answer to the client's last byte (upToClient). Interleaved with
// the same calls straight to the upstream (dIn/dOut) and, in the same run, with minimal JavaScript
// Workers making the same two subrequests (tools/lib/floor-worker.mjs): `floor-plain`, and
// `floor-platform`, which also makes the platform calls ours makes. Prints each one's medians and
// workerd's CPU per request (/proc). The Workers clock stands still while code runs, so the split
// has to be read from outside.
//
// BUILDS=dir1,dir2 compares Worker builds (each a copy of build/), N the pairs per variant (300),
// WINDOWS=n also prints the total's median per run of n MISSes (does it still fall as V8 tiers up?).
// STREAM=1 times streamed MISSes to their first byte instead (upToClient: the upstream's first
// write to the client's first chunk; upToHeaders: to the response's headers), the upstream sending
// its chunks at once as the fake provider does, or SPACED=ms apart; ANSWER_REPEAT=n sends an
// answer n times as long (17 writes at 1, 107 at 10: workerd's CPU per chunk). PROMPT_BYTES=n
// pads every prompt with prose to n bytes (the semantic cache compares prompts up to 1 KB;
// src/semantic.rs),
// HISTORY_BYTES=n puts n bytes of earlier turns before it (a conversation resent each turn).
// Every Worker is reached on its own socket, as in `npm run bench`; ENTRY=1 also times each one
// through Miniflare's entry worker (`-entry`), the JavaScript Worker Miniflare puts in front (the
// same workerd then serves both rows; its cpu/req, on the first, counts both).
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { startStack, startWorkerd, supabaseAdmin, ROOT } from './stack.mjs';
const cpuMs = (pid) => { const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' '); return (Number(f[11]) + Number(f[12])) * 10; };
import { createApiKey, createProject } from './lib/projects.mjs';
import { startFloorWorker } from './lib/floor-worker.mjs';
import { firstByte } from './lib/first-byte.mjs';
const OFFSET = Number(process.env.WATCHLLM_PORT_OFFSET || 0);
const PORTS = Object.fromEntries(Object.entries({ redis: 47390, upstash: 47079, postgres: 47432, postrust: 47100, supabase: 47421, fake: 47090, worker: 47787 }).map(([k, v]) => [k, v + OFFSET]));
const now = () => Number(process.hrtime.bigint()) / 1e6;
const STREAM = Boolean(process.env.STREAM);
const SPACED = Number(process.env.SPACED || 0);
const ANSWER_REPEAT = Number(process.env.ANSWER_REPEAT || 1);
const PROMPT_BYTES = Number(process.env.PROMPT_BYTES || 0);
const FILLER = ' The database failed over at night and the queue drained slowly afterwards.';
const padded = (content) => (PROMPT_BYTES ? content.padEnd(PROMPT_BYTES, FILLER) : content);
const HISTORY = Array.from({ length: Math.ceil(Number(process.env.HISTORY_BYTES || 0) / 800) }, (_, i) => ({ role: i % 2 ? 'assistant' : 'user', content: `Turn ${i}.`.padEnd(780, FILLER) }));
const stack = await startStack({ ports: PORTS, quiet: true, fakeDelayMs: 20 });
const tagOf = (s) => (s.match(/probe-(\d+)/) || [])[1];
const marks = new Map();
const up = http.createServer((req, res) => {
  let b = '';
  req.on('data', (d) => (b += d));
  req.on('end', () => {
    const arrived = now();
    const tag = tagOf(b);
    setTimeout(() => {
      if (b.includes('"stream":true')) return streamAnswer(res, tag, arrived, b.includes('"include_usage":true'));
      const body = JSON.stringify({ id: 'chatcmpl-x', object: 'chat.completion', created: 1, model: 'openai/gpt-4o-mini', choices: [{ index: 0, message: { role: 'assistant', content: 'ok ' + tag }, finish_reason: 'stop' }], usage: { prompt_tokens: 5, completion_tokens: 2, total_tokens: 7 } });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      const sent = now();
      res.end(body);
      const m = marks.get(tag);
      if (m) Object.assign(m, { upIn: arrived, upOut: sent });
    }, 20);
  });
}).listen(0, '127.0.0.1');
// A streamed answer as the fake provider sends it (tools/fake-provider.mjs): a comment, then the
// chunks, all at once, or SPACED ms apart as a model generating tokens would.
async function streamAnswer(res, tag, arrived, includeUsage) {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  const sent = now();
  res.write(': OPENROUTER PROCESSING\n\n');
  const m = marks.get(tag);
  if (m) Object.assign(m, { upIn: arrived, upOut: sent });
  const base = { id: 'chatcmpl-x', object: 'chat.completion.chunk', created: 1, model: 'openai/gpt-4o-mini', ...(includeUsage ? { usage: null } : {}) };
  const write = (choices, extra = {}) => res.write(`data: ${JSON.stringify({ ...base, choices, ...extra })}\n\n`);
  write([{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }]);
  for (const w of `ok ${tag}${' and some more words of an answer to stream back'.repeat(ANSWER_REPEAT)}`.split(/(?<= )/)) {
    write([{ index: 0, delta: { content: w }, finish_reason: null }]);
    if (SPACED) await new Promise((r) => setTimeout(r, SPACED));
  }
  write([{ index: 0, delta: {}, finish_reason: 'stop' }]);
  if (includeUsage) write([], { usage: { prompt_tokens: 5, completion_tokens: 12, total_tokens: 17 } });
  res.end('data: [DONE]\n\n');
}
await new Promise((r) => up.on('listening', r));
const upUrl = `http://127.0.0.1:${up.address().port}`;
const agent = new http.Agent({ keepAlive: true });
const target = new URL(stack.upstashUrl);
let current = null;
const relay = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (d) => chunks.push(d));
  req.on('end', () => {
    const arrived = now();
    const mine = current;
    const r2 = http.request({ host: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers, agent }, (r) => {
      const out = [];
      r.on('data', (d) => out.push(d));
      r.on('end', () => {
        res.writeHead(r.statusCode, r.headers);
        const sent = now();
        res.end(Buffer.concat(out));
        if (mine && !mine.rIn) Object.assign(mine, { rIn: arrived, rOut: sent });
      });
    });
    r2.end(Buffer.concat(chunks));
  });
}).listen(0, '127.0.0.1');
await new Promise((r) => relay.on('listening', r));
const relayUrl = `http://127.0.0.1:${relay.address().port}`;
const workers = [];
try {
  const admin = supabaseAdmin(stack);
  stack.psql(`insert into plans (name, requests_per_minute, monthly_requests) values ('x-unl', 1000000, 1000000000) on conflict do nothing`);
  const vars = { OPENROUTER_BASE_URL: upUrl, UPSTASH_REDIS_REST_URL: relayUrl, AUTH_CACHE_TTL_SECS: '600' };
  const variants = [];
  for (const dir of (process.env.BUILDS || path.join(ROOT, 'build')).split(',').filter((d) => d !== 'none')) {
    const w = await startWorkerd(stack, { buildDir: dir, vars, direct: true, port: 0 });
    workers.push(w);
    const endpoint = '/v1/chat/completions';
    variants.push({ name: path.basename(dir), url: w.url + endpoint, entryUrl: w.entryUrl + endpoint, pid: w.pid });
    if (process.env.ENTRY) variants.push({ ...variants.at(-1), name: `${path.basename(dir)}-entry`, url: variants.at(-1).entryUrl, pid: null });
  }
  for (const kind of (process.env.FLOORS || 'plain,platform').split(',').filter(Boolean)) {
    const { mf, url, entryUrl, pid } = await startFloorWorker({ upstashUrl: relayUrl, upstashToken: stack.upstashToken, upstreamUrl: `${upUrl}/chat/completions`, upstreamKey: 'x', platform: kind === 'platform' });
    workers.push(mf);
    variants.push({ name: 'floor-' + kind, url, pid });
    if (process.env.ENTRY) variants.push({ ...variants.at(-1), name: `floor-${kind}-entry`, url: entryUrl, pid: null });
  }
  if (process.env.PID_FILE) fs.writeFileSync(process.env.PID_FILE, variants.map((v) => `${v.name} ${v.pid}`).join('\n'));
  const project = await createProject(admin, { name: 'tl', plan: 'x-unl' });
  const { key } = await createApiKey(admin, project.id);
  if (process.env.NOSEM) stack.psql(`update projects set semantic_cache_enabled = false where id = '${project.id}'`);
  let n = 0;
  const post = async (u, content, headers) => {
    const tag = tagOf(content);
    const m = { t0: now() };
    marks.set(tag, m);
    current = m;
    const body = JSON.stringify({ model: 'openai/gpt-4o-mini', messages: [...HISTORY, { role: 'user', content: padded(content) }], ...(STREAM ? { stream: true } : {}) });
    if (STREAM) {
      m.t5 = m.t0 + (await firstByte(u, body, headers, () => (m.th = now())));
    } else {
      await (await fetch(u, { method: 'POST', headers, body })).arrayBuffer();
      m.t5 = now();
    }
    current = null;
    return m;
  };
  const rows = Object.fromEntries(variants.map((v) => [v.name, []]));
  const N = Number(process.env.N || 300);
  const cpu = {};
  for (let i = 0; i < N; i++) {
    for (const v of variants) {
      if (i === 30) cpu[v.name] = v.pid ? -cpuMs(v.pid) : NaN;
      if (i === N - 1) cpu[v.name] += v.pid ? cpuMs(v.pid) : NaN;
      const d = await post(`${upUrl}/chat/completions`, `direct probe-${n++}`, { 'content-type': 'application/json' });
      const m = await post(v.url, `via ${Date.now()} probe-${n++}`, { authorization: `Bearer ${key}`, 'content-type': 'application/json' });
      if (i < 30) continue;
      rows[v.name].push({ total: (m.t5 - m.t0) - (d.t5 - d.t0), toRelay: m.rIn - m.t0, relay: m.rOut - m.rIn, relayToUp: m.upIn - m.rOut, upToClient: m.t5 - m.upOut, upToHeaders: m.th - m.upOut, dIn: d.upIn - d.t0, dOut: d.t5 - d.upOut });
    }
  }
  const median = (xs) => { const s = xs.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b); return s.length ? s[Math.floor(s.length / 2)].toFixed(2) : '-'; };
  const w = Number(process.env.WINDOWS || 0);
  for (const [name, rs] of Object.entries(rows)) {
    console.log(name.padEnd(12), `cpu/req ${(cpu[name] / (N - 31)).toFixed(2)}`, ['total', 'toRelay', 'relay', 'relayToUp', 'upToClient', ...(STREAM ? ['upToHeaders'] : []), 'dIn', 'dOut'].map((k) => `${k} ${median(rs.map((r) => r[k]))}`).join('  '));
    if (w) console.log(' '.repeat(12), 'total by window:', Array.from({ length: Math.ceil(rs.length / w) }, (_, i) => median(rs.slice(i * w, (i + 1) * w).map((r) => r.total))).join(' '));
  }
} finally { for (const w of workers) await w.dispose(); up.close(); relay.close(); await stack.stop(); }
