// The floor a MISS is measured against (`npm run bench`, `npm run bench:miss`): a minimal
// JavaScript Worker in plain workerd making the two subrequests a MISS makes, one Upstash REST
// call and then the upstream call, and returning the upstream's body (a streamed one as it
// arrives). With `platform`, it also makes the platform calls ours makes (the `cf` object, 14
// header reads, a deadline signal on each subrequest, 18 response headers, a store subrequest
// 1 ms after the response), so the difference to ours is the WebAssembly side alone. It runs
// under the proxy's compatibility date (wrangler.toml), so both get the same runtime behaviour.
import { startMiniflare } from './workerd.mjs';

const HEADERS_READ = ['authorization', 'origin', 'content-length', 'cache-control', 'pragma', 'sec-fetch-mode', 'x-watchllm-bypass-cache', 'x-watchllm-refresh-cache', 'x-watchllm-namespace', 'x-watchllm-ttl', 'x-watchllm-max-age', 'x-watchllm-stale-if-error', 'cf-connecting-ip', 'x-forwarded-for'];

function script(platform) {
  const on = (code) => (platform ? code : '');
  return `export default { async fetch(req, env, ctx) {
    ${on(`const cf = req.cf; const method = req.method; const url = req.url;
    for (const name of ${JSON.stringify(HEADERS_READ)}) req.headers.get(name);`)}
    const body = await req.text();
    const redis = (command) => fetch(env.UPSTASH_URL, { method: 'POST', headers: { authorization: 'Bearer ' + env.UPSTASH_TOKEN, 'content-type': 'application/json' }, body: JSON.stringify(command)${on(', signal: AbortSignal.timeout(5000)')} });
    await (await redis(['GET', 'floor:' + body.length])).arrayBuffer();
    const upstream = await fetch(env.UPSTREAM_URL, { method: 'POST', headers: { authorization: 'Bearer ' + env.UPSTREAM_KEY, 'content-type': 'application/json' }, body${on(', signal: AbortSignal.timeout(5000)')} });
    // A streamed request's answer goes back as it arrives: the runtime pipes the upstream's body.
    if (JSON.parse(body).stream === true) return new Response(upstream.body, { status: upstream.status, headers: { 'content-type': 'text/event-stream' } });
    const answer = await upstream.arrayBuffer();
    const headers = new Headers({ 'content-type': 'application/json' });
    ${on(`for (let i = 0; i < 18; i++) headers.set('x-watchllm-header-' + i, 'value ' + i);
    ctx.waitUntil(new Promise((r) => setTimeout(r, 1)).then(() => redis(['SET', 'floor:x' + body.length, 'v', 'EX', '60'])).then((r) => r.arrayBuffer()));`)}
    return new Response(answer, { status: upstream.status, headers });
  } }`;
}

/**
 * Starts the floor Worker; `upstreamUrl` is the full chat completions URL. `direct` (the default):
 * on a socket of its own (tools/lib/workerd.mjs); `entryUrl` reaches it through Miniflare's entry
 * worker.
 */
export async function startFloorWorker({ upstashUrl, upstashToken, upstreamUrl, upstreamKey, platform = false, direct = true, compatibilityDate = '2026-04-01' }) {
  return startMiniflare({ modules: true, script: script(platform), compatibilityDate, bindings: { UPSTASH_URL: upstashUrl, UPSTASH_TOKEN: upstashToken, UPSTREAM_URL: upstreamUrl, UPSTREAM_KEY: upstreamKey } }, { direct });
}
