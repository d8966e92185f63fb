// The chaos soak (`npm run soak`, about 90 s; a 20 s run is part of `npm test`), against the
// proxy in plain workerd (what production runs, without wrangler dev's layers): concurrent
// clients over two projects mix exact hits, semantic hits, misses, streams (some cancelled
// midway), tool calls, embeddings and bad requests, while a timetable kills and restarts Redis,
// restarts the PostgREST-compatible server, and makes the fake upstream answer 503 and then not
// answer at all. Loopback only, bounded in time.
//
// Every answer is checked against what was asked: each prompt names its question and its
// project ("... zulu7 for team alpha"), and the fake upstream's answers repeat the prompt, so an
// answer that names another question or another project is a wrong answer. It prints, and
// `runSoak` returns, the figures and checks: wrong answers, malformed responses, 5xx outside the
// fault windows and their kinds inside, recovery after each fault, usage rows against
// authenticated requests, and workerd's memory. `npm run soak` then runs a trivial Worker for as
// long (SOAK_BASELINE=0 skips it): workerd's resident memory grows with the request count whatever
// the Worker, so the isolate's own figures (WebAssembly memory, L1) are the ones checked.
import crypto from 'node:crypto';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { embedText } from './fake-provider.mjs';
import { createApiKey, createProject } from './lib/projects.mjs';
import { newApiKey } from './lib/crypto.mjs';
import { startStack, startWorkerd, supabaseAdmin } from './stack.mjs';

const SOAK_PORTS = { redis: 7390, upstash: 7079, postgres: 7432, postrust: 7100, supabase: 7421, fake: 7090, capture: 7091, worker: 7787 };
export const SOAK_WORKER_VARS = { UPSTREAM_TIMEOUT_MS: '1500', REDIS_TIMEOUT_MS: '500', SUPABASE_TIMEOUT_MS: '1000', AUTH_CACHE_TTL_SECS: '2', AUTH_STALE_TTL_SECS: '600' };
/** After a fault ends, its 5xx may still arrive for this long (requests sent during it). */
const GRACE_MS = 2000;
const RECOVERY_LIMIT_MS = 2000;
const MODEL = 'openai/gpt-4o-mini';
const TOOLS = [{ type: 'function', function: { name: 'lookup', description: 'Look something up', parameters: { type: 'object', properties: { query: { type: 'string' } }, required: ['query'] } } }];

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A small seeded PRNG (mulberry32), so a run's mix can be replayed from its seed. */
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The request kinds, with how often each is drawn. */
const KINDS = [
  ['exact', 5],
  ['semantic', 3],
  ['miss', 2],
  ['stream', 2],
  ['tools', 1],
  ['embeddings', 1],
  ['bad', 1],
];

/** Resident memory in MiB of the workerd process `pid` (and any workerd under it). */
function workerdMemory(rootPid) {
  const children = new Map();
  for (const pid of fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) || []), Number(pid)]);
    } catch {}
  }
  const found = [];
  const walk = (pid) => {
    for (const c of children.get(pid) || []) {
      try {
        if (fs.readFileSync(`/proc/${c}/comm`, 'utf8').trim() === 'workerd') {
          const rss = /VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${c}/status`, 'utf8'));
          found.push(Number(rss?.[1] || 0) / 1024);
        }
      } catch {}
      walk(c);
    }
  };
  try {
    found.push(Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${rootPid}/status`, 'utf8'))?.[1] || 0) / 1024);
  } catch {}
  walk(rootPid);
  return found.reduce((a, b) => a + b, 0);
}

/**
 * Runs the soak against a running stack (its own, from `npm run soak`, or the test suite's).
 * Returns { figures, checks: [{ name, ok, detail }] }.
 */
export async function runSoak(stack, { worker, seconds = 90, clients = 32, seed = Date.now() % 100000, log = console.log, kinds, faults: withFaults = true } = {}) {
  const admin = supabaseAdmin(stack);
  stack.psql(`insert into plans (name, requests_per_minute, monthly_requests) values ('soak-unlimited', 1000000, 1000000000) on conflict do nothing`);
  const run = crypto.randomBytes(3).toString('hex');
  const teams = [];
  for (const team of ['alpha', 'bravo']) {
    const project = await createProject(admin, { name: `soak ${team} ${run}`, plan: 'soak-unlimited' });
    const { key } = await createApiKey(admin, project.id);
    teams.push({ team, key, project });
  }
  const rand = prng(seed);
  const pick = (xs) => xs[Math.floor(rand() * xs.length)];
  const mix = KINDS.filter(([k]) => !kinds || kinds.includes(k));
  const totalWeight = mix.reduce((a, [, w]) => a + w, 0);
  const drawKind = () => {
    let r = rand() * totalWeight;
    for (const [k, w] of mix) if ((r -= w) < 0) return k;
    return mix[0][0];
  };
  const url = (p) => `${worker.url}${p}`;
  const isolateMemory = async () => {
    try {
      return (await (await fetch(url('/health'))).json()).checks.proxy.isolate;
    } catch {
      return null;
    }
  };
  const memoryStart = workerdMemory(worker.pid);
  const isolateStart = await isolateMemory();
  const memorySeries = [];
  const sampler = setInterval(() => memorySeries.push(Math.round(workerdMemory(worker.pid))), 5000);

  // The fault timetable, as fractions of the run.
  const D = seconds * 1000;
  const hangMs = Math.min(3000, D * 0.1);
  const timetable = !withFaults ? [] : [
    { name: 'Redis killed', at: 0.15 * D, end: 0.25 * D, start: () => stack.stopRedis(), stop: () => stack.startRedis(), cacheMustWork: true },
    { name: 'PostgREST restarted', at: 0.38 * D, end: null, start: async () => { await stack.stopPostrust(); await sleep(300); await stack.startPostrust(); } },
    { name: 'upstream 503', at: 0.55 * D, end: 0.65 * D, start: () => outage('503'), stop: () => outage(null) },
    { name: 'upstream not answering', at: 0.75 * D, end: 0.75 * D + hangMs, start: () => outage('hang'), stop: () => outage(null) },
  ];
  async function outage(mode) {
    await fetch(`${stack.fake.url}/__outage`, { method: 'POST', body: JSON.stringify({ match: '', mode }) });
  }
  const windows = []; // [from, to] in ms since start, where 5xx are expected
  const t0 = performance.now();
  const now = () => performance.now() - t0;

  const stats = { sent: 0, byKind: {}, byStatus: {}, cancelled: 0, hits: { HIT: 0, 'HIT-SEMANTIC': 0, MISS: 0 } };
  const wrong = [];
  const malformed = [];
  const fiveXx = []; // { at, status, kind, ok }
  const goodAt = []; // { at, kind, cacheWorks }
  const authenticated = new Map(); // request ids the proxy logs against a project: what they were

  function checkAnswer(kind, asked, json, team) {
    // The answer must name the question asked and the team (project) asking.
    if (kind === 'embeddings') {
      const expect = embedText(asked.prompt, 8);
      const got = json?.data?.[0]?.embedding;
      return Array.isArray(got) && got.length === expect.length && got.every((x, i) => Math.abs(x - expect[i]) < 1e-9);
    }
    const msg = json?.choices?.[0]?.message;
    const text = kind === 'tools' ? JSON.parse(msg?.tool_calls?.[0]?.function?.arguments ?? '{}').query : msg?.content;
    return typeof text === 'string' && text.includes(asked.token) && text.includes(`team ${team}`);
  }

  async function once(client) {
    const kind = drawKind();
    const { team, key } = pick(teams);
    const n = Math.floor(rand() * 12);
    const serial = stats.sent;
    let body;
    let path = '/v1/chat/completions';
    let token;
    let prompt;
    let headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
    let rawBody;
    let badKind;
    switch (kind) {
      case 'exact':
        token = `item${n} `;
        prompt = `Soak exact question item${n} for team ${team}`;
        break;
      case 'semantic':
        // Retypings that normalise alike ("please" dropped): one entry answers both.
        token = `zulu${n} for`;
        prompt = `${rand() < 0.5 ? 'Please explain' : 'explain'} soak topic zulu${n} for team ${team}`;
        break;
      case 'miss':
      case 'stream':
        // Streams are half misses, half hits (replayed from the exact entries).
        if (kind === 'stream' && rand() < 0.5) {
          token = `item${n} `;
          prompt = `Soak exact question item${n} for team ${team}`;
        } else {
          token = `fresh${client}x${serial} `;
          prompt = `Soak fresh question fresh${client}x${serial} for team ${team}`;
        }
        break;
      case 'tools':
        token = `tool${n} `;
        prompt = `Soak tool question tool${n} for team ${team}`;
        break;
      case 'embeddings':
        path = '/v1/embeddings';
        prompt = `soak embedding ${n} for team ${team}`;
        body = { model: 'openai/text-embedding-3-small', input: prompt };
        break;
      case 'bad':
        badKind = pick(['json', 'fields', 'key']);
        if (badKind === 'json') rawBody = '{"model": "openai/gpt-4o-mini", "messages": [';
        if (badKind === 'fields') body = { model: MODEL, messages: 'not a list' };
        if (badKind === 'key') {
          headers = { ...headers, authorization: `Bearer ${newApiKey().key}`, 'cf-connecting-ip': '192.0.2.66' };
          body = { model: MODEL, messages: [{ role: 'user', content: 'hello' }] };
        }
        break;
    }
    if (!body && !rawBody) {
      body = { model: MODEL, messages: [{ role: 'user', content: prompt }] };
      if (kind === 'stream') body.stream = true;
      if (kind === 'tools') body.tools = TOOLS;
    }
    const asked = { prompt, token };
    stats.sent += 1;
    stats.byKind[kind] = (stats.byKind[kind] || 0) + 1;
    const cancel = kind === 'stream' && rand() < 0.25;
    const controller = new AbortController();
    const sentAt = now();
    let r;
    try {
      r = await fetch(url(path), { method: 'POST', headers, body: rawBody ?? JSON.stringify(body), signal: controller.signal });
    } catch (e) {
      malformed.push({ kind, at: sentAt, detail: `no response: ${e.message}` });
      return;
    }
    stats.byStatus[r.status] = (stats.byStatus[r.status] || 0) + 1;
    const id = r.headers.get('x-watchllm-request-id');
    const cache = r.headers.get('x-watchllm-cache');
    if (cache in stats.hits) stats.hits[cache] += 1;
    const at = now();
    if (r.status >= 500) {
      const text = await r.text();
      let okShape = false;
      try {
        const e = JSON.parse(text).error;
        okShape = typeof e.message === 'string' && typeof e.type === 'string';
      } catch {}
      fiveXx.push({ at, sentAt, status: r.status, kind, okShape });
      // (A made-up key that could not be validated has no project to log against.)
      if (id && badKind !== 'key') authenticated.set(id, { kind, status: r.status, at: Math.round(at) });
      return;
    }
    if (kind === 'bad') {
      const text = await r.text();
      let e;
      try {
        e = JSON.parse(text).error;
      } catch {}
      const expected = badKind === 'key' ? [401, 429] : [400];
      if (!expected.includes(r.status) || typeof e?.message !== 'string') malformed.push({ kind, at, detail: `${badKind}: ${r.status} ${text.slice(0, 200)}` });
      if (id && badKind !== 'key') authenticated.set(id, { kind, status: r.status, at: Math.round(at) });
      return;
    }
    if (r.status !== 200) {
      malformed.push({ kind, at, detail: `HTTP ${r.status}: ${(await r.text()).slice(0, 200)}` });
      if (id) authenticated.set(id, { kind, status: r.status, at: Math.round(at) });
      return;
    }
    if (id) authenticated.set(id, { kind, status: r.status, at: Math.round(at), cache, ...(cancel ? { cancelled: true } : {}) });
    const cacheWorks = r.headers.get('x-watchllm-cache-detail') !== 'unavailable';
    if (kind === 'stream') {
      // Valid SSE: every event a chat.completion.chunk or [DONE]; the text names the question.
      const reader = r.body.getReader();
      const decoder = new TextDecoder();
      let raw = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        raw += decoder.decode(value, { stream: true });
        if (cancel && raw.includes('"delta"')) {
          controller.abort();
          stats.cancelled += 1;
          await reader.cancel().catch(() => {});
          return;
        }
      }
      // Comment lines (": OPENROUTER PROCESSING") are valid SSE, and carry no event.
      const events = raw.split(/\r?\n\r?\n/).map((b) => b.split(/\r?\n/).filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trim()).join('\n')).filter(Boolean);
      let text = '';
      let valid = events.at(-1) === '[DONE]';
      for (const data of events.slice(0, -1)) {
        try {
          const chunk = JSON.parse(data);
          if (chunk.object !== 'chat.completion.chunk') valid = false;
          text += chunk.choices?.[0]?.delta?.content ?? '';
        } catch {
          valid = false;
        }
      }
      if (!valid) malformed.push({ kind, at, detail: `invalid SSE: ${raw.slice(0, 300)}` });
      else if (!(text.includes(asked.token) && text.includes(`team ${team}`))) wrong.push({ kind, asked: prompt, got: text.slice(0, 200) });
      else goodAt.push({ at, kind, cacheWorks });
      return;
    }
    const text = await r.text();
    let json;
    try {
      json = JSON.parse(text);
    } catch {
      malformed.push({ kind, at, detail: `not JSON: ${text.slice(0, 200)}` });
      return;
    }
    const shapeOk = kind === 'embeddings' ? json.object === 'list' && Array.isArray(json.data) : json.object === 'chat.completion' && Array.isArray(json.choices) && json.choices[0]?.message;
    if (!shapeOk) malformed.push({ kind, at, detail: `not an OpenAI object: ${text.slice(0, 200)}` });
    else if (!checkAnswer(kind, asked, json, team)) wrong.push({ kind, asked: prompt, got: text.slice(0, 300) });
    else goodAt.push({ at, kind, cacheWorks });
  }

  log(`soak: ${seconds} s, ${clients} clients, 2 projects, seed ${seed}`);
  const faults = (async () => {
    for (const f of timetable) {
      await sleep(Math.max(0, f.at - now()));
      const from = now();
      log(`  ${(from / 1000).toFixed(1)} s: ${f.name}`);
      await f.start();
      if (f.end !== null) {
        await sleep(Math.max(0, f.end - now()));
        await f.stop();
      }
      const to = now();
      f.from = from;
      f.to = to;
      log(`  ${(to / 1000).toFixed(1)} s: ${f.name}: over`);
      windows.push([from, to + GRACE_MS + Number(SOAK_WORKER_VARS.UPSTREAM_TIMEOUT_MS)]);
    }
  })();
  await Promise.all(
    Array.from({ length: clients }, async (_, c) => {
      while (now() < D) await once(c);
    }),
  );
  await faults;
  clearInterval(sampler);
  const elapsed = now();

  // Usage rows: every authenticated request's id, once the last flush (and its retries) ran.
  const ids = [...authenticated.keys()];
  const projects = teams.map((t) => `'${t.project.id}'`).join(',');
  let logged = new Set();
  const deadline = Date.now() + 20000;
  while (Date.now() < deadline) {
    logged = new Set(stack.psql(`select request_id from usage_logs where project_id in (${projects})`).split('\n').filter(Boolean));
    if (ids.every((i) => logged.has(i))) break;
    await sleep(500);
  }
  const missing = ids.filter((i) => !logged.has(i));
  const memoryEnd = workerdMemory(worker.pid);
  const isolateEnd = await isolateMemory();
  // The isolate's own memory: WebAssembly memory (which never shrinks) holds the L1 and every
  // per-isolate table, each bounded; 48 MiB leaves room beside the L1's 16 MiB within an
  // isolate's 128 MB.
  const WASM_BOUND_MIB = 48;

  const inWindow = (e) => windows.some(([a, b]) => e.at >= a && e.sentAt <= b);
  const outside = fiveXx.filter((e) => !inWindow(e));
  const badInside = fiveXx.filter((e) => inWindow(e) && (![502, 503, 504].includes(e.status) || !e.okShape));
  const recovery = timetable.map((f) => {
    const kinds = [...new Set(goodAt.map((g) => g.kind))];
    const delays = kinds.map((k) => {
      const first = goodAt.find((g) => g.kind === k && g.at >= f.to && (!f.cacheMustWork || g.cacheWorks));
      return [k, first ? first.at - f.to : Infinity];
    });
    return { fault: f.name, worst: Math.max(...delays.map(([, d]) => d)), delays: Object.fromEntries(delays.map(([k, d]) => [k, Math.round(d)])) };
  });
  const checks = [
    { name: 'wrong answers served', ok: wrong.length === 0, detail: `${wrong.length}${wrong.length ? `: ${JSON.stringify(wrong.slice(0, 3))}` : ''}` },
    { name: 'responses not valid OpenAI JSON or SSE', ok: malformed.length === 0, detail: `${malformed.length}${malformed.length ? `: ${JSON.stringify(malformed.slice(0, 3))}` : ''}` },
    { name: '5xx outside the fault windows', ok: outside.length === 0, detail: `${outside.length}${outside.length ? `: ${JSON.stringify(outside.slice(0, 3))}` : ''}` },
    { name: '5xx inside the fault windows that are not 502/503/504 in OpenAI format', ok: badInside.length === 0, detail: `${badInside.length} (of ${fiveXx.length - outside.length} inside)` },
    ...recovery.map((r) => ({ name: `recovery after "${r.fault}" (first good answer of each kind)`, ok: r.worst <= RECOVERY_LIMIT_MS, detail: `${r.worst === Infinity ? 'never' : `${Math.round(r.worst)} ms`} ${JSON.stringify(r.delays)}` })),
    { name: 'usage rows missing for authenticated requests', ok: missing.length === 0, detail: `${missing.length} of ${ids.length}${missing.length ? `: ${JSON.stringify(missing.slice(0, 8).map((i) => ({ id: i, ...authenticated.get(i) })))}` : ''}` },
    { name: `isolate memory bounded (WebAssembly memory at most ${WASM_BOUND_MIB} MiB, L1 within its limit)`, ok: !!isolateEnd && isolateEnd.wasm_memory_mib <= WASM_BOUND_MIB && isolateEnd.l1_mib <= isolateEnd.l1_limit_mib, detail: isolateEnd ? `${isolateEnd.wasm_memory_mib.toFixed(1)} MiB WebAssembly memory (${isolateStart?.wasm_memory_mib.toFixed(1)} at the start), L1 ${isolateEnd.l1_entries} entries, ${isolateEnd.l1_mib.toFixed(1)} of ${isolateEnd.l1_limit_mib} MiB` : 'no /health answer' },
    { name: 'requests made', ok: stats.sent > seconds * 20, detail: `${stats.sent} (${(stats.sent / (elapsed / 1000)).toFixed(0)}/s)` },
  ];
  const figures = {
    seed,
    seconds: elapsed / 1000,
    sent: stats.sent,
    byKind: stats.byKind,
    byStatus: stats.byStatus,
    cache: stats.hits,
    cancelledStreams: stats.cancelled,
    fiveXxInWindows: fiveXx.length - outside.length,
    usageRows: `${ids.length - missing.length} of ${ids.length}`,
    workerdMiB: { start: Number(memoryStart.toFixed(1)), end: Number(memoryEnd.toFixed(1)) },
    isolate: { start: isolateStart, end: isolateEnd },
  };
  log(`  requests: ${stats.sent} in ${(elapsed / 1000).toFixed(1)} s; by kind ${JSON.stringify(stats.byKind)}; by status ${JSON.stringify(stats.byStatus)}; cache ${JSON.stringify(stats.hits)}; ${stats.cancelled} streams cancelled by the client`);
  log(`  workerd process memory (RSS): ${figures.workerdMiB.start} MiB at the start, ${figures.workerdMiB.end} MiB at the end (every 5 s: ${memorySeries.join(', ')})`);
  for (const c of checks) log(`  ${c.ok ? 'ok  ' : 'FAIL'} ${c.name}: ${c.detail}`);
  return { figures, checks };
}

/**
 * The same number of clients against a trivial JavaScript Worker in plain workerd, for as long:
 * how much workerd's own resident memory grows with the request count alone (its allocator keeps
 * what it touched), to read the proxy's RSS figures against.
 */
export async function baselineMemory({ seconds, clients = 32 }) {
  const { startMiniflare } = await import('./lib/workerd.mjs');
  const { mf, url, pid } = await startMiniflare({
    modules: true,
    script: `export default { async fetch(req) { const asked = await req.text(); return Response.json({ id: crypto.randomUUID(), object: 'chat.completion', choices: [{ index: 0, message: { role: 'assistant', content: asked.slice(0, 400) } }] }); } }`,
  }, { direct: false, port: 0 });
  try {
    const start = workerdMemory(pid);
    let sent = 0;
    const until = Date.now() + seconds * 1000;
    await Promise.all(Array.from({ length: clients }, async () => {
      while (Date.now() < until) {
        const r = await fetch(url, { method: 'POST', body: JSON.stringify({ messages: [{ role: 'user', content: `baseline ${sent++}` }] }) });
        await r.text();
      }
    }));
    return { sent, start: Number(start.toFixed(1)), end: Number(workerdMemory(pid).toFixed(1)) };
  } finally {
    await mf.dispose();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const seconds = Number(process.env.SOAK_SECONDS || 90);
  const stack = await startStack({ ports: SOAK_PORTS, quiet: true, workerVars: SOAK_WORKER_VARS });
  let failed = true;
  try {
    const worker = await startWorkerd(stack, { port: SOAK_PORTS.worker + 2 });
    const { checks } = await runSoak(stack, {
      worker,
      seconds,
      seed: process.env.SOAK_SEED ? Number(process.env.SOAK_SEED) : undefined,
      // For narrowing a finding down: SOAK_KINDS=exact,stream, SOAK_FAULTS=0.
      kinds: process.env.SOAK_KINDS?.split(','),
      faults: process.env.SOAK_FAULTS !== '0',
    });
    failed = checks.some((c) => !c.ok);
  } finally {
    await stack.stop();
  }
  if (process.env.SOAK_BASELINE !== '0') {
    const b = await baselineMemory({ seconds });
    console.log(`  baseline: a trivial JavaScript Worker in the same workerd, ${b.sent} requests from 32 clients in ${seconds} s: RSS ${b.start} MiB at the start, ${b.end} MiB at the end`);
  }
  if (failed) {
    console.log('soak: FAILED');
    process.exit(1);
  }
  console.log('soak: passed');
}
