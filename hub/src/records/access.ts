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

/**
 * A card (enrolled, or a day card) lets whoever holds it act as its person at a station. For a person
 * whose role carries rights beyond a pupil's or plain staff's, only someone who may assign such roles
 * sets one up, and never for themselves: otherwise a desk worker could carry the DSL's rights.
 */
export function requireCardRight(actor: Actor, person: { id: number | string; role: string }): void {
  if (person.role === 'pupil' || person.role === 'staff') return;
  requirePermission(actor, 'roles.assign', `set up a card for ${person.role === 'dsl' ? 'the DSL' : `a member of staff with the ${person.role} role`}`);
  if (actor.personId !== null && Number(person.id) === actor.personId) throw new RuleError('roles.assign', 'nobody sets up a card for themselves');
}

/** The audit trail's name for an actor. */
export function actorLabel(actor: Actor): string {
  if (actor.personId !== null) return `person:${actor.personId}`;
  if (actor.osUser) return `os-user:${actor.osUser}`;
  return actor.account ? `account:${actor.account}` : 'system';
}
