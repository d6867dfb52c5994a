// What the hub tells people by e-mail, and to whom (issue 17):
// - a borrower with loans past their due date: one digest a day listing them all;
// - the headteacher: a loss or theft at once (P11), from the alert it raised;
// - the office: the phones still in lockers at the day's cut-off (P1, P13);
// - ICT: each laptop (or any asset) whose health check is due (P10).
// Addresses are the people records' (imported from the MIS): staff of the role, not left, of the
// school concerned (issue 16: in a trust, each school's staff hear of their own school only).
// Safeguarding (P5): the office may not see who is in a safeguarding hold, so a phone such a hold
// touched is listed without its pupil (RESTRICTED), as on the End of day page.
import type { Records } from '../records';
import type { Role } from '../records/people';
import type { Scope } from '../records/schools';
import { RESTRICTED, safeguardedPhonesIn } from '../records/safeguarding';
import { latestCutoff } from '../records/time';
import type { Notice } from './outbox';

/** The hub's local calendar day of a moment (the digest is once per local day). */
export function localDay(at: Date): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${at.getFullYear()}-${pad(at.getMonth() + 1)}-${pad(at.getDate())}`;
}

const localTime = (iso: string) => {
  const at = new Date(iso);
  return `${localDay(at)} ${String(at.getHours()).padStart(2, '0')}:${String(at.getMinutes()).padStart(2, '0')}`;
};

/** The addresses of a school's staff of a role (`school` as people.school holds it). */
async function addressesOf(records: Records, role: Role, school: string): Promise<string[]> {
  const rows = await records.db.all<{ email: string }>("SELECT DISTINCT email FROM people WHERE role = ? AND school = ? AND email IS NOT NULL AND email <> '' AND left_on IS NULL AND purged_at IS NULL ORDER BY email", [role, school]);
  return rows.map((row) => row.email);
}

/**
 * Each school of the deployment, with what its staff may read of (issue 16): a school's office,
 * headteacher and ICT hear of their own school's phones, losses and assets only. A single school: everything.
 */
async function eachSchool(records: Records): Promise<Array<{ school: string; scope: Scope }>> {
  const schools = await records.schools.list();
  return Promise.all(schools.map(async ({ id }) => ({ school: records.schools.stored(id), scope: await records.schools.scopeFor(id) })));
}

const plural = (count: number, one: string, many = `${one}s`) => `${count} ${count === 1 ? one : many}`;


/** One digest per borrower per day: every loan of theirs past its due date. */
export async function overdueDigests(records: Records, now: Date): Promise<Notice[]> {
  const day = localDay(now);
  const classNames = await records.assets.classNames();
  const byPerson = new Map<number, Array<{ tag: string; class_id: string; due_at: string }>>();
  for (const loan of await records.loans.overdue(now.toISOString())) {
    const list = byPerson.get(Number(loan.person_id)) ?? [];
    list.push(loan);
    byPerson.set(Number(loan.person_id), list);
  }
  const notices: Notice[] = [];
  for (const [personId, loans] of byPerson) {
    const person = await records.db.get<{ name: string; email: string | null }>('SELECT name, email FROM people WHERE id = ? AND purged_at IS NULL', [personId]);
    if (!person?.email) continue;
    notices.push({
      kind: 'overdue-loans',
      dedupe: `overdue-loans:person:${personId}:${day}`,
      recipient: person.email,
      subject: `${plural(loans.length, 'item')} on loan to you ${loans.length === 1 ? 'is' : 'are'} overdue`,
      body: [
        `Dear ${person.name},`,
        '',
        `${loans.length === 1 ? 'This item is' : 'These items are'} past ${loans.length === 1 ? 'its' : 'their'} return date. Please bring ${loans.length === 1 ? 'it' : 'them'} back to a loan locker or the school office.`,
        '',
        ...loans.map((loan) => `- ${loan.tag} (${classNames[loan.class_id] ?? loan.class_id}), due ${localTime(loan.due_at)}`),
        '',
        'You will get one reminder a day while anything is overdue.',
      ].join('\n'),
    });
  }
  return notices;
}

/** Losses and thefts to every headteacher of the school the item is of, once per alert (P11). */
export async function lossNotices(records: Records, since: string): Promise<Notice[]> {
  const alerts = await records.db.all<{ id: number; at: string; kind: string; subject: string; message: string }>(
    "SELECT id, at, kind, subject, message FROM alerts WHERE kind IN ('asset-lost', 'asset-stolen') AND at >= ? ORDER BY id",
    [since],
  );
  if (alerts.length === 0) return [];
  const loanIds = alerts.map((alert) => Number(/^loan:(\d+)$/.exec(alert.subject)?.[1])).filter((id) => Number.isInteger(id));
  const loans = new Map(
    loanIds.length ? (await records.db.all<{ id: number; asset_id: number; person_id: number }>(`SELECT id, asset_id, person_id FROM loans WHERE id IN (${loanIds.map(() => '?').join(', ')})`, loanIds)).map((loan) => [`loan:${loan.id}`, loan]) : [],
  );
  const notices: Notice[] = [];
  for (const { school, scope } of await eachSchool(records)) {
    const heads = await addressesOf(records, 'headteacher', school);
    const ours = alerts.filter((alert) => {
      const loan = loans.get(alert.subject);
      return !loan || scope.row(loan);
    });
    for (const alert of ours) {
      for (const to of heads) {
        notices.push({
          kind: alert.kind as Notice['kind'],
          dedupe: `${alert.kind}:alert:${alert.id}:${to}`,
          recipient: to,
          subject: alert.kind === 'asset-stolen' ? `Reported stolen: ${alert.message.split(' ')[0]}` : `Reported lost: ${alert.message.split(' ')[0]}`,
          body: [`${alert.message} (${localTime(alert.at)}).`, '', 'The loan and any charge are on the Charges page of the office page.'].join('\n'),
        });
      }
    }
  }
  return notices;
}

/** After the day's cut-off, each school's office hears of every phone of theirs still in a locker, once a day. */
export async function uncollectedNotices(records: Records, now: Date, cutoff: string): Promise<Notice[]> {
  const last = latestCutoff(now, cutoff);
  if (localDay(last) !== localDay(now)) return [];
  await records.lostProperty.markUncollected(now);
  const everyPhone = await records.lostProperty.uncollected();
  if (everyPhone.length === 0) return [];
  const safeguarded = await safeguardedPhonesIn(records.db);
  const day = localDay(now);
  const notices: Notice[] = [];
  for (const { school, scope } of await eachSchool(records)) {
    const phones = scope.rows(everyPhone);
    if (phones.length === 0) continue;
    const lines = phones.map((phone) => {
      const who = safeguarded.has(Number(phone.id)) ? RESTRICTED : `${phone.name}${phone.form ? ` (${phone.form})` : ''}`;
      return `- ${phone.station_id}, locker ${Number(phone.locker) + 1}: ${who}, in since ${localTime(phone.deposited_at)}`;
    });
    for (const to of await addressesOf(records, 'office', school)) {
      notices.push({
        kind: 'uncollected-phones' as const,
        dedupe: `uncollected-phones:${day}:${to}`,
        recipient: to,
        subject: `${plural(phones.length, 'phone')} not collected by ${cutoff}`,
        body: [`${phones.length === 1 ? 'This phone was' : 'These phones were'} still in a locker at today's cut-off (${cutoff}):`, '', ...lines, '', 'The End of day page has the list.'].join('\n'),
      });
    }
  }
  return notices;
}

/** Each asset whose health check is due, to ICT, once per due date (P10). */
export async function healthCheckNotices(records: Records, now: Date): Promise<Notice[]> {
  const at = now.toISOString();
  const classNames = await records.assets.classNames();
  const due: Array<{ id: number; tag: string; class_id: string; dueAt: string }> = [];
  for (const asset of await records.assets.list()) {
    if (['lost', 'stolen', 'written-off', 'retired'].includes(asset.status)) continue;
    const dueAt = await records.assets.healthCheckDueAt(asset);
    if (dueAt !== null && dueAt <= at) due.push({ id: Number(asset.id), tag: asset.tag, class_id: asset.class_id, dueAt });
  }
  if (due.length === 0) return [];
  const notices: Notice[] = [];
  for (const { school, scope } of await eachSchool(records)) {
    const ict = await addressesOf(records, 'ict', school);
    for (const asset of due.filter((each) => scope.asset(each.id))) {
      for (const to of ict) {
        notices.push({
          kind: 'health-check' as const,
          dedupe: `health-check:asset:${asset.id}:${asset.dueAt}:${to}`,
          recipient: to,
          subject: `Health check due: ${asset.tag}`,
          body: [`${asset.tag} (${classNames[asset.class_id] ?? asset.class_id}) was due its health check on ${localTime(asset.dueAt)}.`, '', 'It is not lent again until the check is recorded (P10).'].join('\n'),
        });
      }
    }
  }
  return notices;
}
