// A Worker in plain workerd through Miniflare, wired the way production wires one (`direct`): on a
// socket of its own (`unsafeDirectSockets`), not through Miniflare's entry worker (a JavaScript
// Worker it puts in front, which rebuilds each request and gzips JSON answers; it added 1.0 ms to
// the floor's MISS and 1.5-1.75 ms to ours in `npm run bench:miss` with `ENTRY=1`), and with its
// subrequests going straight out, not through the JavaScript Worker Miniflare puts behind it
// (`stripCfConnectingIp`: it copies each subrequest's headers to drop CF-Connecting-IP and add
// CF-Worker, which the edge does natively; it added 0.36-0.61 ms to ours and 0.09-0.51 ms to the
// floor, in three interleaved runs). One place for the benches, their floor and the tests.
import fs from 'node:fs';
import { Miniflare } from 'miniflare';

/** Process ids of every running workerd. */
export function workerdPids() {
  return fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d)).filter((pid) => {
    try {
      return fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'workerd';
    } catch {
      return false;
    }
  });
}

/**
 * Starts `options` (Miniflare's) on 127.0.0.1; `direct` (the default) on its own socket at `port`
 * (0: any free one) with no outbound Worker, else as Miniflare sets it up, at `port`. Returns
 * `url` (no trailing slash), `entryUrl` (through the entry worker), `mf` and the new workerd's
 * process id (`pid`, for its CPU and memory); a workerd that fails to start is disposed of (a
 * half-started one would keep the process alive).
 */
export async function startMiniflare(options, { direct = true, port = 0 } = {}) {
  const before = new Set(workerdPids());
  const mf = new Miniflare({
    host: '127.0.0.1',
    port: direct ? 0 : port,
    ...(direct ? { unsafeDirectSockets: [{ host: '127.0.0.1', port }], stripCfConnectingIp: false } : {}),
    ...options,
  });
  try {
    const entryUrl = String(await mf.ready).replace(/\/$/, '');
    const url = direct ? String(await mf.unsafeGetDirectURL()).replace(/\/$/, '') : entryUrl;
    const pid = Number(workerdPids().find((p) => !before.has(p)));
    return { mf, url, entryUrl, pid };
  } catch (e) {
    await mf.dispose().catch(() => {});
    throw e;
  }
}
