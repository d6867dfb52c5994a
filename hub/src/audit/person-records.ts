// A person's audit records (subject access) without an index keyed by person alone (migration 23).
// audit_log_person_slice is keyed by (seq / SLICE, person_id): the records of one slice of the
// sequence, then their people. An event's audit record lands in the last slice, a few pages the
// ingest keeps writing, not at its person's place in an index of millions (which made every batch
// rewrite a page per person in it). Reading one person's records looks them up once per slice:
// 2,442 look-ups at 10 M records, each down the index to where that person's entries of the slice
// begin.
import type { SqlDatabase } from '../db/sql';
import type { AuditRecord } from './chain';

/** Records per slice: the number in migration 23's index expression (a new one needs a new index). */
export const SLICE = 4096;

/**
 * Every audit record naming the person (the one parameter), oldest first. The slices are the outer
 * loop (CROSS JOIN keeps SQLite's planner to that order; PostgreSQL reads it as an inner join and
 * plans the same), each slice one probe of the index.
 */
export const AUDIT_RECORDS_OF_PERSON = `WITH RECURSIVE slices(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM slices WHERE n < (SELECT MAX(seq) FROM audit_log) / ${SLICE})
  SELECT a.* FROM slices CROSS JOIN audit_log a WHERE a.seq / ${SLICE} = slices.n AND a.person_id = ? ORDER BY a.seq`;

export function auditRecordsOfPerson(db: SqlDatabase, personId: number): Promise<AuditRecord[]> {
  return db.all<AuditRecord>(AUDIT_RECORDS_OF_PERSON, [personId]);
}
