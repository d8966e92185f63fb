// Time to the first byte of a streamed answer, the way every benchmark here times it: from the
// request to the first chunk of the body (the rest is read, so the connection is reused).
// `onHeaders` is called when the response's headers arrive (`npm run bench:miss` notes the time).
export async function firstByte(url, body, headers, onHeaders = () => {}) {
  const t = performance.now();
  const r = await fetch(url, { method: 'POST', headers, body });
  onHeaders();
  if (r.status !== 200) throw new Error(`HTTP ${r.status} from ${url}`);
  const reader = r.body.getReader();
  await reader.read();
  const ms = performance.now() - t;
  while (!(await reader.read()).done);
  return ms;
}
