// Load generator for tools/bench.mjs, in its own process so that it does not share an event loop
// (or a core's worth of scheduling) with the systems measured. Reads a JSON job from argv, prints
// a JSON result. Loopback only; bounded by request counts and seconds. The same client measures
// every system: HIT latency (one prompt asked again and again, after it is cached), MISS
// overhead (a new prompt through the system minus the same kind of call straight to the
// upstream), HIT throughput, and a streamed MISS's time to first byte against the upstream's.
import { firstByte as timeFirstByte } from './lib/first-byte.mjs';

const job = JSON.parse(process.argv[2]);
const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
const headers = { authorization: `Bearer ${job.key}`, 'content-type': 'application/json' };
const upstreamHeaders = { authorization: `Bearer ${job.providerKey}`, 'content-type': 'application/json' };
const body = (content, extra = {}) => JSON.stringify({ model: job.model, messages: [{ role: 'user', content }], ...extra });
async function post(url, b, h = headers) {
  const t = performance.now();
  const r = await fetch(url, { method: 'POST', headers: h, body: b });
  await r.arrayBuffer();
  if (r.status !== 200) throw new Error(`HTTP ${r.status} from ${url}`);
  const timing = Object.fromEntries((r.headers.get('server-timing') || '').split(', ').filter(Boolean).map((p) => { const [n, d] = p.split(';dur='); return [n, Number(d)]; }));
  return { ms: performance.now() - t, cache: r.headers.get('x-watchllm-cache'), timing };
}
const firstByte = (url, b, h = headers) => timeFirstByte(url, b, h);
const upstreamCount = async () => (await (await fetch(job.countUrl)).json()).count;

const proxyUrl = `${job.url}/v1/chat/completions`;
const hitBody = body(`benchmark hit prompt ${job.tag}`);
if (job.mode === 'flood') {
  console.log(JSON.stringify(await flood()));
  process.exit(0);
}
// `misses`: the MISS and streamed MISS pairs only (the floor, which caches nothing).
const hits = [];
let upstreamCallsDuringHits = null;
if (job.mode !== 'misses') {
  await post(proxyUrl, hitBody);
  for (let i = 0; i < 100; i++) await post(proxyUrl, hitBody);
  const callsBefore = await upstreamCount();
  for (let i = 0; i < job.nHit; i++) {
    const r = await post(proxyUrl, hitBody);
    if (job.cacheHeader && r.cache !== 'HIT') throw new Error(`expected a HIT, got ${r.cache}`);
    hits.push(r.ms);
  }
  upstreamCallsDuringHits = (await upstreamCount()) - callsBefore;
}

// Each timed phase starts after the same uncounted pairs for every system: a runtime's first
// requests on a path pay for compiling it (in one `npm run bench:miss` run with WINDOWS=25, the
// proxy's streamed MISS overhead fell from 3.85 to 3.26 ms over its first 200 pairs, the floor's
// from 2.55 to 2.02 ms), and what is compared is the steady state a long-lived process serves.
const warmUp = async (stream) => {
  for (let i = 0; i < job.nWarmUp; i++) {
    const send = stream ? firstByte : post;
    const extra = stream ? { stream: true } : {};
    await send(job.upstreamUrl, body(`warm-up direct ${job.tag} ${stream} ${i}`, extra), upstreamHeaders);
    await send(proxyUrl, body(`warm-up ${job.tag} ${stream} ${i} ${Date.now()}`, extra));
  }
};

const direct = [];
const proxied = [];
const missTiming = {};
await warmUp(false);
for (let i = 0; i < job.nMiss; i++) {
  direct.push((await post(job.upstreamUrl, body(`direct ${job.tag} ${i}`), upstreamHeaders)).ms);
  const r = await post(proxyUrl, body(`miss ${job.tag} ${i} ${Date.now()}`));
  if (job.cacheHeader && r.cache !== 'MISS') throw new Error('expected a MISS');
  proxied.push(r.ms);
  for (const [n, d] of Object.entries(r.timing)) (missTiming[n] ??= []).push(d);
}
const overhead = proxied.map((p, i) => p - direct[i]);

const ttfb = [];
await warmUp(true);
for (let i = 0; i < job.nStream; i++) {
  const d = await firstByte(job.upstreamUrl, body(`stream direct ${job.tag} ${i}`, { stream: true }), upstreamHeaders);
  const p = await firstByte(proxyUrl, body(`stream miss ${job.tag} ${i} ${Date.now()}`, { stream: true }));
  ttfb.push(p - d);
}

let done = 0;
const until = performance.now() + (job.mode === 'misses' ? 0 : job.loadSeconds * 1000);
await Promise.all(
  Array.from({ length: job.concurrency }, async () => {
    while (performance.now() < until) {
      await post(proxyUrl, hitBody);
      done += 1;
    }
  }),
);
console.log(JSON.stringify({
  hitP50: pct(hits, 50), hitP99: pct(hits, 99),
  directP50: pct(direct, 50), proxiedP50: pct(proxied, 50), overheadP50: pct(overhead, 50), overheadP99: pct(overhead, 99),
  ttfbOverheadP50: pct(ttfb, 50), ttfbOverheadP99: pct(ttfb, 99),
  rps: done / job.loadSeconds,
  upstreamCallsDuringHits,
  missTiming: Object.fromEntries(Object.entries(missTiming).map(([n, xs]) => [n, pct(xs, 50)])),
}));

/**
 * A key flood: `job.floodRequests` requests with made-up, well-formed keys from one client address,
 * `job.concurrency` at a time, while a real key's HITs are timed (from another address); the same
 * HITs timed without the flood; and how many key lookups Supabase served meanwhile.
 */
async function flood() {
  const { newApiKey } = await import('./lib/crypto.mjs');
  const lookups = async () => (await (await fetch(job.countsUrl)).json()).api_key_lookup ?? 0;
  const timeHits = async (stop) => {
    const xs = [];
    while (!stop()) xs.push((await post(proxyUrl, hitBody)).ms);
    return xs;
  };
  await post(proxyUrl, hitBody);
  for (let i = 0; i < 100; i++) await post(proxyUrl, hitBody);
  const quietUntil = performance.now() + 2000;
  const quiet = await timeHits(() => performance.now() > quietUntil);
  const before = await lookups();
  const statuses = {};
  let left = job.floodRequests;
  let flooding = true;
  const floodMs = performance.now();
  const firstMinute = Math.floor(Date.now() / 60000);
  const attackers = Promise.all(
    Array.from({ length: job.concurrency }, async () => {
      while (left-- > 0) {
        const r = await fetch(proxyUrl, { method: 'POST', headers: { ...headers, authorization: `Bearer ${newApiKey().key}`, 'cf-connecting-ip': '203.0.113.9' }, body: hitBody });
        await r.arrayBuffer();
        statuses[r.status] = (statuses[r.status] || 0) + 1;
      }
    }),
  ).then(() => (flooding = false));
  const during = await timeHits(() => !flooding);
  await attackers;
  return {
    floodRequests: job.floodRequests,
    floodSeconds: (performance.now() - floodMs) / 1000,
    lookups: (await lookups()) - before,
    minutes: Math.floor(Date.now() / 60000) - firstMinute + 1,
    statuses,
    quietP50: pct(quiet, 50),
    duringP50: pct(during, 50),
    duringSamples: during.length,
  };
}
