// Usage rollups, monthly partitions and retention (supabase/migrations/*_usage_rollups.sql):
// concurrent log batches through Supabase REST (as the proxy writes them) leave rollups equal to a
// full recount; the migration moves existing rows into partitions and builds their rollups; the
// cron creates partitions ahead and retention drops whole partitions past the longest plan
// retention, nothing else, while the request log hides what a plan does not keep.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import pg from 'pg';
import { h, newProject, sql } from './harness.mjs';
import { applyMigrations } from '../../tools/stack.mjs';

const NIL = '00000000-0000-0000-0000-000000000000';
const ROLLUP_MIGRATION = '20261130100002';

/** A project's rollup rows (per key, and per model with '*' for all models), and the same figures
 * recounted from usage_logs, as text. */
const rollups = (run, pid) => run(`select day, model, api_key_id, cache_status, sum(requests), sum(errors), sum(prompt_tokens), sum(completion_tokens), sum(tokens_saved), sum(cost_usd), sum(cost_saved_usd)
  from usage_rollups where project_id = '${pid}' group by 1, 2, 3, 4 order by 1, 2, 3, 4`);
const recount = (run, pid) => run(`select (created_at at time zone 'utc')::date, model, coalesce(api_key_id, '${NIL}'), cache_status, count(*),
    count(*) filter (where status_code >= 400), sum(prompt_tokens), sum(completion_tokens), sum(tokens_saved), coalesce(sum(cost_usd), 0), sum(cost_saved_usd)
  from usage_logs where project_id = '${pid}' group by 1, 2, 3, 4 order by 1, 2, 3, 4`);
const byModel = (run, pid) => run(`select day, model, requests, hits, semantic_hits, misses, errors, prompt_tokens, tokens_saved, cost_usd, latency_hit, latency_semantic, latency_miss
  from usage_rollups_by_model where project_id = '${pid}' order by 1, 2`);
const byModelRecount = (run, pid) => run(`select day, m.model, count(*), count(*) filter (where cache_status = 'HIT'), count(*) filter (where cache_status = 'HIT-SEMANTIC'),
    count(*) filter (where cache_status = 'MISS'), count(*) filter (where status_code >= 400), sum(prompt_tokens), sum(tokens_saved), coalesce(sum(cost_usd), 0),
    latency_hist(latency_bucket(latency_ms)) filter (where cache_status = 'HIT'), latency_hist(latency_bucket(latency_ms)) filter (where cache_status = 'HIT-SEMANTIC'),
    latency_hist(latency_bucket(latency_ms)) filter (where cache_status = 'MISS')
  from (select (created_at at time zone 'utc')::date as day, * from usage_logs where project_id = '${pid}') u
  cross join lateral (values (u.model), ('*')) as m (model) group by 1, 2 order by 1, 2`);

/** Log rows as the proxy sends them, with an explicit time. */
function batch(pid, keyId, n, seed) {
  return Array.from({ length: n }, (_, i) => {
    const k = seed * 1000 + i;
    return {
      request_id: `rollup-${k}`,
      project_id: pid,
      api_key_id: Math.floor(k / 5) % 3 ? keyId : null,
      key_kind: k % 13 === 0 ? 'test' : 'live',
      // Refused requests (rate limit, quota) are logged but not counted against the plan.
      billable: k % 10 !== 0,
      endpoint: 'chat.completions',
      model: ['openai/gpt-4o-mini', 'claude-3-haiku'][Math.floor(k / 7) % 2],
      provider: 'openrouter',
      cache_status: ['HIT', 'HIT-SEMANTIC', 'MISS'][k % 3],
      status_code: k % 11 === 0 ? 502 : 200,
      prompt_tokens: k % 17,
      completion_tokens: k % 23,
      cost_usd: (k % 5) / 10000,
      cost_saved_usd: (k % 7) / 10000,
      tokens_saved: k % 4,
      latency_ms: (k * 37) % 5000,
      // A quarter yesterday (PostgREST wants the same keys in every object of a batch).
      created_at: new Date(Date.now() - (k % 4 === 1 ? 86400_000 : 0)).toISOString(),
    };
  });
}

const rest = (path, init) => fetch(`${h.stack.supabaseUrl}/rest/v1/${path}`, { ...init, headers: { apikey: h.stack.keys.service, authorization: `Bearer ${h.stack.keys.service}`, 'content-type': 'application/json', prefer: 'return=minimal', ...init.headers } });

describe('usage rollups, partitions and retention', () => {
  test('concurrent log batches for the same project and days leave rollups equal to a full recount', async () => {
    const { project, keyRow } = await newProject({ plan: 'pro' });
    const batches = Array.from({ length: 24 }, (_, i) => batch(project.id, keyRow.id, 100, i));
    const results = await Promise.all(batches.map((b) => rest('usage_logs', { method: 'POST', body: JSON.stringify(b) })));
    assert.deepEqual(results.map((r) => r.status), batches.map(() => 201));
    assert.equal(sql(`select count(*) from usage_logs where project_id = '${project.id}'`), '2400');
    const rolled = rollups(sql, project.id);
    assert.equal(rolled.split('\n').length, 24, 'two days x two models x two keys x three outcomes');
    assert.equal(rolled, recount(sql, project.id));
    assert.equal(byModel(sql, project.id), byModelRecount(sql, project.id), 'per model (and all models), latency histograms included');
    const counted = `project_id = '${project.id}' and billable and key_kind = 'live'`;
    assert.equal(sql(`select sum(requests) from usage_monthly where project_id = '${project.id}'`), sql(`select count(*) from usage_logs where ${counted}`));
    const [plan] = await h.admin.rpc('plan_usage', { p_project: project.id });
    const thisMonth = sql(`select count(*) from usage_logs where ${counted} and created_at >= date_trunc('month', now() at time zone 'utc') at time zone 'utc'`);
    assert.equal(String(plan.requests_this_month), thisMonth, 'plan_usage: the live keys’ billable requests of the UTC month, one row read');
  });

  test('a batch whose transaction is still open does not hold up another batch for the same rollup rows', async () => {
    const { project, keyRow } = await newProject({ plan: 'pro' });
    const open = new pg.Client({ host: '127.0.0.1', port: h.stack.ports.postgres, user: 'postgres', database: 'postgres' });
    await open.connect();
    try {
      // One batch inserted and not committed: it holds its rollup rows (a slot's) until it ends.
      await open.query('begin');
      const first = batch(project.id, keyRow.id, 60, 900);
      const columns = 'request_id, project_id, api_key_id, key_kind, billable, endpoint, model, provider, cache_status, status_code, prompt_tokens, completion_tokens, cost_usd, cost_saved_usd, tokens_saved, latency_ms, created_at';
      await open.query(`insert into usage_logs (${columns}) select ${columns} from json_populate_recordset(null::usage_logs, $1)`, [JSON.stringify(first)]);
      // The same project, days, models, keys and outcomes through REST, as the proxy sends them:
      // answered while the first is open (before slots, it waited for the first to commit).
      const second = rest('usage_logs', { method: 'POST', body: JSON.stringify(batch(project.id, keyRow.id, 60, 900).map((r) => ({ ...r, request_id: `${r.request_id}-b` }))) });
      const outcome = await Promise.race([second.then((r) => r.status), new Promise((resolve) => setTimeout(resolve, 10_000, 'still waiting after 10 s'))]);
      assert.equal(outcome, 201);
      await open.query('commit');
    } finally {
      await open.end();
    }
    assert.equal(sql(`select count(*) from usage_logs where project_id = '${project.id}'`), '120');
    assert.ok(Number(sql(`select count(distinct slot) from usage_rollups_model where project_id = '${project.id}'`)) >= 2, 'the two batches wrote different slots');
    assert.equal(rollups(sql, project.id), recount(sql, project.id));
    assert.equal(byModel(sql, project.id), byModelRecount(sql, project.id));
    const daily = async () => (await h.admin.rpc('usage_daily', { p_project: project.id, p_from: '2000-01-01', p_to: '2100-01-01' })).map((r) => `${r.day} ${r.model} ${r.requests} ${r.hits} ${r.semantic_hits} ${r.misses} ${r.errors} ${r.prompt_tokens} ${Number(r.cost_usd).toFixed(8)}`).join('\n');
    const dailyRecount = sql(`select (created_at at time zone 'utc')::date, model, count(*), count(*) filter (where cache_status = 'HIT'), count(*) filter (where cache_status = 'HIT-SEMANTIC'),
        count(*) filter (where cache_status = 'MISS'), count(*) filter (where status_code >= 400), sum(prompt_tokens), coalesce(sum(cost_usd), 0)
      from usage_logs where project_id = '${project.id}' group by 1, 2 order by 1, 2`).replaceAll('|', ' ');
    assert.equal(await daily(), dailyRecount, 'usage_daily adds the slots up');

    // The cron folds ended days' slots into one row each, and the figures stay the same.
    const tomorrow = new Date(Date.now() + 86400_000).toISOString();
    sql(`select usage_upkeep('${tomorrow}')`);
    assert.equal(sql(`select count(*) from usage_rollups_model where project_id = '${project.id}' and slot <> 0`), '0', 'every slot folded into slot 0');
    assert.equal(sql(`select count(*) from usage_monthly where project_id = '${project.id}' and slot <> 0 and month < date_trunc('month', now() at time zone 'utc' + interval '1 day')`), '0');
    assert.equal(rollups(sql, project.id), recount(sql, project.id), 'per key, after folding');
    assert.equal(byModel(sql, project.id), byModelRecount(sql, project.id), 'per model, histograms included, after folding');
    assert.equal(await daily(), dailyRecount, 'usage_daily after folding');
    assert.equal(sql(`select count(*) from usage_rollups_model where project_id = '${project.id}' and percentiles is null`), '0', 'every day closed');
  });

  test('the migration moves existing rows into monthly partitions and builds their rollups', async () => {
    const db = `migration_test_${process.pid}`;
    const run = (q, database = db) => {
      const r = spawnSync('psql', ['-h', '127.0.0.1', '-p', String(h.stack.ports.postgres), '-U', 'postgres', '-d', database, '-v', 'ON_ERROR_STOP=1', '-qAtX', '-c', q], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(r.stderr);
      return r.stdout.trim();
    };
    run(`drop database if exists ${db}`, 'postgres');
    run(`create database ${db}`, 'postgres');
    try {
      applyMigrations(run, { before: ROLLUP_MIGRATION });
      assert.equal(run(`select relkind from pg_class where relname = 'usage_logs'`), 'r', 'a plain table before');
      const pid = run(`insert into projects (name) values ('history') returning id`);
      run(`insert into usage_logs (request_id, project_id, endpoint, model, cache_status, status_code, prompt_tokens, latency_ms, cost_usd, created_at, key_kind, billable)
        select 'h' || i, '${pid}', 'chat.completions', 'm' || (i % 3), (array['HIT', 'HIT-SEMANTIC', 'MISS'])[i % 3 + 1], case when i % 9 = 0 then 500 else 200 end,
          i % 13, i % 700, 0.0001, now() - make_interval(days => i % 75, mins => i), 'live', i % 4 <> 0
        from generate_series(1, 3000) i`);
      const ids = run(`select min(id) || '-' || max(id) || '-' || count(*) from usage_logs`);

      applyMigrations(run);
      assert.equal(run(`select relkind from pg_class where relname = 'usage_logs'`), 'p', 'partitioned after');
      assert.equal(run(`select to_regclass('usage_logs_unpartitioned') is null`), 't');
      assert.equal(run(`select min(id) || '-' || max(id) || '-' || count(*) from usage_logs`), ids, 'every row kept, ids too');
      const months = run(`select count(distinct date_trunc('month', created_at at time zone 'utc')) from usage_logs`);
      assert.equal(run(`select count(distinct tableoid) from usage_logs`), months, 'rows in their month’s partition');
      assert.equal(rollups(run, pid), recount(run, pid), 'rollups built from the existing rows');
      assert.equal(byModel(run, pid), byModelRecount(run, pid));
      assert.equal(run(`select sum(requests) from usage_monthly where project_id = '${pid}'`), '2250', 'the billable rows, kept by the move');
      run(`insert into usage_logs (request_id, project_id, endpoint, cache_status, status_code, key_kind, billable) values ('after', '${pid}', 'chat.completions', 'MISS', 200, 'live', true)`);
      assert.equal(run(`select sum(requests) from usage_monthly where project_id = '${pid}'`), '2251', 'new rows roll up too');
      assert.ok(Number(run(`select max(id) from usage_logs`)) > Number(ids.split('-')[1]), 'ids continue after the old ones');
    } finally {
      run(`drop database if exists ${db}`, 'postgres');
    }
  });

  test('retention drops whole partitions past the longest plan retention and nothing else; the request log keeps to each plan', async () => {
    const pro = (await newProject({ plan: 'pro' })).project;
    const free = (await newProject({ plan: 'free' })).project;
    const longest = Number(sql(`select max(retention_days) from plans`));
    sql(`select ensure_usage_partitions((now() - interval '16 months')::date, now()::date)`);
    const ages = ['16 months', '15 months', '13 months', '12 months', '11 months', '40 days', '5 days'];
    for (const [i, age] of ages.entries()) {
      for (const p of [pro, free]) sql(`insert into usage_logs (request_id, project_id, endpoint, cache_status, status_code, created_at) values ('ret-${i}-${p.id}', '${p.id}', 'chat.completions', 'MISS', 200, now() - interval '${age}')`);
    }
    const partitions = () => sql(`select c.relname || '|' || (select count(*) from usage_logs u where u.tableoid = c.oid) from pg_inherits i join pg_class c on c.oid = i.inhrelid where i.inhparent = 'usage_logs'::regclass order by 1`).split('\n');
    const before = partitions();
    // Expected: a month goes when it ends on or before today minus the longest retention.
    const cutoff = sql(`select (now() at time zone 'utc')::date - ${longest}`);
    const expectedGone = before.map((l) => l.split('|')[0]).filter((name) => {
      const [y, m] = name.slice(11).split('_').map(Number);
      return new Date(Date.UTC(y, m, 1)).toISOString().slice(0, 10) <= cutoff;
    });
    assert.ok(expectedGone.length >= 2, `old months to drop: ${expectedGone}`);

    const [done] = await h.admin.rpc('usage_upkeep', {});
    assert.deepEqual([...done.dropped].sort(), expectedGone.sort());
    const after = partitions();
    assert.deepEqual(after, before.filter((l) => !expectedGone.includes(l.split('|')[0])), 'every other partition untouched, row counts included');
    for (const name of expectedGone) assert.equal(sql(`select to_regclass('${name}') is null`), 't');
    assert.equal(sql(`select count(*) from usage_rollups_model where day < (select min(to_date(substr(c.relname, 12), 'YYYY_MM')) from pg_inherits i join pg_class c on c.oid = i.inhrelid where i.inhparent = 'usage_logs'::regclass)`), '0', 'their rollups went with them');

    // Within what is kept, each plan sees its own retention: Free 30 days, Pro a year.
    const log = async (p) => (await h.admin.rpc('request_log', { p_project: p.id, p_from: new Date(Date.now() - 366 * 86400_000).toISOString(), p_to: new Date().toISOString(), p_limit: 100 })).map((r) => r.request_id.split('-')[1]);
    assert.deepEqual(await log(free), ['6'], 'Free: only the 5-day-old request');
    assert.deepEqual(await log(pro), ['6', '5', '4'], 'Pro: the last year');
  });

  test('the cron creates the coming months’ partitions and stores the percentiles of ended days', async () => {
    const ahead = sql(`select usage_partition_name((date_trunc('month', now() at time zone 'utc') + interval '2 months')::date)`);
    sql(`drop table if exists ${ahead}`);
    assert.equal((await fetch(`${h.stack.dashboardUrl}/__scheduled?cron=*/15+*+*+*+*`)).status, 200);
    assert.equal(sql(`select to_regclass('${ahead}') is not null`), 't');
    const ended = `day < (now() at time zone 'utc')::date`;
    assert.equal(sql(`select count(*) from usage_rollups_model where percentiles is null and ${ended}`), '0', 'every ended day closed');
    const stored = sql(`select count(*) from usage_rollups_model where percentiles[5:6] = hist_p50_p95(latency_miss, misses) and ${ended}`);
    assert.ok(Number(stored) > 0, 'yesterday’s rows from the batch test');
  });
});
