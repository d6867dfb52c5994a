// `handover broker …` and `station add`'s broker side, run as child processes: a read-only account
// for Home Assistant (password shown once, only a hash kept), Mosquitto's files written and kept
// current, a station configuration over TLS, and the names kept for the hub refused.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { matchesMosquittoHash } from '../../../hub/src/broker/guard';
import { stationPassword } from '../../../hub/src/broker/access';
import { openDatabase } from '../../../hub/src/db/open';
import { makeCertificates } from '../../support/certificates';
import { testDatabaseTarget, type TestDatabaseTarget } from '../../support/test-database';

const BIN = path.resolve(__dirname, '../../../bin/handover.mjs');
let target: TestDatabaseTarget;
let mosquittoDir: string;

function handover(env: NodeJS.ProcessEnv, ...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const base = { ...process.env, HANDOVER_DATA_DIR: target.dataDir, DATABASE_URL: target.databaseUrl ?? '', HANDOVER_SITE: 'demo', ...env };
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...argv], { env: base, cwd: target.dataDir, timeout: 60_000 }, (error, stdout, stderr) =>
      resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

beforeAll(async () => {
  target = await testDatabaseTarget();
  mosquittoDir = path.join(target.dataDir, 'mosquitto');
});

afterAll(async () => {
  await target?.drop();
});

describe('the broker on the command line', { timeout: 120_000 }, () => {
  it('makes a read-only account, printing its password once and keeping only its hash', async () => {
    const run = await handover({}, 'broker', 'account', 'add', 'homeassistant');
    expect(run.code).toBe(0);
    const password = /password:\s+(\S+)/.exec(run.stdout)![1];
    expect(password.length).toBeGreaterThanOrEqual(24);
    const { db } = await openDatabase({ dataDir: target.dataDir, databaseUrl: target.databaseUrl });
    try {
      const row = await db.get<{ password_hash: string }>('SELECT password_hash FROM broker_accounts WHERE username = ?', ['homeassistant']);
      expect(row!.password_hash).not.toContain(password);
      expect(await matchesMosquittoHash(password, row!.password_hash)).toBe(true);
    } finally {
      await db.close();
    }
    expect((await handover({}, 'broker', 'account', 'add', 'homeassistant')).stderr).toMatch(/already exists/);
    expect((await handover({}, 'broker', 'account', 'list')).stdout).toMatch(/^homeassistant\tread-only/m);
  });

  it('writes Mosquitto files for the hub, the stations and the accounts, and station add keeps them current', async () => {
    const env = { HANDOVER_MOSQUITTO_DIR: mosquittoDir, HANDOVER_MQTT_PORT: '18830' };
    expect((await handover(env, 'station', 'add', 'room-1', '--lockers', '4')).code).toBe(0);
    const written = await handover(env, 'broker', 'mosquitto-config');
    expect(written.code).toBe(0);
    const config = fs.readFileSync(path.join(mosquittoDir, 'handover.conf'), 'utf8');
    expect(config).toMatch(/^listener 18830$/m);
    expect(config).toMatch(/^allow_anonymous false$/m);
    expect(config).toMatch(/^use_username_as_clientid true$/m);
    const users = () => fs.readFileSync(path.join(mosquittoDir, 'handover.passwd'), 'utf8').trim().split('\n').map((line) => line.split(':')[0]);
    expect(users()).toEqual(['handover_hub', 'handover_hub_link', 'handover_hub_tools', 'room-1', 'homeassistant']);
    const acl = fs.readFileSync(path.join(mosquittoDir, 'handover.acl'), 'utf8');
    expect(acl).toContain('user room-1\ntopic read handover/demo/room-1/ack\ntopic read handover/demo/room-1/cmd\ntopic write handover/demo/room-1/events');
    expect(acl).toContain('user homeassistant\ntopic read handover/demo/+/ha\ntopic read handover/demo/+/status\ntopic read homeassistant/#\n');
    // A new station is in the files as soon as it is added, with the password its firmware derives.
    const added = await handover(env, 'station', 'add', 'room-2', '--lockers', '4');
    expect(added.stderr).toMatch(/Mosquitto files updated .*reload Mosquitto/);
    expect(users()).toContain('room-2');
    const key = JSON.parse(added.stdout).stationKey as string;
    const hash = fs.readFileSync(path.join(mosquittoDir, 'handover.passwd'), 'utf8').split('\n').find((line) => line.startsWith('room-2:'))!.slice('room-2:'.length);
    expect(await matchesMosquittoHash(stationPassword(key), hash)).toBe(true);
  });

  it('makes a TLS station configuration that pins the CA, and refuses one without a CA', async () => {
    const refused = await handover({}, 'station', 'add', 'room-3', '--tls');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/--tls needs HANDOVER_MQTT_TLS_CA/);
    const certificates = makeCertificates();
    const caFile = path.join(target.dataDir, 'ca.pem');
    fs.writeFileSync(caFile, certificates.ca);
    const made = await handover({ HANDOVER_MQTT_TLS_CA: caFile, HANDOVER_MQTT_TLS_PORT: '8884' }, 'station', 'add', 'room-3', '--tls', '--lockers', '2');
    expect(made.code).toBe(0);
    expect(JSON.parse(made.stdout).broker).toMatchObject({ port: 8884, tls: { ca: certificates.ca } });
  });

  it("refuses station ids kept for the hub's connections and names taken by an account", async () => {
    expect((await handover({}, 'station', 'add', 'hub-demo')).stderr).toMatch(/kept for the hub/);
    expect((await handover({}, 'station', 'add', 'homeassistant')).stderr).toMatch(/a broker account has that name/);
    expect((await handover({}, 'broker', 'account', 'add', 'room-1')).stderr).toMatch(/a station has that id/);
    expect((await handover({}, 'broker', 'account', 'add', 'handover_hub_x')).stderr).toMatch(/the hub's own/);
  });
});
