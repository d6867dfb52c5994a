// A small demo school so the page has someone to tap: one form of pupils with their cards
// (4- and 7-byte UIDs, as canteen cards are), one with a medical exemption (P3).
import type { People, Role } from '../records/people';
import { parseUid } from '../records/people';

export interface DemoCard {
  uid: string;
  name: string;
  role: Role;
  form: string | null;
  medicalExempt: boolean;
}

export const DEMO_CARDS: DemoCard[] = [
  { uid: '04a1b2c3', name: 'Amira Khan', role: 'pupil', form: '7A', medicalExempt: false },
  { uid: '04d5e6f7', name: 'Ben Oduya', role: 'pupil', form: '7A', medicalExempt: false },
  { uid: '0411223344a580', name: 'Chloe Martin', role: 'pupil', form: '7A', medicalExempt: false },
  { uid: '0455667788b980', name: 'Dylan Evans', role: 'pupil', form: '7A', medicalExempt: false },
  { uid: '9a8b7c6d', name: 'Ella Nowak', role: 'pupil', form: '7A', medicalExempt: true },
  { uid: '1a2b3c4d', name: 'Farah Ali', role: 'pupil', form: '7A', medicalExempt: false },
];

export async function seedDemoSchool(people: People): Promise<void> {
  for (const [index, card] of DEMO_CARDS.entries()) {
    const id = await people.add({ externalId: `demo-${index + 1}`, name: card.name, role: card.role, form: card.form, medicalExempt: card.medicalExempt });
    await people.enrolBadge(id, parseUid(card.uid));
  }
}
