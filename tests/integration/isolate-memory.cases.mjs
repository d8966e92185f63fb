// What an isolate keeps in memory (L1 entries, leases of the request budgets): a hot prompt is
// answered without a round trip to Redis, entries never outlive their TTL, and the per-minute
// limit holds within its stated bound across two isolates (src/budget.rs).
import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import { chat, eventually, newProject, redis, secondIsolate, sql, unique } from './harness.mjs';

const cacheOf = (r) => r.headers.get('x-watchllm-cache');
const scriptCalls = () => {
  const stats = redis('INFO', 'commandstats');
  const calls = (cmd) => Number((new RegExp(`cmdstat_${cmd}:calls=(\\d+)`).exec(stats) || [])[1] || 0);
  return calls('evalsha') + calls('eval');
};

describe('isolate memory', () => {
  let other;
  after(async () => other?.dispose());

  test('a hot prompt is answered from memory: no Redis round trip for most hits', async () => {
    const { key } = await newProject({ plan: 'pro' });
    const prompt = unique('hot');
    await chat(key, prompt);
    await eventually(async () => cacheOf(await chat(key, prompt)) === 'HIT', { what: 'stored' });
    const before = scriptCalls();
    const n = 60;
    for (let i = 0; i < n; i++) assert.equal(cacheOf(await chat(key, prompt)), 'HIT');
    const trips = scriptCalls() - before;
    // Leases of 100 requests (Pro: 3000 a minute) and state confirmations every half second at
    // most: a handful of background syncs, not one per request.
    console.log(`    ${n} hits of one prompt: ${trips} Redis round trips`);
    assert.ok(trips <= 6, `${trips} round trips for ${n} hits`);
  });

  test('an entry is never served past its TTL, from memory or Redis', async () => {
    const { key, project } = await newProject();
    sql(`update projects set cache_ttl_secs = 1 where id = '${project.id}'`);
    await new Promise((r) => setTimeout(r, 2100)); // the key's record is trusted for 2 s
    const prompt = unique('short ttl');
    await chat(key, prompt);
    await eventually(async () => cacheOf(await chat(key, prompt)) === 'HIT', { what: 'stored' });
    await new Promise((r) => setTimeout(r, 1100));
    assert.equal(cacheOf(await chat(key, prompt)), 'MISS');
  });

  test('the per-minute limit holds across two isolates within one lease', async () => {
    // Within one minute window: start early in a minute.
    const intoMinute = Date.now() % 60000;
    if (intoMinute > 40000) await new Promise((r) => setTimeout(r, 60000 - intoMinute + 200));
    other = await secondIsolate();
    const limit = 20;
    const lease = Math.min(100, Math.max(1, Math.floor(limit / 10)));
    sql(`insert into plans (name, requests_per_minute, monthly_requests) values ('twenty-a-minute', ${limit}, 1000000) on conflict do nothing`);
    const { key } = await newProject({ plan: 'twenty-a-minute' });
    const prompt = unique('limited hot');
    const body = { model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: prompt }] };
    let admitted = 0;
    for (let i = 0; i < 2 * limit; i++) {
      const r = i % 2 ? await other.send('/v1/chat/completions', { key, body }) : await chat(key, prompt);
      if (r.status === 200) admitted += 1;
      else assert.equal(r.status, 429, r.text);
    }
    console.log(`    two isolates, limit ${limit} a minute, lease ${lease}: ${admitted} of ${2 * limit} admitted`);
    assert.ok(admitted >= limit && admitted <= limit + lease, `${admitted} admitted, limit ${limit}, lease ${lease}`);
  });
});
