// `npm run bench:usage`: how the dashboard's usage queries behave as usage_logs grows, on the local
// PostgreSQL behind postrust and the Supabase-style gateway (the path the dashboard takes).
//
// Request log: BENCH_LOG_ROWS (100,000) rows in one project over 30 days; prints p50/p95 of the
// request_log RPC through REST for the first page, filtered pages, a deep keyset page and an export
// batch, and the server-side execution time of the first page.
import { startStack, supabaseAdmin } from './stack.mjs';
import { createProject } from './lib/projects.mjs';

const OFFSET = Number(process.env.WATCHLLM_PORT_OFFSET || 0);
const PORTS = Object.fromEntries(Object.entries({ redis: 36390, upstash: 38079, postgres: 35432, postrust: 33100, supabase: 35421 }).map(([k, v]) => [k, v + OFFSET]));
const LOG_ROWS = Number(process.env.BENCH_LOG_ROWS || 100_000);
const RUNS = Number(process.env.BENCH_RUNS || 30);

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
const ms = (x) => `${x.toFixed(1)} ms`;

/** Times `fn` RUNS times after 3 warm-ups; returns [p50, p95]. */
async function time(fn) {
  for (let i = 0; i < 3; i++) await fn();
  const t = [];
  for (let i = 0; i < RUNS; i++) {
    const s = performance.now();
    await fn();
    t.push(performance.now() - s);
  }
  return [pct(t, 50), pct(t, 95)];
}

const stack = await startStack({ ports: PORTS, quiet: true, worker: false, fakeProvider: false });
try {
  const admin = supabaseAdmin(stack);
  const sql = stack.psql;
  console.log(`request log: seeding ${LOG_ROWS.toLocaleString('en-US')} rows in one project over 30 days...`);
  const project = await createProject(admin, { name: 'bench-log', plan: 'pro' });
  const seedStart = performance.now();
  sql(`insert into usage_logs (request_id, project_id, endpoint, model, provider, cache_status, status_code, prompt_tokens, completion_tokens, cost_usd, cost_saved_usd, latency_ms, error_code, created_at)
    select 'bench-' || i, '${project.id}', 'chat.completions', (array['openai/gpt-4o-mini', 'claude-3-haiku', 'gpt-4o', 'llama3-8b'])[i % 4 + 1], 'openrouter',
      (array['HIT', 'HIT-SEMANTIC', 'MISS'])[i % 3 + 1], case when i % 50 = 0 then 502 when i % 20 = 0 then 429 else 200 end,
      10, 20, 0.0001, 0.0001, (i % 400) + 5, case when i % 50 = 0 then 'upstream_error' end,
      now() - (i * (interval '30 days' / ${LOG_ROWS}))
    from generate_series(1, ${LOG_ROWS}) i; analyze usage_logs;`);
  console.log(`  seeded in ${((performance.now() - seedStart) / 1000).toFixed(1)} s`);

  const to = new Date(Date.now() + 60_000).toISOString();
  const from = new Date(Date.now() - 30 * 86400_000).toISOString();
  const base = { p_project: project.id, p_from: from, p_to: to, p_limit: 51 };
  const mid = sql(`select to_char(created_at at time zone 'utc', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), id from usage_logs where project_id = '${project.id}' order by created_at desc, id desc offset ${Math.floor(LOG_ROWS * 0.9)} limit 1`).split('|');
  const cases = [
    ['first page, no filter', base],
    ['first page, cache=MISS and 5xx', { ...base, p_cache: 'MISS', p_status_class: 5 }],
    ['first page, one model', { ...base, p_model: 'gpt-4o' }],
    ['page at 90% depth (keyset)', { ...base, p_before_at: mid[0], p_before_id: Number(mid[1]) }],
    ['export batch, 1,000 rows', { ...base, p_limit: 1000 }],
  ];
  console.log(`request_log RPC through Supabase REST, ${RUNS} runs each (target: a page under 50 ms):`);
  for (const [label, args] of cases) {
    const rows = await admin.rpc('request_log', args);
    const [p50, p95] = await time(() => admin.rpc('request_log', args));
    console.log(`  ${label.padEnd(34)} p50 ${ms(p50).padStart(9)}  p95 ${ms(p95).padStart(9)}  (${rows.length} rows)`);
  }
  const plan = sql(`explain (analyze, format json) select * from request_log('${project.id}', '${from}', '${to}', p_limit => 51)`);
  const exec = JSON.parse(plan)[0];
  console.log(`  first page in PostgreSQL alone: ${exec['Execution Time'].toFixed(2)} ms execution, ${exec['Planning Time'].toFixed(2)} ms planning`);
} finally {
  await stack.stop();
}
