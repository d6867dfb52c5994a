// The office page's roles (P14). What each may see and do is the one table in
// rules/permissions.ts; a page or action a role may not use answers 403 with a sentence saying
// which roles may; the navigation still shows it.
import type { Actor } from '../records/access';
import { allows, rolesFor, type Permission } from '../rules/permissions';
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

export function isWebRole(value: string): value is WebRole {
  return (WEB_ROLES as readonly string[]).includes(value);
}

/** Whether an account's role may do something: the one table in rules/permissions.ts decides. */
export function may(role: WebRole, permission: Permission): boolean {
  return allows(role, permission);
}

export { rolesFor, type Permission };

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
