// Fault run at trust scale (issue 16): two hub processes (`bin/handover.mjs serve`, named a and b)
// on one PostgreSQL and one Mosquitto run with the files `handover broker mosquitto-config --hubs
// a,b` writes (the ACL lets each hub read through the shared subscription, each signs in as
// itself). Three stations run the built bundle and pupils keep tapping; the broker spreads the
// events over both hubs. Hub a (the leader) is killed with SIGKILL mid-stream: every station's
// journal is then compared with the database (nothing lost, nothing doubled, the effects in each
// station's order), hub b has taken over the once-only jobs, and the live page of hub b showed
// what hub a stored while both ran. Sign-in limits count the attempts made at either hub.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { WebClient } from '../web/client';
import { Accounts } from '../../hub/src/accounts/accounts';
import { AuditTrail } from '../../hub/src/audit/trail';
import { setHubNames, writeMosquittoFiles } from '../../hub/src/broker/mosquitto-files';
import { openDatabase } from '../../hub/src/db/open';
import type { SqlDatabase } from '../../hub/src/db/sql';
import { People, parseUid, schoolBadgeKey } from '../../hub/src/records/people';
import { stationConfig } from '../../hub/src/records/station-config';
import { Stations } from '../../hub/src/records/stations';
import { loadSettings } from '../../hub/src/settings';
import { SimulatedStation } from '../../hardware/sim/simulated-station';
import { visitLocker } from '../../hardware/sim/scripted-person';
import { badgeFileName } from '../../firmware/src/station/badge-list';
import { EVENT } from '../../protocol/wire';
import { eventually } from '../support/eventually';
import { HubProcess, JournalWatch, reconcile, SITE, type Reconciliation } from '../support/fault-rig';
import { freePort, HAS_MOSQUITTO, Mosquitto } from '../support/mosquitto';
import { BUNDLE, FAST_TIMING, TEST_PACE } from '../support/station-rig';
import { testDatabaseTarget, USING_POSTGRES, type TestDatabaseTarget } from '../support/test-database';

const STATIONS = ['hall-1', 'hall-2', 'hall-3'];
const PUPILS_PER_STATION = 6;
const PASSWORD = 'Several-hubs-2026';
const COMPLETIONS = new Set<number>([EVENT.DEPOSIT, EVENT.COLLECT]);

interface RigStation {
  id: string;
  station: SimulatedStation;
  watch: JournalWatch;
  pupils: string[];
}

/** A signed-in office page's live stream (/api/stream), every `change` it sent kept in order. */
async function openLiveStream(pageUrl: string): Promise<{ changes: Array<{ kind: string; stationId: string; type?: number; locker?: number }>; close(): void }> {
  const client = new WebClient(pageUrl);
  const login = await client.signIn('office-trust', PASSWORD);
  if (!login.ok) throw new Error(`could not sign in at ${pageUrl}: ${login.status} ${await login.text()}`);
  const controller = new AbortController();
  const response = await fetch(`${pageUrl}/api/stream`, { headers: { cookie: [...client.cookies].map(([name, value]) => `${name}=${value}`).join('; ') }, signal: controller.signal });
  if (!response.ok || !response.body) throw new Error(`no live stream at ${pageUrl}: ${response.status}`);
  const changes: Array<{ kind: string; stationId: string; type?: number; locker?: number }> = [];
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let text = '';
  void (async () => {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      text += decoder.decode(value, { stream: true });
      const messages = text.split('\n\n');
      text = messages.pop()!;
      for (const message of messages) {
        const event = /^event: (\S+)$/m.exec(message)?.[1];
        const data = /^data: (.*)$/m.exec(message)?.[1];
        if (event === 'change' && data) changes.push(JSON.parse(data));
      }
    }
  })().catch(() => {});
  return { changes, close: () => controller.abort() };
}

/** One sign-in attempt with a wrong password at `pageUrl`: its HTTP status (429 once the limit is reached). */
async function wrongSignIn(pageUrl: string, username: string): Promise<number> {
  const response = await new WebClient(pageUrl).signIn(username, 'Not-the-password-1');
  await response.arrayBuffer();
  return response.status;
}

/** The stored events a hub logged ("hall-2 boot 1 #7 deposit locker 3"), as station/type/locker. */
function storedBy(hub: HubProcess): Array<{ station: string; boot: number; seq: number; name: string; locker: number | null }> {
  const found = [];
  for (const line of hub.lines) {
    const match = /\b(hall-\d) boot (\d+) #(\d+) ([a-z-]+)(?: locker (\d+))?/.exec(line);
    if (match && !line.includes('holding')) found.push({ station: match[1], boot: Number(match[2]), seq: Number(match[3]), name: match[4], locker: match[5] === undefined ? null : Number(match[5]) });
  }
  return found;
}

/** Per station, whether the effects (one audit record per event) were applied in the station's order. */
async function effectOrder(db: SqlDatabase, stationId: string): Promise<{ inOrder: boolean; events: string[] }> {
  const rows = await db.all<{ details: string }>("SELECT details FROM audit_log WHERE actor = ? AND action LIKE 'event.%' ORDER BY seq", [`station:${stationId}`]);
  const events = rows.map(({ details }) => JSON.parse(details) as { board?: number; boot: number; seq: number });
  let inOrder = true;
  for (let i = 1; i < events.length; i++) {
    const [a, b] = [events[i - 1], events[i]];
    if ((a.board ?? 0) === (b.board ?? 0) && a.boot === b.boot && b.seq !== a.seq + 1) inOrder = false;
  }
  return { inOrder, events: events.map((e) => `${e.boot}/${e.seq}`) };
}

describe.skipIf(!USING_POSTGRES || (!process.env.CI && !HAS_MOSQUITTO))('two hubs on one PostgreSQL and one Mosquitto', () => {
  let target: TestDatabaseTarget | null = null;
  let mosquitto: Mosquitto | null = null;
  const hubs: HubProcess[] = [];
  const stations: RigStation[] = [];
  let stream: { close(): void } | null = null;

  afterAll(async () => {
    stream?.close();
    for (const { station } of stations) station.powerOff();
    for (const hub of hubs) await hub.kill('SIGTERM');
    await mosquitto?.dispose();
    await target?.drop();
  });

  it('spreads the events over both hubs, loses and doubles nothing when one is killed, and keeps each station’s order', async () => {
    target = await testDatabaseTarget();
    const port = await freePort();
    const mosquittoDir = fs.mkdtempSync(path.join(os.tmpdir(), 'handover-several-hubs-'));
    const configs = new Map<string, { config: object; badgeList: Uint8Array; pupils: string[] }>();
    const { db } = await openDatabase({ dataDir: target.dataDir, databaseUrl: target.databaseUrl });
    try {
      const people = new People(db);
      const registry = new Stations(db);
      for (const [s, id] of STATIONS.entries()) {
        const pupils: string[] = [];
        for (let i = 0; i < PUPILS_PER_STATION; i++) {
          const uid = (0x04e00000 + s * 0x100 + i).toString(16).padStart(8, '0');
          await people.enrolBadge(await people.add({ externalId: `T${s}-${i}`, name: `Pupil ${s}-${i}`, role: 'pupil', form: `7${s}` }), parseUid(uid));
          pupils.push(uid);
        }
        const row = await registry.add(SITE, id, 8);
        configs.set(id, { config: { ...stationConfig(row, await schoolBadgeKey(db), { host: '127.0.0.1', port }), keepAliveSec: 5, unlockPulseMs: 300, doorDebounceMs: 20, timing: { ...FAST_TIMING, doorOpenTimeoutMs: 3000, doorLeftOpenMs: 15_000 } }, badgeList: new Uint8Array(), pupils });
      }
      // (A door held open is left-open only after 15 s, and an unlock waits 3 s for its door: three
      // stations run in this one test process on a loaded machine. With the 400 ms wait a lagging
      // process saw the door spring open late, pulsed the lock again after the scripted pupil had
      // shut it, and the door sprang open a second time and stayed open.)
      for (const entry of configs.values()) entry.badgeList = await people.stationBadgeList(1);
      const accounts = new Accounts(db, new AuditTrail(db));
      await accounts.prepare();
      await accounts.add({ username: 'office-trust', role: 'office', password: PASSWORD }, 'several-hubs test');
      // What `handover broker mosquitto-config --hubs a,b` does: each hub's own broker users.
      await setHubNames(db, ['a', 'b']);
      await writeMosquittoFiles(db, loadSettings({}, { mqttPort: port, site: SITE, homeAssistantPrefix: '' }), mosquittoDir);
    } finally {
      await db.close();
    }
    mosquitto = await new Mosquitto({ includeDir: mosquittoDir, port }).start();

    // Hub a holds each batch 1.5 s before its commit (the test setting logs "holding … before the
    // commit" once the broker has its PUBACK): hub b meanwhile gets later events of the same
    // stations (stored behind the gap, applied when it closes), and hub a is killed holding some.
    for (const name of ['a', 'b']) {
      const hub = new HubProcess({ dataDir: target.dataDir, databaseUrl: target.databaseUrl, mqttPort: port });
      hubs.push(await hub.start({ HANDOVER_HUB_NAME: name, HANDOVER_TEST_COMMIT_DELAY_MS: name === 'a' ? '1500' : '0' }));
    }
    const [hubA, hubB] = hubs;
    // The first hub to start leads the once-only jobs.
    await hubA.waitForLine(/hub a leads the periodic jobs/);
    expect(hubB.lines.some((line) => /hub b leads/.test(line))).toBe(false);

    // Sign-in limits count the attempts at every hub: ten for one username from one address in five
    // minutes, wherever they land (a hub alone would allow each hub its own ten).
    const statuses: number[] = [];
    for (let i = 0; i < 10; i++) statuses.push(await wrongSignIn(hubs[i % 2].url, 'guessed-name'));
    expect(statuses.filter((status) => status === 429)).toEqual([]);
    expect(await wrongSignIn(hubB.url, 'guessed-name')).toBe(429);
    expect(await wrongSignIn(hubA.url, 'guessed-name')).toBe(429);

    for (const id of STATIONS) {
      const { config, badgeList, pupils } = configs.get(id)!;
      const station = new SimulatedStation({ flashFile: path.join(target.dataDir, `${id}.flash`), doorBounceMs: 3 });
      const watch = new JournalWatch(station);
      station.installFirmware(BUNDLE);
      station.writeConfig(config);
      station.writeFile(badgeFileName(1), badgeList);
      station.boot();
      stations.push({ id, station, watch, pupils });
    }
    for (const { watch, id } of stations) await eventually(() => watch.count(EVENT.BOOT) >= 1, 15_000, `${id} to boot`);
    const live = await openLiveStream(hubB.url);
    stream = live;

    // Each pupil deposits and collects at their station; all three stations at once.
    const visit = async ({ station, watch }: RigStation, uid: string) => {
      const before = new Set(watch.events.keys());
      const result = await visitLocker(station, uid, TEST_PACE);
      if (result.locker === null) throw new Error(`no locker opened for ${uid}: ${station.logLines.slice(-5).join(' | ')}`);
      await eventually(() => [...watch.events].some(([id, e]) => !before.has(id) && COMPLETIONS.has(e.type) && e.locker === result.locker), 20_000, `locker ${result.locker} to be journaled`).catch((error) => {
        throw new Error(`${(error as Error).message}; journal: ${JSON.stringify([...watch.events.values()].slice(-4))}; station log: ${station.logLines.slice(-8).join(' | ')}`);
      });
      await new Promise((resolve) => setTimeout(resolve, 300));
    };
    let visits = 0;
    let killed = false;
    const killAt = Math.floor((STATIONS.length * PUPILS_PER_STATION * 2) / 2);
    const storedByABeforeKill: ReturnType<typeof storedBy> = [];
    const heldByA: Array<{ station: string; boot: number; seq: number }> = [];
    const stream$ = async (rig: RigStation) => {
      for (let round = 0; round < 2; round++) {
        for (const uid of rig.pupils) {
          await visit(rig, uid);
          visits++;
          if (!killed && visits >= killAt) {
            killed = true;
            const line = await hubA.waitForLine(/holding .* before the commit: /, hubA.lines.length, 30_000);
            await hubA.kill('SIGKILL');
            storedByABeforeKill.push(...storedBy(hubA));
            heldByA.push(...[...line.replace(/^.*before the commit: /, '').matchAll(/(hall-\d) boot (\d+) #(\d+)/g)].map((m) => ({ station: m[1], boot: Number(m[2]), seq: Number(m[3]) })));
            console.log(`killed hub a (SIGKILL) after ${visits} visits, holding ${heldByA.map((e) => `${e.station} #${e.seq}`).join(', ')}; it had stored ${storedByABeforeKill.length} events, hub b ${storedBy(hubB).length}`);
          }
        }
      }
    };
    await Promise.all(stations.map(stream$));
    expect(killed).toBe(true);

    // Both hubs took events while both ran: the broker spread them.
    expect(storedByABeforeKill.length).toBeGreaterThan(0);
    expect(storedBy(hubB).length).toBeGreaterThan(0);

    const results: Array<Reconciliation & { id: string; inOrder: boolean; events: string[] }> = [];
    const { db: check } = await openDatabase({ dataDir: target.dataDir, databaseUrl: target.databaseUrl });
    try {
      for (const { id, watch } of stations) {
        let result = await reconcile(check, watch, id);
        const deadline = Date.now() + 60_000;
        while (result.lost.length > 0 && Date.now() < deadline) {
          await new Promise((resolve) => setTimeout(resolve, 200));
          result = await reconcile(check, watch, id);
        }
        results.push({ id, ...result, ...(await effectOrder(check, id)) });
      }
      for (const r of results) console.log(`${r.id}: journaled ${r.journaled}, in the database ${r.inHub}, lost ${r.lost.length}, doubled ${r.doubled.length}, unknown ${r.unknown.length}, effects in order: ${r.inOrder}`);
      for (const r of results) {
        expect(r.lost, r.id).toEqual([]);
        expect(r.doubled, r.id).toEqual([]);
        expect(r.unknown, r.id).toEqual([]);
        expect(r.inOrder, `${r.id}: ${r.events.join(' ')}`).toBe(true);
      }
      // Every pupil deposited once and collected once: no custody open, none twice.
      const custody = await check.all<{ n: number; open: number }>('SELECT COUNT(*) AS n, SUM(CASE WHEN collected_at IS NULL THEN 1 ELSE 0 END) AS open FROM phone_custody');
      expect(Number(custody[0].n)).toBe(STATIONS.length * PUPILS_PER_STATION);
      expect(Number(custody[0].open)).toBe(0);
    } finally {
      await check.close();
    }

    // Hub a died holding events whose PUBACK the broker had: the broker will not give them again,
    // and they are in the database once all the same (the stations resent them; hub b, or a copy
    // hub a had committed before, put them there; the journals above are compared with it).
    expect(heldByA.length).toBeGreaterThan(0);
    for (const held of heldByA) {
      const result = results.find((r) => r.id === held.station)!;
      expect(result.lost, `${held.station} #${held.seq}`).not.toContain(`${held.boot}/${held.seq}`);
    }

    // Hub b took over the jobs hub a ran.
    await hubB.waitForLine(/hub b leads the periodic jobs/, 0, 15_000);

    // Hub b's live page showed the events hub a stored (relayed through PostgreSQL), not only its own.
    const fromA = storedByABeforeKill.filter((event) => event.name === 'deposit' || event.name === 'collect');
    expect(fromA.length).toBeGreaterThan(0);
    for (const event of fromA) {
      const type = event.name === 'deposit' ? EVENT.DEPOSIT : EVENT.COLLECT;
      expect(
        live.changes.some((change) => change.kind === 'event' && change.stationId === event.station && change.type === type && change.locker === event.locker),
        `hub b's live page shows ${event.station} #${event.seq} ${event.name} stored by hub a`,
      ).toBe(true);
    }
  }, 300_000);
});
