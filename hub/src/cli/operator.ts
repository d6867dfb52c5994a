// Who ran a command on the server without naming a member of staff (--by): the operating-system
// account, so the audit trail names someone (issue 15: every changing command records who ran it).
import os from 'node:os';
import type { Actor } from '../records/actor';

export function operatorName(): string {
  let name = process.env.USER || process.env.USERNAME || '';
  try {
    name = os.userInfo().username || name;
  } catch {
    // no passwd entry (some containers): the environment's name, if any
  }
  return name || `uid-${process.getuid?.() ?? 'unknown'}`;
}

export function operator(): Actor {
  return { personId: null, role: 'system', osUser: operatorName() };
}

/** As the audit trail names the operator (records/access.ts actorLabel). */
export function operatorLabel(): string {
  return `os-user:${operatorName()}`;
}
