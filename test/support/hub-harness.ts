// Starts a real hub (embedded broker on a free port, SQLite file in a temp dir — or a fresh
// PostgreSQL database when DATABASE_URL is set — web page on a free port) with or without the simulated demo station, for end-to-end tests.
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { Hub } from '../../hub/src/hub';
import { HUB_CLIENT_PREFIX, HUB_TOOLS_USERNAME, stationPassword } from '../../hub/src/broker/access';
import { loadSettings, type Settings } from '../../hub/src/settings';
import { openDatabase } from '../../hub/src/db/open';
import type { SqlDatabase } from '../../hub/src/db/sql';
import { generatePassword } from '../../hub/src/accounts/password';
import { testDatabaseTarget } from './test-database';
import { FRAME } from '../../protocol/wire';
import { cborDecode, unseal } from '../../hub/src/protocol/sealed';

export interface HubHarness {
  hub: Hub;
  dataDir: string;
  logs: string[];
  url(route: string): string;
  getJson<T = any>(route: string, init?: RequestInit): Promise<{ status: number; body: T }>;
  /** A page's HTML, signed in. */
  getPage(route: string): Promise<{ status: number; text: string }>;
  /** Posts an office-page form as the signed-in headteacher (CSRF field included); the redirect is not followed. */
  postForm(route: string, fields: Record<string, string>): Promise<{ status: number; location: string | null }>;
  /** An MQTT client signed in to the hub's broker as `who` (see mqttLogin). */
  mqtt(who: MqttLogin, extra?: IClientOptions): Promise<MqttClient>;
  stop(): Promise<void>;
}

/**
 * Who a test connects as: a registered station (its id and the password derived from its key, with
 * its own client id), the hub's credential (under HUB_TOOLS_USERNAME, for listeners that read
 * everything; one at a time on Mosquitto, where the user name is the client id), or a read-only account (user name and password).
 */
export type MqttLogin = { station: string } | { hub: true } | { username: string; password: string };

export async function mqttLogin(hub: Hub, who: MqttLogin): Promise<IClientOptions> {
  if ('station' in who) {
    const row = await hub.stations.get(who.station);
    if (!row) throw new Error(`no station ${who.station}`);
    return { username: who.station, password: stationPassword(row.station_key), clientId: `handover-${who.station}` };
  }
  if ('hub' in who) return { ...hub.mqttOptions(HUB_TOOLS_USERNAME), clientId: `${HUB_CLIENT_PREFIX}test-${process.pid}-${Math.random().toString(16).slice(2)}` };
  return { username: who.username, password: who.password, clientId: `reader-${process.pid}-${Math.random().toString(16).slice(2)}` };
}

/** `broker`: an external broker (e.g. test/support/mosquitto.ts) instead of the embedded one. */
/**
 * `before`: runs on the hub's database and settings before the hub starts (e.g. to register its
 * stations and write the Mosquitto files the external broker needs first).
 */
export async function startHub(options: {
  demo: boolean;
  broker?: { host: string; port: number };
  before?: (db: SqlDatabase, settings: Settings) => Promise<void>;
  /** Settings beyond the harness's own (e.g. an SMTP server). */
  settings?: Partial<Settings>;
}): Promise<HubHarness> {
  const target = await testDatabaseTarget();
  const dataDir = target.dataDir;
  const logs: string[] = [];
  const broker = options.broker ? { mqttHost: options.broker.host, mqttPort: options.broker.port, embeddedBroker: false } : { mqttPort: 0 };
  const settings = loadSettings({}, { dataDir, databaseUrl: target.databaseUrl, ...broker, httpPort: 0, site: 'demo', ...options.settings });
  if (options.before) {
    const { db } = await openDatabase(settings);
    try {
      await options.before(db, settings);
    } finally {
      await db.close();
    }
  }
  const hub = new Hub({ settings, demo: options.demo, logSink: (line) => logs.push(line) });
  await hub.start();
  const url = (route: string) => `${hub.httpUrl}${route}`;
  // The office page's endpoints need a signed-in account: getJson sends this one's session and CSRF token.
  const session = await signIn(hub);
  return {
    hub,
    dataDir,
    logs,
    url,
    async getJson(route, init) {
      const headers = new Headers(init?.headers);
      if (!headers.has('cookie')) {
        headers.set('cookie', session.cookie);
        headers.set('x-csrf-token', session.csrfToken);
      }
      const response = await fetch(url(route), { ...init, headers });
      return { status: response.status, body: await response.json() };
    },
    async getPage(route) {
      const response = await fetch(url(route), { headers: { cookie: session.cookie } });
      return { status: response.status, text: await response.text() };
    },
    async postForm(route, fields) {
      // As the page's own forms post: url-encoded, with the CSRF token as a field; the redirect is not followed.
      const body = new URLSearchParams({ ...fields, _csrf: session.csrfToken });
      const response = await fetch(url(route), { method: 'POST', headers: { cookie: session.cookie, 'content-type': 'application/x-www-form-urlencoded' }, body, redirect: 'manual' });
      return { status: response.status, location: response.headers.get('location') };
    },
    async mqtt(who, extra = {}) {
      return mqtt.connectAsync(hub.mqttUrl, { reconnectPeriod: 0, ...(await mqttLogin(hub, who)), ...extra });
    },
    async stop() {
      await hub.stop();
      await target.drop();
    },
  };
}

/** Makes a headteacher account with a generated password and signs it in through /api/login. */
async function signIn(hub: Hub): Promise<{ cookie: string; csrfToken: string }> {
  const password = generatePassword();
  await hub.accounts.add({ username: 'test-harness', role: 'headteacher', password }, 'test harness');
  const cookieOf = (response: Response) => response.headers.getSetCookie().map((cookie) => cookie.split(';')[0]).join('; ');
  const first = await fetch(`${hub.httpUrl}/api/session`);
  const { csrfToken } = (await first.json()) as { csrfToken: string };
  const login = await fetch(`${hub.httpUrl}/api/login`, {
    method: 'POST',
    headers: { cookie: cookieOf(first), 'x-csrf-token': csrfToken, 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'test-harness', password }),
  });
  if (!login.ok) throw new Error(`test harness could not sign in: ${login.status} ${await login.text()}`);
  return { cookie: cookieOf(login), csrfToken: ((await login.json()) as { csrfToken: string }).csrfToken };
}

export { eventually } from './eventually';

/** An acknowledgement the hub sent a station, as the station reads it (board 0: none named). */
export interface StationAck {
  board: number;
  boot: number;
  seq: number;
}

/** Connects as the station and collects, in `acks`, every acknowledgement the hub signs for it. */
export async function listenAsStation(harness: HubHarness, site: string, station: string, key: string): Promise<{ client: MqttClient; acks: StationAck[] }> {
  const acks: StationAck[] = [];
  const client = await harness.mqtt({ station });
  client.on('message', (_topic, payload) => {
    const opened = unseal(key, new Uint8Array(payload));
    if (!opened.ok) return;
    const ack = cborDecode(opened.body) as Map<number, number>;
    acks.push({ board: ack.get(FRAME.BOARD) ?? 0, boot: ack.get(FRAME.BOOT)!, seq: ack.get(FRAME.SEQ)! });
  });
  await client.subscribeAsync(`handover/${site}/${station}/ack`, { qos: 1 });
  return { client, acks };
}
