// The rulebook itself: the README's roles table is the one rules/permissions.ts prints (so the
// two cannot drift apart), each row of it stands for actions with the same roles, and the pieces
// every channel shares (calendar dates, CSV cells) hold to their rules.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PERMISSIONS, rolesTableMarkdown, type Rule } from '../../../hub/src/rules/permissions';
import { parseDay } from '../../../hub/src/records/time';
import { csvCell, toCsv } from '../../../hub/src/reports/csv';

describe('the rulebook', () => {
  it('is the README roles table, row for row', () => {
    const readme = fs.readFileSync(path.resolve(__dirname, '../../../README.md'), 'utf8');
    expect(readme).toContain(rolesTableMarkdown());
  });

  it('puts in one README row only actions that the same roles may do', () => {
    const byRow = new Map<string, string>();
    for (const [name, rule] of Object.entries(PERMISSIONS) as Array<[string, Rule]>) {
      if (!rule.row) continue;
      const roles = [...rule.roles].sort().join(',');
      expect(byRow.get(rule.row) ?? roles, `${name} in "${rule.row}"`).toBe(roles);
      byRow.set(rule.row, roles);
    }
  });

  it('gives no one but the DSL and headteacher the safeguarding details, and lets no read-only role act', () => {
    expect([...PERMISSIONS['holds.safeguarding'].roles].sort()).toEqual(['dsl', 'headteacher']);
    for (const action of ['desk.lend', 'day-cards.give', 'register.edit', 'assets.health-check', 'charges.report', 'charges.waive', 'charges.reverse', 'leavers.act', 'lost-property.dispose', 'imports.run', 'stations.unlock', 'stations.open-all', 'records.purge', 'classes.manage', 'exemptions.manage'] as const) {
      expect(PERMISSIONS[action].roles, action).not.toContain('read-only');
    }
  });
});

describe('calendar days typed by people', () => {
  const limits = { today: '2026-12-07', maxYearsBack: 10, maxYearsAhead: 1 };
  it('refuses days that do not exist and days out of range, and accepts the rest', () => {
    for (const text of ['2027-02-30', '2023-13-45', '2026-00-10', '2026-04-31', '2026-2-3', '07/12/2026', '', 'tomorrow']) expect(parseDay(text, 'day', limits).ok, text).toBe(false);
    expect(parseDay('2028-02-29', 'day', { today: '2027-06-01' }).ok).toBe(true);
    expect(parseDay('2027-02-29', 'day', limits)).toEqual({ ok: false, problem: 'day 2027-02-29 is not a date in the calendar' });
    expect(parseDay('2016-12-06', 'day', limits).ok).toBe(false);
    expect(parseDay('2027-12-08', 'day', limits).ok).toBe(false);
    expect(parseDay('2026-12-06', 'day', { ...limits, notBefore: '2026-12-07' }).ok).toBe(false);
    expect(parseDay('2027-12-07', 'day', limits)).toEqual({ ok: true, day: '2027-12-07' });
    // A day that may not be in the future (a health check done) says so in words, not "more than 0 years ahead".
    expect(parseDay('2099-01-01', 'last health check', { today: '2026-12-07', maxYearsAhead: 0 })).toEqual({ ok: false, problem: 'last health check 2099-01-01 is after today (2026-12-07)' });
  });
});

describe('CSV cells', () => {
  it('neutralises anything a spreadsheet could run, and starts with a byte-order mark', () => {
    expect(csvCell("-1+cmd|' /C calc'!A0")).toBe("'-1+cmd|' /C calc'!A0");
    for (const text of ['=1+1', '+1', '-x', '@SUM(A1)', '\tx', '\rx']) expect(csvCell(text).replace(/^"/, ''), JSON.stringify(text)).toMatch(/^'/);
    // A whole negative amount is a number to a spreadsheet, not a formula.
    expect(csvCell('-£10.00')).toBe('-£10.00');
    expect(csvCell(-3)).toBe('-3');
    expect(toCsv(['name'], [{ name: "Zoë O'Neill" }])).toBe("\uFEFFname\r\nZoë O'Neill\r\n");
  });
});
