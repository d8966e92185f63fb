// A local Upstash Redis REST endpoint in front of a real redis-server, for development and tests.
// It follows Upstash's REST protocol: POST / with a JSON command array, POST /pipeline and
// POST /multi-exec with arrays of commands, GET/POST /<cmd>/<args...> path commands, Bearer token
// auth (401 when missing or wrong), {"result": ...} replies, {"error": "..."} with HTTP 400 on a
// command error, and the `Upstash-Encoding: base64` response option.
//
// Usage: node tools/upstash-rest.mjs --port 8079 --redis redis://127.0.0.1:6390 --token TOKEN
import http from 'node:http';
import { createClient } from 'redis';
import { parseArgs } from 'node:util';
import { readBody } from './lib/read-body.mjs';

export async function startUpstashRest({ port, redisUrl, token, host = '127.0.0.1' }) {
  const client = createClient({ url: redisUrl, disableOfflineQueue: true, socket: { reconnectStrategy: (n) => Math.min(50 * n, 500) } });
  client.on('error', () => {}); // reconnects on its own; requests meanwhile fail with 503
  await client.connect().catch(() => {});

  const encode = (value, base64) => {
    if (!base64) return value;
    if (typeof value === 'string') return Buffer.from(value).toString('base64');
    if (Array.isArray(value)) return value.map((v) => encode(v, true));
    return value;
  };
  const toArgs = (cmd) => {
    if (!Array.isArray(cmd) || cmd.length === 0) throw new TypeError('ERR command must be a non-empty JSON array');
    return cmd.map((a) => (typeof a === 'string' ? a : typeof a === 'number' || typeof a === 'boolean' ? String(a) : JSON.stringify(a)));
  };
  const run = async (cmd) => {
    try {
      return { result: await client.sendCommand(toArgs(cmd)) };
    } catch (e) {
      if (!client.isReady) throw Object.assign(new Error('Redis is unavailable'), { unavailable: true });
      return { error: String(e.message || e) };
    }
  };

  const server = http.createServer(async (req, res) => {
    const send = (status, body) => {
      const text = JSON.stringify(body);
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
      res.end(text);
    };
    const auth = req.headers.authorization || '';
    const given = auth.startsWith('Bearer ') ? auth.slice(7) : new URL(req.url, 'http://x').searchParams.get('_token');
    if (!given) return send(401, { error: 'Unauthorized' });
    if (given !== token) return send(401, { error: 'WRONGPASS invalid or missing auth token' });
    const base64 = (req.headers['upstash-encoding'] || '').toLowerCase() === 'base64';

    const body = await readBody(req);
    if (!body) return; // the caller hung up: nothing to answer
    const raw = body.toString('utf8');
    const path = new URL(req.url, 'http://x').pathname;
    try {
      if (req.method === 'POST' && (path === '/pipeline' || path === '/multi-exec')) {
        let cmds;
        try {
          cmds = JSON.parse(raw);
        } catch {
          return send(400, { error: 'ERR failed to parse pipeline request' });
        }
        if (!Array.isArray(cmds) || cmds.length === 0 || !cmds.every(Array.isArray)) return send(400, { error: 'ERR pipeline request must be an array of commands' });
        if (path === '/multi-exec') {
          const multi = client.multi();
          for (const c of cmds) multi.addCommand(toArgs(c));
          try {
            const results = await multi.exec();
            return send(200, results.map((r) => (r instanceof Error ? { error: r.message } : { result: encode(r, base64) })));
          } catch (e) {
            if (!client.isReady) throw Object.assign(e, { unavailable: true });
            return send(400, { error: String(e.message || e) });
          }
        }
        // Sent together: the client writes them to Redis in order on one connection (a pipeline),
        // as Upstash does, instead of one round trip per command.
        const results = await Promise.all(
          cmds.map((c) =>
            run(c).catch((e) => {
              if (e.unavailable) throw e;
              return { error: String(e.message) };
            }),
          ),
        );
        const out = results.map((r) => (r.error ? r : { result: encode(r.result, base64) }));
        return send(200, out);
      }
      let cmd;
      if (req.method === 'POST' && path === '/') {
        try {
          cmd = JSON.parse(raw);
        } catch {
          return send(400, { error: 'ERR failed to parse command' });
        }
      } else if (path !== '/') {
        cmd = path.slice(1).split('/').map(decodeURIComponent);
        if (req.method === 'POST' && raw.length) cmd.push(raw);
      } else {
        return send(400, { error: 'ERR empty command' });
      }
      let r;
      try {
        r = await run(cmd);
      } catch (e) {
        if (e.unavailable) throw e;
        return send(400, { error: String(e.message) });
      }
      return r.error ? send(400, r) : send(200, { result: encode(r.result, base64) });
    } catch (e) {
      return send(503, { error: `ERR ${e.message}` });
    }
  });
  await new Promise((resolve) => server.listen(port, host, resolve));
  return {
    url: `http://${host}:${port}`,
    close: async () => {
      server.closeAllConnections?.();
      await new Promise((r) => server.close(r));
      await client.quit().catch(() => client.disconnect().catch(() => {}));
    },
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { port: { type: 'string', default: '8079' }, redis: { type: 'string', default: 'redis://127.0.0.1:6379' }, token: { type: 'string' } } });
  process.on('SIGTERM', () => process.exit(0));
  const s = await startUpstashRest({ port: Number(values.port), redisUrl: values.redis, token: values.token || process.env.UPSTASH_TOKEN });
  console.log(`upstash-rest listening on ${s.url}`);
}
