// The office page's roles (P14) and what each may see and do. A page or action a role may not
// use answers 403 with a sentence saying which roles may; the navigation still shows it.
import type { Actor } from '../records/access';
import type { Role } from '../records/people';

export const WEB_ROLES = ['office', 'ict', 'headteacher', 'dsl', 'read-only'] as const;
export type WebRole = (typeof WEB_ROLES)[number];

export const ROLE_LABELS: Record<WebRole, string> = {
  office: 'Office',
  ict: 'ICT lead',
  headteacher: 'Headteacher',
  dsl: 'Designated safeguarding lead',
  'read-only': 'Read-only',
};

const EVERYONE: readonly WebRole[] = WEB_ROLES;
const ACTING: readonly WebRole[] = ['office', 'ict', 'headteacher'];

/** Each permission and the roles that hold it. */
export const PERMISSIONS = {
  'lockers.view': EVERYONE,
  'today.view': EVERYONE,
  'stations.view': EVERYONE,
  'loans.view': EVERYONE,
  'end-of-day.view': EVERYONE,
  'holds.view': EVERYONE,
  /** Marking an alert as seen (it leaves the top of Lockers now); recorded under the staff member. */
  'alerts.acknowledge': ['office', 'ict', 'headteacher', 'dsl'],
  /** A person's devices and history, an asset's custody chain: each view is audited. */
  'people.view': ['office', 'ict', 'headteacher', 'dsl', 'read-only'],
  /** Safeguarding holds in detail (P5): DSL and headteacher only. */
  'holds.safeguarding': ['dsl', 'headteacher'],
  'charges.view': ['office', 'ict', 'headteacher', 'read-only'],
  'charges.report': ACTING,
  'charges.waive': ['office', 'headteacher'],
  'leavers.view': ['office', 'ict', 'headteacher', 'read-only'],
  'leavers.act': ACTING,
  'lost-property.dispose': ['office', 'headteacher'],
  'stations.unlock': ACTING,
  'stations.open-all': ACTING,
  'imports.run': ACTING,
  /** The simulated station's card buttons (only with `handover start`). */
  'demo.tap': EVERYONE,
} satisfies Record<string, readonly WebRole[]>;

export type Permission = keyof typeof PERMISSIONS;

export function isWebRole(value: string): value is WebRole {
  return (WEB_ROLES as readonly string[]).includes(value);
}

export function may(role: WebRole, permission: Permission): boolean {
  return (PERMISSIONS[permission] as readonly WebRole[]).includes(role);
}

export function rolesFor(permission: Permission): string {
  return (PERMISSIONS[permission] as readonly WebRole[]).map((role) => ROLE_LABELS[role].toLowerCase()).join(', ');
}

export interface SignedInAccount {
  id: number;
  username: string;
  role: WebRole;
  personId: number | null;
}

/** The records' role for an account: read-only acts as plain staff, which the record rules let do nothing privileged. */
const RECORD_ROLES: Record<WebRole, Role> = { office: 'office', ict: 'ict', headteacher: 'headteacher', dsl: 'dsl', 'read-only': 'staff' };

export function actorFor(account: SignedInAccount): Actor {
  return { personId: account.personId, role: RECORD_ROLES[account.role], account: account.username };
}

/** The audit trail's name for an account. */
export function accountLabel(account: Pick<SignedInAccount, 'username'>): string {
  return `account:${account.username}`;
}
