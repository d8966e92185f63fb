// The semantic cache at scale: 100,000 entries in one project (seeded straight into Redis by
// `semantic-seed`, in the Worker's own format). A lookup must stay the same few Redis commands of
// bounded size, and still find the right entry.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { call, h, newProject, redis } from './harness.mjs';
import { ROOT } from '../../tools/stack.mjs';

const ENTRIES = Number(process.env.WATCHLLM_SCALE_ENTRIES || 100000);
const commandCalls = () => {
  const stats = redis('INFO', 'commandstats');
  return (cmd) => Number((new RegExp(`cmdstat_${cmd}:calls=(\\d+)`).exec(stats) || [])[1] || 0);
};

describe('semantic cache at scale', () => {
  test(`${ENTRIES} entries in one project: constant Redis work per lookup, right answer`, async () => {
    const { key, project } = await newProject();
    const seedBin = path.join(ROOT, 'target/release/semantic-seed');
    const seeded = spawnSync('bash', ['-c', `set -o pipefail; "${seedBin}" ${project.id} ${ENTRIES} | redis-cli -p ${h.stack.ports.redis} --pipe >/dev/null`], { encoding: 'utf8', maxBuffer: 1 << 20 });
    assert.equal(seeded.status, 0, seeded.stderr);
    const summary = JSON.parse(seeded.stderr.trim().split('\n').pop());
    assert.equal(summary.entries, ENTRIES);
    assert.ok(summary.max_bucket <= summary.bucket_cap);
    assert.equal(Number(redis('EVAL', `local n = 0 for _, k in ipairs(redis.call('KEYS', ARGV[1])) do n = n + 1 end return n`, '0', `wl:c2:${project.id}:chat:*`)), ENTRIES);

    const ask = (content) => call('/v1/chat/completions', { key, body: { model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content }] } });
    const before = commandCalls();
    const t0 = performance.now();
    const hit = await ask(`${summary.samples[3].toLowerCase()}?`);
    const hitMs = performance.now() - t0;
    assert.equal(hit.headers.get('x-watchllm-cache'), 'HIT-SEMANTIC', hit.text);
    assert.equal(hit.json.choices[0].message.content, 'Seeded answer 3');
    const t1 = performance.now();
    const miss = await ask('Explain the rules of cricket to a visitor from Mars');
    const missMs = performance.now() - t1;
    assert.equal(miss.headers.get('x-watchllm-cache'), 'MISS');
    const after = commandCalls();
    // Per request: one pipeline with GET + the query's buckets (one for the in-Worker embedder);
    // the semantic hit adds one GET.
    assert.equal(after('hgetall') - before('hgetall'), 2 * summary.buckets_per_lookup);
    assert.equal(after('get') - before('get'), 3);
    console.log(`    ${ENTRIES} entries, ${summary.buckets} buckets (cap ${summary.bucket_cap}): semantic hit ${hitMs.toFixed(1)} ms, miss ${missMs.toFixed(1)} ms (client-observed)`);
  });
});
