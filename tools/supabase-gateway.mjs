// A local stand-in for Supabase's API gateway: requires an `apikey` (header or query param) that
// is the project's anon or service_role key, answering 401 with Supabase's messages otherwise,
// forwards /rest/v1/* to a PostgREST-compatible server (postrust), passing the apikey as the
// bearer token when the request has none, as Supabase does, and serves /auth/v1/* with the local
// Supabase Auth stand-in (tools/supabase-auth.mjs) when given a database. GET /__counts says how
// many REST requests each table or view has had (tests and the benchmark count key lookups).
import http from 'node:http';
import { supabaseAuth } from './supabase-auth.mjs';
import { readBody } from './lib/read-body.mjs';

export async function startSupabaseGateway({ port, restUrl, keys, dbUrl, jwtSecret, host = '127.0.0.1' }) {
  const valid = new Set([keys.anon, keys.service]);
  const rest = new URL(restUrl);
  const auth = dbUrl ? supabaseAuth({ dbUrl, jwtSecret, issuer: `http://${host}:${port}/auth/v1` }) : null;
  const counts = {};
  const server = http.createServer(async (req, res) => {
    const send = (status, body) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    const url = new URL(req.url, 'http://x');
    if (url.pathname === '/__counts') return send(200, counts);
    const apikey = req.headers.apikey || url.searchParams.get('apikey');
    if (!apikey) return send(401, { message: 'No API key found in request', hint: 'No `apikey` request header or url param was found.' });
    if (!valid.has(apikey)) return send(401, { message: 'Invalid API key', hint: 'Double check your Supabase `anon` or `service_role` API key.' });
    if (auth && url.pathname.startsWith('/auth/v1/')) {
      const raw = await readBody(req);
      if (!raw) return; // the caller hung up: nothing to answer
      let body = null;
      try {
        body = raw.length ? JSON.parse(raw.toString('utf8')) : null;
      } catch {
        return send(400, { code: 400, error_code: 'bad_json', msg: 'Could not parse request body as JSON' });
      }
      try {
        const r = await auth(req.method, url.pathname.slice('/auth/v1'.length), url.searchParams, req, body);
        if (r.body === null) {
          res.writeHead(r.status);
          return res.end();
        }
        return send(r.status, r.body);
      } catch (e) {
        return send(500, { code: 500, error_code: 'unexpected_failure', msg: String(e.message) });
      }
    }
    if (!url.pathname.startsWith('/rest/v1/') && url.pathname !== '/rest/v1') return send(404, { message: 'no Route matched with those values' });
    url.searchParams.delete('apikey');
    const resource = url.pathname.slice('/rest/v1/'.length).split('/')[0];
    counts[resource] = (counts[resource] || 0) + 1;
    const headers = { ...req.headers, host: rest.host };
    delete headers.apikey;
    if (!headers.authorization) headers.authorization = `Bearer ${apikey}`;
    const upstream = http.request(
      { host: rest.hostname, port: rest.port, method: req.method, path: url.pathname.slice('/rest/v1'.length) + url.search || '/', headers },
      (up) => {
        res.writeHead(up.statusCode, up.headers);
        up.pipe(res);
      },
    );
    upstream.on('error', (e) => send(502, { message: 'An invalid response was received from the upstream server', hint: String(e.message) }));
    req.pipe(upstream);
  });
  await new Promise((resolve) => server.listen(port, host, resolve));
  return { url: `http://${host}:${port}`, close: () => new Promise((r) => { server.closeAllConnections?.(); server.close(r); }) };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { port, rest, anon, service, db, jwt } = Object.fromEntries(process.argv.slice(2).map((a) => a.replace(/^--/, '').split(/=(.*)/s).slice(0, 2)));
  const s = await startSupabaseGateway({ port: Number(port), restUrl: rest, keys: { anon, service }, dbUrl: db, jwtSecret: jwt });
  console.log(`supabase gateway listening on ${s.url}`);
}
