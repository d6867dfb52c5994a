// A list of phones in lockers on a page, a page at a time (records/phones-in-list.ts): the count,
// the table, links to the earlier and later pages and to the whole list as CSV. Who holds what and
// End of day show it; at one school it is usually one page, at a trust's size one of hundreds.
import type { FastifyRequest } from 'fastify';
import { formatPageKey, parsePageKey, type PageKey, type PhonesInPage, type PhoneInRow } from '../records/phones-in-list';
import { RESTRICTED } from '../records/safeguarding';
import { formatDay, html, timeTag, type Html } from './html';

/** The query names one list on a page uses for its place (two lists on a page need two pairs). */
export interface PageParams {
  after: string;
  before: string;
}

export const PAGE_PARAMS: PageParams = { after: 'after', before: 'before' };

/** Where the request asks a list to start: after a row, before one, or at the start. */
export function requestedPlace(request: FastifyRequest, params: PageParams = PAGE_PARAMS): { after: PageKey | null; before: PageKey | null } {
  const query = (request.query ?? {}) as Record<string, unknown>;
  return { after: parsePageKey(query[params.after]), before: parsePageKey(query[params.before]) };
}

/** A text filter from the query: trimmed, at most 100 characters, '' when absent. */
export function queryText(request: FastifyRequest, name: string): string {
  const value = ((request.query ?? {}) as Record<string, unknown>)[name];
  return typeof value === 'string' ? value.trim().slice(0, 100) : '';
}

/** `path?…` keeping the request's other query values (school, filters, the other list's place), with this list's place set. */
function link(request: FastifyRequest, path: string, params: PageParams, place: Record<string, string>): string {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries((request.query ?? {}) as Record<string, unknown>)) {
    if (name === params.after || name === params.before || typeof value !== 'string' || value === '') continue;
    query.set(name, value);
  }
  for (const [name, value] of Object.entries(place)) query.set(name, value);
  const text = query.toString();
  return text ? `${path}?${text}` : path;
}

export interface PhonesInView {
  request: FastifyRequest;
  /** The page the links go back to. */
  path: string;
  params?: PageParams;
  page: PhonesInPage;
  /** What one row is called in the count and the links ("phone", "uncollected phone"). */
  noun: string;
  /** The uncollected list: its dates and disposal column; otherwise "in since". */
  uncollected?: boolean;
  /** Phones whose pupil this reader may not see (P5): the name and form read RESTRICTED. */
  restricted?: Set<number>;
  /** Deposits before this moment are marked past the cut-off. */
  lastCutoff?: string;
  /** Said when the list is empty. */
  empty: string;
  /** The rows' own table, where the list has other columns (end of day's disposals). */
  table?: (rows: PhoneInRow[]) => Html;
}

export function phonesInList(view: PhonesInView): Html {
  const { request, page, noun } = view;
  const params = view.params ?? PAGE_PARAMS;
  if (!page.rows.length && !page.previous) return html`<p class="empty">${view.empty}</p>`;
  const hidden = (row: PhoneInRow) => view.restricted?.has(row.custodyId) ?? false;
  const pupil = (row: PhoneInRow) => (hidden(row) ? html`<span class="muted">${RESTRICTED}</span>` : html`<a href="/who/person/${row.personId}">${row.personName}</a>`);
  const shown = page.rows.length;
  const count = `${page.total.toLocaleString('en-GB')} ${page.total === 1 ? noun : `${noun}s`}`;
  const summary = page.previous || page.next ? `Showing ${shown} of ${count}, oldest first.` : `${count}, oldest first.`;
  const pager =
    page.previous || page.next
      ? html`<nav class="pager" aria-label="Pages of this list">
          ${page.previous ? html`<a href="${link(request, view.path, params, { [params.before]: formatPageKey(page.previous) })}" rel="prev">Earlier ${noun}s</a>` : null}
          ${page.next ? html`<a href="${link(request, view.path, params, { [params.after]: formatPageKey(page.next) })}" rel="next">Later ${noun}s</a>` : null}
          ${page.previous ? html`<a href="${link(request, view.path, params, {})}">Back to the oldest</a>` : null}
        </nav>`
      : null;
  const body = view.table
    ? view.table(page.rows)
    : view.uncollected
    ? html`<div class="table-wrap"><table class="data"><thead><tr><th scope="col">Pupil</th><th scope="col">Form</th><th scope="col">Locker</th><th scope="col">Deposited</th><th scope="col">Disposal due</th></tr></thead>
        <tbody>${page.rows.map((row) => html`<tr><td>${pupil(row)}</td><td>${hidden(row) ? '' : (row.form ?? '')}</td><td>${row.stationId}, ${row.locker + 1}</td><td>${timeTag(row.depositedAt)}</td><td>${formatDay(row.disposalDueAt)}</td></tr>`)}</tbody></table></div>`
    : html`<div class="table-wrap"><table class="data"><thead><tr><th scope="col">Pupil</th><th scope="col">Form</th><th scope="col">Locker</th><th scope="col">In since</th></tr></thead>
        <tbody>${page.rows.map((row) => {
          const late = view.lastCutoff !== undefined && row.depositedAt < view.lastCutoff;
          return html`<tr class="${late ? 'overdue' : ''}"><td>${pupil(row)}</td><td>${row.form ?? ''}</td><td>${row.stationId}, ${row.locker + 1}</td><td>${timeTag(row.depositedAt)}${late ? html` <span class="pill bad">past the cut-off</span>` : null}</td></tr>`;
        })}</tbody></table></div>`;
  return html`<p class="hint">${summary}</p>${pager}${page.rows.length ? body : html`<p class="empty">No more ${noun}s after these.</p>`}${pager}`;
}
