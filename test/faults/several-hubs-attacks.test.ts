// A two-hub deployment set up as the README's "Several hubs" says (issue 16 review): two hub
// processes (`bin/handover.mjs serve`, named a and b, each with its own data directory as on two
// machines) on one PostgreSQL and one Mosquitto run with the files `handover broker
// mosquitto-config --hubs a,b,c` writes. Then what an outsider with a stolen credential, or a
// browser that lands on either hub, can do to it.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import { execFile } from 'node:child_process';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebClient } from '../web/client';
import { Accounts } from '../../hub/src/accounts/accounts';
import { AuditTrail } from '../../hub/src/audit/trail';
import { BrokerAccounts } from '../../hub/src/broker/accounts';
import { stationPassword } from '../../hub/src/broker/access';
import { setHubNames, writeMosquittoFiles } from '../../hub/src/broker/mosquitto-files';
import { openDatabase } from '../../hub/src/db/open';
import { seal } from '../../hub/src/protocol/sealed';
import { Stations } from '../../hub/src/records/stations';
import { loadSettings } from '../../hub/src/settings';
import { EVENT, FRAME } from '../../protocol/wire';
import { eventually } from '../support/eventually';
import { HubProcess, SITE } from '../support/fault-rig';
import { freePort, HAS_MOSQUITTO, Mosquitto } from '../support/mosquitto';
import { testDatabaseTarget, USING_POSTGRES, type TestDatabaseTarget } from '../support/test-database';

const PASSWORD = 'Several-hubs-2026';
const BIN = path.resolve(__dirname, '../../bin/handover.mjs');
/** Every hub of a deployment is given the same checkpoint key (README, Several hubs). */
const AUDIT_KEY = crypto.randomBytes(32).toString('hex');

describe.skipIf(!USING_POSTGRES || (!process.env.CI && !HAS_MOSQUITTO))('two hubs under attack', () => {
  let target: TestDatabaseTarget;
  let mosquitto: Mosquitto | null = null;
  let port = 0;
  const hubs: HubProcess[] = [];
  const dirs: string[] = [];
  const keys = new Map<string, string>();
  let readerPassword = '';

  const tempDir = (prefix: string) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
    dirs.push(dir);
    return dir;
  };

  const withDb = async <T>(use: (db: Awaited<ReturnType<typeof openDatabase>>['db']) => Promise<T>): Promise<T> => {
    const { db } = await openDatabase({ dataDir: target.dataDir, databaseUrl: target.databaseUrl });
    try {
      return await use(db);
    } finally {
      await db.close();
    }
  };

  beforeAll(async () => {
    target = await testDatabaseTarget();
    port = await freePort();
    const mosquittoDir = tempDir('handover-attacks-mosquitto-');
    await withDb(async (db) => {
      const stations = new Stations(db);
      for (const id of ['hall-1', 'hall-2']) keys.set(id, (await stations.add(SITE, id, 8)).station_key);
      readerPassword = await new BrokerAccounts(db, new AuditTrail(db)).add('homeassistant', 'attacks test');
      const accounts = new Accounts(db, new AuditTrail(db));
      await accounts.prepare();
      for (const username of ['office-one', 'office-two', 'office-three']) await accounts.add({ username, role: 'office', password: PASSWORD }, 'attacks test');
      await setHubNames(db, ['a', 'b', 'c']);
      await writeMosquittoFiles(db, loadSettings({}, { mqttPort: port, site: SITE, homeAssistantPrefix: 'homeassistant' }), mosquittoDir);
    });
    mosquitto = await new Mosquitto({ includeDir: mosquittoDir, port }).start();
    for (const name of ['a', 'b']) {
      const hub = new HubProcess({ dataDir: tempDir(`handover-attacks-hub-${name}-`), databaseUrl: target.databaseUrl, mqttPort: port });
      hubs.push(await hub.start({ HANDOVER_HUB_NAME: name, HANDOVER_AUDIT_KEY: AUDIT_KEY }));
    }
    await hubs[0].waitForLine(/hub a leads the periodic jobs/);
  }, 120_000);

  afterAll(async () => {
    for (const hub of hubs) await hub.kill('SIGTERM');
    await mosquitto?.dispose();
    await target?.drop();
    for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('keeps a client with a station’s or Home Assistant’s broker password out of the hubs’ shared subscription', async () => {
    // Mosquitto grants any subscription and checks reading only as it delivers: a client that
    // joins the hubs' share group is given its turn of the events and, not allowed to read them,
    // silently loses it. Each station's events must reach a hub all the same.
    const url = `mqtt://127.0.0.1:${port}`;
    const intruders = [
      await mqtt.connectAsync(url, { clientId: 'handover-hall-2', username: 'hall-2', password: stationPassword(keys.get('hall-2')!), reconnectPeriod: 0 }),
      await mqtt.connectAsync(url, { clientId: 'homeassistant', username: 'homeassistant', password: readerPassword, reconnectPeriod: 0 }),
    ];
    const stolen: string[] = [];
    try {
      for (const intruder of intruders) {
        intruder.on('message', (topic) => stolen.push(topic));
        await intruder.subscribeAsync(['$share/handover-hubs/handover/+/+/events', '$share/handover-hubs/handover/+/+/status'], { qos: 1 });
      }
      const station = await mqtt.connectAsync(url, { clientId: 'handover-hall-1', username: 'hall-1', password: stationPassword(keys.get('hall-1')!), reconnectPeriod: 0 });
      const FRAMES = 24;
      try {
        // Each frame once, as a station sends it before any resend: an unknown card tapped.
        for (let seq = 1; seq <= FRAMES; seq++) {
          const frame = new Map<number, unknown>([
            [FRAME.STATION, 'hall-1'],
            [FRAME.BOOT, 1],
            [FRAME.SEQ, seq],
            [FRAME.UPTIME_MS, seq * 1000],
            [FRAME.TYPE, EVENT.UNKNOWN_BADGE],
          ]);
          await station.publishAsync(`handover/${SITE}/hall-1/events`, Buffer.from(seal(keys.get('hall-1')!, frame)), { qos: 1 });
        }
      } finally {
        await station.endAsync();
      }
      const stored = async () => withDb(async (db) => Number((await db.get<{ n: number }>("SELECT COUNT(*) AS n FROM station_events WHERE station_id = 'hall-1'"))!.n));
      await eventually(async () => (await stored()) === FRAMES, 15_000, 'every frame hall-1 sent once to be stored by a hub').catch(async (error) => {
        throw new Error(`${(error as Error).message}: ${await stored()} of ${FRAMES} stored`);
      });
      expect(stolen).toEqual([]);
    } finally {
      for (const intruder of intruders) await intruder.endAsync();
    }
  }, 60_000);

  it('locks an account after five wrong passwords, also when they reach both hubs at once', async () => {
    const [hubA, hubB] = hubs;
    // Eight wrong passwords at once, four at each hub (the per-address limit allows ten in five minutes).
    const statuses = await Promise.all(
      Array.from({ length: 8 }, async (_, i) => {
        const response = await new WebClient([hubA, hubB][i % 2].url).signIn('office-one', `Not-the-password-${i}`);
        await response.arrayBuffer();
        return response.status;
      }),
    );
    expect(statuses.every((status) => status === 401 || status === 429), statuses.join(' ')).toBe(true);
    const failures = await withDb((db) => db.get<{ failed_sign_ins: number; locked_until: string | null }>("SELECT failed_sign_ins, locked_until FROM accounts WHERE username = 'office-one'"));
    // The right password now opens nothing: the account is locked for fifteen minutes.
    const right = await new WebClient(hubB.url).signIn('office-one', PASSWORD);
    expect(right.status, `after 8 wrong passwords the account holds ${JSON.stringify(failures)}`).toBe(429);
  }, 60_000);

  it('keeps a session made at one hub at the other, and ends it at both when signed out at one', async () => {
    const [hubA, hubB] = hubs;
    const atA = new WebClient(hubA.url);
    expect((await atA.signIn('office-two', PASSWORD)).status).toBe(200);
    const atB = new WebClient(hubB.url);
    for (const [name, value] of atA.cookies) atB.cookies.set(name, value);
    atB.csrfToken = atA.csrfToken;
    const session = await (await atB.get('/api/session', 'json')).json();
    expect((session as { account: { username: string } | null }).account?.username).toBe('office-two');
    expect((await atB.page('/lockers')).status).toBe(200);
    // A request that changes something, with the token hub a gave: hub b signs the session out.
    expect((await atB.send('POST', '/api/logout')).status).toBe(200);
    const after = await (await atA.get('/api/session', 'json')).json();
    expect((after as { account: unknown }).account).toBeNull();
  }, 60_000);
  it('keeps an import running at one hub running while another hub restarts', async () => {
    const [hubA, hubB] = hubs;
    const office = new WebClient(hubA.url);
    expect((await office.signIn('office-three', PASSWORD)).status).toBe(200);
    const csv = ['UPN,Forename,Surname,Reg Group,Year Group', ...Array.from({ length: 6000 }, (_, i) => `R${String(i).padStart(6, '0')},Big,Import${i},9R,Year 9`)].join('\n');
    const body = new FormData();
    body.set('kind', 'people');
    body.set('file', new Blob([csv], { type: 'text/csv' }), 'year9.csv');
    const cookie = [...office.cookies].map(([key, value]) => `${key}=${value}`).join('; ');
    const upload = await fetch(`${hubA.url}/imports`, { method: 'POST', body, headers: { cookie, accept: 'application/json', 'x-csrf-token': office.csrfToken } });
    expect(upload.status).toBe(202);
    const { id } = ((await upload.json()) as { job: { id: string } }).job;
    const stateAt = async (url: string) => {
      const response = await fetch(`${url}/api/imports/${id}`, { headers: { cookie, accept: 'application/json' } });
      return ((await response.json()) as { job: { state: string; description: string } }).job;
    };
    // Hub b restarts (an update, a crash) while hub a imports: the browser, balanced to hub b, must
    // not be told the import stopped and should be uploaded again.
    await hubB.kill('SIGTERM');
    await hubB.start({ HANDOVER_HUB_NAME: 'b', HANDOVER_AUDIT_KEY: AUDIT_KEY });
    const during = await stateAt(hubB.url);
    const after = await eventually(async () => {
      const job = await stateAt(hubB.url);
      return job.state !== 'running' && job.state !== 'queued' && job;
    }, 180_000, 'the import to finish');
    expect(during.state, JSON.stringify(during)).not.toBe('failed');
    expect((after as { state: string }).state).toBe('done');
  }, 240_000);

  it('refuses to start a hub whose audit checkpoint key is not the other hubs’', async () => {
    // Hub c on a machine of its own, without HANDOVER_AUDIT_KEY: its key file is made in its own
    // data directory. Once it led, the checkpoints it took would be reported as forged by `audit
    // verify` wherever the other key is (and the other hubs' by it).
    const env = { ...process.env, DATABASE_URL: target.databaseUrl!, HANDOVER_DATA_DIR: tempDir('handover-attacks-hub-c-'), HANDOVER_HUB_NAME: 'c', HANDOVER_EMBEDDED_BROKER: 'false', HANDOVER_MQTT_HOST: '127.0.0.1', HANDOVER_MQTT_PORT: String(port), HANDOVER_HTTP_PORT: '0', HANDOVER_SITE: SITE };
    // A hub that starts runs until the timeout ends it (and the test fails).
    const { code, stderr } = await new Promise<{ code: number; stderr: string }>((resolve) => {
      execFile(process.execPath, [BIN, 'serve'], { env, timeout: 20_000 }, (error, _stdout, stderr) => resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stderr }));
    });
    expect(stderr).toMatch(/hub c's audit checkpoint key .* give every hub the same HANDOVER_AUDIT_KEY/);
    expect(code).toBe(1);
  }, 60_000);
});
