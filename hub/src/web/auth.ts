// Signing in to the office page (P14, P15) with well-kept fastify plugins:
//   @fastify/session     server-side sessions (kept in the hub's database, web_sessions, under a
//                        hash of their id) in an HTTP-only, SameSite cookie, Secure when the page
//                        is served over HTTPS; at most SESSION_HOURS long, ended at sign-out
//   @fastify/csrf-protection   a token tied to the session on every POST (forms carry it in a
//                        hidden _csrf field, scripts in the x-csrf-token header)
//   sign-in form         no session is stored before sign-in: the form's CSRF token is a random
//                        value also set in a short-lived HTTP-only SameSite cookie, and the
//                        sign-in POST must carry both, matching (a double-submit token)
//   @fastify/rate-limit  sign-in attempts per address; Accounts also locks an account after five
//                        wrong passwords in a row
// Every route needs a signed-in account unless its config says `public`; a route's `permission`
// is checked against the account's role, and a refusal is a 403 (and is audited).
import cookie from '@fastify/cookie';
import csrf from '@fastify/csrf-protection';
import formbody from '@fastify/formbody';
import rateLimit, { type FastifyRateLimitStoreCtor } from '@fastify/rate-limit';
import session, { type SessionStore as FastifySessionStore } from '@fastify/session';
import crypto from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Accounts } from '../accounts/accounts';
import { accountLabel, may, ROLE_LABELS, rolesFor, type Permission, type SignedInAccount } from '../accounts/roles';
import { PERMISSIONS } from '../rules/permissions';
import type { AuditTrail } from '../audit/trail';
import { PageError } from './errors';
import { html, type Html } from './html';
import { notice, page } from './layout';

declare module 'fastify' {
  interface FastifyRequest {
    account: SignedInAccount | null;
  }
  interface FastifyContextConfig {
    /** Reachable without signing in (the sign-in page, the style sheet). */
    public?: boolean;
    /** The permission the route needs (accounts/roles.ts). */
    permission?: Permission;
  }
}

declare module '@fastify/session' {
  interface FastifySessionObject {
    accountId?: number;
    /** When the account signed in (ms since 1970), for the session's absolute lifetime. */
    signedInAt?: number;
    _csrf?: string;
    /** A message for the next page (after a confirmed action). */
    flash?: string;
  }
}

export const SESSION_HOURS = 10;
export const SESSION_COOKIE = 'handover_session';
/** The sign-in form's CSRF cookie (no session exists yet to tie a token to). */
export const SIGN_IN_COOKIE = 'handover_sign_in';
const SIGN_IN_COOKIE_MINUTES = 60;

export interface SignInLimits {
  /** Attempts for one username from one address per window. */
  perAccount: number;
  /** Attempts for any usernames from one address per window. */
  perAddress: number;
  windowMs: number;
}

export const DEFAULT_SIGN_IN_LIMITS: SignInLimits = { perAccount: 10, perAddress: 30, windowMs: 5 * 60_000 };

export interface AuthParts {
  accounts: Accounts;
  audit: AuditTrail;
  signInLimits?: SignInLimits;
  /** Where the sign-in attempts are counted: the hub's memory, or (several hubs) the database (shared-sign-in-limits.ts). */
  signInStore?: FastifyRateLimitStoreCtor;
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
/** POSTs that check the sign-in form's token instead of a session's. */
const SIGN_IN_ROUTES = new Set(['/login', '/api/login']);

/** The sign-in form's token: the one this browser holds already, or a new one set in its cookie. */
function signInToken(request: FastifyRequest, reply: FastifyReply): string {
  const held = request.cookies[SIGN_IN_COOKIE];
  const token = typeof held === 'string' && /^[A-Za-z0-9_-]{32,64}$/.test(held) ? held : crypto.randomBytes(24).toString('base64url');
  reply.setCookie(SIGN_IN_COOKIE, token, { path: '/', httpOnly: true, sameSite: 'strict', secure: 'auto', maxAge: SIGN_IN_COOKIE_MINUTES * 60 });
  return token;
}

function signInTokenMatches(request: FastifyRequest): boolean {
  const held = request.cookies[SIGN_IN_COOKIE];
  const sent = (request.body as { _csrf?: unknown } | undefined)?._csrf ?? request.headers['x-csrf-token'];
  if (typeof held !== 'string' || typeof sent !== 'string' || held.length === 0 || held.length !== sent.length) return false;
  return crypto.timingSafeEqual(Buffer.from(held), Buffer.from(sent));
}

/** A CSRF token for the page being rendered (made once per session). */
export function csrfToken(reply: FastifyReply): string {
  return reply.generateCsrf();
}

/** The hidden form field that carries the CSRF token. */
export function csrfField(reply: FastifyReply): Html {
  return html`<input type="hidden" name="_csrf" value="${reply.generateCsrf()}">`;
}

/** Checks a permission inside a handler (for parts of a page); throws the 403 the route would. */
export async function demand(request: FastifyRequest, permission: Permission, audit: AuditTrail, what: string): Promise<SignedInAccount> {
  const account = request.account;
  if (!account) throw new PageError(401, 'Please sign in.');
  if (!may(account.role, permission)) {
    await audit.append({ actor: accountLabel(account), action: 'web.refused', subject: null, details: { permission, path: request.url.split('?')[0], method: request.method } });
    throw new PageError(403, `Your role (${ROLE_LABELS[account.role]}) may not ${what}. Only these roles may: ${rolesFor(permission)}.`);
  }
  return account;
}

function usernameOf(request: FastifyRequest): string {
  const username = (request.body as { username?: unknown } | undefined)?.username;
  return typeof username === 'string' ? username.trim().toLowerCase().slice(0, 64) : '';
}

function safeNext(next: unknown): string {
  return typeof next === 'string' && /^\/(?!\/)[^\s\\]*$/.test(next) && !next.startsWith('/login') ? next : '/';
}

function loginPage(options: { csrf: string; next: string; username?: string; problem?: string; firstRun: boolean }) {
  return page({
    title: 'Sign in',
    account: null,
    body: html`
      ${options.problem ? notice('problem', options.problem) : null}
      <form method="post" action="/login" class="signin">
        <input type="hidden" name="_csrf" value="${options.csrf}">
        <input type="hidden" name="next" value="${options.next}">
        <p><label for="username">Username</label>
          <input id="username" name="username" autocomplete="username" autocapitalize="none" spellcheck="false" required value="${options.username ?? ''}" ${options.username ? null : html`autofocus`}></p>
        <p><label for="password">Password</label>
          <input id="password" name="password" type="password" autocomplete="current-password" required ${options.username ? html`autofocus` : null}></p>
        <p><button type="submit" class="primary">Sign in</button></p>
      </form>
      ${options.firstRun
        ? html`<p class="hint">No account exists yet. Make the first one on the hub’s command line:<br><code>npx handover account add &lt;username&gt; --role headteacher</code></p>`
        : html`<p class="hint">Forgotten your password? The headteacher or ICT lead can set a new one with <code>handover account password</code>.</p>`}`,
  });
}

export async function installAuth(app: FastifyInstance, parts: AuthParts): Promise<void> {
  const { accounts, audit } = parts;
  const limits = parts.signInLimits ?? DEFAULT_SIGN_IN_LIMITS;
  await app.register(cookie);
  await app.register(session, {
    secret: await accounts.cookieSecret(),
    cookieName: SESSION_COOKIE,
    store: accounts.sessionStore() as unknown as FastifySessionStore,
    saveUninitialized: false,
    rolling: false,
    // 'auto': Secure when the request came over HTTPS (SameSite falls back to Lax on plain HTTP).
    cookie: { path: '/', httpOnly: true, sameSite: 'strict', secure: 'auto', maxAge: SESSION_HOURS * 3600_000 },
  });
  await app.register(csrf, {
    sessionPlugin: '@fastify/session',
    // A form's hidden field, a script's header, or (an upload, whose body is read later) the query.
    getToken: (request) =>
      (request.body as { _csrf?: string } | undefined)?._csrf ?? (request.headers['x-csrf-token'] as string | undefined) ?? (request.isMultipart() ? (request.query as { _csrf?: string })._csrf : undefined),
  });
  // The store is the plugin's (createRateLimit takes each limiter's from it).
  await app.register(rateLimit, { global: false, ...(parts.signInStore ? { store: parts.signInStore } : {}) });
  await app.register(formbody);
  app.decorateRequest('account', null);

  // 1. Who is asking.
  app.addHook('preHandler', async (request) => {
    const config = request.routeOptions.config ?? {};
    const id = request.session?.accountId;
    if (id !== undefined) {
      const fresh = typeof request.session.signedInAt === 'number' && Date.now() - request.session.signedInAt < SESSION_HOURS * 3600_000;
      request.account = fresh ? await accounts.active(id) : null;
      if (!request.account) await request.session.destroy();
    }
    if (!config.public && !request.account) throw new PageError(401, 'Please sign in to use the office page.');
  });
  // 2. Every state-changing request carries the session's CSRF token.
  app.addHook('preHandler', (request, reply, done) => {
    if (SAFE_METHODS.has(request.method)) return done();
    if (request.method === 'POST' && SIGN_IN_ROUTES.has(request.routeOptions.url ?? '')) {
      if (signInTokenMatches(request)) return done();
      return done(new PageError(403, 'The sign-in form had expired. Reload the page and sign in again.'));
    }
    app.csrfProtection(request, reply, done);
  });
  // 3. The route's permission for this role.
  app.addHook('preHandler', async (request) => {
    const permission = request.routeOptions.config?.permission;
    if (permission) await demand(request, permission, audit, PERMISSIONS[permission].words);
  });

  // Two limits on sign-in attempts, checked before the password is: per username from one
  // address, and per address whatever the username (spraying many names).
  const perAccount = app.createRateLimit({ max: limits.perAccount, timeWindow: limits.windowMs, keyGenerator: (request) => `account|${request.ip}|${usernameOf(request)}` });
  const perAddress = app.createRateLimit({ max: limits.perAddress, timeWindow: limits.windowMs, keyGenerator: (request) => `address|${request.ip}` });
  const checkSignInRate = async (request: FastifyRequest) => {
    for (const limiter of [perAddress, perAccount]) {
      const result = await limiter(request);
      if (!result.isAllowed && result.isExceeded) {
        const minutes = Math.max(1, Math.ceil(result.ttlInSeconds / 60));
        throw new PageError(429, `Too many sign-in attempts from this computer. Wait ${minutes} minute${minutes === 1 ? '' : 's'} and try again.`);
      }
    }
  };

  app.get('/login', { config: { public: true } }, async (request, reply) => {
    if (request.account) return reply.redirect('/');
    const next = safeNext((request.query as { next?: string }).next);
    return reply.type('text/html; charset=utf-8').send(loginPage({ csrf: signInToken(request, reply), next, firstRun: (await accounts.count()) === 0 }).text);
  });

  app.post('/login', { config: { public: true } }, async (request, reply) => {
    await checkSignInRate(request);
    const body = (request.body ?? {}) as { username?: string; password?: string; next?: string };
    const next = safeNext(body.next);
    const result = await accounts.signIn(String(body.username ?? ''), String(body.password ?? ''), request.ip);
    if (!result.ok) {
      const status = result.reason === 'locked' ? 429 : result.reason === 'disabled' ? 403 : 401;
      return reply
        .code(status)
        .type('text/html; charset=utf-8')
        .send(loginPage({ csrf: signInToken(request, reply), next, username: String(body.username ?? ''), problem: result.message, firstRun: false }).text);
    }
    await startSession(request, result.account);
    return reply.redirect(next, 303);
  });

  app.post('/logout', { config: { public: true } }, async (request, reply) => {
    if (request.account) await accounts.signedOut(request.account, request.ip);
    await request.session.destroy();
    return reply.redirect('/login', 303);
  });

  // The same for scripts: JSON in, JSON out.
  // Signed out, the token is the sign-in form's (no session is stored for an anonymous visit).
  app.get('/api/session', { config: { public: true } }, async (request, reply) => ({ account: request.account, csrfToken: request.account ? csrfToken(reply) : signInToken(request, reply) }));

  app.post('/api/login', { config: { public: true } }, async (request, reply) => {
    await checkSignInRate(request);
    const body = (request.body ?? {}) as { username?: unknown; password?: unknown };
    const result = await accounts.signIn(String(body.username ?? ''), String(body.password ?? ''), request.ip);
    if (!result.ok) return reply.code(result.reason === 'locked' ? 429 : result.reason === 'disabled' ? 403 : 401).send({ error: result.message });
    await startSession(request, result.account);
    return { account: result.account, csrfToken: csrfToken(reply) };
  });

  app.post('/api/logout', { config: { public: true } }, async (request) => {
    if (request.account) await accounts.signedOut(request.account, request.ip);
    await request.session.destroy();
    return { signedOut: true };
  });
}

/** A new session id at sign-in (no fixation), holding only the account and when it signed in. */
async function startSession(request: FastifyRequest, account: SignedInAccount): Promise<void> {
  await request.session.regenerate();
  request.session.accountId = account.id;
  request.session.signedInAt = Date.now();
  request.account = account;
}
