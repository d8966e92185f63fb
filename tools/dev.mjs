// `npm run dev`: the whole local stack with the proxy on :8787 and the dashboard on :8789, a seeded
// dev project and a fresh dev key printed. Ctrl-C stops everything it started.
import os from 'node:os';
import path from 'node:path';
import { startStack, supabaseAdmin, DEV_PORTS } from './stack.mjs';
import { createProject, createApiKey } from './lib/projects.mjs';

const stack = await startStack({ ports: DEV_PORTS, dataDir: path.join(os.tmpdir(), 'watchllm-dev'), fakeProvider: process.env.WATCHLLM_REAL_PROVIDERS !== '1', dashboard: true });
const shutdown = async () => {
  console.log('\n[stack] stopping');
  await stack.stop();
  process.exit(0);
};
process.on('SIGINT', shutdown);
process.on('SIGTERM', shutdown);

const admin = supabaseAdmin(stack);
let [project] = await admin.select('projects?name=eq.Dev%20project&limit=1');
project ??= await createProject(admin, { name: 'Dev project', plan: 'pro' });
const { key } = await createApiKey(admin, project.id, { name: `dev ${new Date().toISOString()}` });
console.log(`
WatchLLM proxy running at ${stack.workerUrl}/v1
  dashboard:   ${stack.dashboardUrl} (sign up with any email; Stripe and Resend calls go to ${stack.telemetry.url}/__captured)
  dev project: ${project.id}
  dev key:     ${key}
  upstream:    ${stack.fake ? `fake provider at ${stack.fake.url} (set WATCHLLM_REAL_PROVIDERS=1 and OPENROUTER_API_KEY in .dev.vars for real ones)` : 'real providers'}
  logs:        ${stack.logDir}

  curl ${stack.workerUrl}/v1/chat/completions -H "Authorization: Bearer ${key}" \\
    -H 'content-type: application/json' -d '{"model":"openai/gpt-4o-mini","messages":[{"role":"user","content":"Hello"}]}' -i
`);
await new Promise(() => {});
