// `npm run bench:usage`: the dashboard's usage queries and the log inserts as usage_logs grows, on
// the local PostgreSQL behind postrust and the Supabase-style gateway (the dashboard's and the
// proxy's path). Prints:
//  1. insert throughput of proxy-sized log batches (BENCH_BATCH rows, BENCH_WRITERS concurrent
//     writers, through REST) with the rollup trigger on and off, for typical batches (a few
//     projects each) and the worst case (every row a different rollup);
//  2. BENCH_USAGE_ROWS rows (10,000,000) across BENCH_USAGE_PROJECTS projects (100) over a year,
//     seeded in SQL with the trigger on, the seeding rate and the table sizes;
//  3. p50/p95 of each dashboard RPC through REST for one project, over every range the dashboard
//     offers, and of the request log's pages.
// Set BENCH_USAGE_ROWS lower (e.g. 1000000) for a quicker run; the RPC figures should not move.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startStack, supabaseAdmin } from './stack.mjs';

const OFFSET = Number(process.env.WATCHLLM_PORT_OFFSET || 0);
const PORTS = Object.fromEntries(Object.entries({ redis: 36390, upstash: 38079, postgres: 35432, postrust: 33100, supabase: 35421 }).map(([k, v]) => [k, v + OFFSET]));
const ROWS = Number(process.env.BENCH_USAGE_ROWS || 10_000_000);
const PROJECTS = Number(process.env.BENCH_USAGE_PROJECTS || 100);
const CHUNK = 500_000;
const BATCH = Number(process.env.BENCH_BATCH || 50);
const WRITERS = Number(process.env.BENCH_WRITERS || 8);
const BATCHES = Number(process.env.BENCH_BATCHES || 400);
const RUNS = Number(process.env.BENCH_RUNS || 30);

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
const ms = (x) => `${x.toFixed(1)} ms`.padStart(9);
const n = (x) => Math.round(x).toLocaleString('en-US');

/** p50 and p95 of `fn` over RUNS runs after 3 warm-ups. */
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

// Its own data directory, removed afterwards (10 million rows take about 3 GB).
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'watchllm-bench-usage-'));
const stack = await startStack({ ports: PORTS, dataDir, quiet: true, worker: false, fakeProvider: false });
try {
  const admin = supabaseAdmin(stack);
  const sql = stack.psql;
  const ids = sql(`insert into projects (name, plan) select 'bench-' || i, 'pro' from generate_series(1, ${PROJECTS}) i returning id`).split('\n');
  const keys = ids.map((pid) => sql(`insert into api_keys (project_id, key_hash, key_prefix, kind) select '${pid}', encode(digest(gen_random_uuid()::text, 'sha256'), 'hex'), 'lgw_proj_bn', 'live' from generate_series(1, 3) returning id`).split('\n'));
  sql(`select ensure_usage_partitions((now() - interval '13 months')::date, now()::date)`);

  // 1. Proxy-sized batches through REST, rollups on and off. "typical": a batch is one isolate's
  // recent requests, from 5 projects, each using 2 models and 2 keys; "worst": every row of a
  // batch a different project, model, key and outcome (nothing for the rollups to combine).
  const MODELS = ['openai/gpt-4o-mini', 'claude-3-haiku', 'gpt-4o', 'llama3-8b'];
  const row = (k, p, model, key) => ({ billable: true, request_id: `w-${k}`, project_id: ids[p], api_key_id: keys[p][key], key_kind: 'live', endpoint: 'chat.completions', model: MODELS[model], provider: 'openrouter', cache_status: ['HIT', 'HIT-SEMANTIC', 'MISS'][k % 3], status_code: 200, prompt_tokens: 10, completion_tokens: 20, cost_usd: 0.0001, cost_saved_usd: 0, tokens_saved: 0, latency_ms: k % 900, similarity: null, error_code: null, upstream_attempts: 1 });
  const batches = {
    typical: (b) => Array.from({ length: BATCH }, (_, i) => {
      const p = (b * 5 + (i % 5)) % PROJECTS;
      return row(b * BATCH + i, p, (p + (i % 2)) % 4, (i >> 1) % 2);
    }),
    worst: (b) => Array.from({ length: BATCH }, (_, i) => {
      const k = b * BATCH + i;
      return row(k, k % PROJECTS, k % 4, k % 3);
    }),
  };
  const insertRate = async (make) => {
    let next = 0;
    const t0 = performance.now();
    const writer = async () => {
      while (next < BATCHES) {
        const b = next++;
        const r = await fetch(`${stack.supabaseUrl}/rest/v1/usage_logs`, { method: 'POST', headers: { apikey: stack.keys.service, authorization: `Bearer ${stack.keys.service}`, 'content-type': 'application/json', prefer: 'return=minimal' }, body: JSON.stringify(make(b)) });
        if (r.status !== 201) throw new Error(`insert: HTTP ${r.status} ${await r.text()}`);
      }
    };
    await Promise.all(Array.from({ length: WRITERS }, writer));
    return (BATCHES * BATCH) / ((performance.now() - t0) / 1000);
  };
  console.log(`1. log batches through Supabase REST (the proxy's insert): ${BATCHES} batches of ${BATCH} rows, ${WRITERS} writers`);
  await insertRate(batches.typical);
  for (const [label, make] of Object.entries(batches)) {
    sql(`alter table usage_logs disable trigger usage_logs_rollup`);
    const off = await insertRate(make);
    sql(`alter table usage_logs enable trigger usage_logs_rollup`);
    const on = await insertRate(make);
    console.log(`  ${label.padEnd(8)} rollups off ${n(off).padStart(7)} rows/s, on ${n(on).padStart(7)} rows/s: ${((100 * on) / off).toFixed(0)}% (target: at least 50%)`);
  }
  sql(`truncate usage_logs, usage_rollups, usage_rollups_model, usage_monthly`);

  // 2. The big table, seeded in SQL with the trigger on (BENCH_USAGE_ROWS=0: inserts only).
  if (ROWS === 0) throw Object.assign(new Error('done'), { done: true });
  console.log(`2. seeding ${n(ROWS)} rows across ${PROJECTS} projects over the last 365 days (trigger on)...`);
  const t0 = performance.now();
  for (let start = 0; start < ROWS; start += CHUNK) {
    const end = Math.min(ROWS, start + CHUNK);
    sql(`insert into usage_logs (request_id, project_id, api_key_id, key_kind, endpoint, model, provider, cache_status, status_code, prompt_tokens, completion_tokens, cost_usd, cost_saved_usd, latency_ms, created_at, billable)
      select 's' || i, p.id, (p.keys)[(i / ${PROJECTS}) % 3 + 1], 'live', 'chat.completions',
        (array['openai/gpt-4o-mini', 'claude-3-haiku', 'gpt-4o', 'llama3-8b'])[(i / ${PROJECTS * 3}) % 4 + 1], 'openrouter',
        (array['HIT', 'HIT-SEMANTIC', 'MISS'])[(i / ${PROJECTS * 12}) % 3 + 1], case when i % 53 = 0 then 502 else 200 end, 10, 20, 0.0001, 0.0001, (i::bigint * 7919) % 900 + 1,
        now() - (i * (interval '365 days' / ${ROWS})), i % 41 <> 0
      from generate_series(${start + 1}, ${end}) i
      join (select row_number() over (order by id) - 1 as k, id, (select array_agg(a.id order by a.id) from api_keys a where a.project_id = pr.id) as keys
            from projects pr where name like 'bench-%') p on p.k = i % ${PROJECTS}`);
  }
  const seedSecs = (performance.now() - t0) / 1000;
  // As in production after a while: the cron has closed the ended days and vacuum has run.
  sql(`select usage_upkeep()`);
  sql('vacuum analyze usage_logs, usage_rollups, usage_rollups_model, usage_monthly');
  console.log(`  ${n(ROWS / seedSecs)} rows/s (${seedSecs.toFixed(0)} s); usage_logs ${sql(`select pg_size_pretty(sum(pg_total_relation_size(inhrelid))) from pg_inherits where inhparent = 'usage_logs'::regclass`)}, usage_rollups ${sql(`select pg_size_pretty(pg_total_relation_size('usage_rollups'))`)} (${n(Number(sql('select count(*) from usage_rollups')))} rows)`);

  // 3. Dashboard RPCs for one project (about ROWS / PROJECTS rows of its own).
  const pid = ids[Math.floor(PROJECTS / 2)];
  const day = (d) => new Date(Date.now() - d * 86400_000).toISOString().slice(0, 10);
  const mid = sql(`select to_char(created_at at time zone 'utc', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), id from usage_logs where project_id = '${pid}' order by created_at desc, id desc offset ${Math.floor((ROWS / PROJECTS) * 0.2)} limit 1`).split('|');
  const log = { p_project: pid, p_from: new Date(Date.now() - 365 * 86400_000).toISOString(), p_to: new Date().toISOString(), p_limit: 51 };
  const cases = [
    ['usage_by_day, 1 day', 'usage_by_day', { p_project: pid, p_from: day(0), p_to: day(0) }],
    ['usage_by_day, 14 days', 'usage_by_day', { p_project: pid, p_from: day(13), p_to: day(0) }],
    ['usage_by_day, 30 days', 'usage_by_day', { p_project: pid, p_from: day(29), p_to: day(0) }],
    ['usage_by_day, 366 days', 'usage_by_day', { p_project: pid, p_from: day(365), p_to: day(0) }],
    ['usage_by_day, 366 days, one model', 'usage_by_day', { p_project: pid, p_from: day(365), p_to: day(0), p_model: 'gpt-4o' }],
    ['usage_by_model, 366 days', 'usage_by_model', { p_project: pid, p_from: day(365), p_to: day(0) }],
    ['usage_daily (API only*), 366 days', 'usage_daily', { p_project: pid, p_from: day(365), p_to: day(0) }],
    ['latency_daily, 14 days', 'latency_daily', { p_project: pid, p_from: day(13), p_to: day(0) }],
    ['latency_daily, 366 days', 'latency_daily', { p_project: pid, p_from: day(365), p_to: day(0) }],
    ['plan_usage', 'plan_usage', { p_project: pid }],
    ['usage_alerts_due (all projects)', 'usage_alerts_due', {}],
    ['request_log, first page', 'request_log', log],
    ['request_log, MISS and 5xx', 'request_log', { ...log, p_cache: 'MISS', p_status_class: 5 }],
    ['request_log, page 20% deep', 'request_log', { ...log, p_before_at: mid[0], p_before_id: Number(mid[1]) }],
    ['request_log, export batch (1,000)', 'request_log', { ...log, p_limit: 1000 }],
  ];
  console.log(`3. dashboard RPCs through Supabase REST, one project with ${n(Number(sql(`select count(*) from usage_logs where project_id = '${pid}'`)))} of the ${n(ROWS)} rows, ${RUNS} runs each (targets: under 20 ms; request-log page under 50 ms):`);
  // The gateway closes keep-alive sockets left idle during the seeding: a call on one of those
  // fails before it is sent, and is sent again (as HTTP clients do).
  const rpc = (fn, args) => admin.rpc(fn, args).catch((e) => (/fetch failed/.test(e.message) ? admin.rpc(fn, args) : Promise.reject(e)));
  for (const [label, fn, args] of cases) {
    const got = await rpc(fn, args);
    const [p50, p95] = await time(() => rpc(fn, args));
    console.log(`  ${label.padEnd(38)} p50 ${ms(p50)}  p95 ${ms(p95)}  (${got.length} rows)`);
  }
  console.log('  * per day and model: kept for API clients; the dashboard calls usage_by_day and usage_by_model instead.');
} catch (e) {
  if (!e.done) throw e;
} finally {
  await stack.stop();
  fs.rmSync(dataDir, { recursive: true, force: true });
}
