// Time to the first byte of a streamed answer, the way every benchmark here times it: from the
// request to the first chunk of the body (the rest is read, so the connection is reused).
export async function firstByte(url, body, headers) {
  const t = performance.now();
  const r = await fetch(url, { method: 'POST', headers, body });
  if (r.status !== 200) throw new Error(`HTTP ${r.status} from ${url}`);
  const reader = r.body.getReader();
  await reader.read();
  const ms = performance.now() - t;
  while (!(await reader.read()).done);
  return ms;
}
