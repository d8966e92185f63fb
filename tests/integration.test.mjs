// Integration tests over HTTP against the Worker in workerd (wrangler dev), with real Redis behind
// the Upstash REST adapter, real PostgreSQL behind postrust and the Supabase-style gateway, and a
// fake LLM provider speaking OpenAI's and Anthropic's wire formats, and local Datadog/Sentry
// intakes. One stack for the whole run; fault tests and the chaos soak last.
import { after } from 'node:test';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startStack, TEST_PORTS } from '../tools/stack.mjs';
import { init } from './integration/harness.mjs';

const logDir = process.env.WATCHLLM_TEST_LOGS || fs.mkdtempSync(path.join(os.tmpdir(), 'watchllm-test-logs-'));
const stack = await startStack({
  ports: TEST_PORTS,
  logDir,
  quiet: true,
  telemetryCapture: true,
  dashboard: true,
  dashboardVars: { SIMPLE_ANALYTICS_HOSTNAME: 'app.watchllm.test', DASHBOARD_TEST_ROUTES: '1' },
  workerVars: { UPSTREAM_TIMEOUT_MS: '1500', ANTHROPIC_TIMEOUT_MS: '800', AUTH_CACHE_TTL_SECS: '2', AUTH_STALE_TTL_SECS: '600', REDIS_TIMEOUT_MS: '500', SUPABASE_TIMEOUT_MS: '1000' },
});
init(stack);
after(async () => {
  await stack.stop();
});

await import('./integration/openai-client.cases.mjs');
await import('./integration/cache.cases.mjs');
await import('./integration/cache-controls.cases.mjs');
await import('./integration/semantic.cases.mjs');
await import('./integration/scale.cases.mjs');
await import('./integration/errors.cases.mjs');
await import('./integration/auth-and-limits.cases.mjs');
await import('./integration/key-flood.cases.mjs');
await import('./integration/quotas-and-purge.cases.mjs');
await import('./integration/isolate-memory.cases.mjs');
await import('./integration/browser-clients.cases.mjs');
await import('./integration/providers.cases.mjs');
await import('./integration/anthropic.cases.mjs');
await import('./integration/resilience.cases.mjs');
await import('./integration/telemetry.cases.mjs');
await import('./integration/reports.cases.mjs');
await import('./integration/rollups.cases.mjs');
await import('./integration/dashboard.cases.mjs');
await import('./integration/billing.cases.mjs');
await import('./integration/insights.cases.mjs');
await import('./integration/docs.cases.mjs');
await import('./integration/accessibility.cases.mjs');
await import('./integration/faults.cases.mjs');
await import('./integration/soak.cases.mjs');
