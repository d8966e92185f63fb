// `npm run eval -- --worker [pairs.tsv ...]`: what users see. For each labelled pair it stores
// prompt A through the running Worker (workerd, real Redis and PostgreSQL, the fake provider), then
// asks prompt B in the same project and reads X-WatchLLM-Cache: HIT and HIT-SEMANTIC are answers
// served from cache, so the exact key and the semantic path are judged together. Prints precision
// and recall per kind and every wrong answer served. Each pair gets its own project, so pairs
// never answer each other. Files: `kind label stored asked` TSV (data/eval/semantic_pairs.tsv).
import fs from 'node:fs';
import { startStack, supabaseAdmin } from './stack.mjs';
import { createProject, createApiKey } from './lib/projects.mjs';

const EVAL_PORTS = { redis: 26490, upstash: 28179, postgres: 25532, postrust: 23200, supabase: 25521, fake: 28190, worker: 28887 };
const files = process.argv.slice(2).filter((a) => !a.startsWith('--'));
if (!files.length) files.push('data/eval/semantic_pairs.tsv');
const CONCURRENCY = 8;

function load(file) {
  const lines = fs.readFileSync(file, 'utf8').replace(/^\uFEFF/, '').split('\n').filter(Boolean);
  const header = lines.shift().split('\t');
  if (header[0] !== 'kind') throw new Error(`${file}: expected a \`kind label stored asked\` header`);
  return lines.map((l) => {
    const [kind, label, stored, asked] = l.split('\t');
    return { kind, duplicate: label.trim() === '1', stored, asked };
  });
}

const stack = await startStack({ ports: EVAL_PORTS, quiet: true, workerVars: { AUTH_CACHE_TTL_SECS: '600' } });
try {
  const admin = supabaseAdmin(stack);
  stack.psql(`insert into plans (name, requests_per_minute, monthly_requests) values ('bench-unlimited', 1000000000, 1000000000) on conflict do nothing`);
  const ask = async (key, content) => {
    const r = await fetch(`${stack.workerUrl}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content }] }),
    });
    const body = await r.json();
    if (r.status !== 200) throw new Error(`HTTP ${r.status}: ${JSON.stringify(body)}`);
    return { cache: r.headers.get('x-watchllm-cache'), similarity: r.headers.get('x-watchllm-cache-similarity'), answer: body.choices[0].message.content };
  };
  const run = async (pair) => {
    const project = await createProject(admin, { name: 'eval', plan: 'bench-unlimited' });
    const { key } = await createApiKey(admin, project.id);
    const first = await ask(key, pair.stored);
    // The answer is stored after the response (waitUntil): wait until A itself is a HIT.
    for (let i = 0; i < 100 && (await ask(key, pair.stored)).cache !== 'HIT'; i++) await new Promise((r) => setTimeout(r, 20));
    const second = await ask(key, pair.asked);
    const served = second.cache !== 'MISS';
    // A served answer must be A's answer (the fake provider's answer names its prompt).
    if (served && second.answer !== first.answer) throw new Error(`served an answer that is not A's: ${JSON.stringify(pair)}`);
    return { ...pair, served, cache: second.cache, similarity: second.similarity };
  };
  for (const file of files) {
    const pairs = load(file);
    const results = [];
    let next = 0;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < pairs.length) results.push(await run(pairs[next++]));
      }),
    );
    const byKind = new Map();
    const tally = (k, r) => {
      const c = byKind.get(k) ?? { tp: 0, fp: 0, fn: 0, tn: 0, exact: 0, semantic: 0 };
      if (r.served && r.duplicate) c.tp++;
      else if (r.served) c.fp++;
      else if (r.duplicate) c.fn++;
      else c.tn++;
      if (r.cache === 'HIT') c.exact++;
      if (r.cache === 'HIT-SEMANTIC') c.semantic++;
      byKind.set(k, c);
    };
    for (const r of results) {
      tally(r.kind, r);
      tally(' all', r);
    }
    const ratio = (a, b) => (b ? (a / b).toFixed(3) : '-');
    console.log(`\n${file}: ${results.length} pairs through the Worker in ${((performance.now() - t0) / 1000).toFixed(1)} s (store A, ask B, read X-WatchLLM-Cache)`);
    console.log('  kind                    pairs  served (HIT / HIT-SEMANTIC)  precision  recall');
    for (const [k, c] of [...byKind].sort(([a], [b]) => a.localeCompare(b))) {
      const n = c.tp + c.fp + c.fn + c.tn;
      console.log(`  ${k.padEnd(22)} ${String(n).padStart(6)}  ${String(c.tp + c.fp).padStart(6)} (${c.exact} / ${c.semantic})${' '.repeat(Math.max(1, 14 - String(c.exact).length - String(c.semantic).length))}${ratio(c.tp, c.tp + c.fp).padStart(9)}  ${ratio(c.tp, c.tp + c.fn).padStart(6)}`);
    }
    const wrong = results.filter((r) => r.served && !r.duplicate);
    console.log(`  wrong answers served: ${wrong.length}`);
    for (const r of wrong) console.log(`    WRONG [${r.kind}] ${r.cache}${r.similarity ? ` ${r.similarity}` : ''}: ${JSON.stringify(r.stored)} answered ${JSON.stringify(r.asked)}`);
    const missed = results.filter((r) => !r.served && r.duplicate);
    console.log(`  retypings not served: ${missed.length}`);
    for (const r of missed) console.log(`    missed [${r.kind}]: ${JSON.stringify(r.stored)} / ${JSON.stringify(r.asked)}`);
  }
} finally {
  await stack.stop();
}
