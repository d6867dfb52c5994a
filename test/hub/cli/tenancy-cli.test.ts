// Schools as tenants on the command line (issue 16), through the real `bin/handover.mjs`: a
// member of staff of school A ("demo", the deployment's own) named with --by cannot act on school
// B's ("north") people, assets, stations, spare cards or phones — each is refused as if it did not
// exist and left unchanged — and what they add is their own school's. Their purge touches only
// their school's leavers, and their firmware rollout only their school's stations; the pause that
// holds every school's rollout is not theirs.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENT } from '../../../protocol/wire';
import { openDatabase } from '../../../hub/src/db/open';
import type { SqlDatabase } from '../../../hub/src/db/sql';
import { createRecords, type Records } from '../../../hub/src/records';
import { commandLine, type Run } from '../support/cli';
import { testDatabaseTarget, USING_POSTGRES, type TestDatabaseTarget } from '../../support/test-database';

let target: TestDatabaseTarget;
let db: SqlDatabase;
let records: Records;
const { handover } = commandLine(() => target);
let bCustody: number;

/** Refused with one line naming nothing of B but what was asked for, and a non-zero exit. */
function refusedAsMissing(run: Run, what: RegExp): void {
  expect(run.code, run.stdout + run.stderr).not.toBe(0);
  expect(run.stderr).toMatch(what);
  expect(run.stdout + run.stderr).not.toMatch(/Bertie|Bramble|Beth|North Primary/);
}

beforeAll(async () => {
  target = await testDatabaseTarget();
  ({ db } = await openDatabase({ dataDir: target.dataDir, databaseUrl: target.databaseUrl }));
  records = createRecords(db);
  await records.schools.add('north', 'North Primary', 'test');
  const person = (externalId: string, name: string, role: string, school: string, staffCode: string | null = null, leftOn: string | null = null) =>
    db.insert('INSERT INTO people (external_id, name, kind, role, staff_code, school, left_on) VALUES (?, ?, ?, ?, ?, ?, ?)', [externalId, name, role === 'pupil' ? 'pupil' : 'staff', role, staffCode, school, leftOn]);
  await person('S-A-OFF', 'Owen Office', 'office', '', 'OAO');
  await person('S-A-ICT', 'Ida Ict', 'ict', '', 'IAI');
  await person('P-A01', 'Alice Ashdown', 'pupil', '');
  await person('P-A-OLD', 'Arthur Ago', 'pupil', '', null, '2001-07-20');
  await person('S-B-OFF', 'Beth Brook', 'office', 'north', 'BBO');
  const bPupil = await person('P-B01', 'Bertie Bramble', 'pupil', 'north');
  await person('P-B-OLD', 'Bella Before', 'pupil', 'north', null, '2001-07-20');
  await records.stations.add('demo', 'form-a', 8);
  await records.stations.add('north', 'form-b', 8);
  const bOffice = await records.people.actor('BBO');
  await records.assets.upsert({ tag: 'STK-A1', classId: 'usb-stick', serial: 'KS-A1', encryption: 'AES-256 hardware', homeStation: 'form-a', homeLocker: 6 }, { ...bOffice, school: '' });
  await records.assets.upsert({ tag: 'STK-B1', classId: 'usb-stick', serial: 'KS-B1', encryption: 'AES-256 hardware', homeStation: 'form-b', homeLocker: 1, school: 'north' }, bOffice);
  // B's pupil has the spare card as today's day card, and a phone in B's locker.
  await records.dayCards.addSpare('Spare 1', '04F00001', bOffice);
  await records.dayCards.give('Spare 1', 'P-B01', bOffice);
  await records.custody.applyEvent({ station: 'form-b', boot: 1, seq: 1, uptimeMs: 1000, type: EVENT.DEPOSIT, locker: 2, person: bPupil }, new Date().toISOString());
  bCustody = Number((await db.get<{ id: number }>('SELECT id FROM phone_custody WHERE person_id = ?', [bPupil]))!.id);
  // A bundle already uploaded (the rollout reads only its record).
  await db.run("INSERT INTO firmware_bundles (version, version_number, hash, size, bytes, uploaded_by, uploaded_at) VALUES ('9.9.9', 90909, 'ab', 1, ?, 'test', ?)", [Buffer.from('x'), new Date().toISOString()]);
}, 120_000);

afterAll(async () => {
  await db?.close();
  await target?.drop();
});

describe(`schools as tenants on the command line (${USING_POSTGRES ? 'PostgreSQL' : 'SQLite'})`, { timeout: 600_000 }, () => {
  it("refuses A's staff B's people, assets, spare cards and phones at the desk, as if there were none", async () => {
    const stick = () => db.get<{ status: string; model: string | null; school: string }>("SELECT status, model, school FROM assets WHERE tag = 'STK-B1'");
    const before = await stick();
    refusedAsMissing(await handover('lend', 'STK-A1', 'P-B01', '--by', 'OAO'), /no person P-B01/);
    refusedAsMissing(await handover('lend', 'STK-B1', 'P-A01', '--by', 'OAO'), /no asset STK-B1/);
    refusedAsMissing(await handover('return', 'STK-B1', '--by', 'OAO'), /no asset STK-B1/);
    refusedAsMissing(await handover('health-check', 'STK-B1', '--by', 'IAI'), /no asset STK-B1/);
    // The register stores tags upper-cased: a lower-case tag is the same asset.
    refusedAsMissing(await handover('asset', 'correct', 'stk-b1', '--model', 'Taken', '--by', 'OAO'), /no asset stk-b1/);
    refusedAsMissing(await handover('asset', 'add', 'STK-A2', '--class', 'usb-stick', '--serial', 'KS-A2', '--encryption', 'AES-256 hardware', '--station', 'form-b', '--locker', '3', '--by', 'OAO'), /no station form-b/);
    expect(await stick()).toEqual(before);
    expect(await db.get("SELECT id FROM assets WHERE tag = 'STK-A2'")).toBeUndefined();

    const badges = () => db.all("SELECT b.hash, b.revoked_at FROM badges b JOIN people p ON p.id = b.person_id WHERE p.external_id = 'P-B01' ORDER BY b.hash");
    const badgesBefore = await badges();
    refusedAsMissing(await handover('person', 'correct', 'P-B01', '--name', 'Renamed', '--by', 'OAO'), /no person P-B01/);
    refusedAsMissing(await handover('card', 'enrol', 'P-B01', '04B0FFFF', '--by', 'OAO'), /no person P-B01/);
    expect(await db.get("SELECT name FROM people WHERE external_id = 'P-B01'")).toEqual({ name: 'Bertie Bramble' });
    expect(await badges()).toEqual(badgesBefore);

    refusedAsMissing(await handover('daycard', 'back', 'Spare 1', '--by', 'OAO'), /no day card on spare card Spare 1/);
    expect(Number((await db.get<{ n: number }>('SELECT COUNT(*) AS n FROM day_cards WHERE ended_at IS NULL'))!.n)).toBe(1);
    const listed = await handover('daycard', 'list', '--by', 'OAO');
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).not.toMatch(/Bertie|P-B01|Spare 1/);
    expect((await handover('daycard', 'list', '--by', 'BBO')).stdout).toMatch(/Spare 1\tBertie Bramble \(P-B01\)/);
  });

  it("refuses A's staff B's exemptions and lost phones", async () => {
    refusedAsMissing(await handover('exemption', 'grant', 'P-B01', '--reference', 'GP letter', '--review', '2027-06-01', '--by', 'OAO'), /no person P-B01/);
    expect(Number((await db.get<{ n: number }>('SELECT COUNT(*) AS n FROM medical_exemptions'))!.n)).toBe(0);
    refusedAsMissing(await handover('dispose', String(bCustody), '--note', 'recycled', '--by', 'OAO'), new RegExp(`no phone custody record ${bCustody}`));
    expect(await db.get('SELECT disposed_at FROM phone_custody WHERE id = ?', [bCustody])).toEqual({ disposed_at: null });
    // B's own office reaches B's phone (refused here only because it is not yet due for disposal).
    const own = await handover('dispose', String(bCustody), '--note', 'recycled', '--by', 'BBO');
    expect(own.stderr).toMatch(/not due for disposal/);
  });

  it("files what each school's staff add under their own school", async () => {
    const a = await handover('person', 'add', 'P-A02', '--name', 'Ann New', '--role', 'pupil', '--form', '7A', '--by', 'OAO');
    expect(a.code, a.stderr).toBe(0);
    const b = await handover('person', 'add', 'P-B02', '--name', 'Ben New', '--role', 'pupil', '--form', '3N', '--by', 'BBO');
    expect(b.code, b.stderr).toBe(0);
    const asset = await handover('asset', 'add', 'STK-B2', '--class', 'usb-stick', '--serial', 'KS-B2', '--encryption', 'AES-256 hardware', '--station', 'form-b', '--locker', '3', '--by', 'BBO');
    expect(asset.code, asset.stdout + asset.stderr).toBe(0);
    expect(await db.all("SELECT external_id, school FROM people WHERE external_id IN ('P-A02', 'P-B02') ORDER BY external_id")).toEqual([
      { external_id: 'P-A02', school: '' },
      { external_id: 'P-B02', school: 'north' },
    ]);
    expect(await db.get("SELECT school FROM assets WHERE tag = 'STK-B2'")).toEqual({ school: 'north' });
  });

  it("purges only the acting person's school's leavers and e-mails", async () => {
    await db.run("UPDATE people SET email = 'owen@a.example' WHERE staff_code = 'OAO'");
    await db.run("UPDATE people SET email = 'beth@north.example' WHERE staff_code = 'BBO'");
    for (const [dedupe, to] of [['old-a', 'Owen@a.example'], ['old-b', 'beth@north.example']])
      await db.run("INSERT INTO notifications (created_at, kind, dedupe, recipient, subject, body, state) VALUES ('2001-01-01T08:00:00.000Z', 'test', ?, ?, 'old', 'old', 'sent')", [dedupe, to]);
    const run = await handover('purge', '--by', 'OAO');
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/1 people pseudonymised/);
    const left = await db.all<{ external_id: string }>('SELECT external_id FROM people WHERE left_on IS NOT NULL ORDER BY id');
    expect(left.map((row) => row.external_id)).toEqual([expect.stringMatching(/^purged:/), 'P-B-OLD']);
    expect(await db.all('SELECT dedupe FROM notifications ORDER BY dedupe')).toEqual([{ dedupe: 'old-b' }]);
  });

  it("rolls firmware out to the acting person's school's stations only", async () => {
    refusedAsMissing(await handover('firmware', 'rollout', '9.9.9', '--station', 'form-b', '--by', 'IAI'), /no station form-b/);
    const all = await handover('firmware', 'rollout', '9.9.9', '--stage', 'all', '--by', 'IAI');
    expect(all.code, all.stderr).toBe(0);
    expect(all.stdout).toMatch(/to form-a:/);
    expect(await db.all('SELECT station_id FROM firmware_targets')).toEqual([{ station_id: 'form-a' }]);
    const status = await handover('firmware', 'status', '--by', 'IAI');
    expect(status.stdout).toMatch(/form-a/);
    expect(status.stdout).not.toMatch(/form-b/);
  });

  it("does not let one school's staff change the trust's asset classes and prices, which every school charges by", async () => {
    const before = await db.all('SELECT id, replacement_pence, loan_days FROM asset_classes ORDER BY id');
    const prices = await db.all('SELECT class_id, item, pence FROM price_list ORDER BY class_id, item');
    for (const args of [['class', 'set', 'usb-stick', '--replacement', '99'], ['price', 'set', 'usb-stick', 'cap', '50']]) {
      const run = await handover(...args, '--by', 'IAI');
      expect(run.code, run.stdout).not.toBe(0);
      expect(run.stderr).toMatch(/asset classes and prices are the trust's, the same at every school/);
    }
    expect(await db.all('SELECT id, replacement_pence, loan_days FROM asset_classes ORDER BY id')).toEqual(before);
    expect(await db.all('SELECT class_id, item, pence FROM price_list ORDER BY class_id, item')).toEqual(prices);
    // The trust's own ICT lead (of no one school) does.
    await db.insert("INSERT INTO people (external_id, name, kind, role, staff_code, school) VALUES ('S-T-ICT', 'Tara Trust', 'staff', 'ict', 'TTI', '*')", []);
    const trust = await handover('price', 'set', 'usb-stick', 'cap', '0.50', '--by', 'TTI');
    expect(trust.code, trust.stderr).toBe(0);
    expect(await db.get("SELECT pence FROM price_list WHERE class_id = 'usb-stick' AND item = 'cap'")).toEqual({ pence: 50 });
  });

  it("does not let one school's ICT lead pause or resume every school's rollout", async () => {
    for (const command of ['pause', 'resume']) {
      const run = await handover('firmware', command, '--by', 'IAI');
      expect(run.code, run.stdout).not.toBe(0);
      expect(run.stderr).toMatch(/the pause holds every school's rollout: a trust account pauses it on the Stations page/);
    }
    expect(await db.get('SELECT paused FROM firmware_rollout WHERE id = 1')).toEqual({ paused: 0 });
  });

  it("refuses --school naming another school than the --by person's, instead of printing their own school's under its name", async () => {
    for (const args of [['report', 'holdings', '--csv', '-'], ['report', 'overdue', '--csv', '-'], ['charge', 'list']]) {
      const run = await handover(...args, '--school', 'north', '--by', 'OAO');
      expect(run.code, `${args.join(' ')}: ${run.stdout}`).not.toBe(0);
      expect(run.stderr).toMatch(/of school demo.*--school north/);
      expect(run.stdout).not.toMatch(/form-a|Owen|Alice/);
    }
    const own = await handover('report', 'holdings', '--csv', '-', '--school', 'demo', '--by', 'OAO');
    expect(own.code, own.stderr).toBe(0);
  });
});
