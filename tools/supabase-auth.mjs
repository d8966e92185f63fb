// A local stand-in for the Supabase Auth (GoTrue) endpoints the dashboard uses, backed by the same
// PostgreSQL (auth.users, auth.sessions, auth.refresh_tokens; see supabase/local/auth.sql), with
// GoTrue's request and response shapes, error bodies ({code, error_code, msg}) and HS256 access
// tokens signed with the project's JWT secret (aud/role "authenticated", sub, email, session_id):
//   POST /auth/v1/signup                       {email, password} -> session (autoconfirm)
//   POST /auth/v1/token?grant_type=password    {email, password} -> session
//   POST /auth/v1/token?grant_type=refresh_token {refresh_token} -> session
//   GET  /auth/v1/user                         Bearer access token -> user
//   POST /auth/v1/logout                       Bearer access token -> 204, session revoked
import crypto from 'node:crypto';
import pg from 'pg';
import { signJwt, verifyJwt } from './lib/crypto.mjs';

const EXPIRES_IN = 3600;
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

export function supabaseAuth({ dbUrl, jwtSecret, issuer }) {
  const pool = new pg.Pool({ connectionString: dbUrl, max: 4 });
  const q = (sql, params) => pool.query(sql, params).then((r) => r.rows);
  const fail = (code, errorCode, msg) => ({ status: code, body: { code, error_code: errorCode, msg } });
  const userJson = (u) => ({
    id: u.id, aud: u.aud, role: u.role, email: u.email, email_confirmed_at: u.email_confirmed_at,
    last_sign_in_at: u.last_sign_in_at, created_at: u.created_at, updated_at: u.updated_at,
    app_metadata: { provider: 'email', providers: ['email'] }, user_metadata: {}, identities: [],
  });
  const session = async (user, sessionId) => {
    if (!sessionId) [{ id: sessionId }] = await q('insert into auth.sessions (user_id) values ($1) returning id', [user.id]);
    const refresh = crypto.randomBytes(24).toString('base64url');
    await q('insert into auth.refresh_tokens (token, session_id) values ($1, $2)', [refresh, sessionId]);
    const [u] = await q('update auth.users set last_sign_in_at = now() where id = $1 returning *', [user.id]);
    const iat = Math.floor(Date.now() / 1000);
    const access = signJwt({ aud: 'authenticated', exp: iat + EXPIRES_IN, iat, iss: issuer, sub: u.id, email: u.email, phone: '', role: 'authenticated', aal: 'aal1', amr: [{ method: 'password', timestamp: iat }], session_id: sessionId, is_anonymous: false }, jwtSecret);
    return { status: 200, body: { access_token: access, token_type: 'bearer', expires_in: EXPIRES_IN, expires_at: iat + EXPIRES_IN, refresh_token: refresh, user: userJson(u) } };
  };
  const bearer = async (req) => {
    const token = /^Bearer (.+)$/i.exec(req.headers.authorization || '')?.[1];
    if (!token) return { error: fail(401, 'no_authorization', 'This endpoint requires a valid Bearer token') };
    const claims = verifyJwt(token, jwtSecret);
    if (!claims || claims.role !== 'authenticated') return { error: fail(403, 'bad_jwt', 'invalid JWT: unable to parse or verify signature, token is expired') };
    const [s] = await q('select s.id, s.revoked_at from auth.sessions s where s.id = $1', [claims.session_id]);
    if (!s || s.revoked_at) return { error: fail(403, 'session_not_found', 'Session from session_id claim in JWT does not exist') };
    const [u] = await q('select * from auth.users where id = $1', [claims.sub]);
    if (!u) return { error: fail(403, 'user_not_found', 'User from sub claim in JWT does not exist') };
    return { user: u, sessionId: s.id };
  };

  async function handle(method, path, search, req, body) {
    if (method === 'POST' && path === '/signup') {
      const email = String(body?.email || '').trim().toLowerCase();
      const password = String(body?.password || '');
      if (!EMAIL.test(email)) return fail(400, 'validation_failed', 'Unable to validate email address: invalid format');
      if (password.length < 6) return { status: 422, body: { code: 422, error_code: 'weak_password', msg: 'Password should be at least 6 characters.', weak_password: { reasons: ['length'] } } };
      const [existing] = await q('select 1 from auth.users where email = $1', [email]);
      if (existing) return fail(422, 'user_already_exists', 'User already registered');
      const [u] = await q("insert into auth.users (email, encrypted_password) values ($1, crypt($2, gen_salt('bf', 10))) returning *", [email, password]);
      return session(u);
    }
    if (method === 'POST' && path === '/token') {
      const grant = search.get('grant_type');
      if (grant === 'password') {
        const email = String(body?.email || '').trim().toLowerCase();
        const [u] = await q('select * from auth.users where email = $1 and encrypted_password = crypt($2, encrypted_password)', [email, String(body?.password || '')]);
        if (!u) return fail(400, 'invalid_credentials', 'Invalid login credentials');
        return session(u);
      }
      if (grant === 'refresh_token') {
        const [t] = await q('update auth.refresh_tokens set revoked = true where token = $1 and not revoked returning session_id', [String(body?.refresh_token || '')]);
        if (!t) return fail(400, 'refresh_token_not_found', 'Invalid Refresh Token: Refresh Token Not Found');
        const [u] = await q('select u.* from auth.sessions s join auth.users u on u.id = s.user_id where s.id = $1 and s.revoked_at is null', [t.session_id]);
        if (!u) return fail(400, 'session_not_found', 'Invalid Refresh Token: Session Expired');
        return session(u, t.session_id);
      }
      return fail(400, 'unsupported_grant_type', 'unsupported_grant_type');
    }
    if (method === 'GET' && path === '/user') {
      const { user, error } = await bearer(req);
      return error || { status: 200, body: userJson(user) };
    }
    if (method === 'POST' && path === '/logout') {
      const { sessionId, error } = await bearer(req);
      if (error) return error;
      await q('update auth.sessions set revoked_at = now() where id = $1', [sessionId]);
      return { status: 204, body: null };
    }
    return fail(404, 'not_found', 'Not Found');
  }
  handle.close = () => pool.end();
  return handle;
}
