// Day cards (issue 17): a pupil or member of staff who forgot their card is given one of the
// school's spare cards until the day's cut-off (HANDOVER_DAY_CUTOFF). The spare card becomes one of
// their badges — the same keyed hash a station matches, naming them — with `expires_at` set, so the
// badge list every station holds changes at once (badge-lists.ts sees the badges table move) and
// every tap with it is recorded as theirs. At the cut-off the housekeeping sweep revokes it, which
// changes the list again; a station that is offline then keeps the card until it reconnects and is
// sent the new list (README "Day cards"); taps it made meanwhile arrive, and are recorded, under
// the person's name, as the station's list said.
import type { AuditTrail } from '../audit/trail';
import type { SqlDatabase } from '../db/sql';
import { actorLabel, NotFoundError, requireCardRight, requirePermission, RuleError, type Actor } from './access';
import { badgeHash, parseUid, schoolBadgeKey, type People, type PersonRow } from './people';
import { nextCutoff } from './time';

export interface SpareCardRow {
  id: number;
  label: string;
  hash: Uint8Array;
  added_at: string;
  retired_at: string | null;
}

export interface DayCardRow {
  id: number;
  spare_card_id: number;
  person_id: number;
  issued_at: string;
  expires_at: string;
  issued_by: number | null;
  ended_at: string | null;
  ended_how: string | null;
}

export interface SpareCardStatus {
  id: number;
  label: string;
  /** The day card it is out as now, with its holder. */
  out: (DayCardRow & { name: string; external_id: string }) | null;
}

const timeOfDay = (iso: string) => new Date(iso).toLocaleTimeString('en-GB', { hour: '2-digit', minute: '2-digit' });
const whenOf = (iso: string, at: string) =>
  new Date(iso).toDateString() === new Date(at).toDateString() ? `today's cut-off, ${timeOfDay(iso)}` : `the cut-off on ${new Date(iso).toLocaleDateString('en-GB', { weekday: 'long', day: 'numeric', month: 'short' })}, ${timeOfDay(iso)}`;

export class DayCards {
  constructor(
    private db: SqlDatabase,
    private audit: AuditTrail,
    private people: People,
    private dayCutoff: string,
  ) {}

  // ---- the pool ----

  /** The pool as the command line lists it: only for who may give day cards, and recorded (it names who holds each card). */
  async listed(actor: Actor): Promise<SpareCardStatus[]> {
    requirePermission(actor, 'day-cards.give');
    const cards = await this.spares();
    await this.audit.append({ actor: actorLabel(actor), action: 'day-cards.listed', subject: null, details: { cards: cards.length } });
    return cards;
  }

  /** The day cards given to one person, newest first, with each spare card's label and who gave it (their page's history). */
  async ofPerson(personId: number): Promise<Array<DayCardRow & { label: string; issued_by_name: string | null }>> {
    return this.db.all(
      `SELECT d.*, s.label, p.name AS issued_by_name FROM day_cards d JOIN spare_cards s ON s.id = d.spare_card_id LEFT JOIN people p ON p.id = d.issued_by
       WHERE d.person_id = ? ORDER BY d.issued_at DESC, d.id DESC LIMIT 30`,
      [personId],
    );
  }

  async spares(): Promise<SpareCardStatus[]> {
    const cards = await this.db.all<SpareCardRow>('SELECT * FROM spare_cards WHERE retired_at IS NULL ORDER BY label');
    const out = await this.db.all<DayCardRow & { name: string; external_id: string }>(
      'SELECT d.*, p.name, p.external_id FROM day_cards d JOIN people p ON p.id = d.person_id WHERE d.ended_at IS NULL ORDER BY d.id',
    );
    return cards.map((card) => ({ id: Number(card.id), label: card.label, out: out.find((row) => Number(row.spare_card_id) === Number(card.id)) ?? null }));
  }

  private async sparePlan(label: string, uidText: string, tx: SqlDatabase): Promise<{ label: string; hash: Uint8Array; effects: string[] }> {
    const name = label.trim();
    if (!name) throw new RuleError('P12', 'give the spare card a label (what is written on it, e.g. Spare 1)');
    if (name.length > 40) throw new RuleError('P12', 'a spare card label is at most 40 characters');
    let uid: Uint8Array;
    try {
      uid = parseUid(uidText);
    } catch {
      throw new RuleError('P12', 'the card id is not a card UID: give 4, 7 or 10 bytes in hex (e.g. 04A1B2C3), as the card reader shows it');
    }
    const hash = badgeHash(await schoolBadgeKey(tx), uid);
    if (await tx.get('SELECT id FROM spare_cards WHERE label = ?', [name])) throw new RuleError('P12', `there is already a spare card labelled ${JSON.stringify(name)}`);
    if (await tx.get('SELECT id FROM spare_cards WHERE hash = ?', [hash])) throw new RuleError('P12', 'that card is already in the spare-card pool');
    const badge = await tx.get<{ person_id: number }>('SELECT person_id FROM badges WHERE hash = ? AND revoked_at IS NULL', [hash]);
    if (badge) throw new RuleError('P12', "that card is already enrolled as someone's own card, and a person's own card cannot be a spare");
    return { label: name, hash, effects: [`A spare card labelled “${name}” is added to the pool. It opens nothing until it is given to someone as a day card.`] };
  }

  async checkAddSpare(label: string, uid: string, actor: Actor): Promise<{ effects: string[] }> {
    requirePermission(actor, 'day-cards.give');
    return { effects: (await this.sparePlan(label, uid, this.db)).effects };
  }

  async addSpare(label: string, uid: string, actor: Actor, at = new Date().toISOString()): Promise<number> {
    requirePermission(actor, 'day-cards.give');
    return this.db.transaction(async (tx) => {
      const plan = await this.sparePlan(label, uid, tx);
      const id = await tx.insert('INSERT INTO spare_cards (label, hash, added_at) VALUES (?, ?, ?)', [plan.label, plan.hash, at]);
      await this.audit.append({ actor: actorLabel(actor), action: 'spare-card.added', subject: `spare-card:${id}`, at, details: { spareCard: id, label: plan.label } }, tx);
      return id;
    });
  }

  // ---- giving one out ----

  private async spareByLabel(label: string, tx: SqlDatabase): Promise<SpareCardRow> {
    const card = await tx.get<SpareCardRow>('SELECT * FROM spare_cards WHERE label = ? AND retired_at IS NULL', [label.trim()]);
    if (!card) throw new NotFoundError(`no spare card labelled ${JSON.stringify(label.trim())}`);
    return card;
  }

  private async openDayCardOf(spareId: number, tx: SqlDatabase): Promise<DayCardRow | undefined> {
    return tx.get<DayCardRow>('SELECT * FROM day_cards WHERE spare_card_id = ? AND ended_at IS NULL', [spareId]);
  }

  private async givePlan(label: string, personRef: string, at: string, tx: SqlDatabase): Promise<{ card: SpareCardRow; person: PersonRow; expiresAt: string; effects: string[] }> {
    if (!label.trim()) throw new RuleError('P12', 'choose which spare card you are handing over');
    if (!personRef.trim()) throw new RuleError('P12', 'give the person: their MIS id or staff code');
    const card = await this.spareByLabel(label, tx);
    const person = await this.people.resolve(personRef, tx);
    if (person.left_on) throw new RuleError('P12', `${person.name} has left (${person.left_on}): no card can be given to them`);
    const open = await this.openDayCardOf(Number(card.id), tx);
    if (open) {
      const holder = await this.people.get(Number(open.person_id), tx);
      throw new RuleError('P12', `spare card ${card.label} is already out to ${holder?.name ?? `person #${open.person_id}`} until ${timeOfDay(open.expires_at)}: take it back first`);
    }
    const theirs = await tx.get<DayCardRow & { label: string }>('SELECT d.*, s.label FROM day_cards d JOIN spare_cards s ON s.id = d.spare_card_id WHERE d.person_id = ? AND d.ended_at IS NULL', [person.id]);
    if (theirs) throw new RuleError('P12', `${person.name} already has spare card ${theirs.label} until ${timeOfDay(theirs.expires_at)}`);
    const expiresAt = nextCutoff(new Date(at), this.dayCutoff).toISOString();
    return {
      card,
      person,
      expiresAt,
      effects: [
        `Spare card ${card.label} becomes ${person.name}’s (${person.external_id}) card until ${whenOf(expiresAt, at)}: it opens what their own card opens, and every tap with it is recorded as theirs.`,
        'Every station is sent the new badge list within seconds.',
        'At the cut-off it stops by itself (the stations are sent a list without it); take it back before then to stop it sooner.',
      ],
    };
  }

  async checkGive(label: string, personRef: string, actor: Actor, at = new Date().toISOString()): Promise<{ effects: string[] }> {
    requirePermission(actor, 'day-cards.give');
    const plan = await this.givePlan(label, personRef, at, this.db);
    requireCardRight(actor, plan.person);
    return { effects: plan.effects };
  }

  async give(label: string, personRef: string, actor: Actor, at = new Date().toISOString()): Promise<{ dayCardId: number; personId: number; expiresAt: string }> {
    requirePermission(actor, 'day-cards.give');
    return this.db.transaction(async (tx) => {
      const { card, person, expiresAt } = await this.givePlan(label, personRef, at, tx);
      requireCardRight(actor, person);
      // The spare card's badge row (its hash is the key) now names this person until the cut-off.
      await tx.run(
        `INSERT INTO badges (hash, person_id, enrolled_at, expires_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (hash) DO UPDATE SET person_id = excluded.person_id, enrolled_at = excluded.enrolled_at, expires_at = excluded.expires_at, revoked_at = NULL`,
        [card.hash, person.id, at, expiresAt],
      );
      const id = await tx.insert('INSERT INTO day_cards (spare_card_id, person_id, issued_at, expires_at, issued_by) VALUES (?, ?, ?, ?, ?)', [card.id, person.id, at, expiresAt, actor.personId]);
      await this.audit.append({ actor: actorLabel(actor), action: 'day-card.given', subject: `day-card:${id}`, personId: Number(person.id), at, details: { dayCard: id, spareCard: Number(card.id), label: card.label, expires: expiresAt } }, tx);
      return { dayCardId: id, personId: Number(person.id), expiresAt };
    });
  }

  private async end(card: SpareCardRow, open: DayCardRow, how: 'taken back' | 'expired', actor: Actor | null, at: string, tx: SqlDatabase): Promise<void> {
    await tx.run('UPDATE badges SET revoked_at = ? WHERE hash = ? AND person_id = ? AND revoked_at IS NULL', [at, card.hash, open.person_id]);
    await tx.run('UPDATE day_cards SET ended_at = ?, ended_how = ? WHERE id = ?', [at, how, open.id]);
    await this.audit.append({ actor: actor ? actorLabel(actor) : 'system', action: how === 'expired' ? 'day-card.expired' : 'day-card.taken-back', subject: `day-card:${open.id}`, personId: Number(open.person_id), at, details: { dayCard: Number(open.id), spareCard: Number(card.id), label: card.label } }, tx);
  }

  async checkTakeBack(label: string, actor: Actor): Promise<{ effects: string[] }> {
    requirePermission(actor, 'day-cards.give');
    const card = await this.spareByLabel(label, this.db);
    const open = await this.openDayCardOf(Number(card.id), this.db);
    if (!open) throw new RuleError('P12', `spare card ${card.label} is not out: there is nothing to take back`);
    const person = await this.people.get(Number(open.person_id));
    return { effects: [`Spare card ${card.label} stops being ${person?.name ?? `person #${open.person_id}`}’s card now, and every station is sent a list without it within seconds.`] };
  }

  async takeBack(label: string, actor: Actor, at = new Date().toISOString()): Promise<{ personId: number }> {
    requirePermission(actor, 'day-cards.give');
    return this.db.transaction(async (tx) => {
      const card = await this.spareByLabel(label, tx);
      const open = await this.openDayCardOf(Number(card.id), tx);
      if (!open) throw new RuleError('P12', `spare card ${card.label} is not out: there is nothing to take back`);
      await this.end(card, open, 'taken back', actor, at, tx);
      return { personId: Number(open.person_id) };
    });
  }

  /** The housekeeping sweep: every day card whose cut-off has come stops (its badge revoked). */
  async expire(now: Date): Promise<number> {
    const at = now.toISOString();
    return this.db.transaction(async (tx) => {
      const due = await tx.all<DayCardRow>('SELECT * FROM day_cards WHERE ended_at IS NULL AND expires_at <= ? ORDER BY id', [at]);
      for (const open of due) {
        const card = (await tx.get<SpareCardRow>('SELECT * FROM spare_cards WHERE id = ?', [open.spare_card_id]))!;
        await this.end(card, open, 'expired', null, open.expires_at, tx);
      }
      return due.length;
    });
  }
}
