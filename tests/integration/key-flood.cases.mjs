// Key floods (#12): requests with made-up keys must not reach Supabase in bulk. Supabase's key
// lookups are counted at the Supabase-style gateway; client addresses are CF-Connecting-IP, as
// Cloudflare's edge sets it.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { call, h, newProject, unique } from './harness.mjs';
import { newApiKey } from '../../tools/lib/crypto.mjs';
import { startWorkerd } from '../../tools/stack.mjs';

const LIMIT = 30; // AUTH_FAILURES_PER_MINUTE's default
const lookups = async () => (await (await fetch(`${h.stack.supabaseUrl}/__counts`)).json()).api_key_lookup ?? 0;
const from = (address, key, content = 'hello', base = undefined) =>
  call('/v1/chat/completions', { key, base, headers: { 'cf-connecting-ip': address }, body: { model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content }] } });
let octet = 0;
/** A documentation address (RFC 5737) no other test uses. */
const address = () => `198.51.100.${++octet}`;

describe('key floods', () => {
  test('made-up keys from one address: Supabase sees at most the limit, the rest get 429 (never 200)', async () => {
    const flooder = address();
    // Counts are per minute, and the checks at the end need the flood's: start it early in one.
    const intoMinute = Date.now() % 60000;
    if (intoMinute > 40000) await new Promise((r) => setTimeout(r, 60000 - intoMinute + 200));
    const before = await lookups();
    const startMinute = Math.floor(Date.now() / 60000);
    const statuses = {};
    let refusal;
    let refusalMs;
    const queue = Array.from({ length: 200 }, () => newApiKey().key);
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (queue.length) {
          const t = performance.now();
          const r = await from(flooder, queue.pop());
          statuses[r.status] = (statuses[r.status] || 0) + 1;
          if (r.status === 429) [refusal, refusalMs] = [r, performance.now() - t];
        }
      }),
    );
    const made = (await lookups()) - before;
    // Counts are per minute: a flood that spans a minute's end gets a second allowance.
    const windows = Math.floor(Date.now() / 60000) - startMinute + 1;
    console.log(`    200 made-up keys, 16 at a time: ${made} Supabase lookups (limit ${LIMIT} a minute, ${windows} minute(s)), statuses ${JSON.stringify(statuses)}`);
    assert.deepEqual(Object.keys(statuses).sort(), ['401', '429']);
    // Only failures are counted (after Supabase answers), so requests in flight when the count
    // reaches the limit still go through: at most 16 more than the limit per minute.
    assert.ok(made <= (LIMIT + 16) * windows, `${made} lookups`);
    assert.ok(made >= Math.min(LIMIT, 16), 'the limit is not lower than asked');
    assert.equal(statuses[401], made, 'every lookup was a 401, every 401 a lookup');
    assert.equal(refusal.json.error.code, 'too_many_failed_authentications');
    assert.equal(refusal.json.error.type, 'requests');
    assert.ok(refusalMs >= 450, `a refusal waits before it answers (${refusalMs} ms)`);
    const retry = Number(refusal.headers.get('retry-after'));
    assert.ok(retry >= 1 && retry <= 60, `Retry-After ${retry}`);

    // Another address is not affected, with a real key or a wrong one.
    const { key } = await newProject();
    const bystander = address();
    assert.equal((await from(bystander, key, unique('bystander'))).status, 200);
    assert.equal((await from(bystander, newApiKey().key)).status, 401);
    // A real key the proxy already trusts keeps working from the flooding address; a key it has not
    // seen yet waits for the minute to end, like the made-up ones.
    assert.equal((await from(flooder, key, unique('known key'))).status, 200);
    const fresh = await newProject();
    assert.equal((await from(flooder, fresh.key)).status, 429);
  });

  test('the same unknown key again is answered from memory; once created, it works within seconds', async () => {
    const client = address();
    const k = newApiKey();
    const before = await lookups();
    for (let i = 0; i < 10; i++) assert.equal((await from(client, k.key)).status, 401);
    assert.equal((await lookups()) - before, 1, 'one lookup for ten tries');
    const { project } = await newProject();
    await h.admin.insert('api_keys', { project_id: project.id, key_hash: k.hash, key_prefix: k.prefix, kind: 'live', name: null });
    const created = Date.now();
    let r;
    do {
      await new Promise((res) => setTimeout(res, 200));
      r = await from(client, k.key, unique('new key'));
    } while (r.status === 401 && Date.now() - created < 6000);
    assert.equal(r.status, 200, r.text);
    console.log(`    a key created after it was refused worked ${Date.now() - created} ms later`);
  });

  test('successful first authentications do not count as failures', async () => {
    const client = address();
    const { project } = await newProject();
    const { createApiKey } = await import('../../tools/lib/projects.mjs');
    const keys = [];
    for (let i = 0; i < LIMIT + 5; i++) keys.push((await createApiKey(h.admin, project.id)).key);
    for (const key of keys) {
      const r = await from(client, key, unique('many keys'));
      assert.equal(r.status, 200, r.text);
    }
  });

  test('a burst of first requests with a new valid key is never refused, and makes one key lookup', async () => {
    // In plain workerd, one isolate, as the soak runs: under a burst, wrangler dev's own proxy now
    // and then answers 503 "Your worker restarted mid-request" when its connection to the Worker
    // drops, which is not the Worker's doing.
    const worker = await startWorkerd(h.stack, { port: 0 });
    try {
      const client = address();
      const { key } = await newProject();
      const before = await lookups();
      const statuses = await Promise.all(
        Array.from({ length: 2 * LIMIT }, (_, i) => from(client, key, unique(`burst ${i}`), worker.url).then((r) => r.status)),
      );
      assert.deepEqual([...new Set(statuses)], [200], JSON.stringify(statuses));
      assert.equal((await lookups()) - before, 1, `one Supabase lookup for ${2 * LIMIT} requests with one new key`);
    } finally {
      await worker.dispose();
    }
  });
});
