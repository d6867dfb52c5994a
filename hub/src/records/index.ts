// Every record module, built once over one database and shared: the hub, the command line and
// the tests all use this, so each rule lives in exactly one place (README "Records and rules").
import { AuditTrail } from '../audit/trail';
import type { SqlDatabase } from '../db/sql';
import type { Settings } from '../settings';
import { Alerts } from './alerts';
import { Assets } from './assets';
import { CustodyRecords } from './custody';
import { DayCards } from './day-cards';
import { Desk } from './desk';
import { Register } from './register';
import { Exemptions } from './exemptions';
import { Holds } from './holds';
import { Ledger } from './ledger';
import { Loans } from './loans';
import { LostProperty } from './lost-property';
import { People } from './people';
import { Schools } from './schools';
import { Stations } from './stations';

/** `site`: the deployment's own school (HANDOVER_SITE; 'demo' when not given). */
export type RecordRules = Pick<Settings, 'dayCutoff' | 'lostPropertyDays' | 'retentionDays'> & Partial<Pick<Settings, 'site'>>;

export const DEFAULT_RULES: RecordRules = { dayCutoff: '16:00', lostPropertyDays: 91, retentionDays: 730 };

export interface Records {
  db: SqlDatabase;
  rules: RecordRules;
  audit: AuditTrail;
  alerts: Alerts;
  people: People;
  stations: Stations;
  assets: Assets;
  ledger: Ledger;
  holds: Holds;
  loans: Loans;
  exemptions: Exemptions;
  lostProperty: LostProperty;
  custody: CustodyRecords;
  /** Lending, returning and health checks at the office desk (issue 17). */
  desk: Desk;
  /** Day cards from the spare-card pool. */
  dayCards: DayCards;
  /** Adding and correcting one person, card or asset by hand. */
  register: Register;
  /** The schools of a trust deployment, and what each account sees of them (issue 16). */
  schools: Schools;
  /** The hub's clock for its scheduled rules (tests move it past a cut-off). */
  clock: { now(): Date };
}

export function createRecords(db: SqlDatabase, rules: RecordRules = DEFAULT_RULES): Records {
  const audit = new AuditTrail(db);
  const alerts = new Alerts(db, audit);
  const assets = new Assets(db, audit, rules.site ?? 'demo');
  const ledger = new Ledger(db, audit);
  const holds = new Holds(db, audit);
  const loans = new Loans(db, audit, assets, ledger, holds, alerts);
  const people = new People(db);
  return {
    db,
    rules,
    audit,
    alerts,
    people,
    stations: new Stations(db, audit),
    assets,
    ledger,
    holds,
    loans,
    exemptions: new Exemptions(db, audit),
    lostProperty: new LostProperty(db, audit, rules),
    custody: new CustodyRecords(db, { audit, alerts, holds, loans, home: rules.site ?? 'demo' }),
    desk: new Desk(db, audit, people, assets, loans, ledger, holds),
    dayCards: new DayCards(db, audit, people, rules.dayCutoff),
    register: new Register(db, audit, people, assets),
    schools: new Schools(db, audit, rules.site ?? 'demo'),
    clock: { now: () => new Date() },
  };
}
