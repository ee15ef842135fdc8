import crypto from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { promisify } from 'node:util';
import { operations } from '../../contract/operations.js';
import { audit } from '../audit.js';
import { HttpError, clientIp, parseCookies, validate } from '../http.js';
import * as inst from '../instruments.js';
import { bind, headerValue, type Principal, type RouteBinding } from '../routing.js';
import { ATTR_SAGEWAI_AUTH_OUTCOME } from '../semconv.js';
import { newId, newSecret, sha256, type Awaitable, type Db, type Prepare } from '../store.js';

/** First-run setup, users, sessions and bearer tokens; who is calling (authenticate). */
const scrypt = promisify(crypto.scrypt) as (pw: string, salt: Buffer, len: number) => Promise<Buffer>;

export async function hashPassword(pw: string): Promise<string> {
  const salt = crypto.randomBytes(16);
  const key = await scrypt(pw, salt, 32);
  return `scrypt$${salt.toString('base64')}$${key.toString('base64')}`;
}

export async function verifyPassword(pw: string, stored: string): Promise<boolean> {
  const [kind, saltB64, keyB64] = stored.split('$');
  if (kind !== 'scrypt' || !saltB64 || !keyB64) return false;
  const key = await scrypt(pw, Buffer.from(saltB64, 'base64'), 32);
  const want = Buffer.from(keyB64, 'base64');
  return want.length === key.length && crypto.timingSafeEqual(want, key);
}

interface UserRow {
  id: string;
  email: string;
  name: string;
  role: string;
  password_hash: string;
}

export interface AuthStore {
  setupRequired(): Awaitable<boolean>;
  /** Org and admin user in one transaction; false when setup was already done (also by a concurrent caller). */
  completeSetup(org: { name: string; slug: string; appName: string | null }, user: Omit<UserRow, 'role'> & { role: 'admin' }, now: number): Awaitable<boolean>;
  userByEmail(email: string): Awaitable<UserRow | undefined>;
  user(id: string): Awaitable<Omit<UserRow, 'password_hash'> | undefined>;
  insertSession(s: { tokenHash: string; userId: string; csrf: string; expiresAt: number }, now: number): Awaitable<void>;
  deleteSession(tokenHash: string): Awaitable<void>;
  session(tokenHash: string, now: number): Awaitable<{ user_id: string; csrf: string } | undefined>;
  token(tokenHash: string): Awaitable<{ id: string; kind: string; project: string | null } | undefined>;
}

export class SqliteAuthStore implements AuthStore {
  constructor(private readonly db: Db, private readonly sql: Prepare) {}
  setupRequired(): boolean {
    return this.sql('SELECT 1 FROM org WHERE id = 1').get() === undefined;
  }
  completeSetup(org: { name: string; slug: string; appName: string | null }, user: Omit<UserRow, 'role'> & { role: 'admin' }, now: number): boolean {
    return this.db.transaction(() => {
      if (!this.setupRequired()) return false;
      this.sql('INSERT INTO org (id, name, slug, app_name, created_at) VALUES (1, ?, ?, ?, ?)').run(org.name, org.slug, org.appName, now);
      this.sql('INSERT INTO users (id, email, name, role, password_hash, created_at) VALUES (?, ?, ?, ?, ?, ?)').run(user.id, user.email, user.name, user.role, user.password_hash, now);
      return true;
    })();
  }
  userByEmail(email: string): UserRow | undefined {
    return this.sql<[string], UserRow>('SELECT * FROM users WHERE email = ?').get(email);
  }
  user(id: string): Omit<UserRow, 'password_hash'> | undefined {
    return this.sql<[string], Omit<UserRow, 'password_hash'>>('SELECT id, email, name, role FROM users WHERE id = ?').get(id);
  }
  insertSession(s: { tokenHash: string; userId: string; csrf: string; expiresAt: number }, now: number): void {
    this.sql('INSERT INTO sessions (token_hash, user_id, csrf, created_at, expires_at) VALUES (?, ?, ?, ?, ?)').run(s.tokenHash, s.userId, s.csrf, now, s.expiresAt);
  }
  deleteSession(tokenHash: string): void {
    this.sql('DELETE FROM sessions WHERE token_hash = ?').run(tokenHash);
  }
  session(tokenHash: string, now: number): { user_id: string; csrf: string } | undefined {
    return this.sql<[string, number], { user_id: string; csrf: string }>('SELECT user_id, csrf FROM sessions WHERE token_hash = ? AND expires_at > ?').get(tokenHash, now);
  }
  token(tokenHash: string): { id: string; kind: string; project: string | null } | undefined {
    return this.sql<[string], { id: string; kind: string; project: string | null }>('SELECT id, kind, project FROM tokens WHERE token_hash = ?').get(tokenHash);
  }
}

const LOGIN_WINDOW_MS = 15 * 60_000;
const LOGIN_MAX_FAILURES = 5;
const SESSION_TTL_MS = 12 * 3_600_000;
const SESSION_COOKIE = 'sagewai_session';
const CSRF_COOKIE = 'sagewai_csrf';
/** Verified when the e-mail is unknown, so an unknown address costs the same time as a wrong password. */
const DUMMY_HASH = 'scrypt$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=';

export class Auth {
  /** Failed logins per (client address, e-mail hash), for throttling; in memory, per process. */
  private readonly loginFailures = new Map<string, number[]>();

  constructor(readonly store: AuthStore) {}

  async setup(input: { org_name: string; org_slug?: string | undefined; app_name?: string | undefined; admin_email: string; admin_password: string; admin_name?: string | undefined }): Promise<{ org: { name: string; slug: string }; user: { id: string; email: string; name: string; role: string } }> {
    if (!(await this.store.setupRequired())) throw new HttpError(409, 'setup_already_done', 'setup has already been completed');
    const hash = await hashPassword(input.admin_password);
    const slug = input.org_slug ?? (input.org_name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 63) || 'org');
    const user = { id: newId('usr'), email: input.admin_email.toLowerCase(), name: input.admin_name ?? 'Admin', role: 'admin' as const };
    if (!(await this.store.completeSetup({ name: input.org_name, slug, appName: input.app_name ?? null }, { ...user, password_hash: hash }, Date.now()))) throw new HttpError(409, 'setup_already_done', 'setup has already been completed');
    audit('setup.completed', undefined, user.id, { 'sagewai.org.slug': slug });
    return { org: { name: input.org_name, slug }, user };
  }

  /** Who is calling: a session (bearer or cookie, with CSRF on changes), a project token or the operator token. */
  async authenticate(req: IncomingMessage, method: string): Promise<Principal> {
    const authz = headerValue(req, 'authorization');
    const now = Date.now();
    if (authz) {
      const m = /^Bearer\s+(\S+)$/i.exec(authz);
      if (!m) throw new HttpError(401, 'unauthorized', 'Authorization must be "Bearer <token>"', {}, { 'www-authenticate': 'Bearer' });
      const h = sha256(m[1] as string);
      const s = await this.store.session(h, now);
      if (s) return { kind: 'user', id: s.user_id, project: null, via: 'bearer', sessionHash: h };
      const t = await this.store.token(h);
      if (t) return { kind: t.kind === 'project' ? 'project' : 'operator', id: t.kind === 'operator' ? 'operator' : t.id, project: t.project, via: 'bearer' };
      throw new HttpError(401, 'unauthorized', 'invalid or expired token', {}, { 'www-authenticate': 'Bearer' });
    }
    const cookies = parseCookies(headerValue(req, 'cookie'));
    const sess = cookies[SESSION_COOKIE];
    if (sess) {
      const h = sha256(sess);
      const s = await this.store.session(h, now);
      if (!s) throw new HttpError(401, 'unauthorized', 'session expired; log in again');
      if (!['GET', 'HEAD'].includes(method)) {
        const sent = headerValue(req, 'x-csrf-token') ?? '';
        const a = Buffer.from(sent);
        const b = Buffer.from(s.csrf);
        if (a.length !== b.length || !crypto.timingSafeEqual(a, b)) throw new HttpError(403, 'csrf_failed', 'cookie-authenticated changes need the X-CSRF-Token header (the sagewai_csrf cookie value)');
      }
      return { kind: 'user', id: s.user_id, project: null, via: 'cookie', csrf: s.csrf, sessionHash: h };
    }
    throw new HttpError(401, 'unauthorized', 'authentication required: Authorization: Bearer <token> or a session cookie', {}, { 'www-authenticate': 'Bearer' });
  }

  routes(): RouteBinding[] {
    const ops = operations;
    return [
      bind(ops.setupStatus, async () => ({ status: 200, body: { setup_required: await this.store.setupRequired() } })),
      bind(ops.setup, async (ctx) => ({ status: 201, body: await this.setup(validate(ops.setup.body, await ctx.body())) })),
      bind(ops.login, async (ctx) => {
        const input = validate(ops.login.body, await ctx.body());
        const key = `${clientIp(ctx.req)}|${sha256(input.email.toLowerCase())}`;
        const now = Date.now();
        const recent = (this.loginFailures.get(key) ?? []).filter((t) => t > now - LOGIN_WINDOW_MS);
        if (recent.length >= LOGIN_MAX_FAILURES) {
          const retry = Math.max(1, Math.ceil(((recent[0] as number) + LOGIN_WINDOW_MS - now) / 1000));
          inst.authLogins.add(1, { [ATTR_SAGEWAI_AUTH_OUTCOME]: 'throttled' });
          audit('auth.login.throttled', undefined, undefined, { 'client.address': clientIp(ctx.req) });
          throw new HttpError(429, 'too_many_attempts', 'too many failed logins; wait before trying again', { retry_after_s: retry }, { 'retry-after': String(retry) });
        }
        const user = await this.store.userByEmail(input.email.toLowerCase());
        const ok = user ? await verifyPassword(input.password, user.password_hash) : (await verifyPassword(input.password, DUMMY_HASH), false);
        if (!user || !ok) {
          recent.push(now);
          this.loginFailures.set(key, recent);
          if (this.loginFailures.size > 10_000) {
            for (const [k, v] of this.loginFailures) if ((v[v.length - 1] ?? 0) <= now - LOGIN_WINDOW_MS) this.loginFailures.delete(k);
          }
          inst.authLogins.add(1, { [ATTR_SAGEWAI_AUTH_OUTCOME]: 'failed' });
          audit('auth.login.failed', undefined, user?.id, { 'client.address': clientIp(ctx.req) });
          throw new HttpError(401, 'invalid_credentials', 'wrong e-mail or password');
        }
        this.loginFailures.delete(key);
        const token = `sgs_${newSecret()}`;
        const csrf = newSecret();
        await this.store.insertSession({ tokenHash: sha256(token), userId: user.id, csrf, expiresAt: now + SESSION_TTL_MS }, now);
        inst.authLogins.add(1, { [ATTR_SAGEWAI_AUTH_OUTCOME]: 'success' });
        audit('auth.login.success', undefined, user.id);
        const maxAge = Math.floor(SESSION_TTL_MS / 1000);
        return {
          status: 200,
          body: { access_token: token, token_type: 'bearer' as const, expires_in: maxAge, user: { id: user.id, email: user.email, name: user.name, role: user.role } },
          headers: { 'set-cookie': [`${SESSION_COOKIE}=${token}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${maxAge}`, `${CSRF_COOKIE}=${csrf}; SameSite=Strict; Path=/; Max-Age=${maxAge}`] },
        };
      }),
      bind(ops.me, async (ctx) => {
        const p = ctx.principal as Principal;
        const user = p.kind === 'user' ? await this.store.user(p.id) : undefined;
        return { status: 200, body: { user: user ?? null, token: { kind: p.kind, project: p.project } } };
      }),
      bind(ops.logout, async (ctx) => {
        const p = ctx.principal as Principal;
        if (p.sessionHash) await this.store.deleteSession(p.sessionHash);
        audit('auth.logout', undefined, p.id);
        return { status: 200, body: { ok: true as const }, headers: { 'set-cookie': [`${SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0`, `${CSRF_COOKIE}=; SameSite=Strict; Path=/; Max-Age=0`] } };
      }),
    ];
  }
}
