// A Worker in plain workerd through Miniflare, reached the way production reaches one: on a socket
// of its own (`unsafeDirectSockets`), not through Miniflare's entry worker (a JavaScript Worker it
// puts in front, which rebuilds each request and gzips JSON answers; it added 1.0 ms to the floor's
// MISS and 1.5-1.75 ms to ours in `npm run bench:miss` with `ENTRY=1`). One place for the bench,
// its floor, the MISS timeline and the soak.
import { Miniflare } from 'miniflare';

/**
 * Starts `options` (Miniflare's) on 127.0.0.1; `direct` (the default) on its own socket at `port`
 * (0: any free one), else through the entry worker at `port`. Returns `url` (no trailing slash),
 * `entryUrl` (through the entry worker) and `mf`; a workerd that fails to start is disposed of
 * (a half-started one would keep the process alive).
 */
export async function startMiniflare(options, { direct = true, port = 0 } = {}) {
  const mf = new Miniflare({
    host: '127.0.0.1',
    port: direct ? 0 : port,
    ...(direct ? { unsafeDirectSockets: [{ host: '127.0.0.1', port }] } : {}),
    ...options,
  });
  try {
    const entryUrl = String(await mf.ready).replace(/\/$/, '');
    const url = direct ? String(await mf.unsafeGetDirectURL()).replace(/\/$/, '') : entryUrl;
    return { mf, url, entryUrl };
  } catch (e) {
    await mf.dispose().catch(() => {});
    throw e;
  }
}
