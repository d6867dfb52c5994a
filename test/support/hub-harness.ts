// Starts a real hub (embedded broker on a free port, SQLite file in a temp dir — or a fresh
// PostgreSQL database when DATABASE_URL is set — web page on a free port) with or without the simulated demo station, for end-to-end tests.
import { Hub } from '../../hub/src/hub';
import { loadSettings } from '../../hub/src/settings';
import { generatePassword } from '../../hub/src/accounts/password';
import { testDatabaseTarget } from './test-database';

export interface HubHarness {
  hub: Hub;
  dataDir: string;
  logs: string[];
  url(route: string): string;
  getJson<T = any>(route: string, init?: RequestInit): Promise<{ status: number; body: T }>;
  /** A page (HTML) as the signed-in account sees it. */
  getText(route: string): Promise<{ status: number; body: string }>;
  stop(): Promise<void>;
}

/** `broker`: an external broker (e.g. test/support/mosquitto.ts) instead of the embedded one. */
export async function startHub(options: { demo: boolean; broker?: { host: string; port: number } }): Promise<HubHarness> {
  const target = await testDatabaseTarget();
  const dataDir = target.dataDir;
  const logs: string[] = [];
  const broker = options.broker ? { mqttHost: options.broker.host, mqttPort: options.broker.port, embeddedBroker: false } : { mqttPort: 0 };
  const settings = loadSettings({}, { dataDir, databaseUrl: target.databaseUrl, ...broker, httpPort: 0, site: 'demo' });
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
    async getText(route) {
      const response = await fetch(url(route), { headers: { cookie: session.cookie } });
      return { status: response.status, body: await response.text() };
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
