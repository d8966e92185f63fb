// Starts the whole local stack: redis-server behind the Upstash REST adapter, PostgreSQL with the
// migrations applied behind postrust (PostgREST-compatible) behind the Supabase-style gateway,
// optionally the fake LLM provider, and the Worker in workerd via `wrangler dev`.
// Used by `npm run dev` (tools/dev.mjs), `npm test` and the benchmark; stop() stops all of it.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { supabaseKeys } from './lib/crypto.mjs';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
// The newest PostgreSQL server installed from Debian/Ubuntu packages.
const PG_BIN = (() => {
  const base = '/usr/lib/postgresql';
  const versions = fs.existsSync(base) ? fs.readdirSync(base).filter((v) => fs.existsSync(`${base}/${v}/bin/postgres`)).sort((a, b) => Number(b) - Number(a)) : [];
  return versions.length ? `${base}/${versions[0]}/bin` : '/usr/lib/postgresql/15/bin';
})();
const isRoot = process.getuid?.() === 0;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export const DEV_PORTS = { redis: 6390, upstash: 8079, postgres: 54329, postrust: 3100, supabase: 54321, fake: 8090, capture: 8091, worker: 8787, dashboard: 8789 };
// WATCHLLM_PORT_OFFSET shifts the test ports, so two checkouts can run their suites side by side.
const TEST_PORT_OFFSET = Number(process.env.WATCHLLM_PORT_OFFSET || 0);
export const TEST_PORTS = Object.fromEntries(
  Object.entries({ redis: 16390, upstash: 18079, postgres: 15432, postrust: 13100, supabase: 15421, fake: 18090, capture: 18091, worker: 18787, dashboard: 18789 }).map(([k, v]) => [k, v + TEST_PORT_OFFSET]),
);

async function waitFor(what, check, timeoutMs = 30000) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    try {
      if (await check()) return;
    } catch (e) {
      last = e;
    }
    await sleep(100);
  }
  throw new Error(`${what} did not become ready in ${timeoutMs} ms${last ? `: ${last.message}` : ''}`);
}

function asPostgresUser(cmd, args) {
  return isRoot ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args];
}

class Proc {
  constructor(name, cmd, args, opts = {}) {
    this.name = name;
    this.logFile = opts.logFile;
    const out = this.logFile ? fs.openSync(this.logFile, 'a') : 'ignore';
    this.child = spawn(cmd, args, { stdio: ['ignore', out, out], env: { ...process.env, ...opts.env }, cwd: opts.cwd, detached: true });
    this.exited = new Promise((r) => this.child.on('exit', (code, signal) => r({ code, signal })));
  }
  async stop(signal = 'SIGTERM') {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    try {
      process.kill(-this.child.pid, signal);
    } catch {}
    const done = await Promise.race([this.exited, sleep(5000).then(() => null)]);
    if (!done) {
      try {
        process.kill(-this.child.pid, 'SIGKILL');
      } catch {}
      await this.exited;
    }
  }
}

const httpOk = (url, init) => fetch(url, init).then((r) => r.status < 500 || r.status === 503);

export async function startStack({ ports = DEV_PORTS, dataDir, logDir, fakeProvider = true, fakeDelayMs = 0, telemetryCapture = false, worker = true, dashboard = false, workerVars = {}, dashboardVars = {}, quiet = false } = {}) {
  const say = (m) => quiet || console.log(`[stack] ${m}`);
  logDir ??= fs.mkdtempSync(path.join(os.tmpdir(), 'watchllm-logs-'));
  fs.mkdirSync(logDir, { recursive: true });
  const procs = [];
  const jwtSecret = 'local-dev-jwt-secret-with-at-least-32-characters';
  const keys = supabaseKeys(jwtSecret);
  const upstashToken = 'local-upstash-token';
  const encryptionKey = Buffer.from('watchllm-local-provider-key-aes!').toString('base64');
  const providerKeys = { openrouter: 'sk-or-local-fake', openai: 'sk-openai-local-fake', groq: 'gsk-local-fake', anthropic: 'sk-ant-local-fake' };
  const stack = { ports, logDir, keys, jwtSecret, upstashToken, encryptionKey, providerKeys, procs };

  const stop = async () => {
    for (const p of [...procs].reverse()) await p.stop();
  };
  stack.stop = stop;
  try {
    // Redis and its REST adapter.
    stack.startRedis = async () => {
      const redis = new Proc('redis', 'redis-server', ['--port', String(ports.redis), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { logFile: path.join(logDir, 'redis.log') });
      procs.push(redis);
      stack.redis = redis;
      await waitFor('redis', () => spawnSync('redis-cli', ['-p', String(ports.redis), 'ping']).stdout?.toString().includes('PONG'));
    };
    stack.stopRedis = async () => stack.redis.stop();
    await stack.startRedis();
    // Each adapter runs in its own process, so none shares an event loop with the others or with
    // the tests and benchmark driving the stack.
    const tool = async (name, script, args, readyUrl) => {
      procs.push(new Proc(name, process.execPath, [path.join(ROOT, 'tools', script), ...args], { logFile: path.join(logDir, `${name}.log`) }));
      await waitFor(name, () => fetch(readyUrl).then(() => true));
    };
    const upstash = { url: `http://127.0.0.1:${ports.upstash}` };
    await tool('upstash-rest', 'upstash-rest.mjs', ['--port', String(ports.upstash), '--redis', `redis://127.0.0.1:${ports.redis}`, '--token', upstashToken], upstash.url);
    stack.upstashUrl = upstash.url;
    say(`redis on :${ports.redis}, Upstash REST on ${upstash.url}`);

    // PostgreSQL with the migrations.
    dataDir ??= fs.mkdtempSync(path.join(os.tmpdir(), 'watchllm-pg-'));
    const pgData = path.join(dataDir, 'pgdata');
    const sockDir = path.join(dataDir, 'sock');
    fs.mkdirSync(sockDir, { recursive: true });
    if (isRoot) spawnSync('chown', ['-R', 'postgres:postgres', dataDir]);
    if (!fs.existsSync(path.join(pgData, 'PG_VERSION'))) {
      const [c, a] = asPostgresUser(`${PG_BIN}/initdb`, ['-D', pgData, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync']);
      const r = spawnSync(c, a, { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`initdb failed: ${r.stderr}`);
    }
    const [pc, pa] = asPostgresUser(`${PG_BIN}/postgres`, ['-D', pgData, '-p', String(ports.postgres), '-k', sockDir, '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off']);
    const pg = new Proc('postgres', pc, pa, { logFile: path.join(logDir, 'postgres.log') });
    procs.push(pg);
    await waitFor('postgres', () => spawnSync(`${PG_BIN}/pg_isready`, ['-h', '127.0.0.1', '-p', String(ports.postgres)]).status === 0);
    stack.psql = (sql) => {
      const r = spawnSync('psql', ['-h', '127.0.0.1', '-p', String(ports.postgres), '-U', 'postgres', '-d', 'postgres', '-v', 'ON_ERROR_STOP=1', '-qAtX', '-c', sql], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
      if (r.status !== 0) throw new Error(`psql failed: ${r.error?.message ?? r.stderr}`);
      return r.stdout.trim();
    };
    applyMigrations(stack.psql);
    say(`postgres on :${ports.postgres} (data in ${pgData})`);

    // postrust behind the Supabase-style gateway.
    stack.startPostrust = async () => {
      const postrust = new Proc('postrust', 'postrust', [], {
        logFile: path.join(logDir, 'postrust.log'),
        env: {
          PGRST_DB_URI: `postgres://authenticator:authenticator@127.0.0.1:${ports.postgres}/postgres`,
          PGRST_DB_ANON_ROLE: 'anon',
          PGRST_DB_SCHEMAS: 'public',
          PGRST_JWT_SECRET: jwtSecret,
          PGRST_COMPAT_MODE: 'true',
          PGRST_SERVER_HOST: '127.0.0.1',
          PGRST_SERVER_PORT: String(ports.postrust),
          PATH: `${process.env.HOME}/.cargo/bin:${process.env.PATH}`,
        },
      });
      procs.push(postrust);
      stack.postrust = postrust;
      await waitFor('postrust', () => httpOk(`http://127.0.0.1:${ports.postrust}/plans?limit=1`, { headers: { authorization: `Bearer ${keys.service}` } }));
    };
    stack.stopPostrust = async () => stack.postrust.stop();
    await stack.startPostrust();
    const gateway = { url: `http://127.0.0.1:${ports.supabase}` };
    await tool('supabase-gateway', 'supabase-gateway.mjs', [`--port=${ports.supabase}`, `--rest=http://127.0.0.1:${ports.postrust}`, `--anon=${keys.anon}`, `--service=${keys.service}`, `--db=postgres://postgres@127.0.0.1:${ports.postgres}/postgres`, `--jwt=${jwtSecret}`], gateway.url);
    stack.supabaseUrl = gateway.url;
    say(`Supabase REST on ${gateway.url}/rest/v1 (postrust on :${ports.postrust}), Auth on ${gateway.url}/auth/v1`);

    if (fakeProvider) {
      const url = `http://127.0.0.1:${ports.fake}`;
      await tool('fake-provider', 'fake-provider.mjs', [`--port=${ports.fake}`, `--keys=${JSON.stringify(providerKeys)}`, `--delay=${fakeDelayMs}`], `${url}/__requests`);
      stack.fake = { url, baseUrls: { openrouter: `${url}/api/v1`, openai: `${url}/v1`, groq: `${url}/openai/v1`, anthropic: `${url}/anthropic/v1` } };
      say(`fake LLM provider on ${stack.fake.url}`);
    }

    // Local Datadog/Sentry intakes and Resend/Stripe APIs, so telemetry, emails and billing calls
    // are made for real and checked.
    let telemetryVars = {};
    if (telemetryCapture || dashboard) {
      const url = `http://127.0.0.1:${ports.capture}`;
      const capture = { datadogKey: 'dd-local-api-key', sentryKey: 'sentrylocalpublickey', sentryProject: '42', resendKey: 're_local_test_key', stripeKey: 'sk_test_local_key', stripeWebhookSecret: 'whsec_local_test_secret', stripePrices: { starter: 'price_starter_local', pro: 'price_pro_local' } };
      await tool('capture-server', 'capture-server.mjs', [`--port=${ports.capture}`, `--datadog-key=${capture.datadogKey}`, `--sentry-key=${capture.sentryKey}`, `--sentry-project=${capture.sentryProject}`, `--resend-key=${capture.resendKey}`, `--stripe-key=${capture.stripeKey}`], `${url}/__captured`);
      stack.telemetry = { url, ...capture };
      if (telemetryCapture) telemetryVars = { ENVIRONMENT: 'test', DD_API_KEY: capture.datadogKey, DATADOG_LOGS_URL: `${url}/api/v2/logs`, SENTRY_DSN: `http://${capture.sentryKey}@127.0.0.1:${ports.capture}/${capture.sentryProject}` };
      say(`capture server (Datadog, Sentry, Resend, Stripe API stand-ins) on ${url}`);
    }

    if (worker) {
      const vars = {
        ...telemetryVars,
        UPSTASH_REDIS_REST_URL: upstash.url,
        UPSTASH_REDIS_REST_TOKEN: upstashToken,
        SUPABASE_URL: gateway.url,
        SUPABASE_SERVICE_ROLE_KEY: keys.service,
        PROVIDER_KEYS_ENCRYPTION_KEY: encryptionKey,
        ...(fakeProvider
          ? { OPENROUTER_API_KEY: providerKeys.openrouter, OPENROUTER_BASE_URL: stack.fake.baseUrls.openrouter, OPENAI_BASE_URL: stack.fake.baseUrls.openai, GROQ_BASE_URL: stack.fake.baseUrls.groq, ANTHROPIC_BASE_URL: stack.fake.baseUrls.anthropic }
          : {}),
        ...workerVars,
      };
      stack.workerUrl = `http://127.0.0.1:${ports.worker}`;
      await wranglerDev({ name: 'wrangler', cwd: ROOT, port: ports.worker, vars, logDir, procs });
      say(`Worker (workerd via wrangler dev) on ${stack.workerUrl}`);
    }

    if (dashboard) {
      stack.dashboardUrl = `http://127.0.0.1:${ports.dashboard}`;
      const vars = {
        SUPABASE_URL: gateway.url,
        SUPABASE_ANON_KEY: keys.anon,
        SUPABASE_SERVICE_ROLE_KEY: keys.service,
        SUPABASE_JWT_SECRET: jwtSecret,
        PROVIDER_KEYS_ENCRYPTION_KEY: encryptionKey,
        PROXY_URL: stack.workerUrl ?? `http://127.0.0.1:${ports.worker}`,
        DASHBOARD_URL: stack.dashboardUrl,
        STRIPE_SECRET_KEY: stack.telemetry.stripeKey,
        STRIPE_WEBHOOK_SECRET: stack.telemetry.stripeWebhookSecret,
        STRIPE_API_BASE: stack.telemetry.url,
        STRIPE_PRICE_STARTER: stack.telemetry.stripePrices.starter,
        STRIPE_PRICE_PRO: stack.telemetry.stripePrices.pro,
        RESEND_API_KEY: stack.telemetry.resendKey,
        RESEND_API_BASE: stack.telemetry.url,
        EMAIL_FROM: 'WatchLLM <notifications@watchllm.dev>',
        // Sentry (the capture server) as for the proxy; the tests add analytics and test routes.
        ...(telemetryCapture ? { ENVIRONMENT: telemetryVars.ENVIRONMENT, SENTRY_DSN: telemetryVars.SENTRY_DSN } : {}),
        ...dashboardVars,
      };
      // --test-scheduled exposes /__scheduled, which runs the cron handler (usage alerts) on demand.
      await wranglerDev({ name: 'wrangler-dashboard', cwd: path.join(ROOT, 'dashboard'), port: ports.dashboard, vars, logDir, procs, extraArgs: ['--test-scheduled'] });
      say(`Dashboard (Leptos, workerd via wrangler dev) on ${stack.dashboardUrl}`);
    }
    return stack;
  } catch (e) {
    await stop();
    throw Object.assign(e, { logDir });
  }
}

/** Serves a Worker directory with `wrangler dev` (its [build] command builds it first). */
async function wranglerDev({ name, cwd, port, vars, logDir, procs, extraArgs = [] }) {
  const envFile = path.join(logDir, `${name}.env`);
  fs.writeFileSync(envFile, Object.entries(vars).map(([k, v]) => `${k}=${JSON.stringify(String(v))}`).join('\n') + '\n');
  const proc = new Proc(name, path.join(ROOT, 'node_modules/.bin/wrangler'), ['dev', '--ip', '127.0.0.1', '--port', String(port), '--env-file', envFile, '--inspector-port', String(port + 1), '--show-interactive-dev-session=false', '--log-level', 'info', ...extraArgs], {
    cwd,
    logFile: path.join(logDir, `${name}.log`),
    env: { WRANGLER_SEND_METRICS: 'false', CLOUDFLARE_CF_FETCH_ENABLED: 'false', CI: 'true', NO_COLOR: '1', FORCE_COLOR: '0' },
  });
  procs.push(proc);
  await waitFor(name, () => httpOk(`http://127.0.0.1:${port}/health`), 300000);
}

/**
 * Applies supabase/local/roles.sql, then each migration once (tracked like the Supabase CLI does);
 * with `before`, only the migrations whose version sorts before it (migration tests).
 */
export function applyMigrations(psql, { before } = {}) {
  psql(fs.readFileSync(path.join(ROOT, 'supabase/local/roles.sql'), 'utf8'));
  psql(fs.readFileSync(path.join(ROOT, 'supabase/local/auth.sql'), 'utf8'));
  psql('create schema if not exists supabase_migrations; create table if not exists supabase_migrations.schema_migrations (version text primary key, applied_at timestamptz default now())');
  const dir = path.join(ROOT, 'supabase/migrations');
  for (const file of fs.readdirSync(dir).filter((f) => f.endsWith('.sql')).sort()) {
    const version = file.split('_')[0];
    if (before && version >= before) break;
    if (psql(`select 1 from supabase_migrations.schema_migrations where version = '${version}'`) === '1') continue;
    psql(`begin; ${fs.readFileSync(path.join(dir, file), 'utf8')}; insert into supabase_migrations.schema_migrations (version) values ('${version}'); commit;`);
  }
}

/** Talks to Supabase REST as the service role (what the dashboard's server side does). */
export function supabaseAdmin(stack) {
  const call = async (method, pathAndQuery, body, prefer = 'return=representation') => {
    const r = await fetch(`${stack.supabaseUrl}/rest/v1/${pathAndQuery}`, {
      method,
      headers: { apikey: stack.keys.service, authorization: `Bearer ${stack.keys.service}`, 'content-type': 'application/json', prefer },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await r.text();
    if (!r.ok) throw new Error(`${method} ${pathAndQuery}: HTTP ${r.status} ${text}`);
    return text ? JSON.parse(text) : null;
  };
  return {
    select: (q) => call('GET', q),
    insert: (table, row) => call('POST', table, row).then((rows) => rows[0]),
    update: (q, patch) => call('PATCH', q, patch),
    remove: (q) => call('DELETE', q),
    rpc: (fn, args) => call('POST', `rpc/${fn}`, args),
  };
}

/**
 * The proxy (`buildDir`, build/ by default) in plain workerd through Miniflare, with the stack's
 * configuration (and `vars` over it), on `port` (0: any free port): what production runs, without
 * wrangler dev's dev-server layers (its inspector, its proxy worker), for the benchmarks and the
 * soak. Returns its URL, the URL through Miniflare's entry worker, and workerd's process id.
 *
 * `direct`: requests reach the Worker on a socket of its own (tools/lib/workerd.mjs) instead of
 * through Miniflare's entry worker, which also sets `CF-Connecting-IP`: requests then carry none
 * unless the client sends one (Cloudflare's edge always does).
 */
export async function startWorkerd(stack, { port, vars = {}, direct = false, buildDir = path.join(ROOT, 'build') }) {
  const { startMiniflare } = await import('./lib/workerd.mjs');
  const envFile = path.join(stack.logDir, 'wrangler.env');
  const bindings = Object.fromEntries(fs.readFileSync(envFile, 'utf8').trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), JSON.parse(l.slice(l.indexOf('=') + 1))]));
  const { mf, url, entryUrl, pid } = await startMiniflare({
    modules: true,
    scriptPath: path.join(buildDir, 'index.js'),
    modulesRoot: buildDir,
    modulesRules: [{ type: 'CompiledWasm', include: ['**/*.wasm'] }],
    compatibilityDate: '2026-04-01',
    bindings: { ...bindings, ...vars },
    // The Worker prints one logEvent line per request (Workers Logs in production); drained here.
    // WORKERD_LOG=<file> keeps them (and workerd's own warnings) for a look.
    handleRuntimeStdio: (stdout, stderr) => {
      if (process.env.WORKERD_LOG) {
        const out = fs.createWriteStream(process.env.WORKERD_LOG);
        stdout.pipe(out);
        stderr.pipe(out);
      } else {
        stdout.resume();
        stderr.resume();
      }
    },
  }, { direct, port });
  return { url, entryUrl, pid, dispose: () => mf.dispose() };
}
