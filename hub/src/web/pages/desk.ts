// The Desk (issue 17): what the office does by hand when a station cannot — lend and return an
// item, record ICT's health check of a laptop (P10), give a pupil or member of staff who forgot
// their card a day card from the spare-card pool, and add or correct a person, a card or an asset.
// Every form first shows what it will do (the records' own `check…`, nothing changed) and acts only
// when that is confirmed; the records check again inside their transaction and audit the change.
// The same actions answer JSON under /api/desk/ (send `"confirm": true` to act).
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { actorFor, may } from '../../accounts/roles';
import { NotFoundError, RuleError, type Actor } from '../../records/access';
import { RETURN_CONDITIONS, type ReturnCondition } from '../../records/desk';
import { roleWords } from '../../records/actor';
import { requireInScope as requireSeen } from '../../records/scope-refs';
import { ROLES } from '../../records/people';
import type { Records } from '../../records';
import { formatPence } from '../../records/time';
import type { Permission } from '../../rules/permissions';
import { csrfField } from '../auth';
import type { WebContext } from '../context';
import { actingSchool, requestScope, schoolQuery } from '../scope';
import { explain } from '../errors';
import { html, type Html, type HtmlValue } from '../html';
import { notice } from '../layout';

type Fields = Record<string, string>;

interface DeskAction {
  permission: Permission;
  /** The fields the form sends (echoed into the confirmation form). */
  fields: string[];
  title(fields: Fields): string;
  check(records: Records, fields: Fields, actor: Actor): Promise<{ effects: string[] }>;
  /** Does it; returns the sentence shown after. */
  run(records: Records, fields: Fields, actor: Actor): Promise<string>;
}

const at = (records: Records) => records.clock.now().toISOString();
const condition = (fields: Fields) => (fields.condition || '') as ReturnCondition;

const PERSON_FIELDS = ['mode', 'externalId', 'name', 'role', 'form', 'yearGroup', 'staffCode', 'email'];
const ASSET_FIELDS = ['mode', 'tag', 'classId', 'serial', 'model', 'encryption', 'replacement', 'healthCheckDays', 'lastHealthCheck', 'homeStation', 'homeLocker', 'tagUid'];

export const DESK_ACTIONS: Record<string, DeskAction> = {
  lend: {
    permission: 'desk.lend',
    fields: ['tag', 'borrower', 'due'],
    title: (f) => `Lend ${f.tag}`,
    check: (r, f, actor) => r.desk.checkLend({ tag: f.tag, borrower: f.borrower, due: f.due }, actor, at(r)),
    async run(r, f, actor) {
      const done = await r.desk.lend({ tag: f.tag, borrower: f.borrower, due: f.due }, actor, at(r));
      return `${f.tag.trim()} lent (loan ${done.loanId}), due back ${new Date(done.dueAt).toLocaleDateString('en-GB')}.`;
    },
  },
  return: {
    permission: 'desk.lend',
    fields: ['tag', 'condition', 'item', 'note'],
    title: (f) => `Return ${f.tag}`,
    check: (r, f, actor) => r.desk.checkReturn({ tag: f.tag, condition: condition(f), item: f.item, note: f.note }, actor, at(r)),
    async run(r, f, actor) {
      const done = await r.desk.return({ tag: f.tag, condition: condition(f), item: f.item, note: f.note }, actor, at(r));
      return `${f.tag.trim()} returned (loan ${done.loanId})${done.chargeId ? `; damage charge ${done.chargeId} raised` : ''}${done.heldForCheck ? '; held for its health check' : ''}.`;
    },
  },
  'health-check': {
    permission: 'assets.health-check',
    fields: ['tag', 'note'],
    title: (f) => `Health check of ${f.tag}`,
    check: (r, f, actor) => r.desk.checkHealthCheck(f.tag, actor, at(r)),
    async run(r, f, actor) {
      const done = await r.desk.recordHealthCheck(f.tag, f.note ?? '', actor, at(r));
      return `Health check of ${f.tag.trim()} recorded${done.released ? '; it may be lent again' : ''}.`;
    },
  },
  'day-card': {
    permission: 'day-cards.give',
    fields: ['card', 'person'],
    title: (f) => `Give spare card ${f.card} as a day card`,
    check: (r, f, actor) => r.dayCards.checkGive(f.card, f.person, actor, at(r)),
    async run(r, f, actor) {
      const done = await r.dayCards.give(f.card, f.person, actor, at(r));
      const person = await r.people.get(done.personId);
      return `Spare card ${f.card} is ${person?.name ?? 'their'}’s until ${new Date(done.expiresAt).toLocaleTimeString('en-GB', { hour: '2-digit', minute: '2-digit' })}; the stations are being sent the new list.`;
    },
  },
  'day-card-back': {
    permission: 'day-cards.give',
    fields: ['card'],
    title: (f) => `Take back spare card ${f.card}`,
    check: (r, f, actor) => r.dayCards.checkTakeBack(f.card, actor),
    async run(r, f, actor) {
      await r.dayCards.takeBack(f.card, actor, at(r));
      return `Spare card ${f.card} taken back; it opens nothing now.`;
    },
  },
  'spare-card': {
    permission: 'day-cards.give',
    fields: ['label', 'uid'],
    title: (f) => `Add spare card ${f.label}`,
    check: (r, f, actor) => r.dayCards.checkAddSpare(f.label, f.uid, actor),
    async run(r, f, actor) {
      await r.dayCards.addSpare(f.label, f.uid, actor, at(r));
      return `Spare card ${f.label.trim()} added to the pool.`;
    },
  },
  person: {
    permission: 'register.edit',
    fields: PERSON_FIELDS,
    title: (f) => (f.mode === 'correct' ? `Correct ${f.externalId}` : `Add ${f.name || f.externalId}`),
    check: (r, f, actor) => r.register.checkPerson(personForm(f), actor),
    async run(r, f, actor) {
      const done = await r.register.savePerson(personForm(f), actor, at(r));
      return `${f.externalId.trim()} ${done.created ? 'added' : 'corrected'}.`;
    },
  },
  card: {
    permission: 'register.edit',
    fields: ['person', 'uid'],
    title: (f) => `Enrol a card for ${f.person}`,
    check: (r, f, actor) => r.register.checkCard(f.person, f.uid, actor),
    async run(r, f, actor) {
      const done = await r.register.enrolCard(f.person, f.uid, actor, at(r));
      return `Card enrolled for ${f.person.trim()}${done.replaced ? `; ${done.replaced} old card${done.replaced === 1 ? '' : 's'} revoked` : ''}.`;
    },
  },
  asset: {
    permission: 'register.edit',
    fields: ASSET_FIELDS,
    title: (f) => `${f.mode === 'correct' ? 'Correct' : 'Add'} asset ${f.tag}`,
    check: (r, f, actor) => r.register.checkAsset(assetForm(f), actor),
    async run(r, f, actor) {
      const done = await r.register.saveAsset(assetForm(f), actor);
      return `${f.tag.trim().toUpperCase()} ${done.created ? 'registered' : 'corrected'}.`;
    },
  },
};

function personForm(f: Fields) {
  return { mode: f.mode as 'add' | 'correct', externalId: f.externalId, name: f.name, role: f.role, form: f.form, yearGroup: f.yearGroup, staffCode: f.staffCode, email: f.email };
}

function assetForm(f: Fields) {
  return { mode: f.mode as 'add' | 'correct', tag: f.tag, classId: f.classId, serial: f.serial, model: f.model, encryption: f.encryption, replacement: f.replacement, healthCheckDays: f.healthCheckDays, lastHealthCheck: f.lastHealthCheck, homeStation: f.homeStation, homeLocker: f.homeLocker, tagUid: f.tagUid };
}

function readFields(action: DeskAction, body: unknown): Fields {
  const source = (body ?? {}) as Record<string, unknown>;
  const fields: Fields = {};
  for (const name of action.fields) fields[name] = typeof source[name] === 'string' ? (source[name] as string).slice(0, 500) : '';
  return fields;
}

function input(id: string, label: HtmlValue, values: Fields, extra: { required?: boolean; hint?: string; type?: string; placeholder?: string } = {}): Html {
  return html`<p><label for="${id}">${label}${extra.hint ? html` <span class="muted">(${extra.hint})</span>` : null}</label><input id="${id}" name="${id.replace(/^[a-z]+-/, '')}" type="${extra.type ?? 'text'}" value="${values[id.replace(/^[a-z]+-/, '')] ?? ''}" ${extra.required ? html`required` : null} ${extra.placeholder ? html`placeholder="${extra.placeholder}"` : null} autocomplete="off" spellcheck="false"></p>`;
}

function modeChoice(prefix: string, values: Fields): Html {
  return html`<fieldset class="choice" id="${prefix}-mode"><legend>Add or correct</legend>
    <label class="inline"><input type="radio" name="mode" value="add" required ${values.mode !== 'correct' ? html`checked` : null}> Add new</label>
    <label class="inline"><input type="radio" name="mode" value="correct" ${values.mode === 'correct' ? html`checked` : null}> Correct <span class="muted">(empty fields stay as they are)</span></label>
  </fieldset>`;
}

async function deskPage(context: WebContext, request: FastifyRequest, reply: FastifyReply, options: { problem?: string; action?: string; values?: Fields; status?: number } = {}) {
  const account = request.account!;
  const { records } = context;
  const values = (name: string) => (options.action === name ? (options.values ?? {}) : {});
  const scope = await requestScope(context, request);
  const [classes, prices, allSpares] = await Promise.all([records.assets.classes(), records.assets.priceList(), records.dayCards.spares()]);
  // The spare-card pool is the deployment's; a card out to someone of another school is not shown.
  const spares = allSpares.filter((card) => !card.out || scope.person(card.out.person_id));
  await context.audit(request, 'web.viewed', { details: { page: '/desk' } });
  const section = (id: string, title: string, permission: Permission, body: Html) =>
    may(account.role, permission) ? html`<section aria-labelledby="${id}-title" id="${id}"><h2 id="${id}-title">${title}</h2>${body}</section>` : null;
  // A trust account showing one school adds to that school: the forms carry its ?school= (issue 16).
  const query = schoolQuery(request);
  const form = (action: string, body: HtmlValue, button: string) => html`<form method="post" action="/desk/${action}${query}" class="desk-form">${csrfField(reply)}${body}<p><button type="submit" class="primary">${button}</button></p></form>`;
  const free = spares.filter((card) => !card.out);
  return context.render(request, reply, {
    title: 'Desk',
    section: '/desk',
    status: options.status,
    body: html`
      <p class="hint">For when a station cannot: each form shows what it will do, and nothing changes until you confirm.</p>
      ${options.problem ? notice('problem', options.problem) : null}
      ${section('lend', 'Lend an item', 'desk.lend', form('lend', html`<div class="field-row">
          ${input('lend-tag', 'Asset tag', values('lend'), { required: true, placeholder: 'e.g. STK-004' })}
          ${input('lend-borrower', 'Borrower', values('lend'), { required: true, hint: 'MIS id or staff code' })}
          ${input('lend-due', 'Due back', values('lend'), { type: 'date', hint: 'empty: the class’s loan period' })}
        </div>`, 'Check the loan'))}
      ${section('return', 'Return an item', 'desk.lend', form('return', html`<div class="field-row">
          ${input('return-tag', 'Asset tag', values('return'), { required: true })}
          <fieldset class="choice"><legend>Condition</legend>${RETURN_CONDITIONS.map((c) => html`<label class="inline"><input type="radio" name="condition" value="${c}" required ${(values('return').condition ?? 'good') === c ? html`checked` : null}> ${c === 'good' ? 'Good' : 'Damaged'}</label>`)}</fieldset>
          <p><label for="return-item">Damage to charge <span class="muted">(if damaged)</span></label><select id="return-item" name="item"><option value="">— nothing charged —</option>${prices.map((price) => html`<option value="${price.item}">${price.item} (${price.class_name}, ${formatPence(Number(price.pence))})</option>`)}</select></p>
          ${input('return-note', 'Note', values('return'), { hint: 'optional' })}
        </div>`, 'Check the return'))}
      ${section('health-check', 'Record a laptop’s health check', 'assets.health-check', form('health-check', html`<div class="field-row">
          ${input('health-tag', 'Asset tag', values('health-check'), { required: true, placeholder: 'e.g. LAP-002' })}
          ${input('health-note', 'Note', values('health-check'), { hint: 'optional' })}
        </div>`, 'Check the health check'))}
      ${section('day-card', 'Day card for someone who forgot theirs', 'day-cards.give', html`
        ${free.length
          ? form('day-card', html`<div class="field-row">
              <p><label for="daycard-card">Spare card</label><select id="daycard-card" name="card" required>${free.map((card) => html`<option ${values('day-card').card === card.label ? html`selected` : null}>${card.label}</option>`)}</select></p>
              ${input('daycard-person', 'Person', values('day-card'), { required: true, hint: 'MIS id or staff code' })}
            </div>`, 'Check the day card')
          : html`<p class="empty">No spare card is free${spares.length ? '' : ': add the school’s spare cards below'}.</p>`}
        ${spares.length
          ? html`<div class="table-wrap" role="region" aria-label="Spare cards" tabindex="0"><table class="data"><thead><tr><th scope="col">Spare card</th><th scope="col">Now</th><th scope="col">Action</th></tr></thead><tbody>${spares.map(
              (card) => html`<tr data-spare="${card.label}"><td>${card.label}</td><td>${card.out ? html`<a href="/who/person/${card.out.person_id}">${card.out.name}</a> until ${new Date(card.out.expires_at).toLocaleTimeString('en-GB', { hour: '2-digit', minute: '2-digit' })}` : 'Free'}</td>
                <td>${card.out ? html`<form method="post" action="/desk/day-card-back${query}">${csrfField(reply)}<input type="hidden" name="card" value="${card.label}"><button type="submit">Take back…</button></form>` : null}</td></tr>`,
            )}</tbody></table></div>`
          : null}
        <h3>Add a spare card to the pool</h3>
        ${form('spare-card', html`<div class="field-row">
          ${input('spare-label', 'Label on the card', values('spare-card'), { required: true, placeholder: 'e.g. Spare 1' })}
          ${input('spare-uid', 'Card id (UID)', values('spare-card'), { required: true, hint: 'hex, as the reader shows it' })}
        </div>`, 'Check the spare card')}`)}
      ${section('person', 'Add or correct a person', 'register.edit', form('person', html`${modeChoice('person', values('person'))}<div class="field-row">
          ${input('person-externalId', 'MIS id', values('person'), { required: true })}
          ${input('person-name', 'Name', values('person'))}
          <p><label for="person-role">Role</label><select id="person-role" name="role"><option value="">—</option>${ROLES.map((role) => html`<option value="${role}" ${values('person').role === role ? html`selected` : null}>${roleWords(role)}</option>`)}</select></p>
          ${input('person-form', 'Form', values('person'))}
          ${input('person-yearGroup', 'Year', values('person'))}
          ${input('person-staffCode', 'Staff code', values('person'))}
          ${input('person-email', 'E-mail', values('person'), { type: 'email' })}
        </div>`, 'Check the person'))}
      ${section('card', 'Enrol a card', 'register.edit', form('card', html`<div class="field-row">
          ${input('card-person', 'Person', values('card'), { required: true, hint: 'MIS id or staff code' })}
          ${input('card-uid', 'Card id (UID)', values('card'), { required: true, hint: 'hex; replaces their old card' })}
        </div>`, 'Check the card'))}
      ${section('asset', 'Add or correct an asset', 'register.edit', form('asset', html`${modeChoice('asset', values('asset'))}<div class="field-row">
          ${input('asset-tag', 'Asset tag', values('asset'), { required: true })}
          <p><label for="asset-classId">Class</label><select id="asset-classId" name="classId"><option value="">—</option>${classes.map((c) => html`<option value="${c.id}" ${values('asset').classId === c.id ? html`selected` : null}>${c.name}</option>`)}</select></p>
          ${input('asset-serial', 'Serial', values('asset'))}
          ${input('asset-model', 'Model', values('asset'))}
          ${input('asset-encryption', 'Encryption', values('asset'), { hint: 'required for a stick' })}
          ${input('asset-replacement', 'Replacement price', values('asset'), { hint: '£; empty: the class’s' })}
          ${input('asset-healthCheckDays', 'Health check every (days)', values('asset'))}
          ${input('asset-lastHealthCheck', 'Last health check', values('asset'), { type: 'date' })}
          ${input('asset-homeStation', 'Home station', values('asset'))}
          ${input('asset-homeLocker', 'Home locker', values('asset'), { hint: 'number on the door' })}
          ${input('asset-tagUid', 'Item tag id', values('asset'), { hint: 'hex, optional' })}
        </div>`, 'Check the asset'))}`,
  });
}

/**
 * Refuses a desk form that names an asset, a person or a station of a school the account does not
 * see (issue 16): as if it did not exist, like every page.
 */
async function requireInScope(context: WebContext, request: FastifyRequest, fields: Fields): Promise<void> {
  await requireSeen(context.records, await requestScope(context, request), { tags: [fields.tag], people: [fields.borrower, fields.person, fields.externalId], stations: [fields.homeStation], spareCards: [fields.card] });
}

export function registerDesk(app: FastifyInstance, context: WebContext): void {
  app.get('/desk', { config: { permission: 'desk.lend' } }, async (request, reply) => deskPage(context, request, reply));

  for (const [name, action] of Object.entries(DESK_ACTIONS)) {
    // The page: without `confirm` the check-and-confirm page, with it the action.
    app.post(`/desk/${name}`, { config: { permission: action.permission } }, async (request, reply) => {
      const body = (request.body ?? {}) as Record<string, unknown>;
      const fields = readFields(action, body);
      const actor = { ...actorFor(request.account!), school: context.records.schools.stored(await actingSchool(context, request)) };
      try {
        await requireInScope(context, request, fields);
        if (body.confirm !== 'yes') {
          const { effects } = await action.check(context.records, fields, actor);
          return context.render(request, reply, {
            title: `${action.title(fields)}: check and confirm`,
            section: '/desk',
            body: html`<div class="confirm" role="region" aria-labelledby="effects-title">
                <h2 id="effects-title">This will happen when you confirm</h2>
                <ul>${effects.map((effect) => html`<li>${effect}</li>`)}</ul>
                <p>It is recorded in the audit trail under your account, ${request.account!.username}.</p>
              </div>
              <form method="post" action="/desk/${name}${schoolQuery(request)}" class="actions">
                ${csrfField(reply)}
                ${action.fields.map((field) => html`<input type="hidden" name="${field}" value="${fields[field]}">`)}
                <input type="hidden" name="confirm" value="yes">
                <button type="submit" class="primary">Confirm</button>
                <a class="button" href="/desk${schoolQuery(request)}">Cancel</a>
              </form>`,
          });
        }
        const message = await action.run(context.records, fields, actor);
        await context.audit(request, `web.desk-${name}`, { details: { action: name } });
        context.flash(request, message);
        return reply.redirect(`/desk${schoolQuery(request)}`, 303);
      } catch (error) {
        if (!(error instanceof RuleError || error instanceof NotFoundError)) throw error;
        return deskPage(context, request, reply, { problem: explain(error).message.replace(/^./, (c) => c.toUpperCase()), action: name, values: fields, status: 422 });
      }
    });

    // The JSON API: { ...fields } answers what it would do; { ...fields, confirm: true } does it.
    app.post(`/api/desk/${name}`, { config: { permission: action.permission } }, async (request, reply) => {
      const body = (request.body ?? {}) as Record<string, unknown>;
      const fields = readFields(action, body);
      const actor = { ...actorFor(request.account!), school: context.records.schools.stored(await actingSchool(context, request)) };
      try {
        await requireInScope(context, request, fields);
        if (body.confirm !== true) return { effects: (await action.check(context.records, fields, actor)).effects };
        const message = await action.run(context.records, fields, actor);
        await context.audit(request, `web.desk-${name}`, { details: { action: name, via: 'api' } });
        return { done: message };
      } catch (error) {
        if (!(error instanceof RuleError || error instanceof NotFoundError)) throw error;
        const explained = explain(error);
        return reply.code(explained.status).send({ error: explained.message });
      }
    });
  }
}
