// Usage reports aggregated in SQL (supabase/migrations/*_usage_reports.sql), read through Supabase
// REST RPC as the dashboard's server side will: what the proxy logged, summed per day and model.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { call, chat, eventually, h, newProject, sql, unique } from './harness.mjs';

describe('usage reports (SQL, via Supabase REST RPC)', () => {
  test('usage_daily sums requests by cache outcome, errors, tokens, cost and savings; plan_usage counts the month', async () => {
    const { key, project } = await newProject({ plan: 'free' });
    const content = unique('report me');
    const miss = await chat(key, content);
    await chat(key, content); // HIT
    await chat(key, `${content}!`); // same words: HIT (exact after normalisation) or HIT-SEMANTIC
    await chat(key, unique('[[fail-429]]')); // upstream error
    await call('/v1/embeddings', { key, body: { model: 'openai/text-embedding-3-small', input: unique('embed') } });
    await eventually(() => sql(`select count(*) from usage_logs where project_id = '${project.id}'`) === '5', { what: 'five usage rows' });

    const today = new Date().toISOString().slice(0, 10);
    const rows = await h.admin.rpc('usage_daily', { p_project: project.id, p_from: today, p_to: today });
    const chatRow = rows.find((r) => r.model === 'openai/gpt-4o-mini');
    const embedRow = rows.find((r) => r.model === 'openai/text-embedding-3-small');
    assert.equal(rows.length, 2, JSON.stringify(rows));
    assert.equal(chatRow.day, today);
    assert.equal(chatRow.requests, 4);
    assert.equal(chatRow.hits + chatRow.semantic_hits, 2);
    assert.equal(chatRow.misses, 2);
    assert.equal(chatRow.errors, 1);
    assert.equal(embedRow.requests, 1);
    assert.equal(Number(chatRow.prompt_tokens), 3 * miss.json.usage.prompt_tokens, 'the miss and both hits');
    assert.ok(Number(chatRow.tokens_saved) === 2 * miss.json.usage.prompt_tokens);
    assert.ok(Math.abs(Number(chatRow.cost_usd) - Number(miss.headers.get('x-watchllm-cost-usd'))) < 1e-9, 'only the miss cost money');
    assert.ok(Number(chatRow.cost_saved_usd) > 0);

    const other = await h.admin.rpc('usage_daily', { p_project: (await newProject()).project.id, p_from: today, p_to: today });
    assert.deepEqual(other, [], 'reports are per project');

    const [plan] = await h.admin.rpc('plan_usage', { p_project: project.id });
    assert.deepEqual({ ...plan, percent_used: Number(plan.percent_used) }, { plan: 'free', monthly_requests: 10000, requests_this_month: 5, percent_used: 0.05 });
  });

  test('the anon key cannot call the reports', async () => {
    const r = await fetch(`${h.stack.supabaseUrl}/rest/v1/rpc/usage_daily`, {
      method: 'POST',
      headers: { apikey: h.stack.keys.anon, authorization: `Bearer ${h.stack.keys.anon}`, 'content-type': 'application/json' },
      body: JSON.stringify({ p_project: '00000000-0000-0000-0000-000000000000', p_from: '2026-01-01', p_to: '2026-12-31' }),
    });
    assert.ok(r.status === 401 || r.status === 403 || r.status === 404, `status ${r.status}`);
  });
});
