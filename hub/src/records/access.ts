// Who may do what (P14). The acting account is passed in by the caller (the command line names
// a staff member with --by; issue 6's web accounts pass theirs); these functions decide and throw
// a typed AccessError the web layer maps to 403.
import type { Role } from './people';

export interface Actor {
  /** people.id of the staff member acting, or null for the system itself. */
  personId: number | null;
  role: Role | 'system';
  /** The office-page account acting, named in the audit trail when it is linked to no staff member. */
  account?: string;
}

export const SYSTEM: Actor = { personId: null, role: 'system' };

export class AccessError extends Error {
  readonly code = 'forbidden';
  constructor(
    readonly action: string,
    readonly role: Actor['role'],
    readonly allowed: readonly Role[],
  ) {
    super(`${action} needs the ${allowed.join(' or ')} role; the acting account is ${role}`);
    this.name = 'AccessError';
  }
}

/** A rule was broken by the request itself (a missing crime number, a waiver without a reason, ...). */
export class RuleError extends Error {
  constructor(
    readonly rule: string,
    message: string,
  ) {
    super(message);
    this.name = 'RuleError';
  }
}

export class NotFoundError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NotFoundError';
  }
}

/** Roles that may read safeguarding details (P5). */
export const SAFEGUARDING_READERS: readonly Role[] = ['dsl', 'headteacher'];
/** Roles that may waive or reverse a charge. */
export const LEDGER_CORRECTORS: readonly Role[] = ['office', 'headteacher', 'deputy'];
/** Every staff role. */
export const STAFF_ROLES: readonly Role[] = ['staff', 'headteacher', 'deputy', 'dsl', 'ict', 'office'];

export function requireRole(actor: Actor, allowed: readonly Role[], action: string): void {
  if (actor.role === 'system' || !allowed.includes(actor.role)) throw new AccessError(action, actor.role, allowed);
}

/** The audit trail's name for an actor. */
export function actorLabel(actor: Actor): string {
  if (actor.personId !== null) return `person:${actor.personId}`;
  return actor.account ? `account:${actor.account}` : 'system';
}
