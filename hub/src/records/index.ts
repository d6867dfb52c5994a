// Every record module, built once over one database and shared: the hub, the command line and
// the tests all use this, so each rule lives in exactly one place (README "Records and rules").
import { AuditTrail } from '../audit/trail';
import type { SqlDatabase } from '../db/sql';
import type { Settings } from '../settings';
import { Alerts } from './alerts';
import { Assets } from './assets';
import { CustodyRecords } from './custody';
import { Exemptions } from './exemptions';
import { Holds } from './holds';
import { Ledger } from './ledger';
import { Loans } from './loans';
import { LostProperty } from './lost-property';
import { People } from './people';
import { Stations } from './stations';

export type RecordRules = Pick<Settings, 'dayCutoff' | 'lostPropertyDays' | 'retentionDays'>;

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
}

export function createRecords(db: SqlDatabase, rules: RecordRules = DEFAULT_RULES): Records {
  const audit = new AuditTrail(db);
  const alerts = new Alerts(db, audit);
  const assets = new Assets(db, audit);
  const ledger = new Ledger(db, audit);
  const holds = new Holds(db, audit);
  const loans = new Loans(db, audit, assets, ledger, holds, alerts);
  return {
    db,
    rules,
    audit,
    alerts,
    people: new People(db),
    stations: new Stations(db, audit),
    assets,
    ledger,
    holds,
    loans,
    exemptions: new Exemptions(db, audit),
    lostProperty: new LostProperty(db, audit, rules),
    custody: new CustodyRecords(db, { audit, alerts, holds, loans }),
  };
}
