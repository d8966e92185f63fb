// Shared state and helpers for the integration suite: one local stack (real workerd, Redis,
// PostgreSQL) per run, started by tests/integration.test.mjs.
import { spawnSync } from 'node:child_process';
import OpenAI from 'openai';
import Stripe from 'stripe';
import { startWorkerd, supabaseAdmin } from '../../tools/stack.mjs';
import { createProject, createApiKey, setProviderKey } from '../../tools/lib/projects.mjs';

export const h = { stack: null };

export function init(stack) {
  h.stack = stack;
  h.admin = supabaseAdmin(stack);
}

let seq = 0;
/** A unique prompt, so tests never hit each other's cache entries. */
export const unique = (text = 'prompt') => `${text} (${process.pid}-${Date.now()}-${++seq})`;

export async function newProject({ plan = 'pro', name = unique('project'), kind = 'live' } = {}) {
  const project = await createProject(h.admin, { name, plan });
  const { key, row } = await createApiKey(h.admin, project.id, { kind });
  return { project, key, keyRow: row };
}

export const addProviderKey = (projectId, provider, plaintext) => setProviderKey(h.admin, projectId, provider, plaintext, h.stack.encryptionKey);

/** Raw HTTP to the Worker (or another instance at `base`): status, headers, body text and JSON. */
export async function call(path, { method = 'POST', key, body, headers = {}, rawBody, base = h.stack.workerUrl } = {}) {
  const init = { method, headers: { ...headers } };
  if (key) init.headers.authorization = `Bearer ${key}`;
  if (rawBody !== undefined) init.body = rawBody;
  else if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers['content-type'] = 'application/json';
  }
  let r;
  try {
    r = await fetch(`${base}${path}`, init);
  } catch (e) {
    // A keep-alive socket the server closed while idle (e.g. during a long seeding step) fails
    // before any response: send again once on a fresh connection, as HTTP clients do.
    if (e.cause?.code !== 'UND_ERR_SOCKET') throw e;
    r = await fetch(`${base}${path}`, init);
  }
  const text = await r.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {}
  return { status: r.status, headers: r.headers, text, json };
}

export const chat = (key, content, extra = {}, headers = {}) =>
  call('/v1/chat/completions', { key, headers, body: { model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content }], ...extra } });

export const openai = (key) => new OpenAI({ apiKey: key, baseURL: `${h.stack.workerUrl}/v1`, maxRetries: 0, timeout: 20000 });

/** Requests the fake provider received (optionally only those whose body mentions `needle`). */
export async function upstreamRequests(needle) {
  const all = await (await fetch(`${h.stack.fake.url}/__requests`)).json();
  return needle ? all.filter((r) => JSON.stringify(r.body).includes(needle)) : all;
}

export function redis(...args) {
  const r = spawnSync('redis-cli', ['-p', String(h.stack.ports.redis), ...args], { encoding: 'utf8' });
  return r.stdout.trim();
}

export const sql = (q) => h.stack.psql(q);

/** Waits until `fn` returns a truthy value (for effects that run in ctx.waitUntil). */
export async function eventually(fn, { timeoutMs = 5000, what = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    last = await fn();
    if (last) return last;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what} (last: ${JSON.stringify(last)})`);
}

/** Parses an SSE body into its data payloads. */
export function sseData(text) {
  return text
    .split(/\r?\n\r?\n/)
    .map((block) => block.split(/\r?\n/).filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trimStart()).join('\n'))
    .filter(Boolean);
}

/**
 * A second instance of the proxy in its own workerd (its own isolate, its own memory), with the
 * same configuration, Redis and Supabase as the first: to show what holds across isolates.
 */
export async function secondIsolate() {
  const worker = await startWorkerd(h.stack, { port: 0 });
  return { send: (p, options = {}) => call(p, { ...options, base: worker.url }), dispose: () => worker.dispose() };
}

const stripe = new Stripe('sk_test_local_key');
let stripeSeq = 0;

/** A Stripe event object, `createdOffset` seconds from now. */
export function stripeEvent(type, object, createdOffset = 0) {
  return { id: `evt_test_${Date.now()}_${++stripeSeq}`, object: 'event', api_version: '2024-06-20', created: Math.floor(Date.now() / 1000) + createdOffset, type, data: { object } };
}

/** Delivers an event to the dashboard's webhook, signed with the official stripe library. */
export async function deliverWebhook(evt, { secret = h.stack.telemetry.stripeWebhookSecret, timestamp } = {}) {
  const payload = JSON.stringify(evt);
  const header = stripe.webhooks.generateTestHeaderString({ payload, secret, ...(timestamp ? { timestamp } : {}) });
  const r = await fetch(`${h.stack.dashboardUrl}/stripe/webhook`, { method: 'POST', headers: { 'stripe-signature': header, 'content-type': 'application/json' }, body: payload });
  return { status: r.status, json: await r.json() };
}
