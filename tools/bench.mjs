// `npm run bench`: latency and throughput of the proxy on loopback, in workerd (wrangler dev) with
// real Redis and PostgreSQL, against the fake provider with a fixed delay. Prints:
// HIT p50/p99, MISS overhead p50/p99 (proxied minus direct call to the same fake upstream),
// HIT requests/s, the Worker's gzipped size and the wasm compile time.
// Bounded: a fixed number of requests and a few seconds of load, loopback only.
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { startStack, supabaseAdmin, ROOT } from './stack.mjs';
import { createProject, createApiKey } from './lib/projects.mjs';
import { Miniflare } from 'miniflare';

const BENCH_PORTS = { redis: 26390, upstash: 28079, postgres: 25432, postrust: 23100, supabase: 25421, fake: 28090, worker: 28787 };
const UPSTREAM_DELAY_MS = Number(process.env.BENCH_UPSTREAM_DELAY_MS || 20);
const N_HIT = Number(process.env.BENCH_HITS || 2000);
const N_MISS = Number(process.env.BENCH_MISSES || 200);
const LOAD_SECONDS = Number(process.env.BENCH_LOAD_SECONDS || 5);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY || 16);

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
const fmt = (x) => x.toFixed(2);

const t0 = performance.now();
const stack = await startStack({ ports: BENCH_PORTS, quiet: true, fakeDelayMs: UPSTREAM_DELAY_MS, workerVars: { AUTH_CACHE_TTL_SECS: '600' } });
const readyMs = performance.now() - t0;
try {
  const admin = supabaseAdmin(stack);
  sqlPlan(stack);
  const project = await createProject(admin, { name: 'bench', plan: 'bench-unlimited' });
  const { key } = await createApiKey(admin, project.id);
  const body = (content) => JSON.stringify({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content }] });
  const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
  const post = async (url, b, h = headers) => {
    const t = performance.now();
    const r = await fetch(url, { method: 'POST', headers: h, body: b });
    await r.arrayBuffer();
    if (r.status !== 200) throw new Error(`HTTP ${r.status}`);
    return { ms: performance.now() - t, cache: r.headers.get('x-watchllm-cache'), inner: Number(r.headers.get('x-watchllm-latency-ms')) };
  };
  const proxyUrl = `${stack.workerUrl}/v1/chat/completions`;

  // HIT latency (sequential).
  const hitBody = body('benchmark hit prompt');
  await post(proxyUrl, hitBody);
  for (let i = 0; i < 50; i++) await post(proxyUrl, hitBody); // warm-up
  const hits = [];
  const inner = [];
  for (let i = 0; i < N_HIT; i++) {
    const r = await post(proxyUrl, hitBody);
    if (r.cache !== 'HIT') throw new Error('expected a HIT');
    hits.push(r.ms);
    inner.push(r.inner);
  }

  // MISS overhead: each unique prompt once directly to the fake upstream, once through the proxy.
  const direct = [];
  const proxied = [];
  const upstreamHeaders = { authorization: `Bearer ${stack.providerKeys.openrouter}`, 'content-type': 'application/json' };
  for (let i = 0; i < N_MISS; i++) {
    direct.push((await post(`${stack.fake.baseUrls.openrouter}/chat/completions`, body(`direct ${i}`), upstreamHeaders)).ms);
    const r = await post(proxyUrl, body(`miss ${i} ${Date.now()}`));
    if (r.cache !== 'MISS') throw new Error('expected a MISS');
    proxied.push(r.ms);
  }

  // HIT throughput.
  let done = 0;
  const until = performance.now() + LOAD_SECONDS * 1000;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (performance.now() < until) {
        await post(proxyUrl, hitBody);
        done += 1;
      }
    }),
  );
  const rps = done / LOAD_SECONDS;

  // Size and start-up.
  const wasm = fs.readFileSync(path.join(ROOT, 'build/index_bg.wasm'));
  const js = fs.readFileSync(path.join(ROOT, 'build/index.js'));
  const gz = zlib.gzipSync(Buffer.concat([wasm, js]), { level: 9 }).length;
  const startup = await measureStartup();
  console.log(`
WatchLLM proxy benchmark (loopback, workerd via wrangler dev, Redis + PostgreSQL local)
  HIT latency (client-observed, ${N_HIT} sequential): p50 ${fmt(pct(hits, 50))} ms, p99 ${fmt(pct(hits, 99))} ms
  HIT latency (X-WatchLLM-Latency-Ms, inside the Worker): p50 ${pct(inner, 50)} ms, p99 ${pct(inner, 99)} ms
  MISS (${N_MISS}, upstream delay ${UPSTREAM_DELAY_MS} ms): direct p50 ${fmt(pct(direct, 50))} ms, proxied p50 ${fmt(pct(proxied, 50))} ms
  MISS overhead added by the proxy: p50 ${fmt(pct(proxied, 50) - pct(direct, 50))} ms, p99 ${fmt(pct(proxied, 99) - pct(direct, 99))} ms
  HIT throughput: ${rps.toFixed(0)} requests/s (${CONCURRENCY} concurrent clients, ${LOAD_SECONDS} s)
  Worker size: ${(wasm.length / 1024).toFixed(0)} KiB wasm + ${(js.length / 1024).toFixed(0)} KiB JS; gzipped ${(gz / 1024).toFixed(0)} KiB
  Start-up in a fresh workerd (Miniflare): script + wasm loaded in ${fmt(startup.loadMs)} ms (includes starting workerd), first request ${fmt(startup.firstMs)} ms, warm request ${fmt(startup.warmMs)} ms
  Whole local stack ready in ${(readyMs / 1000).toFixed(1)} s
`);
} finally {
  await stack.stop();
}

function sqlPlan(stack) {
  stack.psql(`insert into plans (name, requests_per_minute, monthly_requests) values ('bench-unlimited', 1000000000, 1000000000) on conflict do nothing`);
}

/** Loads the built Worker into a fresh workerd and times the load, the first and a warm request. */
async function measureStartup() {
  const t = performance.now();
  const mf = new Miniflare({
    modules: true,
    scriptPath: path.join(ROOT, 'build/index.js'),
    modulesRules: [{ type: 'CompiledWasm', include: ['**/*.wasm'] }],
    compatibilityDate: '2026-04-01',
  });
  await mf.ready;
  const loadMs = performance.now() - t;
  const time = async () => {
    const s = performance.now();
    const r = await mf.dispatchFetch('http://localhost/no-such-route');
    await r.arrayBuffer();
    if (r.status !== 404) throw new Error(`expected 404, got ${r.status}`);
    return performance.now() - s;
  };
  const firstMs = await time();
  const warm = [];
  for (let i = 0; i < 20; i++) warm.push(await time());
  await mf.dispose();
  return { loadMs, firstMs, warmMs: pct(warm, 50) };
}
