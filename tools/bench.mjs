// `npm run bench`: latency and throughput of the proxy on loopback, in workerd with real Redis and
// PostgreSQL, against the fake provider with a fixed delay, side by side with the LiteLLM proxy
// (installed on demand from PyPI into .bench/, with its Redis cache) on the same upstream, driven
// by the same client process. Prints, per system: HIT p50/p99, MISS overhead p50/p99 (through
// the system minus straight to the same upstream), HIT requests/s, a streamed MISS's extra time
// to first byte, and how many upstream calls the HITs made (0: served from cache); then the
// ratios, the Worker's size and start-up. Bounded: fixed request counts, a few seconds of load.
import crypto from 'node:crypto';
import fs from 'node:fs';
import { spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import zlib from 'node:zlib';
import { startStack, startWorkerd, supabaseAdmin, ROOT } from './stack.mjs';
import { createProject, createApiKey } from './lib/projects.mjs';
import { startFloorWorker } from './lib/floor-worker.mjs';
import { Miniflare } from 'miniflare';

const BENCH_PORTS = { redis: 26390, upstash: 28079, postgres: 25432, postrust: 23100, supabase: 25421, fake: 28090, worker: 28787 };
const LITELLM_PORT = 28795;
const LITELLM_VERSION = '1.108.7';
const UPSTREAM_DELAY_MS = Number(process.env.BENCH_UPSTREAM_DELAY_MS || 20);
const N_HIT = Number(process.env.BENCH_HITS || 1000);
const N_MISS = Number(process.env.BENCH_MISSES || 200);
const N_STREAM = Number(process.env.BENCH_STREAMS || 100);
const N_WARM_UP = Number(process.env.BENCH_WARM_UP || 100);
const LOAD_SECONDS = Number(process.env.BENCH_LOAD_SECONDS || 5);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY || 16);
const MODEL = 'openai/gpt-4o-mini';

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
const fmt = (x) => x.toFixed(2);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const t0 = performance.now();
const stack = await startStack({ ports: BENCH_PORTS, quiet: true, fakeDelayMs: UPSTREAM_DELAY_MS, workerVars: { AUTH_CACHE_TTL_SECS: '600' } });
const readyMs = performance.now() - t0;
// In production Supabase runs on its own machines; here PostgreSQL, postrust and the gateway share
// the two cores with the request path, and each usage-log flush would take them from it. They run
// at a lower CPU priority (the Upstash adapter, Redis and the fake upstream, which are on the
// request path, do not).
for (const p of stack.procs.filter((p) => ['postgres', 'postrust', 'supabase-gateway', 'supabase-auth', 'capture-server'].includes(p.name))) {
  spawnSync('renice', ['-n', '10', '-g', String(p.child.pid)]);
}
const cleanups = [];
try {
  const admin = supabaseAdmin(stack);
  sqlPlan(stack);
  const project = await createProject(admin, { name: 'bench', plan: 'bench-unlimited' });
  const { key } = await createApiKey(admin, project.id);
  const direct = await startWorkerd(stack, { port: BENCH_PORTS.worker + 2, direct: true });
  cleanups.push(() => direct.dispose());
  const directUrl = direct.url;
  const fake = stack.fake.url;
  // The client runs in its own process; this one keeps serving the adapters meanwhile.
  const runClient = (job) =>
    new Promise((resolve, reject) => {
      const full = { model: MODEL, nHit: N_HIT, nMiss: N_MISS, nStream: N_STREAM, nWarmUp: N_WARM_UP, loadSeconds: LOAD_SECONDS, concurrency: CONCURRENCY, countUrl: `${fake}/__count`, ...job };
      const child = spawn(process.execPath, [path.join(ROOT, 'tools/bench-client.mjs'), JSON.stringify(full)], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stdout.on('data', (d) => (out += d));
      child.stderr.on('data', (d) => (err += d));
      const timer = setTimeout(() => child.kill('SIGKILL'), 600000);
      child.on('exit', (code) => {
        clearTimeout(timer);
        code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`bench client failed: ${err}`));
      });
    });
  const watchllm = { key, cacheHeader: true, upstreamUrl: `${stack.fake.baseUrls.openrouter}/chat/completions`, providerKey: stack.providerKeys.openrouter };
  const results = {};
  results['WatchLLM, workerd (direct socket)'] = await runClient({ ...watchllm, url: directUrl, tag: 'direct' });
  const flood = await runClient({ ...watchllm, url: directUrl, tag: 'flood', mode: 'flood', floodRequests: 1500, countsUrl: `${stack.supabaseUrl}/__counts` });
  results['WatchLLM, wrangler dev (+ its dev proxy)'] = await runClient({ ...watchllm, url: stack.workerUrl, tag: 'wrangler' });
  await direct.dispose();
  cleanups.pop();
  const floor = await floorOverhead(stack, runClient);
  const litellm = await startLiteLLM(stack);
  if (litellm) {
    cleanups.push(litellm.stop);
    results[`LiteLLM ${LITELLM_VERSION} proxy (Python, Redis cache, 1 worker)`] = await runClient({ url: litellm.url, key: litellm.key, cacheHeader: false, tag: 'litellm', upstreamUrl: `${stack.fake.baseUrls.openai}/chat/completions`, providerKey: stack.providerKeys.openai });
    await litellm.stop();
    cleanups.pop();
  }

  // Size and start-up.
  const wasm = fs.readFileSync(path.join(ROOT, 'build/index_bg.wasm'));
  const js = fs.readFileSync(path.join(ROOT, 'build/index.js'));
  const gz = zlib.gzipSync(Buffer.concat([wasm, js]), { level: 9 }).length;
  const startup = await measureStartup();
  console.log(`\nProxy benchmark: loopback, 2 cores; Redis and PostgreSQL local (WatchLLM reaches Redis through the Upstash REST adapter);
fake upstream with a fixed ${UPSTREAM_DELAY_MS} ms delay; one client process for every system.
${N_HIT} sequential HITs of one prompt (after 100 uncounted), ${N_MISS} MISS pairs and ${N_STREAM} streamed MISS pairs (each after ${N_WARM_UP} uncounted pairs), ${CONCURRENCY} concurrent HITs for ${LOAD_SECONDS} s.\n`);
  const cols = ['HIT p50', 'HIT p99', 'MISS overhead p50', 'MISS overhead p99', 'HIT req/s', 'stream TTFB overhead p50', 'upstream calls during HITs'];
  console.log(`| system | ${cols.join(' | ')} |`);
  console.log(`| --- | ${cols.map(() => '---').join(' | ')} |`);
  for (const [name, r] of Object.entries(results)) {
    console.log(`| ${name} | ${fmt(r.hitP50)} ms | ${fmt(r.hitP99)} ms | ${fmt(r.overheadP50)} ms | ${fmt(r.overheadP99)} ms | ${r.rps.toFixed(0)} | ${fmt(r.ttfbOverheadP50)} ms | ${r.upstreamCallsDuringHits} |`);
  }
  const ours = results['WatchLLM, workerd (direct socket)'];
  const theirs = Object.entries(results).find(([n]) => n.startsWith('LiteLLM'))?.[1];
  if (theirs) {
    const ratio = (a, b) => `${(a / b).toFixed(1)}x`;
    console.log(`\nLiteLLM / WatchLLM (workerd): HIT p50 ${ratio(theirs.hitP50, ours.hitP50)}, HIT p99 ${ratio(theirs.hitP99, ours.hitP99)}, MISS overhead p50 ${ratio(theirs.overheadP50, ours.overheadP50)}, p99 ${ratio(theirs.overheadP99, ours.overheadP99)}, HIT throughput ${ratio(ours.rps, theirs.rps)} (WatchLLM / LiteLLM)`);
  } else {
    console.log('\nLiteLLM could not be installed from PyPI here; it is left out of this run.');
  }
  console.log(`Key flood (${flood.floodRequests} made-up keys, ${CONCURRENCY} at a time, one address, ${flood.floodSeconds.toFixed(1)} s): ${flood.lookups} Supabase key lookups (the limit is 30 per address per minute; the flood touched ${flood.minutes} minute windows); statuses ${JSON.stringify(flood.statuses)}; a real key's HIT p50 ${fmt(flood.duringP50)} ms during the flood (${flood.duringSamples} requests) vs ${fmt(flood.quietP50)} ms without (${(flood.duringP50 / flood.quietP50).toFixed(2)}x)`);
  console.log(`Floor: a minimal JavaScript Worker in the same workerd making the same two subrequests (one Upstash REST call, then the upstream call): MISS overhead p50 ${fmt(floor.p50)} ms, p99 ${fmt(floor.p99)} ms (${N_MISS} pairs); streamed first byte overhead p50 ${fmt(floor.ttfbP50)} ms, the upstream's body piped back as it arrives (${N_STREAM} pairs)`);
  console.log(`WatchLLM MISS, inside the Worker (Server-Timing p50): ${Object.entries(ours.missTiming).map(([n, d]) => `${n} ${d} ms`).join(', ')}`);
  console.log(`Worker size: ${(wasm.length / 1024).toFixed(0)} KiB wasm + ${(js.length / 1024).toFixed(0)} KiB JS; gzipped ${(gz / 1024).toFixed(0)} KiB
Start-up in a fresh workerd: script + wasm loaded in ${fmt(startup.loadMs)} ms (includes starting workerd), first request ${fmt(startup.firstMs)} ms, warm request ${fmt(startup.warmMs)} ms
Whole local stack ready in ${(readyMs / 1000).toFixed(1)} s
`);
} finally {
  for (const c of cleanups.reverse()) await c();
  await stack.stop();
}

/**
 * The least a MISS can cost in this setup: a minimal JavaScript Worker in plain workerd that makes
 * the two subrequests a MISS makes (one Upstash REST call, then the upstream call) and returns the
 * upstream's body. Its overhead over calling the upstream directly, measured by the same client
 * process as every system (its MISS and streamed MISS pairs; it caches nothing).
 */
async function floorOverhead(stack, runClient) {
  const upstreamUrl = `${stack.fake.baseUrls.openrouter}/chat/completions`;
  const { mf, url } = await startFloorWorker({ upstashUrl: stack.upstashUrl, upstashToken: stack.upstashToken, upstreamUrl, upstreamKey: stack.providerKeys.openrouter });
  try {
    const r = await runClient({ url, key: 'floor', cacheHeader: false, tag: 'floor', mode: 'misses', upstreamUrl, providerKey: stack.providerKeys.openrouter });
    return { p50: r.overheadP50, p99: r.overheadP99, ttfbP50: r.ttfbOverheadP50 };
  } finally {
    await mf.dispose();
  }
}

/** The LiteLLM proxy on the fake upstream with its Redis cache; installed into .bench/ on first use. */
async function startLiteLLM(stack) {
  const dir = path.join(ROOT, '.bench');
  const venv = path.join(dir, `litellm-${LITELLM_VERSION}`);
  const bin = path.join(venv, 'bin/litellm');
  if (!fs.existsSync(bin)) {
    console.error(`[bench] installing litellm[proxy]==${LITELLM_VERSION} from PyPI into ${venv} (once)`);
    fs.mkdirSync(dir, { recursive: true });
    const made = spawnSync('python3', ['-m', 'venv', venv], { stdio: 'inherit' });
    const installed = made.status === 0 && spawnSync(path.join(venv, 'bin/pip'), ['install', '-q', `litellm[proxy]==${LITELLM_VERSION}`], { stdio: 'inherit' }).status === 0;
    if (!installed) return null;
  }
  const config = path.join(dir, 'litellm.yaml');
  // Clients authenticate with the master key, as WatchLLM's clients do with theirs.
  const key = `sk-${crypto.randomBytes(24).toString('hex')}`;
  fs.writeFileSync(config, `general_settings:
  master_key: ${key}
model_list:
  - model_name: ${MODEL}
    litellm_params:
      model: ${MODEL}
      api_base: ${stack.fake.baseUrls.openai}
      api_key: ${stack.providerKeys.openai}
litellm_settings:
  cache: true
  cache_params:
    type: redis
    host: 127.0.0.1
    port: ${stack.ports.redis}
`);
  const log = fs.openSync(path.join(stack.logDir, 'litellm.log'), 'a');
  const child = spawn(bin, ['--config', config, '--port', String(LITELLM_PORT), '--host', '127.0.0.1', '--num_workers', '1'], { stdio: ['ignore', log, log], env: { ...process.env, LITELLM_LOG: 'ERROR' }, detached: true });
  const url = `http://127.0.0.1:${LITELLM_PORT}`;
  const stop = async () => {
    try {
      process.kill(-child.pid, 'SIGTERM');
    } catch {}
    await sleep(500);
  };
  for (let i = 0; i < 240; i++) {
    try {
      if ((await fetch(`${url}/health/liveliness`)).ok) return { url, key, stop };
    } catch {}
    await sleep(500);
  }
  await stop();
  throw new Error(`LiteLLM did not start; see ${path.join(stack.logDir, 'litellm.log')}`);
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
