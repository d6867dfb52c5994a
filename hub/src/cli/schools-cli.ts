// `handover school …`: the schools of a trust deployment (issue 16). The deployment's own school
// (HANDOVER_SITE) is always there; each school added is named by the site its stations use.
import { parseArgs } from 'node:util';
import { AuditTrail } from '../audit/trail';
import { openDatabase } from '../db/open';
import { Schools } from '../records/schools';
import { loadSettings } from '../settings';
import { operatorLabel } from './operator';

export const SCHOOLS_USAGE = `  school add <id> [--name <name>]
                                 add a school of the trust (id: the site its stations use in
                                 their topics), or rename one; the first is HANDOVER_SITE's
  school list                    every school of the deployment`;

export class SchoolsUsageError extends Error {}

export async function schoolsCommand(args: string[]): Promise<void> {
  const [sub, ...rest] = args;
  const { values, positionals } = parseArgs({ args: rest, options: { name: { type: 'string' } }, allowPositionals: true });
  const settings = loadSettings();
  const { db } = await openDatabase(settings);
  try {
    const schools = new Schools(db, new AuditTrail(db), settings.site);
    if (sub === 'list') {
      for (const school of await schools.list()) console.log(`${school.id}\t${school.name}${school.id === schools.home ? '\t(this deployment’s own, HANDOVER_SITE)' : ''}`);
      return;
    }
    if (sub === 'add') {
      const id = positionals[0];
      if (!id) throw new SchoolsUsageError('school add needs the school’s site id, e.g. handover school add north-primary --name "North Primary"');
      const school = await schools.add(id, values.name ?? id, operatorLabel());
      console.log(`school ${school.id} (${school.name}) added; its stations are registered with: handover station add <id> --school ${school.id}`);
      return;
    }
    throw new SchoolsUsageError(`unknown school command ${JSON.stringify(sub ?? '')}; try add or list`);
  } finally {
    await db.close();
  }
}
