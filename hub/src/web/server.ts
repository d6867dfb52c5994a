// The office web page: server-rendered HTML pages (hub/src/web/pages/), a little JavaScript for
// what must be live (hub/web/app.js: the lockers as taps happen, import progress, the demo cards),
// JSON endpoints under /api/, and sign-in with roles (auth.ts). No external CDN: every byte the
// page needs comes from the hub.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import multipart from '@fastify/multipart';
import { installAuth } from './auth';
import { makeContext, type WebParts } from './context';
import { explain } from './errors';
import { webLogLevel } from '../log';
import { errorPage } from './layout';
import { Imports } from './imports-runner';
import { registerApi } from './api';
import { refuseUnknownSchool, schoolChoice } from './scope';
import { registerAlerts, registerLockers } from './pages/lockers';
import { registerToday } from './pages/today';
import { registerWho } from './pages/who';
import { registerLoans } from './pages/loans';
import { registerEndOfDay } from './pages/end-of-day';
import { registerHolds } from './pages/holds';
import { registerCharges } from './pages/charges';
import { registerLeavers } from './pages/leavers';
import { registerStations } from './pages/stations';
import { registerImports } from './pages/imports';
import { registerDesk } from './pages/desk';
import { registerNotifications } from './pages/notifications';
import { registerRules } from './pages/rules';

export type { WebParts } from './context';

const WEB_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../web');
const STATIC_FILES: Record<string, { file: string; type: string }> = {
  '/style.css': { file: 'style.css', type: 'text/css; charset=utf-8' },
  '/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/favicon.svg': { file: 'favicon.svg', type: 'image/svg+xml' },
  // Browsers ask for /favicon.ico on their own; the same picture answers (Chromium and Firefox read SVG there).
  '/favicon.ico': { file: 'favicon.svg', type: 'image/svg+xml' },
};

/** Largest upload (an MIS export of a big school is a few megabytes). */
export const UPLOAD_LIMIT_BYTES = 20 * 1024 * 1024;

const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy': "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'same-origin',
};

export async function buildWebServer(parts: WebParts): Promise<FastifyInstance> {
  // Fastify logs through the hub's logger, quieter than it (log.ts webLogLevel): no line per request by default.
  const app = Fastify({ loggerInstance: parts.log.pino.child({}, { level: webLogLevel(parts.log.pino.level) }) as FastifyBaseLogger, bodyLimit: 1024 * 1024, trustProxy: parts.trustProxy ?? false });
  const imports = new Imports(parts.records.db, parts.settings.hubName ?? null);
  await imports.whenReady();
  const context = makeContext(parts, imports);

  app.addHook('onSend', async (request, reply, payload) => {
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) reply.header(name, value);
    // Pages and data about people are not kept in the browser's cache.
    if (!(request.url in STATIC_FILES)) reply.header('cache-control', 'no-store');
    return payload;
  });

  app.setErrorHandler(async (error, request, reply) => {
    const explained = explain(error);
    if (explained.internal) parts.log.warn(`${request.method} ${request.url.split('?')[0]} failed`, error);
    const wantsJson = request.url.startsWith('/api/') || !(request.headers.accept ?? '').includes('text/html');
    if (explained.status === 401 && !wantsJson && request.method === 'GET') {
      return reply.redirect(`/login?next=${encodeURIComponent(request.url)}`, 303);
    }
    if (wantsJson) return reply.code(explained.status).send({ error: explained.message });
    let csrf: string | undefined;
    try {
      csrf = request.account ? reply.generateCsrf() : undefined;
    } catch {
      csrf = undefined;
    }
    return reply
      .code(explained.status)
      .type('text/html; charset=utf-8')
      .send(errorPage({ status: explained.status, title: explained.title, message: explained.message, account: request.account ?? null, csrfToken: csrf }).text);
  });

  app.setNotFoundHandler(async (request, reply) => {
    const message = `There is no page at ${request.url.split('?')[0]}.`;
    if (request.url.startsWith('/api/') || !(request.headers.accept ?? '').includes('text/html')) return reply.code(404).send({ error: message });
    return reply.code(404).type('text/html; charset=utf-8').send(errorPage({ status: 404, title: 'Not found', message, account: request.account ?? null }).text);
  });

  await installAuth(app, { accounts: parts.accounts, audit: parts.records.audit, signInLimits: parts.signInLimits, signInStore: parts.signInStore });
  await app.register(multipart, { limits: { fileSize: UPLOAD_LIMIT_BYTES, files: 1, fields: 10 } });
  // The schools bar of a trust deployment's pages (issue 16).
  app.addHook('preHandler', async (request) => {
    await refuseUnknownSchool(context, request);
    if (request.account && request.method === 'GET') request.schoolChoice = await schoolChoice(context, request);
  });

  for (const [route, { file, type }] of Object.entries(STATIC_FILES)) {
    app.get(route, { config: { public: true } }, async (_request, reply) => reply.type(type).header('cache-control', 'no-cache').send(await fs.promises.readFile(path.join(WEB_DIR, file))));
  }
  app.get('/', async (_request, reply) => reply.redirect('/lockers'));

  registerApi(app, context);
  registerLockers(app, context);
  registerAlerts(app, context);
  registerToday(app, context);
  registerWho(app, context);
  registerLoans(app, context);
  registerEndOfDay(app, context);
  registerHolds(app, context);
  registerCharges(app, context);
  registerLeavers(app, context);
  registerStations(app, context);
  registerImports(app, context);
  registerDesk(app, context);
  registerNotifications(app, context);
  registerRules(app, context);
  return app;
}
