// Billing and emails: Stripe Checkout and Customer Portal sessions (against a strict local stand-in
// of the Stripe API), webhooks signed with the official `stripe` library (signature, tolerance,
// replays, out-of-order events, lifecycle to the plan in Supabase), and Resend emails (payment
// failed; usage alerts at 80% and 100%, once each) checked by a local server speaking Resend's format.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { deliverWebhook as deliver, eventually, h, sql, stripeEvent as event, unique } from './harness.mjs';

const captured = async () => (await fetch(`${h.stack.telemetry.url}/__captured`)).json();

/** A signed-in dashboard user (through the Supabase Auth stand-in) and one of their projects. */
async function ownerWithProject() {
  const email = `${unique('billing').replace(/[^a-z0-9]/gi, '').toLowerCase()}@example.com`;
  const r = await fetch(`${h.stack.supabaseUrl}/auth/v1/signup`, { method: 'POST', headers: { apikey: h.stack.keys.anon, 'content-type': 'application/json' }, body: JSON.stringify({ email, password: 'billing password' }) });
  const session = await r.json();
  assert.equal(r.status, 200, JSON.stringify(session));
  const cookie = `wl_session=${session.access_token}`;
  const created = await fetch(`${h.stack.dashboardUrl}/projects`, { method: 'POST', redirect: 'manual', headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' }, body: 'name=Paid+project' });
  assert.equal(created.status, 303);
  const projectId = created.headers.get('location').split('/').pop();
  return { email, cookie, projectId };
}

const post = (path, cookie, form = {}) => fetch(`${h.stack.dashboardUrl}${path}`, { method: 'POST', redirect: 'manual', headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(form).toString() });

const planOf = (id) => sql(`select plan || '|' || coalesce(subscription_status, '') || '|' || coalesce(stripe_customer_id, '') from projects where id = '${id}'`);

describe('billing (Stripe) and emails (Resend)', () => {
  let owner;
  const customer = `cus_${Date.now()}`;
  before(async () => {
    owner = await ownerWithProject();
  });

  test('checkout sends the browser to a Stripe Checkout session for the chosen plan', async () => {
    const r = await post(`/projects/${owner.projectId}/billing/checkout`, owner.cookie, { plan: 'pro' });
    assert.equal(r.status, 303);
    assert.match(r.headers.get('location'), /^https:\/\/checkout\.stripe\.com\/c\/pay\/cs_test_/);
    const call = (await captured()).stripe.find((c) => c.params.client_reference_id === owner.projectId);
    assert.equal(call.path, '/v1/checkout/sessions');
    assert.equal(call.params.mode, 'subscription');
    assert.equal(call.params['line_items[0][price]'], 'price_pro_local');
    assert.equal(call.params['metadata[plan]'], 'pro');
    assert.equal(call.params['subscription_data[metadata][project_id]'], owner.projectId);
    assert.equal(call.params.customer_email, owner.email);
    assert.match(call.params.success_url, new RegExp(`/projects/${owner.projectId}\\?notice=checkout-complete$`));

    const other = await ownerWithProject();
    const foreign = await post(`/projects/${owner.projectId}/billing/checkout`, other.cookie, { plan: 'pro' });
    assert.equal(foreign.status, 404, "nobody can start checkout for someone else's project");
  });

  test('signed webhooks apply the subscription lifecycle once, in order', async () => {
    const completed = event('checkout.session.completed', { id: 'cs_test_1', object: 'checkout.session', mode: 'subscription', client_reference_id: owner.projectId, customer, subscription: 'sub_1', metadata: { project_id: owner.projectId, plan: 'pro' } });
    assert.deepEqual(await deliver(completed), { status: 200, json: { received: true } });
    assert.equal(planOf(owner.projectId), `pro|active|${customer}`);

    // A replay of the same event is acknowledged and changes nothing.
    sql(`update projects set plan = 'starter' where id = '${owner.projectId}'`);
    assert.deepEqual(await deliver(completed), { status: 200, json: { received: true, duplicate: true } });
    assert.equal(planOf(owner.projectId).split('|')[0], 'starter');
    sql(`update projects set plan = 'pro' where id = '${owner.projectId}'`);

    const sub = (status, price) => ({ id: 'sub_1', object: 'subscription', customer, status, metadata: {}, items: { object: 'list', data: [{ price: { id: price } }] } });
    assert.equal((await deliver(event('customer.subscription.updated', sub('active', 'price_starter_local'), 5))).status, 200);
    assert.equal(planOf(owner.projectId), `starter|active|${customer}`, 'found by customer, downgraded');

    // An older event arriving late does not undo a newer one.
    assert.equal((await deliver(event('customer.subscription.updated', sub('active', 'price_pro_local'), -60))).status, 200);
    assert.equal(planOf(owner.projectId).split('|')[0], 'starter');

    assert.equal((await deliver(event('customer.subscription.deleted', sub('canceled', 'price_starter_local'), 10))).status, 200);
    assert.equal(planOf(owner.projectId), `free|canceled|${customer}`);
  });

  test('bad signatures, other secrets and stale timestamps are refused and change nothing', async () => {
    const evt = event('customer.subscription.updated', { id: 'sub_1', customer, status: 'active', items: { data: [{ price: { id: 'price_pro_local' } }] } }, 20);
    const wrongSecret = await deliver(evt, { secret: 'whsec_someone_else' });
    assert.equal(wrongSecret.status, 400);
    assert.match(wrongSecret.json.error, /No signatures found/);
    const stale = await deliver(evt, { timestamp: Math.floor(Date.now() / 1000) - 600 });
    assert.equal(stale.status, 400);
    assert.match(stale.json.error, /tolerance/);
    const unsigned = await fetch(`${h.stack.dashboardUrl}/stripe/webhook`, { method: 'POST', body: JSON.stringify(evt) });
    assert.equal(unsigned.status, 400);
    assert.equal(planOf(owner.projectId).split('|')[0], 'free');
    assert.equal(sql(`select count(*) from stripe_events where id = '${evt.id}'`), '0');
  });

  test('a failed payment emails the owner through Resend, once even when delivered twice at once', async () => {
    const evt = event('invoice.payment_failed', { id: 'in_1', object: 'invoice', customer, amount_due: 2900, currency: 'usd', hosted_invoice_url: 'https://invoice.stripe.com/i/test' });
    const both = await Promise.all([deliver(evt), deliver(evt)]);
    assert.deepEqual(both.map((r) => r.status), [200, 200]);
    assert.equal(both.filter((r) => r.json.duplicate).length, 1, 'one delivery applied, the other acknowledged');
    const mail = await eventually(async () => (await captured()).emails.find((m) => m.to.includes(owner.email) && /Payment failed/.test(m.subject)), { what: 'payment-failed email' });
    assert.equal(mail.subject, 'Payment failed for Paid project');
    assert.equal(mail.from, 'WatchLLM <notifications@watchllm.dev>');
    assert.match(mail.text, /29\.00 USD/);
    assert.match(mail.text, /https:\/\/invoice\.stripe\.com\/i\/test/);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal((await captured()).emails.filter((m) => m.to.includes(owner.email) && /Payment failed/.test(m.subject)).length, 1);
  });

  test('the customer portal opens for a project with a Stripe customer', async () => {
    const r = await post(`/projects/${owner.projectId}/billing/portal`, owner.cookie);
    assert.equal(r.status, 303);
    assert.match(r.headers.get('location'), /^https:\/\/billing\.stripe\.com\/p\/session\/bps_/);
    const call = (await captured()).stripe.find((c) => c.path === '/v1/billing_portal/sessions' && c.params.customer === customer);
    assert.ok(call);
  });

  test('usage alerts at 80% and 100% of the plan, each sent once a month', async () => {
    const { email, projectId } = await ownerWithProject();
    const fill = (n) => sql(`insert into usage_logs (request_id, project_id, key_kind, billable, endpoint, cache_status, status_code) select 'seed-' || g, '${projectId}', 'live', true, 'chat', 'HIT', 200 from generate_series(1, ${n}) g`);
    const runCron = async () => assert.equal((await fetch(`${h.stack.dashboardUrl}/__scheduled?cron=*/15+*+*+*+*`)).status, 200);
    const alerts = async () => (await captured()).emails.filter((m) => m.to.includes(email));

    fill(7999);
    await runCron();
    assert.equal((await alerts()).length, 0, 'nothing below 80%');
    fill(1);
    await runCron();
    let mails = await eventually(async () => ((await alerts()).length >= 1) && (await alerts()), { what: '80% alert' });
    assert.equal(mails.length, 1);
    assert.equal(mails[0].subject, 'Paid project has used 80% of its free requests this month');
    await runCron();
    assert.equal((await alerts()).length, 1, 'not sent twice');
    fill(2000);
    await runCron();
    mails = await eventually(async () => ((await alerts()).length >= 2) && (await alerts()), { what: '100% alert' });
    assert.equal(mails[1].subject, 'Paid project has used all its free requests this month');
    assert.equal(sql(`select string_agg(threshold::text, ',' order by threshold) from usage_alerts where project_id = '${projectId}'`), '80,100');
    assert.deepEqual((await captured()).rejected.filter((r) => r.path === '/emails'), [], 'Resend accepted every email');
  });
});
