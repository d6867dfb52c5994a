// A small demo school so every flow in the README can be tried from the page: one form of pupils
// with their cards (4- and 7-byte UIDs, as canteen cards are), one with a medical exemption (P3);
// five members of staff, one per role that taps at a station (a teacher, the office, ICT, the DSL
// and the headteacher); and three items with NFC tags in the demo station's last three lockers.
import type { Assets } from '../records/assets';
import { SYSTEM } from '../records/access';
import type { People, Role } from '../records/people';
import { parseUid } from '../records/people';
import type { SqlDatabase } from '../db/sql';

export interface DemoCard {
  uid: string;
  name: string;
  role: Role;
  form: string | null;
  medicalExempt: boolean;
  /** The MIS id (pupils) or staff code the demo gives them. */
  ref: string;
  /** What the card is for, in a few words, under its button. */
  about: string;
}

export interface DemoItem {
  /** The chip id of the NFC tag stuck on the item. */
  uid: string;
  tag: string;
  classId: 'usb-stick' | 'laptop';
  name: string;
  serial: string;
  encryption: string | null;
  /** Home locker, counted from 0 as the records do (the page and doors say one more). */
  homeLocker: number;
}

export const DEMO_STATION_ID = 'demo-1';

const pupil = (uid: string, name: string, index: number, medicalExempt = false): DemoCard => ({
  uid,
  name,
  role: 'pupil',
  form: '7A',
  medicalExempt,
  ref: `demo-${index}`,
  about: medicalExempt ? 'pupil, medical exemption: keeps the phone' : 'pupil',
});

export const DEMO_CARDS: DemoCard[] = [
  pupil('04a1b2c3', 'Amira Khan', 1),
  pupil('04d5e6f7', 'Ben Oduya', 2),
  pupil('0411223344a580', 'Chloe Martin', 3),
  pupil('0455667788b980', 'Dylan Evans', 4),
  pupil('9a8b7c6d', 'Ella Nowak', 5, true),
  pupil('1a2b3c4d', 'Farah Ali', 6),
  { uid: '5e0a1001', name: 'Tom Reed', role: 'staff', form: null, medicalExempt: false, ref: 'DEMO-TR', about: 'teacher: borrows sticks and laptops, confiscates' },
  { uid: '5e0a1002', name: 'Olu Adeyemi', role: 'office', form: null, medicalExempt: false, ref: 'DEMO-OA', about: 'office' },
  { uid: '5e0a1003', name: 'Ivy Chen', role: 'ict', form: null, medicalExempt: false, ref: 'DEMO-IC', about: 'ICT lead: clears laptop health checks' },
  { uid: '5e0a1004', name: 'Dara Singh', role: 'dsl', form: null, medicalExempt: false, ref: 'DEMO-DS', about: 'designated safeguarding lead (DSL)' },
  { uid: '5e0a1005', name: 'Helen Moss', role: 'headteacher', form: null, medicalExempt: false, ref: 'DEMO-HM', about: 'headteacher: second card of a release' },
];

export const DEMO_ITEMS: DemoItem[] = [
  { uid: '7a9c0001', tag: 'STK-D01', classId: 'usb-stick', name: 'Encrypted stick STK-D01', serial: 'DEMO-KS-01', encryption: 'AES-256 hardware', homeLocker: 5 },
  { uid: '7a9c0002', tag: 'STK-D02', classId: 'usb-stick', name: 'Encrypted stick STK-D02', serial: 'DEMO-KS-02', encryption: 'AES-256 hardware', homeLocker: 6 },
  { uid: '7a9c0003', tag: 'LAP-D01', classId: 'laptop', name: 'Laptop LAP-D01', serial: 'DEMO-LT-01', encryption: null, homeLocker: 7 },
];

/**
 * Blank spare cards in the office drawer, for day cards (README "Day cards"): not in the pool until
 * the office adds one at the Desk with the label written on it and the id the page shows, so a
 * tap of one opens nothing until it is given to someone.
 */
export interface DemoSpareCard {
  uid: string;
  label: string;
}

export const DEMO_SPARE_CARDS: DemoSpareCard[] = [
  { uid: '5fa0c001', label: 'Spare 1' },
  { uid: '5fa0c002', label: 'Spare 2' },
];

/** A demo member of staff's address: first.last at the reserved example domain. */
export function demoEmail(card: DemoCard): string {
  return `${card.name.toLowerCase().replace(/[^a-z]+/g, '.')}@demo-school.example`;
}

export function isStaffCard(card: DemoCard): boolean {
  return card.role !== 'pupil';
}

/** Adds whoever and whatever of the demo school is missing (a data directory from an older demo gets the staff and items too). */
export async function seedDemoSchool(db: SqlDatabase, people: People, assets: Assets): Promise<void> {
  for (const card of DEMO_CARDS) {
    const known = await db.get<{ id: number }>('SELECT id FROM people WHERE external_id = ?', [card.ref]);
    if (!known) {
      const id = await people.add({ externalId: card.ref, name: card.name, role: card.role, form: card.form, medicalExempt: card.medicalExempt });
      await people.enrolBadge(id, parseUid(card.uid));
    }
    // Staff get an address at a reserved domain, so the e-mail notices can be tried against a local
    // SMTP server (README "Settings"); nothing is ever delivered to a real mailbox.
    if (isStaffCard(card)) await db.transaction((tx) => tx.run('UPDATE people SET email = ? WHERE external_id = ? AND email IS NULL', [demoEmail(card), card.ref]));
  }
  for (const item of DEMO_ITEMS) {
    const known = await db.get<{ id: number }>('SELECT id FROM assets WHERE tag = ?', [item.tag]);
    if (known) continue;
    await assets.upsert(
      {
        tag: item.tag,
        classId: item.classId,
        serial: item.serial,
        encryption: item.encryption,
        tagUid: item.uid,
        homeStation: DEMO_STATION_ID,
        homeLocker: item.homeLocker,
        lastHealthCheck: item.classId === 'laptop' ? new Date().toISOString().slice(0, 10) : null,
      },
      SYSTEM,
    );
  }
}
