// Who acts on the records: a person's role in the MIS, and the acting account (access.ts decides
// what each may do; rules/permissions.ts holds the rulebook). Kept apart from both so that people,
// access and the rulebook import it without importing one another in a circle.
export const ROLES = ['pupil', 'staff', 'headteacher', 'deputy', 'dsl', 'ict', 'office'] as const;
export type Role = (typeof ROLES)[number];
/** Each role as pages and messages say it. */
export const ROLE_WORDS: Record<Role, string> = { pupil: 'pupil', staff: 'staff', headteacher: 'headteacher', deputy: 'deputy head', dsl: 'safeguarding lead (DSL)', ict: 'ICT', office: 'office' };
export const roleWords = (role: string): string => ROLE_WORDS[role as Role] ?? role;

export interface Actor {
  /** people.id of the staff member acting, or null for the system itself. */
  personId: number | null;
  role: Role | 'system';
  /** The office-page account acting, named in the audit trail when it is linked to no staff member. */
  account?: string;
  /** The operating-system account that ran a command without --by (audited as `os-user:<name>`). */
  osUser?: string;
  /** The school a person or asset added by this actor belongs to, as people.school holds it (issue 16; absent: the deployment's own). */
  school?: string;
}

export const SYSTEM: Actor = { personId: null, role: 'system' };
