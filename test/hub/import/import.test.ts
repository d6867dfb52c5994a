// Imports: the CSV reader, people from MIS/Wonde exports (spellings, bad rows, re-import and
// leavers, card changes), assets from CSV and from a small local fake of Snipe-IT's API.
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { importAssetRecords, importAssetsFromSnipeIt } from '../../../hub/src/import/assets';
import { parseCsvText } from '../../../hub/src/import/csv-reader';
import { importPeople, importPeopleRecords } from '../../../hub/src/import/people';
import { createRecords, type Records } from '../../../hub/src/records';
import { SYSTEM } from '../../../hub/src/records/access';
import { openTestDatabase, type TestDatabase } from '../../support/test-database';

describe('the CSV reader', () => {
  it('reads quotes, embedded commas and line breaks, CRLF, a BOM, and keeps line numbers', () => {
    const text = '\ufeffName,Note\r\n"Khan, Amira","said ""hi""\r\non two lines"\r\n\r\nBen,plain\n';
    const records = parseCsvText(text);
    expect(records).toEqual([
      { line: 1, fields: ['Name', 'Note'] },
      // A line break inside a quoted field comes out as \n whatever the file's line endings.
      { line: 2, fields: ['Khan, Amira', 'said "hi"\non two lines'] },
      { line: 5, fields: ['Ben', 'plain'] },
    ]);
  });

  it('takes the delimiter the header uses', () => {
    expect(parseCsvText('a;b\n1;2\n')[1].fields).toEqual(['1', '2']);
    expect(parseCsvText('a\tb\n1\t2\n')[1].fields).toEqual(['1', '2']);
  });
});

describe('importing people', () => {
  let test: TestDatabase;
  let records: Records;
  beforeEach(async () => {
    test = await openTestDatabase();
    records = createRecords(test.db);
  });
  afterEach(async () => {
    await test.close();
  });

  const SIMS = [
    'UPN,Legal Forename,Legal Surname,Reg Group,Year Group,Card Chip ID',
    'A100,Amira,Khan,7A,Year 7,04:A1:B2:C3',
    'A101,Ben,Oduya,7A,Year 7,04d5e6f7',
    ',No,Id,7A,Year 7,04000001',
    'A103,Chloe,Martin,7B,Year 7,not-a-card',
    'A101,Ben,Again,7A,Year 7,04000002',
    'A104,Dylan,Evans,7B,Year 7,04 A1 B2 C3',
    'A105,Ella,Nowak,7B,Year 7,',
  ].join('\r\n');

  it('imports the good rows and reports each bad one with its line and reason, never the card id', async () => {
    const result = await importPeopleRecords(records, parseCsvText(SIMS), { actor: SYSTEM });
    expect(result).toMatchObject({ rows: 7, added: 2, cardsIssued: 1 });
    // Two rows with one card: both are reported, and neither person gets it.
    expect(result.problems).toEqual([
      { line: 2, reason: 'the same card as line 7: a card belongs to one person, so none of these rows was imported' },
      { line: 4, reason: 'no id' },
      { line: 5, reason: expect.stringMatching(/^card id is not hex bytes/) },
      { line: 6, reason: 'id A101 already on line 3' },
      { line: 7, reason: 'the same card as line 2: a card belongs to one person, so none of these rows was imported' },
    ]);
    // A row with no card imports, with a warning.
    expect(result.warnings).toEqual(['line 8: A105 has no card: they cannot use a station until one is enrolled']);
    expect(JSON.stringify(result)).not.toMatch(/not-a-card|04a1b2c3/i);
    await expect(records.people.resolve('A100')).rejects.toThrow(/no person/);
    const amira = await records.people.resolve('A101');
    expect(amira).toMatchObject({ name: 'Ben Oduya', role: 'pupil', form: '7A', year_group: 'Year 7', source: 'import' });
    // Stored only as the keyed hash, which is what the station's badge list carries.
    const badges = await test.db.all<{ hash: Uint8Array }>('SELECT hash FROM badges WHERE person_id = ?', [amira.id]);
    expect(badges).toHaveLength(1);
    expect(Buffer.from(badges[0].hash).length).toBe(8);
  });

  it('accepts a Wonde-style staff export with roles and staff codes', async () => {
    const csv = ['Staff ID,First Name,Last Name,Staff Code,Role,Card UID', 'S1,Helen,Head,HHE,Headteacher,04110001', 'S2,Dev,Lead,DLE,Designated Safeguarding Lead,04110002', 'S3,Ian,Tech,ITE,Network Manager,04110003', 'S4,Olu,Front,OFR,Reception,04110004', 'S5,Terry,Teach,TTE,Teacher,04110005', 'S6,Bad,Role,BRO,Caretaker of Dreams,04110006'].join('\n');
    const result = await importPeopleRecords(records, parseCsvText(csv), { actor: SYSTEM });
    expect(result.problems).toEqual([{ line: 7, reason: expect.stringMatching(/^role "Caretaker of Dreams" is not one of/) }]);
    const roles = await test.db.all<{ staff_code: string; role: string; kind: string }>('SELECT staff_code, role, kind FROM people ORDER BY external_id');
    expect(roles.map((r) => [r.staff_code, r.role, r.kind])).toEqual([
      ['HHE', 'headteacher', 'staff'],
      ['DLE', 'dsl', 'staff'],
      ['ITE', 'ict', 'staff'],
      ['OFR', 'office', 'staff'],
      ['TTE', 'staff', 'staff'],
    ]);
    expect((await records.people.actor('hhe')).role).toBe('headteacher');
  });

  it('re-imports changes, marks people missing from the file as leavers, and deletes nothing', async () => {
    await importPeopleRecords(records, parseCsvText(SIMS.split('\r\n').filter((line) => !line.startsWith('A104')).join('\r\n')), { actor: SYSTEM });
    const again = ['UPN,Forename,Surname,Form,Year,Card', 'A100,Amira,Khan,8A,Year 8,04a1b2c3', 'A105,Ella,Nowak,7B,Year 7,04990001'].join('\n');
    const result = await importPeopleRecords(records, parseCsvText(again), { actor: SYSTEM, today: '2026-07-21' });
    expect(result).toMatchObject({ updated: 1, unchanged: 1, leavers: 1, added: 0, cardsIssued: 1 });
    expect((await records.people.resolve('A101')).left_on).toBe('2026-07-21');
    expect(Number((await test.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM people'))!.n)).toBe(3);
    const leaverBadges = await test.db.all<{ revoked_at: string | null }>('SELECT revoked_at FROM badges WHERE person_id = ?', [(await records.people.resolve('A101')).id]);
    expect(leaverBadges.every((b) => b.revoked_at !== null)).toBe(true);
    // A staff file does not make the pupils leavers.
    await importPeopleRecords(records, parseCsvText('Staff ID,Name,Role\nS9,Sam Staff,Teacher\n'), { actor: SYSTEM });
    expect((await records.people.resolve('A100')).left_on).toBeNull();
    // The pupil comes back.
    const back = await importPeopleRecords(records, parseCsvText('UPN,Name,Form\nA100,Amira Khan,8A\nA105,Ella Nowak,7B\nA101,Ben Oduya,8A\n'), { actor: SYSTEM });
    expect(back.rejoined).toBe(1);
    expect((await records.people.resolve('A101')).left_on).toBeNull();
    const actions = (await records.audit.forPerson(Number((await records.people.resolve('A101')).id))).map((r) => r.action);
    expect(actions).toEqual(['person.added', 'badge.enrolled', 'person.left', 'person.rejoined']);
  });

  it('takes leaving dates from the file: a past one makes a leaver, a future one not yet, a bad one is a bad row', async () => {
    const csv = ['UPN,Name,Form,Card,Date of Leaving', 'C1,Cara Gone,7C,04770001,20/07/2025', 'C2,Dev Stays,7C,04770002,2026-07-22', 'C3,Eve Here,7C,04770003,', 'C4,Fay Soon,7C,04770004,soon', 'C5,Gus Feb,7C,04770005,30/02/2026', 'C6,Hal Month,7C,04770006,2023-13-45'].join('\n');
    const result = await importPeopleRecords(records, parseCsvText(csv), { actor: SYSTEM, today: '2026-03-01' });
    expect(result).toMatchObject({
      added: 3,
      problems: [
        { line: 5, reason: 'leaving date "soon" is not a date (use YYYY-MM-DD or DD/MM/YYYY)' },
        { line: 6, reason: 'leaving date 2026-02-30 is not a date in the calendar' },
        { line: 7, reason: 'leaving date 2023-13-45 is not a date in the calendar' },
      ],
    });
    expect((await records.people.resolve('C1')).left_on).toBe('2025-07-20');
    expect((await records.people.resolve('C2')).left_on).toBeNull();
    expect((await records.people.resolve('C3')).left_on).toBeNull();
    // A leaver's card is not in the list the stations hold.
    const list = await records.people.stationBadgeList(1);
    const active = await test.db.all<{ person_id: number }>('SELECT b.person_id FROM badges b JOIN people p ON p.id = b.person_id WHERE p.left_on IS NULL');
    expect(active).toHaveLength(2);
    expect(list.length).toBe(16 + 2 * 16);
  });

  it('refuses to make most of a kind leavers at once unless told to', async () => {
    const rows = ['UPN,Name,Form', ...Array.from({ length: 30 }, (_, i) => `B${i},Pupil ${i},9C`)].join('\n');
    await importPeopleRecords(records, parseCsvText(rows), { actor: SYSTEM });
    const truncated = await importPeopleRecords(records, parseCsvText('UPN,Name,Form\nB0,Pupil 0,9C\n'), { actor: SYSTEM });
    expect(truncated).toMatchObject({ leavers: 0, leaversSkipped: 29 });
    expect(truncated.warnings.join(' ')).toMatch(/29 of 30 pupils are missing/);
    const forced = await importPeopleRecords(records, parseCsvText('UPN,Name,Form\nB0,Pupil 0,9C\n'), { actor: SYSTEM, allowMassLeavers: true });
    expect(forced.leavers).toBe(29);
  });

  it('reads a large file with progress', async () => {
    const file = path.join(test.target.dataDir, 'big.csv');
    const lines = ['UPN,Forename,Surname,Reg Group,Year Group,Card Chip ID'];
    for (let i = 0; i < 3000; i++) lines.push(`L${i},First${i},Last${i},${7 + (i % 5)}${'ABCDEF'[i % 6]},Year ${7 + (i % 5)},${(0x04000000 + i).toString(16).padStart(8, '0')}`);
    fs.writeFileSync(file, lines.join('\n'));
    const seen: string[] = [];
    const result = await importPeople(records, file, { actor: SYSTEM, onProgress: (stage, done, total) => seen.push(`${stage}:${done}/${total}`) });
    expect(result).toMatchObject({ rows: 3000, added: 3000, cardsIssued: 3000, problems: [] });
    expect(seen.filter((s) => s.startsWith('importing')).length).toBeGreaterThanOrEqual(6);
    expect(seen.at(-1)).toBe('importing:3000/3000');
  });
});

describe('importing assets', () => {
  let test: TestDatabase;
  let records: Records;
  beforeEach(async () => {
    test = await openTestDatabase();
    records = createRecords(test.db);
    await records.stations.add('demo', 'loans-1', 8);
  });
  afterEach(async () => {
    await test.close();
  });

  it('registers encrypted sticks and laptops with their home lockers, and reports bad rows', async () => {
    const csv = [
      'Asset Tag,Serial Number,Category,Encryption,Replacement Price,Station,Locker,Tag UID',
      'USB-001,K1,Memory Stick,AES-256 hardware,£10.00,loans-1,1,04bb0001',
      'USB-002,K2,USB stick,No,,loans-1,2,04bb0002',
      'LAP-001,L1,Laptop,BitLocker,450,loans-1,3,04bb0003',
      'LAP-002,L2,Tablet,,,,,',
      'LAP-003,L3,Laptop,BitLocker,,loans-1,3,04bb0004',
      'LAP-004,L4,Laptop,BitLocker,,loans-1,9,',
      // Lockers count from 1, like the doors: door 8 is the last of eight, and 0 is refused.
      'LAP-005,L5,Laptop,BitLocker,,loans-1,8,04bb0005',
      'LAP-006,L6,Laptop,BitLocker,,loans-1,0,04bb0006',
    ].join('\n');
    // A last health check on a day that does not exist is a bad row.
    const badDay = await importAssetRecords(records, parseCsvText('Asset Tag,Category,Encryption,Last Health Check\nLAP-009,Laptop,BitLocker,2026-02-30\n'), SYSTEM);
    expect(badDay.problems).toEqual([{ line: 2, reason: expect.stringMatching(/last health check 2026-02-30 is not a date in the calendar/) }]);
    const result = await importAssetRecords(records, parseCsvText(csv), SYSTEM);
    expect(result).toMatchObject({ rows: 8, added: 3 });
    expect(result.problems).toEqual([
      { line: 3, reason: expect.stringMatching(/USB-002 has no encryption type/) },
      { line: 5, reason: expect.stringMatching(/asset class "Tablet" is not one of/) },
      { line: 6, reason: 'locker loans-1/3 is already home to LAP-001' },
      { line: 7, reason: 'locker 9 does not exist at loans-1 (1 to 8)' },
      { line: 9, reason: 'locker 0: lockers count from 1, like the doors (the first locker is 1); a file numbered from 0 must have 1 added to every locker' },
    ]);
    expect(await records.assets.byTag('LAP-001')).toMatchObject({ class_id: 'laptop', replacement_pence: 45000, home_station: 'loans-1', home_locker: 2 });
    const config = await records.assets.lockerConfig('loans-1', 8);
    expect(config.map((c) => c?.assetClass ?? null)).toEqual([1, null, 2, null, null, null, null, 2]);
  });

  it('reads Snipe-IT hardware page by page from its API (a local fake of it)', async () => {
    const hardware = Array.from({ length: 5 }, (_, i) => ({
      id: 100 + i,
      asset_tag: `SN-${i}`,
      serial: `S${i}`,
      model: { name: i < 3 ? 'Kingston IronKey' : 'Dell Latitude' },
      category: { name: i < 3 ? 'USB Stick' : i === 3 ? 'Laptop' : 'Projector' },
      purchase_cost: i < 3 ? '12.50' : null,
      custom_fields: {
        Encryption: { field: '_snipeit_encryption_1', value: i === 2 ? '' : 'XTS-AES 256' },
        'Home Station': { field: '_snipeit_home_station_2', value: 'loans-1' },
        // Home lockers count from 1 here too, like the doors: SN-0's is the first.
        'Home Locker': { field: '_snipeit_home_locker_3', value: String(i + 1) },
      },
    }));
    const requests: string[] = [];
    const server = http.createServer((request, response) => {
      requests.push(`${request.headers.authorization} ${request.url}`);
      const url = new URL(request.url!, 'http://fake');
      if (request.headers.authorization !== 'Bearer secret-token') {
        response.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify({ status: 'error', messages: 'Unauthorized.' }));
        return;
      }
      const offset = Number(url.searchParams.get('offset'));
      const limit = Number(url.searchParams.get('limit'));
      response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ total: hardware.length, rows: hardware.slice(offset, offset + limit) }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    try {
      await expect(importAssetsFromSnipeIt(records, { url, token: 'wrong' }, SYSTEM)).rejects.toThrow(/401/);
      const result = await importAssetsFromSnipeIt(records, { url, token: 'secret-token', pageSize: 2 }, SYSTEM);
      expect(requests.filter((r) => r.startsWith('Bearer secret-token')).map((r) => r.split(' ')[2])).toEqual([
        '/api/v1/hardware?limit=2&offset=0&sort=id&order=asc',
        '/api/v1/hardware?limit=2&offset=2&sort=id&order=asc',
        '/api/v1/hardware?limit=2&offset=4&sort=id&order=asc',
      ]);
      expect(result).toMatchObject({ rows: 4, added: 3, skipped: 1 });
      expect(result.problems).toEqual([{ line: 102, reason: expect.stringMatching(/^Snipe-IT asset 102 \(SN-2\): .*no encryption type/) }]);
      expect(await records.assets.byTag('SN-0')).toMatchObject({ class_id: 'usb-stick', encryption: 'XTS-AES 256', replacement_pence: 1250, external_ref: 'snipe-it:100', home_locker: 0 });
    } finally {
      server.close();
    }
  });
});
