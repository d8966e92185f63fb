// Local stand-ins for the outside services the Workers call, strict about the formats the real ones
// accept:
//  - Datadog logs: POST /api/v2/logs with a DD-API-KEY header (403 otherwise), a JSON array of
//    log objects each with a string `message` (400 otherwise); answers 202 {} like the intake.
//  - Sentry: POST /api/<project_id>/envelope/ with `X-Sentry-Auth: Sentry sentry_version=7,
//    sentry_key=<public key>, ...` (401 otherwise) and an envelope body: a header line with a
//    32-hex event_id, then items each with a header whose `length` is the payload's byte length
//    (400 otherwise); answers 200 {"id": event_id}.
//  - Resend: POST /emails with `Authorization: Bearer <key>` (401 otherwise) and a JSON body with
//    `from` ("Name <addr>" or addr), `to` (1-50 addresses), a non-empty `subject` and `html` or
//    `text` (422 validation_error otherwise); answers 200 {"id"}.
//  - Stripe API (what the dashboard calls): POST /v1/checkout/sessions and
//    /v1/billing_portal/sessions, form-encoded, `Authorization: Bearer <secret key>` (401 with
//    Stripe's error body otherwise), required params checked (400 with `param` otherwise);
//    answers like Stripe with an id and a `url`.
// GET /__captured returns what was accepted; DELETE /__captured clears it.
import http from 'node:http';
import crypto from 'node:crypto';
import { readBody } from './lib/read-body.mjs';

const ADDRESS = /^(?:[^<>]*<\s*[^\s@<>]+@[^\s@<>]+\.[^\s@<>]+\s*>|[^\s@<>]+@[^\s@<>]+\.[^\s@<>]+)$/;

export async function startCaptureServer({ port, datadogKey, sentryKey, sentryProject, resendKey, stripeKey, host = '127.0.0.1' }) {
  const captured = { datadog: [], sentry: [], emails: [], stripe: [], rejected: [] };
  const server = http.createServer(async (req, res) => {
    const raw = await readBody(req);
    if (!raw) return; // the caller hung up: nothing to answer
    const url = new URL(req.url, 'http://x');
    const reply = (status, body) => {
      if (status >= 400) captured.rejected.push({ path: url.pathname, status, body });
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (url.pathname === '/__captured') {
      if (req.method === 'DELETE') {
        captured.datadog.length = 0;
        captured.sentry.length = 0;
        captured.emails.length = 0;
        captured.stripe.length = 0;
        captured.rejected.length = 0;
      }
      return reply(200, captured);
    }
    if (req.method !== 'POST') return reply(405, { errors: ['Method Not Allowed'] });

    if (url.pathname === '/api/v2/logs') {
      if (req.headers['dd-api-key'] !== datadogKey) return reply(403, { errors: [{ status: '403', title: 'Forbidden', detail: 'Api key is invalid' }] });
      if (!String(req.headers['content-type']).startsWith('application/json')) return reply(400, { errors: [{ status: '400', title: 'Bad Request', detail: 'expected application/json' }] });
      let logs;
      try {
        logs = JSON.parse(raw.toString('utf8'));
      } catch {
        return reply(400, { errors: [{ status: '400', title: 'Bad Request', detail: 'invalid JSON' }] });
      }
      if (!Array.isArray(logs) || logs.length > 1000 || !logs.every((l) => l && typeof l === 'object' && typeof l.message === 'string')) {
        return reply(400, { errors: [{ status: '400', title: 'Bad Request', detail: 'expected an array of at most 1000 log objects with a message' }] });
      }
      captured.datadog.push(...logs);
      return reply(202, {});
    }

    if (url.pathname === '/emails') {
      if (req.headers.authorization !== `Bearer ${resendKey}`) return reply(401, { statusCode: 401, name: 'validation_error', message: 'API key is invalid' });
      let mail;
      try {
        mail = JSON.parse(raw.toString('utf8'));
      } catch {
        return reply(422, { statusCode: 422, name: 'validation_error', message: 'Invalid JSON body' });
      }
      const to = Array.isArray(mail.to) ? mail.to : [mail.to];
      const problem =
        typeof mail.from !== 'string' || !ADDRESS.test(mail.from) ? 'Invalid `from` field. The email address needs to follow the `email@example.com` or `Name <email@example.com>` format.'
        : !to.length || to.length > 50 || !to.every((a) => typeof a === 'string' && ADDRESS.test(a)) ? 'Invalid `to` field.'
        : typeof mail.subject !== 'string' || !mail.subject ? 'Missing `subject` field.'
        : !mail.html && !mail.text ? 'Missing `html` or `text` field.'
        : null;
      if (problem) return reply(422, { statusCode: 422, name: 'validation_error', message: problem });
      const id = crypto.randomUUID();
      captured.emails.push({ id, ...mail, to });
      return reply(200, { id });
    }

    if (url.pathname === '/v1/checkout/sessions' || url.pathname === '/v1/billing_portal/sessions') {
      if (req.headers.authorization !== `Bearer ${stripeKey}`) return reply(401, { error: { type: 'invalid_request_error', message: 'Invalid API Key provided: ***' } });
      if (!String(req.headers['content-type']).startsWith('application/x-www-form-urlencoded')) return reply(400, { error: { type: 'invalid_request_error', message: 'Invalid request: expected form-encoded parameters' } });
      const params = Object.fromEntries(new URLSearchParams(raw.toString('utf8')));
      const checkout = url.pathname === '/v1/checkout/sessions';
      const required = checkout ? ['mode', 'success_url', 'cancel_url', 'line_items[0][price]'] : ['customer'];
      const missing = required.find((p) => !params[p]);
      if (missing) return reply(400, { error: { type: 'invalid_request_error', message: `Missing required param: ${missing}.`, param: missing } });
      const id = `${checkout ? 'cs_test_' : 'bps_'}${crypto.randomBytes(12).toString('hex')}`;
      captured.stripe.push({ path: url.pathname, id, params });
      return reply(200, checkout
        ? { id, object: 'checkout.session', mode: params.mode, client_reference_id: params.client_reference_id ?? null, customer: params.customer ?? null, url: `https://checkout.stripe.com/c/pay/${id}` }
        : { id, object: 'billing_portal.session', customer: params.customer, return_url: params.return_url ?? null, url: `https://billing.stripe.com/p/session/${id}` });
    }

    const m = /^\/api\/([^/]+)\/envelope\/$/.exec(url.pathname);
    if (m) {
      const auth = String(req.headers['x-sentry-auth'] || '');
      const fields = Object.fromEntries([...auth.replace(/^Sentry\s+/, '').matchAll(/(\w+)=([^,\s]+)/g)].map((x) => [x[1], x[2]]));
      if (!auth.startsWith('Sentry ') || fields.sentry_key !== sentryKey || fields.sentry_version !== '7') return reply(401, { detail: 'invalid auth' });
      if (m[1] !== sentryProject) return reply(404, { detail: 'unknown project' });
      // Envelope: header line, then (item header line, payload of `length` bytes, newline)*.
      let pos = raw.indexOf(10);
      let header;
      try {
        header = JSON.parse(raw.subarray(0, pos).toString('utf8'));
      } catch {
        return reply(400, { detail: 'invalid envelope header' });
      }
      if (!/^[0-9a-f]{32}$/.test(header.event_id || '')) return reply(400, { detail: 'invalid event_id' });
      const items = [];
      pos += 1;
      while (pos < raw.length) {
        const end = raw.indexOf(10, pos);
        let itemHeader;
        try {
          itemHeader = JSON.parse(raw.subarray(pos, end).toString('utf8'));
        } catch {
          return reply(400, { detail: 'invalid item header' });
        }
        const start = end + 1;
        const payload = raw.subarray(start, start + itemHeader.length);
        if (!Number.isInteger(itemHeader.length) || payload.length !== itemHeader.length || (raw[start + itemHeader.length] ?? 10) !== 10) {
          return reply(400, { detail: 'item length does not match its payload' });
        }
        let parsed;
        try {
          parsed = JSON.parse(payload.toString('utf8'));
        } catch {
          return reply(400, { detail: 'item payload is not JSON' });
        }
        items.push({ header: itemHeader, payload: parsed });
        pos = start + itemHeader.length + 1;
      }
      const event = items.find((i) => i.header.type === 'event');
      if (!event || event.payload.event_id !== header.event_id) return reply(400, { detail: 'no event item matching the envelope event_id' });
      captured.sentry.push({ header, auth: fields, event: event.payload });
      return reply(200, { id: header.event_id });
    }
    return reply(404, { detail: 'not found' });
  });
  await new Promise((resolve) => server.listen(port, host, resolve));
  return { url: `http://${host}:${port}`, close: () => new Promise((r) => server.close(r)) };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = Object.fromEntries(process.argv.slice(2).map((a) => a.replace(/^--/, '').split(/=(.*)/s).slice(0, 2)));
  const s = await startCaptureServer({ port: Number(args.port), datadogKey: args['datadog-key'], sentryKey: args['sentry-key'], sentryProject: args['sentry-project'], resendKey: args['resend-key'], stripeKey: args['stripe-key'] });
  console.log(`telemetry capture server listening on ${s.url}`);
}
