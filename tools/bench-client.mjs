// Load generator for tools/bench.mjs, in its own process so that it does not share an event loop
// (or a core's worth of scheduling) with the local stack's adapters. Reads a JSON job from argv,
// prints a JSON result. Loopback only; bounded by request counts and seconds.
const job = JSON.parse(process.argv[2]);
const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
const headers = { authorization: `Bearer ${job.key}`, 'content-type': 'application/json' };
const body = (content) => JSON.stringify({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content }] });
async function post(url, b, h = headers) {
  const t = performance.now();
  const r = await fetch(url, { method: 'POST', headers: h, body: b });
  await r.arrayBuffer();
  if (r.status !== 200) throw new Error(`HTTP ${r.status} from ${url}`);
  return { ms: performance.now() - t, cache: r.headers.get('x-watchllm-cache'), inner: Number(r.headers.get('x-watchllm-latency-ms')) };
}
const proxyUrl = `${job.url}/v1/chat/completions`;
const hitBody = body(`benchmark hit prompt ${job.tag}`);
await post(proxyUrl, hitBody);
for (let i = 0; i < 100; i++) await post(proxyUrl, hitBody);
const hits = [];
const inner = [];
for (let i = 0; i < job.nHit; i++) {
  const r = await post(proxyUrl, hitBody);
  if (r.cache !== 'HIT') throw new Error(`expected a HIT, got ${r.cache}`);
  hits.push(r.ms);
  inner.push(r.inner);
}
const direct = [];
const proxied = [];
const upstreamHeaders = { authorization: `Bearer ${job.providerKey}`, 'content-type': 'application/json' };
for (let i = 0; i < job.nMiss; i++) {
  direct.push((await post(job.upstreamUrl, body(`direct ${i}`), upstreamHeaders)).ms);
  const r = await post(proxyUrl, body(`miss ${job.tag} ${i} ${Date.now()}`));
  if (r.cache !== 'MISS') throw new Error('expected a MISS');
  proxied.push(r.ms);
}
const overhead = proxied.map((p, i) => p - direct[i]);
let done = 0;
const until = performance.now() + job.loadSeconds * 1000;
await Promise.all(
  Array.from({ length: job.concurrency }, async () => {
    while (performance.now() < until) {
      await post(proxyUrl, hitBody);
      done += 1;
    }
  }),
);
console.log(JSON.stringify({
  hitP50: pct(hits, 50), hitP99: pct(hits, 99), innerP50: pct(inner, 50), innerP99: pct(inner, 99),
  directP50: pct(direct, 50), proxiedP50: pct(proxied, 50), overheadP50: pct(overhead, 50), overheadP99: pct(overhead, 99),
  rps: done / job.loadSeconds,
}));
