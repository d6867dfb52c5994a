// The one rulebook of who may do what (P14). Every door into the records consults this table: the
// office page's routes (auth.ts), the JSON API, each command-line command (through the record
// modules' `requirePermission`), the reports and the subject access export. The README's roles
// table is checked against it by test/hub/rules/permissions.test.ts (`rolesTableMarkdown` prints it).
//
// Roles here are the office page's account roles plus `deputy`, which only the command line meets
// (a deputy head named with --by). A person acting on the command line is matched by their role in
// the MIS: plain teaching staff ('staff') have the read-only account's rights; pupils have none.
import type { Actor, Role } from '../records/actor';

export const TABLE_ROLES = ['office', 'ict', 'headteacher', 'deputy', 'dsl', 'read-only'] as const;
export type TableRole = (typeof TABLE_ROLES)[number];

const EVERYONE: readonly TableRole[] = TABLE_ROLES;
const ACTING: readonly TableRole[] = ['office', 'ict', 'headteacher', 'deputy'];
const CORRECTING: readonly TableRole[] = ['office', 'headteacher', 'deputy'];

const VIEWS = 'Lockers now, Today, Who holds what, Loans, End of day, Holds, Stations; `export subject`; reports other than these below';
const LEDGER = 'Charges ledger; Leavers checklist; `charges`, `ledger` and `leavers` reports, `charge list`, `charge evidence`';
const DESK = 'the Desk: lend or return an item, give a day card, add spare cards, add or correct a person, a card or an asset';
const ACTIONS = 'report lost, stolen, damaged, found; leaver declarations and completion; remote unlock, open-all; Imports';

export interface Rule {
  roles: readonly TableRole[];
  /** What the action is, as a sentence ends: "may not <words>". */
  words: string;
  /** The row of the README's roles table it belongs to. */
  row: string;
  /** A condition beyond the role, checked where the data is. */
  condition?: string;
  /** Only on the command line (no page or API does it). */
  commandLine?: string;
}

/** Each action and who may do it. */
export const PERMISSIONS = {
  'lockers.view': { roles: EVERYONE, words: 'see the lockers', row: VIEWS },
  'today.view': { roles: EVERYONE, words: 'see today at a glance', row: VIEWS },
  'stations.view': { roles: EVERYONE, words: 'see the stations', row: VIEWS },
  'loans.view': { roles: EVERYONE, words: 'see loans', row: VIEWS },
  'end-of-day.view': { roles: EVERYONE, words: 'see the end-of-day list', row: VIEWS },
  'holds.view': { roles: EVERYONE, words: 'see holds', row: VIEWS },
  /** A person's devices and history, an asset's custody chain, a subject access export: each audited. */
  'people.view': { roles: EVERYONE, words: "see a person's devices and history", row: VIEWS },
  /** Safeguarding holds in detail, and who is in them (P5). */
  'holds.safeguarding': { roles: ['headteacher', 'dsl'], words: 'see the details of a safeguarding hold', row: 'who is in a safeguarding hold, and its details (P5)' },
  'charges.view': { roles: ['office', 'ict', 'headteacher', 'deputy', 'read-only'], words: 'see the charges ledger', row: LEDGER },
  'leavers.view': { roles: ['office', 'ict', 'headteacher', 'deputy', 'read-only'], words: 'see the leavers checklist', row: LEDGER },
  'charges.report': { roles: ACTING, words: 'report an item lost, stolen, damaged or found', row: ACTIONS },
  'leavers.act': {
    roles: ACTING,
    words: 'record a leaver’s returns and declarations',
    row: ACTIONS,
    condition: 'only the leaver’s own loans, and never one’s own',
  },
  'stations.unlock': { roles: ACTING, words: 'unlock a locker remotely', row: ACTIONS, condition: 'no remote unlock of a confiscated or safeguarding-held locker' },
  'stations.open-all': { roles: ACTING, words: 'open every locker of a station', row: ACTIONS },
  'imports.run': { roles: ACTING, words: 'import people or assets', row: ACTIONS, condition: 'an imported row that gives or takes away a role with rights, or a card to someone with one: the headteacher only, never their own role' },
  /** The e-mails the hub sent or is retrying (recipients and subjects; bodies stay in the records). */
  'notifications.view': { roles: ['office', 'ict', 'headteacher', 'deputy'], words: 'see the e-mail notifications', row: 'Notifications (e-mails sent, waiting and failed)' },
  'charges.waive': { roles: CORRECTING, words: 'waive a charge', row: 'waive or reverse a charge; record a lost-property disposal', condition: 'not a charge raised against oneself' },
  'charges.reverse': { roles: CORRECTING, words: 'reverse a charge', row: 'waive or reverse a charge; record a lost-property disposal', condition: 'not a charge raised against oneself', commandLine: 'charge reverse' },
  'lost-property.dispose': { roles: CORRECTING, words: 'record the disposal of lost property', row: 'waive or reverse a charge; record a lost-property disposal', condition: 'not while its locker is held' },
  'records.purge': { roles: ['office', 'headteacher'], words: 'purge personal records', row: '`purge` personal records past their retention period', commandLine: 'purge' },
  'exemptions.manage': { roles: ['office', 'headteacher', 'deputy', 'dsl'], words: 'grant or end a medical exemption', row: 'grant or end a medical exemption (P3)', commandLine: 'exemption' },
  'classes.manage': { roles: ['office', 'ict', 'headteacher'], words: 'change an asset class or its price list', row: 'change an asset class or price list', commandLine: 'class set, price set' },
  'safeguarding.record': { roles: ['headteacher', 'dsl'], words: 'record the details of a safeguarding hold', row: 'who is in a safeguarding hold, and its details (P5)' },
  /** Marking an alert as seen (it leaves the top of Lockers now); recorded under the staff member. */
  'alerts.acknowledge': { roles: ['office', 'ict', 'headteacher', 'dsl'], words: 'acknowledge an alert', row: 'acknowledge an alert (account linked to a member of staff)' },
  /** The desk (issue 17): lending and returning without a station, day cards, the register. */
  'desk.lend': { roles: ACTING, words: 'lend or return an item at the desk', row: DESK, condition: 'never take back one’s own loan, nor set its due date' },
  'day-cards.give': { roles: ACTING, words: 'give or take back a day card, or add a spare card', row: DESK, condition: 'a day card for someone with a role with rights: the headteacher only, never their own' },
  'register.edit': { roles: ACTING, words: 'add or correct a person, a card or an asset', row: DESK, condition: 'a card for someone with a role with rights: the headteacher only, never their own' },
  /** A role beyond pupil and plain staff carries this table's rights (the command line follows the MIS role). */
  'roles.assign': {
    roles: ['headteacher'],
    words: 'give or take away an office, ICT, headteacher, deputy or DSL role',
    row: 'give or take away a role with rights (office, ICT, headteacher, deputy, DSL) at the Desk',
    condition: 'never one’s own role',
  },
  /** P10: ICT clears a laptop's health check. */
  'assets.health-check': { roles: ['ict'], words: 'record a laptop’s health check', row: 'record a laptop’s health check (P10)' },
  /** Issue 19: a new firmware bundle for the stations, sent over the network in stages. */
  'firmware.manage': {
    roles: ['ict', 'headteacher'],
    words: 'upload or roll out station firmware',
    row: 'upload station firmware and roll it out, pause or withdraw it (Stations › Firmware)',
    commandLine: 'firmware upload, firmware rollout, firmware pause, firmware withdraw',
  },
  /** The simulated station's card buttons (only with `handover start`). */
  'demo.tap': { roles: ['office', 'ict', 'headteacher', 'dsl', 'read-only'], words: 'tap the demo cards', row: '' },
} satisfies Record<string, Rule>;

export type Permission = keyof typeof PERMISSIONS;

export const TABLE_ROLE_LABELS: Record<TableRole, string> = {
  office: 'Office',
  ict: 'ICT lead',
  headteacher: 'Headteacher',
  deputy: 'Deputy head',
  dsl: 'Designated safeguarding lead',
  'read-only': 'Read-only',
};

export function allows(role: TableRole | null, permission: Permission): boolean {
  return role !== null && (PERMISSIONS[permission].roles as readonly TableRole[]).includes(role);
}

/** The table's role for a person's MIS role (command line) or the records' actor. */
export function tableRoleOf(role: Role | 'system'): TableRole | null {
  if (role === 'staff') return 'read-only';
  if (role === 'pupil' || role === 'system') return null;
  return role;
}

export function actorMay(actor: Actor, permission: Permission): boolean {
  return allows(tableRoleOf(actor.role), permission);
}

/** "office, headteacher or deputy head" */
export function rolesFor(permission: Permission): string {
  const names = PERMISSIONS[permission].roles.map((role) => (role === 'ict' ? 'ICT lead' : TABLE_ROLE_LABELS[role].toLowerCase()));
  return names.length > 1 ? `${names.slice(0, -1).join(', ')} or ${names[names.length - 1]}` : names[0];
}

/** The README's roles table, one row per `row` of the table above (columns: the office page's roles, then deputy). */
export function rolesTableMarkdown(): string {
  const columns: TableRole[] = ['office', 'ict', 'headteacher', 'dsl', 'read-only', 'deputy'];
  const rows = new Map<string, { roles: Set<TableRole>; conditions: Set<string> }>();
  for (const rule of Object.values(PERMISSIONS) as Rule[]) {
    if (!rule.row) continue;
    // Every action of one row has the same roles (test/hub/rules/permissions.test.ts checks it).
    const entry = rows.get(rule.row) ?? { roles: new Set(rule.roles), conditions: new Set<string>() };
    if (rule.condition) entry.conditions.add(rule.condition);
    rows.set(rule.row, entry);
  }
  const lines = [`| | ${columns.join(' | ')} | condition |`, `|---|${columns.map(() => ':-:').join('|')}|---|`];
  for (const [row, entry] of rows) lines.push(`| ${row} | ${columns.map((role) => (entry.roles.has(role) ? '✓' : '')).join(' | ')} | ${[...entry.conditions].join('; ')} |`);
  return lines.join('\n');
}
