// Who may do what (P14). The acting account is passed in by the caller (the command line names
// a staff member with --by; issue 6's web accounts pass theirs); these functions decide and throw
// a typed AccessError the web layer maps to 403.
import type { Actor, Role } from './actor';
import { actorMay, PERMISSIONS, rolesFor, type Permission } from '../rules/permissions';

export { SYSTEM, type Actor } from './actor';


export class AccessError extends Error {
  readonly code = 'forbidden';
  constructor(
    readonly action: string,
    readonly role: Actor['role'],
    allowed: readonly Role[] | string,
    message?: string,
  ) {
    super(message ?? `${action} needs the ${typeof allowed === 'string' ? allowed : allowed.join(' or ')} role; the acting account is ${role === 'staff' ? 'staff (read-only)' : role}`);
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

/** Whether the actor may see who is in a safeguarding hold, and its details (P5). */
export function maySeeSafeguarding(actor: Actor): boolean {
  return actorMay(actor, 'holds.safeguarding');
}

/** Refuses an actor whose role the rulebook (rules/permissions.ts) does not allow `permission`. */
export function requirePermission(actor: Actor, permission: Permission, action: string = PERMISSIONS[permission].words): void {
  if (!actorMay(actor, permission)) throw new AccessError(action, actor.role, rolesFor(permission));
}

/** The audit trail's name for an actor. */
export function actorLabel(actor: Actor): string {
  if (actor.personId !== null) return `person:${actor.personId}`;
  if (actor.osUser) return `os-user:${actor.osUser}`;
  return actor.account ? `account:${actor.account}` : 'system';
}
