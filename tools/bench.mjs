// `npm run bench`: latency and throughput of the proxy on loopback, in workerd (wrangler dev) with
// real Redis and PostgreSQL, against the fake provider with a fixed delay. Prints:
// HIT p50/p99, MISS overhead p50/p99 (proxied minus direct call to the same fake upstream),
// HIT requests/s, the Worker's gzipped size and the wasm compile time.
// Bounded: a fixed number of requests and a few seconds of load, loopback only.
import fs from 'node:fs';
import { spawn } from 'node:child_process';
import path from 'node:path';
import zlib from 'node:zlib';
import { startStack, supabaseAdmin, ROOT } from './stack.mjs';
import { createProject, createApiKey } from './lib/projects.mjs';
import { Miniflare } from 'miniflare';

const BENCH_PORTS = { redis: 26390, upstash: 28079, postgres: 25432, postrust: 23100, supabase: 25421, fake: 28090, worker: 28787 };
const UPSTREAM_DELAY_MS = Number(process.env.BENCH_UPSTREAM_DELAY_MS || 20);
const N_HIT = Number(process.env.BENCH_HITS || 1000);
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
  const vars = Object.fromEntries(fs.readFileSync(path.join(stack.logDir, 'wrangler.env'), 'utf8').trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), JSON.parse(l.slice(l.indexOf('=') + 1))]));
  const direct = new Miniflare({
    modules: true,
    scriptPath: path.join(ROOT, 'build/index.js'),
    modulesRules: [{ type: 'CompiledWasm', include: ['**/*.wasm'] }],
    compatibilityDate: '2026-04-01',
    host: '127.0.0.1',
    port: BENCH_PORTS.worker + 2,
    bindings: vars,
    // The Worker prints one logEvent line per request (Workers Logs in production); drained here
    // so the figures below stay readable.
    handleRuntimeStdio: (stdout, stderr) => {
      stdout.resume();
      stderr.resume();
    },
  });
  const directUrl = String(await direct.ready).replace(/\/$/, '');
  // The client runs in its own process; this one keeps serving the adapters meanwhile.
  const runClient = (url, tag) =>
    new Promise((resolve, reject) => {
      const job = { url, tag, key, nHit: N_HIT, nMiss: N_MISS, loadSeconds: LOAD_SECONDS, concurrency: CONCURRENCY, upstreamUrl: `${stack.fake.baseUrls.openrouter}/chat/completions`, providerKey: stack.providerKeys.openrouter };
      const child = spawn(process.execPath, [path.join(ROOT, 'tools/bench-client.mjs'), JSON.stringify(job)], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stdout.on('data', (d) => (out += d));
      child.stderr.on('data', (d) => (err += d));
      const timer = setTimeout(() => child.kill('SIGKILL'), 300000);
      child.on('exit', (code) => {
        clearTimeout(timer);
        code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`bench client failed: ${err}`));
      });
    });
  const results = { 'workerd, direct socket': await runClient(directUrl, 'direct'), 'wrangler dev (adds its dev proxy process)': await runClient(stack.workerUrl, 'wrangler') };
  await direct.dispose();

  // Size and start-up.
  const wasm = fs.readFileSync(path.join(ROOT, 'build/index_bg.wasm'));
  const js = fs.readFileSync(path.join(ROOT, 'build/index.js'));
  const gz = zlib.gzipSync(Buffer.concat([wasm, js]), { level: 9 }).length;
  const startup = await measureStartup();
  console.log(`\nWatchLLM proxy benchmark: loopback, real workerd, Redis (Upstash REST adapter) and PostgreSQL (postrust) local;
fake upstream with a fixed ${UPSTREAM_DELAY_MS} ms delay; load generated from a separate process.`);
  for (const [name, r] of Object.entries(results)) {
    console.log(`
  ${name}
    HIT latency (${N_HIT} sequential, client-observed): p50 ${fmt(r.hitP50)} ms, p99 ${fmt(r.hitP99)} ms  [X-WatchLLM-Latency-Ms p50 ${r.innerP50}, p99 ${r.innerP99}]
    MISS overhead (${N_MISS} pairs, proxied minus direct upstream): p50 ${fmt(r.overheadP50)} ms, p99 ${fmt(r.overheadP99)} ms  [direct p50 ${fmt(r.directP50)} ms, proxied p50 ${fmt(r.proxiedP50)} ms]
    HIT throughput: ${r.rps.toFixed(0)} requests/s (${CONCURRENCY} concurrent, ${LOAD_SECONDS} s)`);
  }
  console.log(`
  Worker size: ${(wasm.length / 1024).toFixed(0)} KiB wasm + ${(js.length / 1024).toFixed(0)} KiB JS; gzipped ${(gz / 1024).toFixed(0)} KiB (limit 1024 KiB)
  Start-up in a fresh workerd: script + wasm loaded in ${fmt(startup.loadMs)} ms (includes starting workerd), first request ${fmt(startup.firstMs)} ms, warm request ${fmt(startup.warmMs)} ms
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
