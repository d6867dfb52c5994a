// The one place the office page, the JSON API and the reports find what the signed-in account may
// see of a trust's schools (issue 16): the account's school, or every school for a trust account,
// narrowed by `?school=` when a trust account filters. Worked out once per request.
import type { FastifyRequest } from 'fastify';
import { Scope, TRUST, type School } from '../records/schools';
import type { WebContext } from './context';
import type { SchoolChoice } from './layout';
import { PageError } from './errors';

declare module 'fastify' {
  interface FastifyRequest {
    /** The school filter or name shown at the top of a page (a trust deployment only). */
    schoolChoice?: SchoolChoice | null;
  }
}

/** What the top of each page shows of the schools: nothing for a single school. */
export async function schoolChoice(context: Pick<WebContext, 'records'>, request: FastifyRequest): Promise<SchoolChoice | null> {
  const account = request.account;
  if (!account) return null;
  const schools = await context.records.schools.list();
  if (schools.length < 2) return null;
  const own = await context.records.schools.ofAccount(account.id);
  const filter = (request.query as { school?: unknown } | undefined)?.school;
  const path = request.url.split('?')[0];
  if (own !== TRUST) return { schools: schools.filter((school) => school.id === own), chosen: own, trust: false, path };
  return { schools, chosen: typeof filter === 'string' && schools.some((school) => school.id === filter) ? filter : null, trust: true, path };
}

/**
 * A `?school=` (on any page, API address or the live stream) must name a school the account may
 * see: a trust account one of the trust's, a school's account its own. Anything else is answered
 * as a school that is not there (404), not with the whole trust's records, nor with the account's
 * own as if they were that school's: a script asking school by school would count them under the
 * wrong name. Empty is no filter (the menu's "Every school"); a single school ignores it, as ever.
 */
export async function refuseUnknownSchool(context: Pick<WebContext, 'records'>, request: FastifyRequest): Promise<void> {
  const filter = (request.query as { school?: unknown } | undefined)?.school;
  if (filter === undefined || filter === '' || !request.account) return;
  const schools = await context.records.schools.list();
  if (schools.length < 2) return;
  const own = await context.records.schools.ofAccount(request.account.id);
  const visible = own === TRUST ? schools : schools.filter((school) => school.id === own);
  if (typeof filter === 'string' && visible.some((school) => school.id === filter)) return;
  const named = typeof filter === 'string' ? `no school ${filter}` : 'no such school (name one)';
  throw new PageError(404, own === TRUST ? `There is ${named}: the schools are ${schools.map((school) => school.id).join(', ')}.` : `There is ${named}.`);
}

const sqlScopes = new WeakMap<FastifyRequest, Promise<Scope>>();
const scopes = new WeakMap<FastifyRequest, Promise<Scope>>();

/**
 * The account's scope as SQL conditions only (`scope.where(column)`, `scope.hasPerson(db, id)`):
 * nothing of the schools' records is read. The busy pages (who holds what, end of day, today, the
 * JSON API) use this, so a request at a trust's size does not load every id of a school.
 */
export function requestSqlScope(context: Pick<WebContext, 'records'>, request: FastifyRequest): Promise<Scope> {
  let scope = sqlScopes.get(request);
  if (!scope) {
    scope = (async () => {
      const account = request.account;
      if (!account) return Scope.all();
      const school = await context.records.schools.ofAccount(account.id);
      const filter = (request.query as { school?: unknown } | undefined)?.school;
      return context.records.schools.sqlScopeFor(school, typeof filter === 'string' && filter ? filter : null);
    })();
    sqlScopes.set(request, scope);
  }
  return scope;
}

/** The same scope with the ids of its schools' people, stations and assets read, for pages that check rows one by one (`scope.rows`). */
export function requestScope(context: Pick<WebContext, 'records'>, request: FastifyRequest): Promise<Scope> {
  let scope = scopes.get(request);
  if (!scope) {
    scope = requestSqlScope(context, request).then((sql) => sql.withIds(context.records.db));
    scopes.set(request, scope);
  }
  return scope;
}

/** The school an account acts for when it adds something (a trust account: the filtered school, else the deployment's own). */
export async function actingSchool(context: Pick<WebContext, 'records'>, request: FastifyRequest): Promise<string> {
  const account = request.account;
  const own = account ? await context.records.schools.ofAccount(account.id) : context.records.schools.home;
  if (own !== TRUST) return own;
  const filter = (request.query as { school?: unknown } | undefined)?.school;
  return typeof filter === 'string' && filter ? context.records.schools.resolve(filter) : context.records.schools.resolve(null).catch(() => context.records.schools.home);
}

/** `?school=<id>` of the request (a trust account's filter), to carry into links and live panels. */
export function schoolQuery(request: FastifyRequest): string {
  const filter = (request.query as { school?: unknown } | undefined)?.school;
  return typeof filter === 'string' && /^[a-z0-9-]+$/.test(filter) ? `?school=${filter}` : '';
}

/**
 * The trust's schools when a page shows them side by side instead of drawing every one of their
 * lockers or stations (a trust account with no school chosen, in a deployment of two or more
 * schools); null when the page draws its one school (or a single-school deployment's) as ever.
 */
export async function schoolsToSummarise(context: Pick<WebContext, 'records'>, scope: Scope): Promise<School[] | null> {
  if (!scope.everything) return null;
  const schools = await context.records.schools.list();
  return schools.length > 1 ? schools : null;
}
