// The semantic cache through the Worker: the exact key is the prompt as sent; retypings hit
// semantically with the similarity reported (1.0 when they normalise alike), and guards, scopes
// and controls prevent wrong hits. One served retyping and one refused near miss of every kind
// come from data/eval/semantic_pairs.tsv.
// Each test has its own project and fixed prompts, so the (deterministic) LSH buckets are the
// same on every run: no test depends on chance.
import { describe, test, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { ROOT } from '../../tools/stack.mjs';
import { addProviderKey, call, chat, eventually, h, newProject, sql, unique, upstreamRequests } from './harness.mjs';

const cacheOf = (r) => r.headers.get('x-watchllm-cache');
const ask = (key, messages, headers = {}) => call('/v1/chat/completions', { key, headers, body: { model: 'openai/gpt-4o-mini', messages } });
const user = (content) => [{ role: 'user', content }];
/** Asks until the first answer is stored (the store runs after the response, in waitUntil). */
const primed = async (key, messages) => {
  const first = await ask(key, messages);
  assert.equal(first.status, 200, first.text);
  await eventually(async () => cacheOf(await ask(key, messages)) === 'HIT', { what: 'entry stored' });
  return first;
};

describe('semantic cache', () => {
  let key;
  let project;
  beforeEach(async () => ({ key, project } = await newProject()));

  test('the seed\'s normalisation examples are HIT-SEMANTIC with similarity 1.0', async () => {
    for (const [stored, asked] of [
      [`What's 17 times 3?`, `  what is 17 × 3 ?`],
      ['Please explain this', 'explain this'],
      ['How do I calculate?', 'how to calculate?'],
    ]) {
      const first = await primed(key, user(stored));
      const r = await ask(key, user(asked));
      assert.equal(cacheOf(r), 'HIT-SEMANTIC', `${stored} / ${asked}: ${r.text}`);
      assert.equal(r.headers.get('x-watchllm-cache-similarity'), '1.0000');
      assert.equal(r.json.choices[0].message.content, first.json.choices[0].message.content);
    }
  });

  test('the exact key is the prompt as sent: a literal in another case is a MISS', async () => {
    await primed(key, user(`Reverse the string 'AbC'`));
    const before = (await upstreamRequests(`reverse the string 'abc'`)).length;
    const r = await ask(key, user(`reverse the string 'abc'`));
    assert.equal(cacheOf(r), 'MISS');
    assert.equal((await upstreamRequests(`reverse the string 'abc'`)).length, before + 1, 'it went upstream');
  });

  test('a prompt over 1 KB is cached exactly, not compared: its retyping goes upstream', async () => {
    // Comparing costs 0.7-1 µs a byte before the Redis round trip (src/semantic.rs,
    // MAX_COMPARED_BYTES); a long message is cached by its exact key alone.
    const doc = `Summarise this incident report ${unique()}. `.padEnd(1100, 'The database failed over at night and the queue drained slowly afterwards. ');
    const first = await primed(key, user(doc));
    const again = await ask(key, user(doc));
    assert.equal(cacheOf(again), 'HIT', 'the same long prompt is an exact HIT');
    assert.equal(again.json.choices[0].message.content, first.json.choices[0].message.content);
    const retyped = `Please ${doc.toLowerCase()}`;
    const before = (await upstreamRequests(retyped.slice(0, 60))).length;
    const r = await ask(key, user(retyped));
    assert.equal(cacheOf(r), 'MISS', r.text);
    assert.equal((await upstreamRequests(retyped.slice(0, 60))).length, before + 1, 'it went upstream');
    // The same retyping under the limit is served from the cache.
    const short = `Summarise incident report ${unique()}, the failover at night`;
    await primed(key, user(short));
    assert.equal(cacheOf(await ask(key, user(`Please ${short.toLowerCase()}`))), 'HIT-SEMANTIC');
  });

  test('a reworded prompt is a HIT-SEMANTIC with its similarity, age, cost and tokens saved', async () => {
    const before = (await upstreamRequests('theory of relativity')).length;
    const first = await primed(key, user('Explain the theory of relativity in simple terms'));
    const r = await ask(key, user('In simple terms, explain the theory of relativity'));
    assert.equal(cacheOf(r), 'HIT-SEMANTIC', r.text);
    const sim = Number(r.headers.get('x-watchllm-cache-similarity'));
    assert.ok(sim >= 0.95 && sim < 1, `similarity ${sim}`);
    assert.equal(r.headers.get('x-watchllm-cost-usd'), '0');
    assert.equal(Number(r.headers.get('x-watchllm-tokens-saved')), first.json.usage.prompt_tokens);
    assert.ok(Number(r.headers.get('x-watchllm-cache-age')) >= 0);
    assert.equal(r.json.choices[0].message.content, first.json.choices[0].message.content);
    assert.equal((await upstreamRequests('theory of relativity')).length, before + 1, 'only the first request reached the provider');
    const row = await eventually(() => sql(`select cache_status || '|' || similarity from usage_logs where project_id = '${project.id}' and cache_status = 'HIT-SEMANTIC' limit 1`), { what: 'semantic usage row' });
    assert.ok(row.startsWith('HIT-SEMANTIC|0.9'));
  });

  test('streamed semantic hits replay a valid stream', async () => {
    const first = await primed(key, user('Write a haiku about autumn leaves'));
    const r = await call('/v1/chat/completions', { key, body: { model: 'openai/gpt-4o-mini', stream: true, messages: user('write me a haiku about autumn leaves') } });
    assert.equal(cacheOf(r), 'HIT-SEMANTIC');
    assert.ok(r.text.includes(JSON.stringify(first.json.choices[0].message.content).slice(1, -1)));
    assert.ok(r.text.trim().endsWith('data: [DONE]'));
  });

  test('guards: different numbers, negations or names never match, whatever the threshold', async () => {
    await primed(key, user('what is 5 × 3'));
    const loose = { 'x-watchllm-similarity-threshold': '0.5' };
    assert.equal(cacheOf(await ask(key, user(`what is 5 × 4`), loose)), 'MISS');
    await primed(key, user(`is coffee healthy`));
    assert.equal(cacheOf(await ask(key, user(`is coffee not healthy`), loose)), 'MISS');
    await primed(key, user(`Plan a trip from Paris to Rome`));
    assert.equal(cacheOf(await ask(key, user(`Plan a trip from Paris to Berlin`), loose)), 'MISS');
  });

  test('multi-turn: the system prompt and earlier turns must match exactly', async () => {
    const history = [{ role: 'system', content: 'You are terse.' }, { role: 'user', content: 'Hi' }, { role: 'assistant', content: 'Hello.' }];
    await primed(key, [...history, { role: 'user', content: `Explain the theory of relativity in simple terms` }]);
    const same = await ask(key, [...history, { role: 'user', content: `In simple terms, explain the theory of relativity` }]);
    assert.equal(cacheOf(same), 'HIT-SEMANTIC');
    const otherSystem = [{ role: 'system', content: 'You are verbose.' }, ...history.slice(1)];
    assert.equal(cacheOf(await ask(key, [...otherSystem, { role: 'user', content: `In simple terms, explain the theory of relativity` }])), 'MISS');
    const otherTurn = [history[0], { role: 'user', content: 'Hey' }, history[2]];
    assert.equal(cacheOf(await ask(key, [...otherTurn, { role: 'user', content: `In simple terms, explain the theory of relativity` }])), 'MISS');
  });

  test('per-request threshold, bypass and validation of the header', async () => {
    // The same words with a phrase moved: similarity 0.947. (A MISS stores its own answer, so the
    // looser threshold is tried on a second pair.)
    await primed(key, user(`Cook rice quickly`));
    const near = user(`Quickly cook rice`);
    assert.equal(cacheOf(await ask(key, near)), 'MISS', 'below the default 0.95');
    await primed(key, user(`Cook pasta quickly`));
    const loose = await ask(key, user(`Quickly cook pasta`), { 'x-watchllm-similarity-threshold': '0.9' });
    assert.equal(cacheOf(loose), 'HIT-SEMANTIC');
    assert.ok(Number(loose.headers.get('x-watchllm-cache-similarity')) < 0.95);
    await primed(key, user(`What are the best things to do in Hong Kong`));
    const moved = user(`In Hong Kong, what are the best things to do`);
    assert.equal(cacheOf(await ask(key, moved, { 'x-watchllm-similarity-threshold': '0.99' })), 'MISS', 'a stricter threshold');
    assert.equal(cacheOf(await ask(key, user(`What are the best things to do in Hong Kong today`), { 'x-watchllm-similarity-threshold': '0.01' })), 'MISS', 'another word: no threshold lets it through');
    const bypass = await ask(key, moved, { 'x-watchllm-bypass-cache': 'true', 'x-watchllm-similarity-threshold': '0.5' });
    assert.equal(cacheOf(bypass), 'MISS');
    const bad = await ask(key, near, { 'x-watchllm-similarity-threshold': '1.5' });
    assert.equal(bad.status, 400);
    assert.equal(bad.json.error.param, 'X-WatchLLM-Similarity-Threshold');
  });

  test('one served retyping and one refused near miss of every kind (data/eval/semantic_pairs.tsv)', async () => {
    const lines = fs.readFileSync(path.join(ROOT, 'data/eval/semantic_pairs.tsv'), 'utf8').trim().split('\n').slice(1);
    const firstOfKind = new Map();
    for (const l of lines) {
      const [kind, label, stored, asked] = l.split('\t');
      if (!firstOfKind.has(kind)) firstOfKind.set(kind, { label, stored, asked });
    }
    assert.ok(firstOfKind.size >= 20, `${firstOfKind.size} kinds`);
    const results = await Promise.all(
      [...firstOfKind].map(async ([kind, { label, stored, asked }]) => {
        const p = await newProject();
        await primed(p.key, user(stored));
        const r = await ask(p.key, user(asked));
        return { kind, label, stored, asked, cache: cacheOf(r) };
      }),
    );
    const wrong = results.filter((r) => (r.cache !== 'MISS') !== (r.label === '1'));
    assert.deepEqual(wrong, [], 'served exactly the retypings');
  });

  test('projects can turn the semantic cache off, and it never crosses projects', async () => {
    await primed(key, user(`Summarise the plot of Hamlet`));
    assert.equal(cacheOf(await ask(key, user(`summarise the plot of Hamlet,`))), 'HIT-SEMANTIC', 'control: same project');
    const other = await newProject();
    assert.equal(cacheOf(await ask(other.key, user(`summarise the plot of Hamlet,`))), 'MISS', 'other project');
    const off = await newProject();
    await h.admin.update(`projects?id=eq.${off.project.id}`, { semantic_cache_enabled: false });
    await primed(off.key, user(`Summarise the plot of Hamlet`));
    assert.equal(cacheOf(await ask(off.key, user(`summarise the plot of Hamlet,`))), 'MISS', 'semantic off');
  });
});

describe('semantic cache with a hosted embedder (the provider’s /v1/embeddings)', () => {
  test('a project on the OpenAI embedder catches a change of vocabulary the in-Worker embedder misses', async () => {
    const hosted = await newProject();
    await addProviderKey(hosted.project.id, 'openai', h.stack.providerKeys.openai);
    sql(`update projects set semantic_embedder = 'openai' where id = '${hosted.project.id}'`);
    const local = await newProject();
    const tag = unique('tag').replace(/[^0-9]/g, '');
    const first = `automobile purchase guidance ${tag}`;
    const reworded = `vehicle acquire advice ${tag}`;

    for (const p of [hosted, local]) assert.equal((await chat(p.key, first, { model: 'gpt-4o-mini' })).headers.get('x-watchllm-cache'), 'MISS');
    await new Promise((r) => setTimeout(r, 300)); // the entries are stored in waitUntil

    const viaLocal = await chat(local.key, reworded, { model: 'gpt-4o-mini' });
    assert.equal(viaLocal.headers.get('x-watchllm-cache'), 'MISS', 'different words: the lexical embedder does not match');

    const viaHosted = await chat(hosted.key, reworded, { model: 'gpt-4o-mini' });
    assert.equal(viaHosted.headers.get('x-watchllm-cache'), 'HIT-SEMANTIC', viaHosted.text);
    assert.ok(Number(viaHosted.headers.get('x-watchllm-cache-similarity')) >= 0.95);
    const embedCalls = (await upstreamRequests()).filter((r) => r.endpoint === '/embeddings' && JSON.stringify(r.body).includes(tag));
    assert.equal(embedCalls.length, 2, 'one embedding per request the exact cache did not answer');
    for (const c of embedCalls) {
      assert.equal(c.authorization, `Bearer ${h.stack.providerKeys.openai}`, "the project's own key");
      assert.equal(c.body.model, 'text-embedding-3-small');
      assert.equal(c.body.dimensions, 256);
    }
    assert.equal(embedCalls[0].body.input, first, 'the normalised prompt is embedded');
  });

  test('when the hosted embedder fails, the request is still served (exact cache only)', async () => {
    const p = await newProject();
    await addProviderKey(p.project.id, 'openai', h.stack.providerKeys.openai);
    sql(`update projects set semantic_embedder = 'openai' where id = '${p.project.id}'`);
    const content = unique('[[fail-once-503]] embedder outage');
    const r = await chat(p.key, content, { model: 'gpt-4o-mini' });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers.get('x-watchllm-cache'), 'MISS');
    const again = await chat(p.key, content, { model: 'gpt-4o-mini' });
    assert.equal(again.headers.get('x-watchllm-cache'), 'HIT', 'the exact cache still works');
  });
});
