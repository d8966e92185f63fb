// A request's whole body for the local stand-ins (Upstash adapter, Supabase gateway, fake
// provider, capture server), or null when the caller hung up before sending it all: a Worker's
// subrequests are cancelled with its client, and a hang-up must not take a stand-in down with an
// unhandled 'aborted' error, as it would not take down the service it stands in for.
export async function readBody(req) {
  const chunks = [];
  try {
    for await (const c of req) chunks.push(c);
  } catch {
    return null;
  }
  return Buffer.concat(chunks);
}
