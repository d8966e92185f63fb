// Observability: one structured logEvent per request shipped to Datadog's HTTP intake in batches,
// server errors to Sentry as envelopes, both checked by a local capture server that enforces the
// real formats and keys (it rejects anything the real intakes would).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chat, eventually, h, newProject, unique } from './harness.mjs';

const captured = async () => (await fetch(`${h.stack.telemetry.url}/__captured`)).json();

describe('telemetry', () => {
  test('each request becomes one Datadog log entry with its logEvent, and no secrets', async () => {
    const { key, project } = await newProject();
    const content = unique('observe me');
    const miss = await chat(key, content);
    const hit = await chat(key, content);
    const unauth = await chat('lgw_proj_notarealkeynotarealkeynotareal', content);
    const ids = [miss, hit, unauth].map((r) => r.headers.get('x-watchllm-request-id'));
    const entries = await eventually(async () => {
      const c = await captured();
      const found = ids.map((id) => c.datadog.filter((e) => e.logEvent.request_id === id));
      return found.every((f) => f.length > 0) && found;
    }, { what: 'Datadog entries' });
    assert.deepEqual(entries.map((f) => f.length), [1, 1, 1], 'exactly one event per request');
    const [m, hi, u] = entries.map((f) => f[0]);
    assert.equal(m.service, 'watchllm-proxy');
    assert.equal(m.ddsource, 'cloudflare-workers');
    assert.match(m.ddtags, /env:test/);
    assert.match(m.ddtags, /provider:openrouter/);
    assert.equal(m.logEvent.project_id, project.id);
    assert.equal(m.logEvent.model, 'openai/gpt-4o-mini');
    assert.equal(m.logEvent.cache_status, 'MISS');
    assert.equal(m.logEvent.status, 200);
    assert.ok(m.logEvent.prompt_tokens > 0 && m.logEvent.cost_usd > 0);
    assert.equal(typeof m.logEvent.latency_ms, 'number');
    assert.equal(hi.logEvent.cache_status, 'HIT');
    assert.equal(hi.logEvent.cost_usd, 0);
    assert.equal(u.logEvent.status, 401);
    assert.equal(u.logEvent.project_id, null);
    assert.equal(u.logEvent.error, 'invalid_api_key');
    assert.equal(u.status, 'warn');
    const all = JSON.stringify((await captured()).datadog);
    assert.ok(!all.includes(key) && !all.includes(h.stack.providerKeys.openrouter), 'keys are never logged');
    assert.deepEqual((await captured()).rejected, [], 'the intake accepted every batch');
  });

  test('a server error is reported to Sentry as an envelope with the request named', async () => {
    const { key, project } = await newProject();
    const r = await chat(key, unique('[[fail-500]] report me'));
    assert.equal(r.status, 502);
    const id = r.headers.get('x-watchllm-request-id');
    const report = await eventually(async () => (await captured()).sentry.find((s) => s.event.extra?.request_id === id), { what: 'Sentry event' });
    assert.equal(report.auth.sentry_key, h.stack.telemetry.sentryKey);
    assert.equal(report.event.level, 'error');
    assert.equal(report.event.environment, 'test');
    assert.equal(report.event.exception.values[0].type, 'upstream_error');
    assert.match(report.event.exception.values[0].value, /^openrouter: /);
    assert.equal(report.event.tags.provider, 'openrouter');
    assert.equal(report.event.tags.status, '502');
    assert.equal(report.event.extra.project_id, project.id);
    assert.match(report.header.dsn, /^http:\/\/sentrylocalpublickey@127\.0\.0\.1:\d+\/42$/);

    const ok = await chat(key, unique('fine'));
    assert.equal(ok.status, 200);
    await new Promise((res) => setTimeout(res, 300));
    const okId = ok.headers.get('x-watchllm-request-id');
    assert.ok(!(await captured()).sentry.some((s) => s.event.extra?.request_id === okId), 'successes are not errors');
    assert.deepEqual((await captured()).rejected, []);
  });
});
