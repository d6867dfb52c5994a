// The desk's commands (issue 17), the same actions as the office page's Desk through the same
// record modules: lend and return at the desk, a laptop's health check, day cards and the spare
// card pool, and adding or correcting a person, a card or an asset. Each needs --by (whose role the
// rulebook checks); --dry-run prints what it would do and changes nothing.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { openDatabase } from '../db/open';
import { createRecords, type Records } from '../records';
import type { Actor } from '../records/access';
import type { ScopeRefs } from '../records/scope-refs';
import type { Scope } from '../records/schools';
import type { ReturnCondition } from '../records/desk';
import { loadSettings } from '../settings';
import { actingIn, RecordsUsageError } from './records-cli';

export const DESK_USAGE = `  lend <asset-tag> <person> [--due YYYY-MM-DD] [--dry-run] --by STAFF
                                 lend an item at the desk (no station)
  return <asset-tag> [--condition good|damaged] [--damage ITEM] [--note TEXT] [--dry-run] --by STAFF
  health-check <asset-tag> [--note TEXT] [--dry-run] --by STAFF       ICT records a laptop's check (P10)
  daycard give <spare-card> <person> [--dry-run] --by STAFF            a spare card until today's cut-off
  daycard back <spare-card> --by STAFF | daycard spare <label> <uid> --by STAFF | daycard list --by STAFF
  person add|correct <mis-id> [--name N] [--role R] [--form F] [--year Y] [--staff-code C] [--email E] [--dry-run] --by STAFF
  card enrol <person> <uid> [--dry-run] --by STAFF                    their new card (the old one stops)
  asset add|correct <tag> [--class C] [--serial S] [--model M] [--encryption E] [--replacement £]
        [--health-days N] [--last-health-check YYYY-MM-DD] [--station S --locker N] [--tag-uid U] [--dry-run] --by STAFF`;

const COMMANDS = new Set(['lend', 'return', 'health-check', 'daycard', 'person', 'card', 'asset']);

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Values = Record<string, any>;

function args(argv: string[], options: ParseArgsConfig['options'] = {}): { values: Values; positionals: string[] } {
  try {
    return parseArgs({ args: argv, options: { ...options, by: { type: 'string' }, 'dry-run': { type: 'boolean' } }, allowPositionals: true, strict: true }) as { values: Values; positionals: string[] };
  } catch (error) {
    throw new RecordsUsageError((error as Error).message);
  }
}

/**
 * Runs `work` as the member of staff --by names, for their school (issue 16): what `refs` names of
 * another school is refused as if it did not exist, and what they add is their school's.
 */
async function withActor(by: string | undefined, refs: ScopeRefs, work: (records: Records, actor: Actor, scope: Scope) => Promise<void>): Promise<void> {
  if (!by) throw new RecordsUsageError('name the member of staff acting with --by (MIS id, staff code or #number)');
  const settings = loadSettings();
  const { db } = await openDatabase(settings);
  try {
    const records = createRecords(db, settings);
    const acting = await actingIn(records, await records.people.actor(by));
    await acting.require(refs);
    await work(records, acting.actor, acting.scope);
  } finally {
    await db.close();
  }
}

/** --dry-run prints the effects; otherwise the action runs and its result is printed. */
async function checkThenDo(dryRun: boolean, check: () => Promise<{ effects: string[] }>, act: () => Promise<string>): Promise<void> {
  if (dryRun) {
    for (const effect of (await check()).effects) console.log(effect);
    console.log('(dry run: nothing changed)');
    return;
  }
  console.log(await act());
}

const need = (value: string | undefined, what: string): string => {
  if (!value) throw new RecordsUsageError(what);
  return value;
};

export async function deskCommand(command: string, rest: string[]): Promise<boolean> {
  if (!COMMANDS.has(command)) return false;
  if (command === 'lend') {
    const { values, positionals } = args(rest, { due: { type: 'string' } });
    const input = { tag: need(positionals[0], 'lend needs an asset tag and a person, e.g. lend STK-004 S-PAT --by OFF'), borrower: need(positionals[1], 'lend needs the borrower (MIS id or staff code)'), due: values.due };
    await withActor(values.by, { tags: [input.tag], people: [input.borrower] }, (records, actor) =>
      checkThenDo(values['dry-run'], () => records.desk.checkLend(input, actor), async () => {
        const done = await records.desk.lend(input, actor);
        return `${input.tag} lent: loan ${done.loanId}, due ${done.dueAt.slice(0, 10)}`;
      }),
    );
  } else if (command === 'return') {
    const { values, positionals } = args(rest, { condition: { type: 'string', default: 'good' }, damage: { type: 'string' }, note: { type: 'string' } });
    const input = { tag: need(positionals[0], 'return needs an asset tag'), condition: values.condition as ReturnCondition, item: values.damage, note: values.note };
    if (input.item) input.condition = 'damaged';
    await withActor(values.by, { tags: [input.tag] }, (records, actor) =>
      checkThenDo(values['dry-run'], () => records.desk.checkReturn(input, actor), async () => {
        const done = await records.desk.return(input, actor);
        return `${input.tag} returned: loan ${done.loanId}${done.chargeId ? `; damage charge ${done.chargeId}` : ''}${done.heldForCheck ? '; held for its health check (P10)' : ''}`;
      }),
    );
  } else if (command === 'health-check') {
    const { values, positionals } = args(rest, { note: { type: 'string' } });
    const tag = need(positionals[0], 'health-check needs an asset tag');
    await withActor(values.by, { tags: [tag] }, (records, actor) =>
      checkThenDo(values['dry-run'], () => records.desk.checkHealthCheck(tag, actor), async () => {
        const done = await records.desk.recordHealthCheck(tag, values.note ?? '', actor);
        return `health check of ${tag} recorded${done.released ? '; released for lending' : ''}`;
      }),
    );
  } else if (command === 'daycard') {
    const [action, ...more] = rest;
    const { values, positionals } = args(more);
    if (action === 'list') {
      await withActor(values.by, {}, async (records, actor, scope) => {
        // The pool is the deployment's; a card out to someone of another school is not shown.
        for (const card of (await records.dayCards.listed(actor)).filter((card) => !card.out || scope.person(card.out.person_id))) console.log(`${card.label}\t${card.out ? `${card.out.name} (${card.out.external_id}) until ${card.out.expires_at}` : 'free'}`);
      });
      return true;
    }
    if (action === 'give') {
      const [label, person] = [need(positionals[0], 'daycard give needs a spare card and a person'), need(positionals[1], 'daycard give needs the person (MIS id or staff code)')];
      await withActor(values.by, { spareCards: [label], people: [person] }, (records, actor) =>
        checkThenDo(values['dry-run'], () => records.dayCards.checkGive(label, person, actor), async () => {
          const done = await records.dayCards.give(label, person, actor);
          return `spare card ${label} is person #${done.personId}'s until ${done.expiresAt} (a running hub sends the stations the new list within seconds)`;
        }),
      );
    } else if (action === 'back') {
      const label = need(positionals[0], 'daycard back needs a spare card');
      await withActor(values.by, { spareCards: [label] }, (records, actor) => checkThenDo(values['dry-run'], () => records.dayCards.checkTakeBack(label, actor), async () => (await records.dayCards.takeBack(label, actor), `spare card ${label} taken back`)));
    } else if (action === 'spare') {
      const [label, uid] = [need(positionals[0], 'daycard spare needs a label and the card id'), need(positionals[1], 'daycard spare needs the card id (hex UID)')];
      await withActor(values.by, {}, (records, actor) => checkThenDo(values['dry-run'], () => records.dayCards.checkAddSpare(label, uid, actor), async () => `spare card ${label} added (number ${await records.dayCards.addSpare(label, uid, actor)})`));
    } else {
      throw new RecordsUsageError('daycard give|back|spare|list');
    }
  } else if (command === 'person') {
    const [mode, ...more] = rest;
    if (mode !== 'add' && mode !== 'correct') throw new RecordsUsageError('person add|correct <mis-id> ...');
    const { values, positionals } = args(more, { name: { type: 'string' }, role: { type: 'string' }, form: { type: 'string' }, year: { type: 'string' }, 'staff-code': { type: 'string' }, email: { type: 'string' } });
    const input = { mode: mode as 'add' | 'correct', externalId: need(positionals[0], `person ${mode} needs the MIS id`), name: values.name, role: values.role, form: values.form, yearGroup: values.year, staffCode: values['staff-code'], email: values.email };
    await withActor(values.by, { people: [input.externalId] }, (records, actor) =>
      checkThenDo(values['dry-run'], () => records.register.checkPerson(input, actor), async () => {
        const done = await records.register.savePerson(input, actor);
        return `${input.externalId} ${done.created ? 'added' : 'corrected'} (person #${done.personId})`;
      }),
    );
  } else if (command === 'card') {
    const [action, ...more] = rest;
    if (action !== 'enrol') throw new RecordsUsageError('card enrol <person> <uid> --by STAFF');
    const { values, positionals } = args(more);
    const [person, uid] = [need(positionals[0], 'card enrol needs the person and the card id'), need(positionals[1], 'card enrol needs the card id (hex UID)')];
    await withActor(values.by, { people: [person] }, (records, actor) =>
      checkThenDo(values['dry-run'], () => records.register.checkCard(person, uid, actor), async () => {
        const done = await records.register.enrolCard(person, uid, actor);
        return `card enrolled for ${person}${done.replaced ? `; ${done.replaced} old card(s) revoked` : ''}`;
      }),
    );
  } else if (command === 'asset') {
    const [mode, ...more] = rest;
    if (mode !== 'add' && mode !== 'correct') throw new RecordsUsageError('asset add|correct <tag> ...');
    const { values, positionals } = args(more, {
      class: { type: 'string' }, serial: { type: 'string' }, model: { type: 'string' }, encryption: { type: 'string' }, replacement: { type: 'string' },
      'health-days': { type: 'string' }, 'last-health-check': { type: 'string' }, station: { type: 'string' }, locker: { type: 'string' }, 'tag-uid': { type: 'string' },
    });
    const input = {
      mode: mode as 'add' | 'correct', tag: need(positionals[0], `asset ${mode} needs the asset tag`), classId: values.class, serial: values.serial, model: values.model, encryption: values.encryption,
      replacement: values.replacement, healthCheckDays: values['health-days'], lastHealthCheck: values['last-health-check'], homeStation: values.station, homeLocker: values.locker, tagUid: values['tag-uid'],
    };
    await withActor(values.by, { tags: [input.tag], stations: [input.homeStation] }, (records, actor) =>
      checkThenDo(values['dry-run'], () => records.register.checkAsset(input, actor), async () => {
        const done = await records.register.saveAsset(input, actor);
        return `${input.tag.toUpperCase()} ${done.created ? 'registered' : 'corrected'} (asset #${done.assetId})`;
      }),
    );
  }
  return true;
}
