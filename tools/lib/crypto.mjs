// Small crypto helpers for the dev tools: HS256 JWTs (Supabase-style anon/service keys),
// WatchLLM API keys with their SHA-256, and provider-key encryption matching src/secrets.rs.
import crypto from 'node:crypto';

const b64url = (buf) => Buffer.from(buf).toString('base64url');

export function signJwt(claims, secret) {
  const header = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const payload = b64url(JSON.stringify(claims));
  const sig = crypto.createHmac('sha256', secret).update(`${header}.${payload}`).digest('base64url');
  return `${header}.${payload}.${sig}`;
}

/** Supabase-style API keys: JWTs whose `role` claim is anon or service_role. */
export function supabaseKeys(secret) {
  const iat = Math.floor(Date.now() / 1000);
  const exp = iat + 10 * 365 * 24 * 3600;
  return {
    anon: signJwt({ iss: 'supabase-local', role: 'anon', iat, exp }, secret),
    service: signJwt({ iss: 'supabase-local', role: 'service_role', iat, exp }, secret),
  };
}

const ALPHANUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** A new WatchLLM key: `lgw_proj_` (live) or `lgw_test_` (test) and 32 random characters. */
export function newApiKey(kind = 'live') {
  const bytes = crypto.randomBytes(32);
  const secret = Array.from(bytes, (b) => ALPHANUM[b % ALPHANUM.length]).join('');
  const key = `${kind === 'test' ? 'lgw_test_' : 'lgw_proj_'}${secret}`;
  return { key, hash: sha256Hex(key), prefix: key.slice(0, 13) };
}

export const sha256Hex = (s) => crypto.createHash('sha256').update(s).digest('hex');

/** AES-256-GCM as in src/secrets.rs: 'v1:' + base64(nonce || ciphertext || tag). */
export function encryptSecret(keyB64, plaintext) {
  const iv = crypto.randomBytes(12);
  const c = crypto.createCipheriv('aes-256-gcm', Buffer.from(keyB64, 'base64'), iv);
  const ct = Buffer.concat([c.update(plaintext, 'utf8'), c.final(), c.getAuthTag()]);
  return 'v1:' + Buffer.concat([iv, ct]).toString('base64');
}

/** Verifies an HS256 JWT (signature and expiry); returns its claims or null. */
export function verifyJwt(token, secret) {
  const [h, p, s] = String(token).split('.');
  if (!h || !p || !s) return null;
  const expected = crypto.createHmac('sha256', secret).update(`${h}.${p}`).digest();
  const given = Buffer.from(s, 'base64url');
  if (given.length !== expected.length || !crypto.timingSafeEqual(given, expected)) return null;
  try {
    if (JSON.parse(Buffer.from(h, 'base64url').toString()).alg !== 'HS256') return null;
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString());
    return claims.exp > Date.now() / 1000 ? claims : null;
  } catch {
    return null;
  }
}
