// A small HTTP client for the office page's tests: keeps its own cookies (one browser, one
// session), picks up the CSRF token from /api/session, /api/login or a page's <meta>, and sends it.
import type { Hub } from '../../hub/src/hub';
import { generatePassword } from '../../hub/src/accounts/password';
import type { WebRole } from '../../hub/src/accounts/roles';

export interface SendOptions {
  json?: unknown;
  form?: Record<string, string>;
  headers?: Record<string, string>;
  /** Leave out the CSRF token (to test the refusal). */
  noCsrf?: boolean;
  accept?: 'html' | 'json';
}

export class WebClient {
  readonly cookies = new Map<string, string>();
  csrfToken = '';
  lastSetCookie: string[] = [];

  constructor(readonly base: string) {}

  private remember(response: Response): void {
    this.lastSetCookie = response.headers.getSetCookie();
    for (const header of this.lastSetCookie) {
      const [pair, ...attributes] = header.split(';');
      const [name, value] = pair.split('=');
      const expired = attributes.some((attribute) => /^\s*expires=Thu, 01 Jan 1970/i.test(attribute)) || value === '';
      if (expired) this.cookies.delete(name.trim());
      else this.cookies.set(name.trim(), value);
    }
  }

  async send(method: string, path: string, options: SendOptions = {}): Promise<Response> {
    const headers: Record<string, string> = { accept: options.accept === 'html' ? 'text/html' : 'application/json', ...(options.headers ?? {}) };
    if (this.cookies.size) headers.cookie = [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
    if (!options.noCsrf && method !== 'GET' && this.csrfToken) headers['x-csrf-token'] = this.csrfToken;
    let body: string | undefined;
    if (options.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(options.json);
    } else if (options.form) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(options.form).toString();
    }
    const response = await fetch(`${this.base}${path}`, { method, headers, body, redirect: 'manual' });
    this.remember(response);
    return response;
  }

  async get(path: string, accept: 'html' | 'json' = 'html'): Promise<Response> {
    return this.send('GET', path, { accept });
  }

  /** GETs a page and keeps its CSRF token. */
  async page(path: string): Promise<{ status: number; html: string }> {
    const response = await this.get(path, 'html');
    const html = await response.text();
    const token = /<meta name="csrf-token" content="([^"]+)">/.exec(html);
    if (token) this.csrfToken = token[1];
    return { status: response.status, html };
  }

  async startSession(): Promise<void> {
    const response = await this.get('/api/session', 'json');
    this.csrfToken = ((await response.json()) as { csrfToken: string }).csrfToken;
  }

  async signIn(username: string, password: string): Promise<Response> {
    if (!this.csrfToken) await this.startSession();
    const response = await this.send('POST', '/api/login', { json: { username, password } });
    if (response.ok) this.csrfToken = ((await response.clone().json()) as { csrfToken: string }).csrfToken;
    return response;
  }

  /** A new account of `role` with a generated password, signed in. */
  static async as(hub: Hub, role: WebRole, username = `${role.replace(/[^a-z]/g, '')}-${Math.random().toString(36).slice(2, 8)}`): Promise<WebClient & { username: string; password: string }> {
    const password = generatePassword();
    await hub.accounts.add({ username, role, password }, 'test');
    const client = new WebClient(hub.httpUrl) as WebClient & { username: string; password: string };
    client.username = username;
    client.password = password;
    const response = await client.signIn(username, password);
    if (!response.ok) throw new Error(`could not sign in as ${username}: ${response.status} ${await response.text()}`);
    return client;
  }
}
