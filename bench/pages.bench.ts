// The office pages at a trust's size (issue 16, "every page scoped"): 50 schools, 75,000 pupils,
// 2,500 form stations of 32 lockers (plus a loan station of 24 at each school), 50,000 phones in
// lockers, a day's deposits and 1,000,000 older station events, loans, holds, charges, e-mails and
// leavers at every school, built straight into the database (PostgreSQL generate_series, SQLite a
// recursive query) before a real hub starts on it. Each page and API address is then read through
// the hub's HTTP, signed in as a trust office account (every school), as the same account filtered
// to one school (`?school=`), and as one school's office account: p50/p99 per page, the response's
// size, and the load average beside each row. On SQLite, or PostgreSQL when DATABASE_URL is set.
// A quick run: 3 schools of 300 pupils and 10 stations, 20,000 older events, 3 runs a page.
// BENCH_PAGES_SCHOOLS, BENCH_PAGES_EVENTS, BENCH_PAGES_RUNS override.
import os from 'node:os';
import { EVENT } from '../protocol/wire';
import type { SqlDatabase } from '../hub/src/db/sql';
import { ANCHORED_TABLES, sqliteAnchorObjects } from '../hub/src/audit/anchors';
import { TRUST } from '../hub/src/records/schools';
import { startHub } from '../test/support/hub-harness';
import { WebClient } from '../test/web/client';
import type { BenchOptions } from './options';
import { printTable, type Row } from './table';

export const PAGES = ['/lockers', '/lockers/panel', '/stations', '/stations/panel', '/today', '/who', '/loans', '/end-of-day', '/holds', '/charges', '/leavers', '/notifications', '/desk', '/api/lockers', '/api/custody', '/api/stations', '/api/rejections'];

export interface TrustSize {
  schools: number;
  stationsPerSchool: number;
  pupilsPerSchool: number;
  /** Older station events (days before today), on top of today's deposits. */
  history: number;
}

/** A school's site: the deployment's own for the first, `school-<k>` for the rest. */
export function siteOf(home: string, k: number): string {
  return k === 0 ? home : `school-${k}`;
}

/** `count` rows numbered g = 0.. for an INSERT … SELECT: the WITH to put before it and the FROM. */
function series(db: SqlDatabase, count: number, from = 0): { with: string; from: string } {
  if (db.kind === 'postgres') return { with: '', from: `generate_series(${from}, ${from + count - 1}) AS s(g)` };
  return { with: `WITH RECURSIVE s(g) AS (SELECT ${from} UNION ALL SELECT g + 1 FROM s WHERE g < ${from + count - 1}) `, from: 's' };
}

/** An ISO time `seconds` (an SQL expression) after `base` (ISO), as the hub writes times. */
function isoPlus(db: SqlDatabase, base: string, seconds: string): string {
  const stamp = base.replace('T', ' ').replace('Z', '');
  return db.kind === 'postgres'
    ? `to_char(timestamp '${stamp}' + (${seconds}) * interval '1 second', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`
    : `strftime('%Y-%m-%dT%H:%M:%fZ', '${stamp}', '+' || (${seconds}) || ' seconds')`;
}

/** Runs `build` with the audit chain's anchoring off for these tables (history anchored long ago). */
async function unanchored(db: SqlDatabase, tables: string[], build: () => Promise<void>): Promise<void> {
  if (db.kind === 'postgres') for (const table of tables) await db.exec(`ALTER TABLE ${table} DISABLE TRIGGER ${table}_anchor_ins`);
  else for (const table of tables) await db.exec(`DROP TRIGGER IF EXISTS temp.${table}_anchor_ins`);
  try {
    await build();
  } finally {
    if (db.kind === 'postgres') for (const table of tables) await db.exec(`ALTER TABLE ${table} ENABLE TRIGGER ${table}_anchor_ins`);
    else await db.exec(sqliteAnchorObjects(ANCHORED_TABLES));
  }
}

/**
 * A trust's records straight into an empty database. Pupil g (ids from 1) is of school
 * g / pupilsPerSchool, in a form of 30 whose station is st-<k>-<form % stations>; two pupils in three
 * have a phone in, put in within the last ten minutes.
 */
export async function buildTrust(db: SqlDatabase, home: string, size: TrustSize): Promise<void> {
  const { schools: S, stationsPerSchool: N, pupilsPerSchool: P } = size;
  const STAFF = 20;
  const now = Date.now();
  const dayStart = new Date(new Date(now).setUTCHours(0, 0, 0, 0)).toISOString();
  const depositBase = new Date(Math.max(Date.parse(dayStart), now - 20 * 60_000)).toISOString();
  const at = (ms: number) => new Date(now + ms).toISOString();
  const siteSql = (k: string) => `CASE WHEN ${k} = 0 THEN '${home}' ELSE 'school-' || ${k} END`;
  const storedSql = (k: string) => `CASE WHEN ${k} = 0 THEN '' ELSE 'school-' || ${k} END`;
  const run = async (count: number, sql: (g: { from: string }) => string, from = 0) => {
    const s = series(db, count, from);
    await db.run(`${s.with}${sql(s)}`);
  };
  await db.transaction(async (tx) => {
    for (let k = 0; k < S; k++) await tx.run('INSERT INTO schools (id, name, added_at) VALUES (?, ?, ?)', [siteOf(home, k), `School ${k}`, at(0)]);
  });
  const key = db.kind === 'postgres' ? "md5(g::text) || md5((g + 1)::text)" : 'lower(hex(randomblob(32)))';
  await run(S * N, (s) => `INSERT INTO stations (id, site, lockers, station_key, status, last_seen) SELECT 'st-' || (g / ${N}) || '-' || (g % ${N}), ${siteSql(`(g / ${N})`)}, 32, ${key}, CASE WHEN g % 25 = 7 THEN 'offline' ELSE 'online' END, '${at(-30_000)}' FROM ${s.from}`);
  await run(S, (s) => `INSERT INTO stations (id, site, lockers, station_key, status, last_seen) SELECT 'loans-' || g, ${siteSql('g')}, 24, ${key}, 'online', '${at(-30_000)}' FROM ${s.from}`);
  await unanchored(db, ['people', 'phone_custody', 'station_events', 'loans', 'holds', 'charges', 'alerts'], async () => {
    // Pupils 1..S*P, then STAFF staff a school (the first of each its office, with an e-mail address).
    await run(S * P, (s) => `INSERT INTO people (external_id, name, kind, role, form, school) SELECT 'P' || g, 'Pupil ' || g, 'pupil', 'pupil', 'F' || (g / ${P}) || '-' || ((g % ${P}) / 30), ${storedSql(`(g / ${P})`)} FROM ${s.from}`);
    await run(S * STAFF, (s) => `INSERT INTO people (external_id, name, kind, role, staff_code, email, school) SELECT 'S' || g, 'Staff ' || g, 'staff', CASE WHEN g % ${STAFF} = 0 THEN 'office' ELSE 'staff' END, 'T' || (g % ${STAFF}), 'staff' || g || '@school.example', ${storedSql(`(g / ${STAFF})`)} FROM ${s.from}`);
    const staffId = (k: number, i: number) => S * P + k * STAFF + i + 1;
    // Phones in: pupil g at its form's station, locker = its place in the form.
    await run(S * P, (s) => `INSERT INTO phone_custody (person_id, station_id, locker, deposited_at, deposit_boot, deposit_seq)
      SELECT g + 1, 'st-' || (g / ${P}) || '-' || (((g % ${P}) / 30) % ${N}), (g % ${P}) % 30, ${isoPlus(db, depositBase, `(g % 600)`)}, 1, g + 1 FROM ${s.from} WHERE g % 3 <> 0`);
    await db.run("INSERT INTO lockers (station_id, locker, state, person_id, since) SELECT station_id, locker, 'phone-in', person_id, deposited_at FROM phones_in");
    // Today's deposits as the stations sent them, and older events (deposits and collections) before.
    await db.run(`INSERT INTO station_events (station_id, board, boot, seq, type, locker, person_id, detail, uptime_ms, received_at) SELECT station_id, 0, 1, deposit_seq, ${EVENT.DEPOSIT}, locker, person_id, 0, deposit_seq, deposited_at FROM phone_custody`);
    const step = 500_000;
    const historyStart = new Date(Date.parse(dayStart) - 86_400_000 - size.history * 1000).toISOString();
    for (let from = 0; from < size.history; from += step) {
      const count = Math.min(step, size.history - from);
      await db.transaction((tx) => {
        const s = series(db, count, from);
        return tx.run(`${s.with}INSERT INTO station_events (station_id, board, boot, seq, type, locker, person_id, detail, uptime_ms, received_at)
          SELECT 'st-' || (g % ${S}) || '-' || ((g / ${S}) % ${N}), 0, 0, g + 1, CASE WHEN g % 2 = 0 THEN ${EVENT.DEPOSIT} ELSE ${EVENT.COLLECT} END, (g / ${S * N}) % 30, NULL, 0, g, ${isoPlus(db, historyStart, 'g')} FROM ${s.from}`);
      });
    }
    // A door left open at one station in ten in the last day, and one door forced at each school, not yet acknowledged.
    await run(S * N, (s) => `INSERT INTO station_events (station_id, board, boot, seq, type, locker, person_id, detail, uptime_ms, received_at) SELECT 'st-' || (g / ${N}) || '-' || (g % ${N}), 0, 2, 1, ${EVENT.DOOR_LEFT_OPEN}, 31, NULL, 0, 1, '${at(-2 * 3600_000)}' FROM ${s.from} WHERE g % 10 = 0`);
    await run(S, (s) => `INSERT INTO alerts (at, kind, role, subject, message) SELECT '${at(-3600_000)}', 'door-forced', 'office', 'locker:st-' || g || '-1/31', 'door forced open at locker 31' FROM ${s.from}`);
    await db.transaction(async (tx) => {
      for (let k = 0; k < S; k++) {
        const stored = k === 0 ? '' : siteOf(home, k);
        // 24 assets at the school's loan station, 8 of them out (3 overdue) with a desk loan; 200 older loans.
        const assets: number[] = [];
        for (let i = 0; i < 24; i++) {
          assets.push(await tx.insert(
            "INSERT INTO assets (tag, class_id, encryption, home_station, home_locker, status, registered_at, school, health_check_days, last_health_check) VALUES (?, ?, 'AES-256', ?, ?, ?, ?, ?, ?, ?)",
            [`A${k}-${i}`, i < 16 ? 'usb-stick' : 'laptop', `loans-${k}`, i, i < 8 ? 'on-loan' : 'available', at(-400 * 86_400_000), stored, i < 16 ? null : 90, i < 16 ? null : at(-80 * 86_400_000)],
          ));
        }
        for (let i = 0; i < 8; i++) await tx.run('INSERT INTO loans (asset_id, person_id, lent_at, due_at) VALUES (?, ?, ?, ?)', [assets[i], staffId(k, 1 + i), at(-2 * 86_400_000), at((i < 3 ? -1 : 1) * 86_400_000)]);
        for (let i = 0; i < 200; i++) {
          const lent = at(-(300 - i) * 86_400_000);
          await tx.run("INSERT INTO loans (asset_id, person_id, lent_at, due_at, closed_at, outcome) VALUES (?, ?, ?, ?, ?, 'returned')", [assets[8 + (i % 16)], staffId(k, 1 + (i % (STAFF - 1))), lent, lent, lent]);
        }
        // A leaver with a stick still out.
        await tx.run('UPDATE people SET left_on = ? WHERE id = ?', [at(7 * 86_400_000).slice(0, 10), staffId(k, 1)]);
        // Holds: two confiscations held now, 50 released; charges; e-mails to the school's office.
        const pupil = (i: number) => k * P + i + 1;
        for (let i = 0; i < 52; i++) {
          await tx.run("INSERT INTO holds (kind, person_id, station_id, locker, placed_at, released_at) VALUES ('confiscation', ?, ?, ?, ?, ?)", [pupil(i * 3), `st-${k}-${i % N}`, i < 2 ? 30 + i : 0, at(-(i + 1) * 86_400_000), i < 2 ? null : at(-i * 86_400_000)]);
        }
        for (let i = 0; i < 20; i++) await tx.run("INSERT INTO charges (person_id, entry, amount_pence, reason, term, created_at) VALUES (?, 'charge', 1000, 'lost stick', '2026-autumn', ?)", [staffId(k, 1 + (i % (STAFF - 1))), at(-i * 86_400_000)]);
        for (let i = 0; i < 50; i++) await tx.run("INSERT INTO notifications (created_at, kind, dedupe, recipient, subject, body, state, sent_at) VALUES (?, 'overdue-loans', ?, ?, 'Overdue loans', 'body', 'sent', ?)", [at(-i * 3600_000), `bench-${k}-${i}`, `staff${k * STAFF}@school.example`, at(-i * 3600_000)]);
        await tx.run("INSERT INTO lockers (station_id, locker, state, person_id, since) VALUES (?, 30, 'held', ?, ?), (?, 31, 'held', ?, ?)", [`st-${k}-0`, pupil(0), at(-86_400_000), `st-${k}-1`, pupil(3), at(-2 * 86_400_000)]);
      }
    });
  });
  await db.exec(db.kind === 'postgres' ? 'VACUUM (ANALYZE)' : 'ANALYZE');
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

export async function benchPages({ quick }: BenchOptions): Promise<void> {
  const size: TrustSize = {
    schools: Number(process.env.BENCH_PAGES_SCHOOLS ?? (quick ? 3 : 50)),
    stationsPerSchool: quick ? 10 : 50,
    pupilsPerSchool: quick ? 300 : 1500,
    history: Number(process.env.BENCH_PAGES_EVENTS ?? (quick ? 20_000 : 1_000_000)),
  };
  const RUNS = Number(process.env.BENCH_PAGES_RUNS ?? (quick ? 3 : 20));
  /** A page slower than this gets fewer runs (at least 3): the figures are still its own. */
  const PAGE_BUDGET_MS = quick ? 20_000 : 60_000;
  const built = { ms: 0 };
  const harness = await startHub({
    demo: false,
    settings: { embeddedBrokerMaxStations: 1_000_000 },
    before: async (db, settings) => {
      const start = performance.now();
      await buildTrust(db, settings.site, size);
      built.ms = performance.now() - start;
    },
  });
  try {
    const { hub } = harness;
    const school = siteOf(hub.settings.site, Math.floor(size.schools / 2));
    const trust = await WebClient.as(hub, 'office', 'bench-trust');
    const office = await WebClient.as(hub, 'office', 'bench-school');
    await hub.records.schools.setAccount(Number((await hub.accounts.byUsername('bench-trust'))!.id), TRUST, 'bench', 'account:bench-trust');
    await hub.records.schools.setAccount(Number((await hub.accounts.byUsername('bench-school'))!.id), school, 'bench', 'account:bench-school');
    const who: Array<[string, WebClient, string]> = [
      ['trust, every school', trust, ''],
      [`trust, ?school=${school}`, trust, `school=${school}`],
      [`office of ${school}`, office, ''],
    ];
    const rows: Row[] = [];
    for (const page of PAGES) {
      for (const [account, client, query] of who) {
        const url = query ? `${page}?${query}` : page;
        const times: number[] = [];
        let bytes = 0;
        let status = 0;
        const started = performance.now();
        for (let i = 0; i < RUNS && (i < 3 || performance.now() - started < PAGE_BUDGET_MS); i++) {
          const start = performance.now();
          const response = await client.get(url, page.startsWith('/api/') ? 'json' : 'html');
          bytes = (await response.arrayBuffer()).byteLength;
          times.push(performance.now() - start);
          status = response.status;
        }
        times.sort((a, b) => a - b);
        rows.push({ page, account, status, runs: times.length, 'p50 ms': percentile(times, 50).toFixed(1), 'p99 ms': percentile(times, 99).toFixed(1), 'KB': (bytes / 1024).toFixed(1), load: os.loadavg()[0].toFixed(1) });
      }
    }
    const stations = size.schools * (size.stationsPerSchool + 1);
    const phones = Number((await hub.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM phones_in'))!.n);
    console.log(`(built in ${(built.ms / 1000).toFixed(1)} s)`);
    printTable(
      `Office pages at a trust's size: ${size.schools} schools, ${(size.schools * size.pupilsPerSchool).toLocaleString('en-GB')} pupils, ${stations.toLocaleString('en-GB')} stations, ${phones.toLocaleString('en-GB')} phones in, ${size.history.toLocaleString('en-GB')} older events (${hub.db.kind}, ${RUNS} runs a page)`,
      rows,
    );
  } finally {
    await harness.stop();
  }
}
