// A station's update replaced by another version just as its last chunk went (issue 19, found by a
// fresh review): the old transfer's "switched" must not land on the new version's target, or the
// hub would record a switch and a going-back that never happened to the version now chosen.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AuditTrail } from '../../../hub/src/audit/trail';
import { FirmwareRecords } from '../../../hub/src/firmware/records';
import { createRecords } from '../../../hub/src/records';
import { bundleText } from '../../support/firmware-bundles';
import { openTestDatabase, type TestDatabase } from '../../support/test-database';

const ICT = { personId: null, role: 'ict' as const, account: 'ict-lead' };
const bytes = (version: string) => new Uint8Array(Buffer.from(bundleText(version), 'utf8'));

describe('a firmware step of a replaced transfer', () => {
  let test: TestDatabase;
  beforeEach(async () => {
    test = await openTestDatabase();
  });
  afterEach(async () => {
    await test.close();
  });

  it('leaves the new version waiting, and records the old one\'s step in the audit trail', async () => {
    const { db } = test;
    await createRecords(db).stations.add('demo', 'fw-9', 4);
    const firmware = new FirmwareRecords(db, new AuditTrail(db));
    const first = await firmware.upload(bytes('0.4.0'), ICT);
    const second = await firmware.upload(bytes('0.5.0'), ICT);
    await firmware.rollout('0.4.0', { stations: ['fw-9'] }, false, ICT);
    expect(await firmware.progress('fw-9', Number(first.id), 100, 100)).toBe(true);
    await firmware.rollout('0.5.0', { stations: ['fw-9'] }, false, ICT);

    expect(await firmware.step('fw-9', Number(first.id), 'switched', { version: '0.4.0', boot: 1 })).toBe(false);
    const [target] = await firmware.targets();
    expect(target).toMatchObject({ station_id: 'fw-9', bundle_id: Number(second.id), state: 'waiting' });
    const steps = await db.all<{ action: string; details: string }>("SELECT action, details FROM audit_log WHERE subject = 'station:fw-9' AND action = 'firmware.switched'");
    expect(steps.map((row) => JSON.parse(row.details).version)).toEqual(['0.4.0']);

    expect(await firmware.step('fw-9', Number(second.id), 'switched', { version: '0.5.0', boot: 2 })).toBe(true);
    expect((await firmware.targets())[0].state).toBe('switched');
  });
});
