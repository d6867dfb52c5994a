// Charges: the ledger with filters, and the actions on it — report an item lost (P7: the holder
// is charged the replacement price), stolen (P8: only with a crime number; no charge), damaged
// (the price-list item), found (the loss charge is reversed), and waive a charge with a reason.
// Each action is shown with its effect first and done only when that is confirmed. The rules
// themselves are the records' (loans.ts, ledger.ts); this page only reads ahead to describe them.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { actorFor, may } from '../../accounts/roles';
import { NotFoundError, RuleError } from '../../records/access';
import { assetStatusWords, classInSentence } from '../../records/assets';
import type { ChargeRow } from '../../records/ledger';
import { formatPence } from '../../records/time';
import { csrfField } from '../auth';
import type { WebContext } from '../context';
import { requestScope } from '../scope';
import type { Scope } from '../../records/schools';
import { asSentence, explain, PageError } from '../errors';
import { html, timeTag, type Html } from '../html';
import { notice } from '../layout';

export const REPORT_ACTIONS = ['lost', 'stolen', 'damaged', 'found'] as const;
export type ReportAction = (typeof REPORT_ACTIONS)[number];

const ACTION_LABELS: Record<ReportAction, string> = { lost: 'Lost', stolen: 'Stolen', damaged: 'Damaged', found: 'Found' };

export interface ReportInput {
  tag: string;
  action: ReportAction;
  crimeNumber: string;
  item: string;
}

interface LedgerLine extends ChargeRow {
  name: string;
  external_id: string;
  tag: string | null;
  class_id: string | null;
  by_name: string | null;
}

export interface LedgerFilter {
  q: string;
  entry: string;
  term: string;
  outstanding: boolean;
}

function readFilter(query: Record<string, string | undefined>): LedgerFilter {
  return { q: (query.q ?? '').trim().slice(0, 100), entry: ['charge', 'reversal', 'waiver'].includes(query.entry ?? '') ? query.entry! : '', term: (query.term ?? '').slice(0, 40), outstanding: query.outstanding === '1' };
}

function readReport(body: Record<string, string | undefined>): ReportInput {
  const action = body.action as ReportAction;
  if (!REPORT_ACTIONS.includes(action)) throw new PageError(400, 'Choose what happened to the item: lost, stolen, damaged or found.');
  const tag = (body.tag ?? '').trim();
  if (!tag) throw new RuleError('P7', 'Give the asset tag of the item (it is on the label, e.g. STK-004).');
  return { tag: tag.slice(0, 60), action, crimeNumber: (body.crimeNumber ?? '').trim().slice(0, 60), item: (body.item ?? '').trim().slice(0, 40) };
}

/** The ledger, newest first, with each charge's outstanding amount. */
async function ledgerLines(context: WebContext, filter: LedgerFilter, scope: Scope): Promise<Array<LedgerLine & { outstanding: number | null }>> {
  const where: string[] = [];
  const params: string[] = [];
  if (filter.q) {
    where.push('(LOWER(p.name) LIKE ? OR LOWER(p.external_id) LIKE ? OR LOWER(a.tag) LIKE ?)');
    const like = `%${filter.q.toLowerCase()}%`;
    params.push(like, like, like);
  }
  if (filter.entry) {
    where.push('c.entry = ?');
    params.push(filter.entry);
  }
  if (filter.term) {
    where.push('c.term = ?');
    params.push(filter.term);
  }
  if (!scope.everything) {
    const school = scope.where('p.school');
    where.push(school.sql);
    params.push(...school.params);
  }
  // Each charge's outstanding amount in the same query (Ledger.outstanding's sum): not one query a line.
  const rows = await context.records.db.all<LedgerLine & { owed: number | null }>(
    `SELECT c.*, p.name, p.external_id, a.tag, a.class_id, b.name AS by_name,
       c.amount_pence + COALESCE((SELECT SUM(x.amount_pence) FROM charges x WHERE x.corrects_id = c.id), 0) AS owed FROM charges c
     JOIN people p ON p.id = c.person_id LEFT JOIN assets a ON a.id = c.asset_id LEFT JOIN people b ON b.id = c.created_by
     ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY c.id DESC LIMIT 500`,
    params,
  );
  const lines = [];
  for (const { owed, ...row } of rows) {
    const outstanding = row.entry === 'charge' ? Number(owed ?? 0) : null;
    if (filter.outstanding && !(outstanding && outstanding > 0)) continue;
    lines.push({ ...row, outstanding });
  }
  return lines;
}

/** What a report will do, read ahead from the records (nothing is changed). */
export async function describeReport(context: WebContext, input: ReportInput, scope?: Scope): Promise<{ effects: string[]; holder: string | null }> {
  const { assets, loans, people, ledger } = context.records;
  const asset = await assets.byTag(input.tag);
  if (scope && !scope.asset(asset.id)) throw new NotFoundError(`There is no asset with tag ${input.tag}.`);
  const assetClass = await assets.assetClass(asset.class_id);
  const itemName = `${assetClass.name} ${asset.tag}`;
  const nameOf = async (personId: number) => {
    const person = await people.get(personId);
    return person ? `${person.name}${person.external_id ? ` (${person.external_id})` : ''}` : `person #${personId}`;
  };
  if (input.action === 'lost' || input.action === 'stolen') {
    const loan = await loans.openLoanOf(Number(asset.id));
    if (!loan) throw new RuleError('P7', `${asset.tag} is not on loan (it is ${assetStatusWords(asset.status)}): only an item on loan can be reported ${input.action}.`);
    const holder = await nameOf(Number(loan.person_id));
    const effects = [`The loan of ${itemName} to ${holder} (since ${new Date(loan.lent_at).toLocaleDateString('en-GB')}) is closed as ${input.action}.`];
    if (input.action === 'lost') {
      const pence = await assets.replacementPence(asset);
      effects.push(pence > 0 ? `${holder} is charged ${formatPence(pence)}, the replacement price of ${inSentence(assetClass.name)}s (P7).` : `Nothing is charged: the replacement price is ${formatPence(0)}.`);
    } else {
      if (!input.crimeNumber) throw new RuleError('P8', 'A theft must be reported with the police crime number (P8). Ask the holder for it, then report again.');
      effects.push(`Crime number ${input.crimeNumber} is recorded. Nothing is charged (P8).`);
    }
    effects.push('The headteacher is alerted at once (P11).');
    return { effects, holder };
  }
  if (input.action === 'damaged') {
    const loan = await loans.lastLoanOf(Number(asset.id));
    if (!loan) throw new RuleError('P7', `${asset.tag} has never been lent: there is no one to charge.`);
    const prices = await assets.priceList(asset.class_id);
    const price = prices.find((entry) => entry.item === input.item);
    if (!price) throw new RuleError('P7', prices.length ? `Choose the damage from the ${inSentence(assetClass.name)} price list: ${prices.map((entry) => entry.item).join(', ')}.` : `The ${inSentence(assetClass.name)} price list is empty: there is nothing to charge for damage.`);
    const holder = await nameOf(Number(loan.person_id));
    return { effects: [`${holder}, who ${loan.closed_at ? 'last borrowed' : 'has'} ${itemName}, is charged ${formatPence(Number(price.pence))} for “${price.item}” (price list).`], holder };
  }
  // found
  if (asset.status !== 'lost' && asset.status !== 'stolen') throw new RuleError('P7', `${asset.tag} is ${assetStatusWords(asset.status)}, not lost or stolen.`);
  const loan = await context.records.db.get<{ id: number; person_id: number }>("SELECT id, person_id FROM loans WHERE asset_id = ? AND outcome IN ('lost', 'stolen') AND found_at IS NULL ORDER BY id DESC LIMIT 1", [asset.id]);
  const effects = [`${itemName} is marked found and available to lend again.`];
  let holder: string | null = null;
  if (loan) {
    holder = await nameOf(Number(loan.person_id));
    for (const charge of await ledger.entries({ loanId: Number(loan.id) })) {
      if (charge.entry !== 'charge') continue;
      const owed = await ledger.outstanding(Number(charge.id));
      if (owed > 0) effects.push(`Charge ${charge.id} (${formatPence(owed)} outstanding, ${holder}) is reversed by a new ledger entry.`);
    }
    if (effects.length === 1) effects.push('No charge is outstanding on its loss, so nothing is reversed.');
  }
  return { effects, holder };
}

function reportForm(reply: FastifyReply, input: Partial<ReportInput>, priceItems: Array<{ class_id: string; class_name: string; item: string; pence: number }>): Html {
  return html`<form method="post" action="/charges/preview" class="report">
    ${csrfField(reply)}
    <div class="field-row">
      <p><label for="tag">Asset tag</label><input id="tag" name="tag" required value="${input.tag ?? ''}" autocapitalize="characters" spellcheck="false" placeholder="e.g. STK-004"></p>
      <fieldset class="choice"><legend>What happened</legend>
        ${REPORT_ACTIONS.map((action) => html`<label class="inline"><input type="radio" name="action" value="${action}" required ${input.action === action ? html`checked` : null}> ${ACTION_LABELS[action]}</label>`)}
      </fieldset>
    </div>
    <div class="field-row">
      <p><label for="crimeNumber">Crime number <span class="muted">(for a theft; required)</span></label><input id="crimeNumber" name="crimeNumber" value="${input.crimeNumber ?? ''}"></p>
      <p><label for="item">Damage <span class="muted">(for damage)</span></label>
        <select id="item" name="item"><option value="">—</option>${priceItems.map((price) => html`<option value="${price.item}" ${input.item === price.item ? html`selected` : null}>${price.item} (${price.class_name}, ${formatPence(Number(price.pence))})</option>`)}</select></p>
    </div>
    <p><button type="submit" class="primary">Show what this will do</button></p>
  </form>`;
}

/** A class name inside a sentence: its first letter lowered, acronyms kept ("encrypted USB stick"). */
const inSentence = classInSentence;

export function registerCharges(app: FastifyInstance, context: WebContext): void {
  async function ledgerPage(request: FastifyRequest, reply: FastifyReply, options: { problem?: string; input?: Partial<ReportInput>; status?: number } = {}) {
    const account = request.account!;
    const filter = readFilter(request.query as Record<string, string | undefined>);
    const [lines, terms, prices] = await Promise.all([
      ledgerLines(context, filter, await requestScope(context, request)),
      context.records.db.all<{ term: string }>('SELECT DISTINCT term FROM charges ORDER BY term DESC'),
      context.records.assets.priceList(),
    ]);
    await context.audit(request, 'web.viewed', { details: { page: '/charges', filter: { ...filter } } });
    const mayReport = may(account.role, 'charges.report');
    const mayWaive = may(account.role, 'charges.waive');
    const total = lines.reduce((sum, line) => sum + Number(line.amount_pence), 0);
    return context.render(request, reply, {
      title: 'Charges',
      section: '/charges',
      status: options.status,
      body: html`
        ${options.problem ? notice('problem', options.problem) : null}
        ${mayReport
          ? html`<section aria-labelledby="report-title"><h2 id="report-title">Report an item lost, stolen, damaged or found</h2>${reportForm(reply, options.input ?? {}, prices)}</section>`
          : html`<p class="hint">Your role views the ledger; reporting and waiving are for office, ICT and the headteacher.</p>`}
        <section aria-labelledby="ledger-title">
          <h2 id="ledger-title">Ledger</h2>
          <form method="get" action="/charges" class="field-row filters">
            <p><label for="q">Person or asset</label><input id="q" name="q" value="${filter.q}" placeholder="name, MIS id or tag"></p>
            <p><label for="entry">Entry</label><select id="entry" name="entry">
              ${[['', 'All entries'], ['charge', 'Charges'], ['reversal', 'Reversals'], ['waiver', 'Waivers']].map(([value, label]) => html`<option value="${value}" ${filter.entry === value ? html`selected` : null}>${label}</option>`)}
            </select></p>
            <p><label for="term">Term</label><select id="term" name="term"><option value="">All terms</option>${terms.map((row) => html`<option ${filter.term === row.term ? html`selected` : null}>${row.term}</option>`)}</select></p>
            <p><label class="inline"><input type="checkbox" name="outstanding" value="1" ${filter.outstanding ? html`checked` : null}> Only with something owed</label></p>
            <p><button type="submit">Filter</button></p>
          </form>
          ${lines.length
            ? html`<div class="table-wrap"><table class="data ledger">
              <thead><tr><th scope="col">Entry</th><th scope="col">When</th><th scope="col">Person</th><th scope="col">Item</th><th scope="col">Reason</th><th scope="col" class="money">Amount</th><th scope="col" class="money">Owed</th><th scope="col">Action</th></tr></thead>
              <tbody>${lines.map(
                (line) => html`<tr data-charge="${line.id}">
                  <td>${line.entry} ${line.id}${line.corrects_id ? html`<br><span class="muted">of charge ${line.corrects_id}</span>` : null}</td>
                  <td>${timeTag(line.created_at)}<br><span class="muted">${line.term}</span></td>
                  <td><a href="/who/person/${line.person_id}">${line.name}</a><br><span class="muted">${line.external_id}</span></td>
                  <td>${line.tag ? html`<a href="/who/asset/${encodeURIComponent(line.tag)}">${line.tag}</a>` : '—'}</td>
                  <td>${line.reason}${line.by_name ? html`<br><span class="muted">by ${line.by_name}</span>` : null}</td>
                  <td class="money">${formatPence(Number(line.amount_pence))}</td>
                  <td class="money">${line.outstanding === null ? '' : formatPence(line.outstanding)}</td>
                  <td>${line.outstanding && line.outstanding > 0 && mayWaive ? html`<a href="/charges/${line.id}/waive">Waive…</a>` : null}</td>
                </tr>`,
              )}</tbody>
              <tfoot><tr><th scope="row" colspan="5">Total of the entries shown</th><td class="money">${formatPence(total)}</td><td colspan="2"></td></tr></tfoot>
            </table></div>`
            : html`<p class="empty">No ledger entries${filter.q || filter.entry || filter.term || filter.outstanding ? ' match the filter' : ' yet'}.</p>`}
        </section>`,
    });
  }

  app.get('/charges', { config: { permission: 'charges.view' } }, async (request, reply) => ledgerPage(request, reply));

  // Step 1: what the report will do.
  app.post('/charges/preview', { config: { permission: 'charges.report' } }, async (request, reply) => {
    const body = (request.body ?? {}) as Record<string, string | undefined>;
    let input: ReportInput;
    let described: { effects: string[] };
    try {
      input = readReport(body);
      described = await describeReport(context, input, await requestScope(context, request));
      // The preview names the holder and their loan: a view of their records.
      await context.audit(request, 'web.viewed', { subject: `asset-tag:${input.tag}`, details: { page: '/charges/preview', action: input.action } });
    } catch (error) {
      if (!(error instanceof RuleError || error instanceof NotFoundError || error instanceof PageError)) throw error;
      return ledgerPage(request, reply, { problem: asSentence(explain(error).message), input: body as Partial<ReportInput>, status: 422 });
    }
    return context.render(request, reply, {
      title: `Report ${input.tag} ${input.action}: check and confirm`,
      section: '/charges',
      body: html`<div class="confirm" role="region" aria-labelledby="effects-title">
          <h2 id="effects-title">This will happen when you confirm</h2>
          <ul>${described.effects.map((effect) => html`<li>${effect}</li>`)}</ul>
          <p>It is recorded in the audit trail under your account, ${request.account!.username}.</p>
        </div>
        <form method="post" action="/charges/confirm" class="actions">
          ${csrfField(reply)}
          <input type="hidden" name="tag" value="${input.tag}">
          <input type="hidden" name="action" value="${input.action}">
          <input type="hidden" name="crimeNumber" value="${input.crimeNumber}">
          <input type="hidden" name="item" value="${input.item}">
          <button type="submit" class="primary">Confirm: report ${input.tag} ${input.action}</button>
          <a class="button" href="/charges">Cancel</a>
        </form>`,
    });
  });

  // Step 2: do it (the records apply the rule again, inside their own transaction).
  app.post('/charges/confirm', { config: { permission: 'charges.report' } }, async (request, reply) => {
    const input = readReport((request.body ?? {}) as Record<string, string | undefined>);
    const actor = actorFor(request.account!);
    const { loans } = context.records;
    // Another school's asset is not there for this account (issue 16).
    const asset = await context.records.db.get<{ id: number }>('SELECT id FROM assets WHERE tag = ?', [input.tag]);
    if (asset && !(await requestScope(context, request)).asset(asset.id)) throw new PageError(404, `There is no asset with tag ${input.tag}.`);
    let message: string;
    try {
      if (input.action === 'lost') {
        const result = await loans.reportLost(input.tag, actor);
        message = result.chargeId ? `${input.tag} reported lost: charge ${result.chargeId} of ${formatPence(result.amountPence)} raised; the headteacher has been alerted.` : `${input.tag} reported lost (nothing charged); the headteacher has been alerted.`;
        await context.audit(request, 'web.reported-lost', { subject: `loan:${result.loanId}`, details: { loan: result.loanId, charge: result.chargeId } });
      } else if (input.action === 'stolen') {
        const result = await loans.reportStolen(input.tag, input.crimeNumber, actor);
        message = `${input.tag} reported stolen with crime number ${input.crimeNumber}; nothing charged; the headteacher has been alerted.`;
        await context.audit(request, 'web.reported-stolen', { subject: `loan:${result.loanId}`, details: { loan: result.loanId } });
      } else if (input.action === 'damaged') {
        const result = await loans.reportDamage(input.tag, input.item, actor);
        message = `${input.tag} reported damaged: charge ${result.chargeId} of ${formatPence(result.amountPence)} raised.`;
        await context.audit(request, 'web.reported-damaged', { subject: `loan:${result.loanId}`, details: { loan: result.loanId, charge: result.chargeId, item: input.item } });
      } else {
        const result = await loans.found(input.tag, actor);
        message = `${input.tag} marked found${result.reversals.length ? `; ${result.reversals.length} charge${result.reversals.length === 1 ? '' : 's'} reversed` : ''}.`;
        await context.audit(request, 'web.reported-found', { subject: `asset-tag:${input.tag}`, details: { reversals: result.reversals } });
      }
    } catch (error) {
      if (!(error instanceof RuleError || error instanceof NotFoundError)) throw error;
      return ledgerPage(request, reply, { problem: asSentence(explain(error).message), input, status: 422 });
    }
    context.flash(request, message);
    return reply.redirect('/charges', 303);
  });

  app.get('/charges/:id/waive', { config: { permission: 'charges.waive' } }, async (request, reply) => {
    const charge = await chargeToWaive(context, request);
    await context.audit(request, 'web.viewed', { subject: `charge:${charge.id}`, personId: Number(charge.person_id), details: { page: '/charges/:id/waive' } });
    return context.render(request, reply, {
      title: `Waive charge ${charge.id}`,
      section: '/charges',
      body: html`<div class="confirm">
          <h2>This will happen when you confirm</h2>
          <ul><li>A waiver of ${formatPence(charge.owed)} is added to the ledger against charge ${charge.id} (${charge.reason}), for ${charge.name}. The charge itself is never edited.</li>
          <li>The waiver names you (${request.account!.username}) and the reason you give.</li></ul>
        </div>
        <form method="post" action="/charges/${charge.id}/waive">
          ${csrfField(reply)}
          <p><label for="reason">Reason for the waiver</label><textarea id="reason" name="reason" required minlength="3"></textarea></p>
          <p class="actions"><button type="submit" class="primary">Confirm: waive ${formatPence(charge.owed)}</button> <a class="button" href="/charges">Cancel</a></p>
        </form>`,
    });
  });

  app.post('/charges/:id/waive', { config: { permission: 'charges.waive' } }, async (request, reply) => {
    const charge = await chargeToWaive(context, request);
    const reason = String(((request.body ?? {}) as { reason?: string }).reason ?? '').trim();
    if (!reason) throw new RuleError('P7', 'A waiver needs a reason: go back and write why the charge is waived.');
    const entry = await context.records.ledger.waive(charge.id, reason, actorFor(request.account!), new Date().toISOString());
    await context.audit(request, 'web.waived', { subject: `charge:${charge.id}`, personId: Number(charge.person_id), details: { charge: charge.id, waiver: entry } });
    context.flash(request, `Charge ${charge.id}: ${formatPence(charge.owed)} waived (ledger entry ${entry}).`);
    return reply.redirect('/charges', 303);
  });
}

async function chargeToWaive(context: WebContext, request: FastifyRequest): Promise<ChargeRow & { owed: number; name: string }> {
  const id = Number((request.params as { id: string }).id);
  const charge = Number.isInteger(id) ? await context.records.ledger.get(id) : undefined;
  if (!charge || !(await requestScope(context, request)).person(charge.person_id)) throw new PageError(404, `There is no charge ${(request.params as { id: string }).id}.`);
  if (charge.entry !== 'charge') throw new PageError(422, `Entry ${id} is a ${charge.entry}; waive the charge it corrects (${charge.corrects_id}).`);
  const owed = await context.records.ledger.outstanding(id);
  if (owed <= 0) throw new PageError(422, `Charge ${id} has nothing outstanding to waive.`);
  const person = await context.records.people.get(Number(charge.person_id));
  return { ...charge, id: Number(charge.id), owed, name: person?.name ?? `person #${charge.person_id}` };
}
