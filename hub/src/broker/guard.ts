// The embedded broker's door and walls: every CONNECT is authenticated (access.ts has the rules),
// a client id belongs to its credential, each publish and subscription is checked against what the
// client may do, and each station's session (connected or not) is tracked from the connection
// itself, so the hub never has to believe a status message for liveness.
//
// A refused publish is dropped, as Mosquitto drops one its ACL refuses (MQTT 3.1.1 has no way to
// say no to a PUBLISH; aedes would otherwise close the connection, and Home Assistant, which
// publishes its own birth message, would reconnect forever). A refused subscription gets the
// failure code in its SUBACK. Each refusal is counted (refusals(), shown on the Stations page) and
// logged once per client and reason per minute.
import crypto from 'node:crypto';
import { EventEmitter } from 'node:events';
import { promisify } from 'node:util';
import type { Aedes, AuthenticateError, Client, PublishPacket, Subscription } from 'aedes';
import type { Logger } from '../log';
import { ThrottledLog } from '../log-throttle';
import { clientIdProblem, isHubUsername, mayPublish, maySubscribe, samePassword, stationPassword, type Principal, type TopicScope } from './access';

const pbkdf2 = promisify(crypto.pbkdf2);
/** Where a refused publish goes: a topic nobody may subscribe to (and `#` never matches `$` topics). */
const DROPPED_TOPIC = '$handover/refused';
/** Most distinct (client, reason) counters kept for the page; past it they share one line. */
const MAX_COUNTERS = 200;
/**
 * Most publishes a second from one station (a burst may use STATION_BURST at once). A station
 * sends at most 50 events a second when it replays its journal, plus a state report and replies;
 * a flood from a stolen credential is dropped at the door instead of queueing inside the hub,
 * which could never keep up with it. (A QoS 1 event dropped here is not acknowledged, so a real
 * station sends it again.)
 */
export const STATION_PUBLISHES_PER_SECOND = 200;
const STATION_BURST = 400;

export interface BrokerAccessOptions {
  scope: TopicScope;
  /** A registered station's site and signing key (hex), or undefined. */
  station(id: string): Promise<{ site: string; key: string } | undefined>;
  /** The hub's broker password (access.ts hubPassword). */
  hubPassword: string;
  /** A read-only account's password hash, in Mosquitto's `$7$` form (mosquitto-files.ts), or undefined. */
  readerHash(username: string): Promise<string | undefined>;
  log: Logger;
}

export interface RefusalCount {
  client: string;
  /** The registered station refused (its own credential, or its name with a wrong password): a school's account sees its stations' only. */
  station: string | null;
  what: 'connect' | 'publish' | 'subscribe';
  reason: string;
  count: number;
  last: string;
}

/** Checks a password against Mosquitto's `$7$<iterations>$<salt>$<hash>` (PBKDF2-SHA512). */
export async function matchesMosquittoHash(password: string, stored: string): Promise<boolean> {
  const parts = stored.split('$');
  if (parts.length !== 5 || parts[1] !== '7') return false;
  const iterations = Number(parts[2]);
  const expected = Buffer.from(parts[4], 'base64');
  if (!Number.isInteger(iterations) || iterations < 1 || iterations > 1_000_000 || expected.length === 0) return false;
  const derived = await pbkdf2(password, Buffer.from(parts[3], 'base64'), iterations, expected.length, 'sha512');
  return crypto.timingSafeEqual(derived, expected);
}

function refusedConnect(returnCode: 4 | 5, message: string): AuthenticateError {
  const error = new Error(message) as AuthenticateError;
  error.returnCode = returnCode;
  return error;
}

export class BrokerGuard extends EventEmitter {
  private options: BrokerAccessOptions;
  private principals = new WeakMap<Client, Principal>();
  /**
   * Each station's publish allowance (a token bucket), kept across its connections: one per
   * connection would give a credential that reconnects a fresh burst each time. Bounded by the
   * registered stations (only an authenticated station's publishes are counted).
   */
  private allowance = new Map<string, { tokens: number; at: number }>();
  /** The latest authenticated connection of each station: a will from an older one is stale. */
  private claims = new Map<string, Client>();
  /** The connection each station's session is on now (registered with the broker). */
  private sessions = new Map<string, Client>();
  private counters = new Map<string, RefusalCount>();
  private throttled: ThrottledLog;

  constructor(options: BrokerAccessOptions) {
    super();
    this.options = options;
    this.throttled = new ThrottledLog((line) => options.log.warn(line));
  }

  /** Ids of the stations connected now. */
  connectedStations(): string[] {
    return [...this.sessions.keys()];
  }

  refusals(): RefusalCount[] {
    return [...this.counters.values()].sort((a, b) => b.count - a.count);
  }

  stop(): void {
    this.throttled.stop();
  }

  /** A connection closed for announcing a packet over broker/packet-limit.ts's limit (before CONNECT was read when `connected` is false). */
  oversized(conn: { remoteAddress?: string; client?: Client }, announced: number, connected: boolean): void {
    const principal = conn.client ? this.principals.get(conn.client) : undefined;
    const who = principal ? describe(principal) : `unauthenticated client from ${shown(String(conn.remoteAddress ?? 'an unknown address'))}`;
    this.refused(who, connected ? 'publish' : 'connect', 'packet too large: connection closed', `${announced} bytes announced`, principal ? stationOf(principal) : null);
  }

  private refused(client: string, what: RefusalCount['what'], reason: string, detail: string, station: string | null = null): void {
    let key = `${what}|${client}|${reason}`;
    if (!this.counters.has(key) && this.counters.size >= MAX_COUNTERS) key = 'other';
    const counter = this.counters.get(key) ?? { client: key === 'other' ? 'others' : client, station: key === 'other' ? null : station, what, reason: key === 'other' ? 'various' : reason, count: 0, last: '' };
    counter.count++;
    counter.last = new Date().toISOString();
    this.counters.set(key, counter);
    this.throttled.note(key, `refused ${what} by ${client}, ${reason}`, () => `refused ${what} by ${client}: ${reason}${detail ? ` (${detail})` : ''}`);
  }

  /** The principal a credential proves, or null; `station` when it names a registered station (right password or not). */
  private async principalFor(username: string, password: string): Promise<{ principal: Principal | null; station: string | null }> {
    if (isHubUsername(username)) return { principal: samePassword(password, this.options.hubPassword) ? { kind: 'hub', username } : null, station: null };
    if (/^[a-z0-9-]{1,32}$/.test(username)) {
      const station = await this.options.station(username);
      if (station) return { principal: samePassword(password, stationPassword(station.key)) ? { kind: 'station', id: username, site: station.site } : null, station: username };
    }
    // Only a name a read-only account can have is looked up: any other (control characters, a NUL
    // that PostgreSQL refuses in text, 10,000 characters) is refused without asking the database.
    if (!/^[a-z0-9][a-z0-9_.-]{0,31}$/.test(username)) return { principal: null, station: null };
    const hash = await this.options.readerHash(username);
    return { principal: hash && (await matchesMosquittoHash(password, hash)) ? { kind: 'reader', username } : null, station: null };
  }

  private withinRate(stationId: string): boolean {
    const now = Date.now();
    const bucket = this.allowance.get(stationId) ?? { tokens: STATION_BURST, at: now };
    bucket.tokens = Math.min(STATION_BURST, bucket.tokens + ((now - bucket.at) * STATION_PUBLISHES_PER_SECOND) / 1000);
    bucket.at = now;
    this.allowance.set(stationId, bucket);
    if (bucket.tokens < 1) return false;
    bucket.tokens--;
    return true;
  }

  /** Installs the checks on an aedes broker. */
  attach(broker: Aedes): void {
    const scope = this.options.scope;
    broker.authenticate = (client, username, password, callback) => {
      const name = username ?? '';
      const who = name ? shown(name) : `anonymous client ${shown(String(client.id ?? ''))}`;
      if (!name || !password) {
        this.refused(who, 'connect', 'no user name or password', '');
        return callback(refusedConnect(5, 'not authorized'), false);
      }
      this.principalFor(name, password.toString('utf8')).then(
        ({ principal, station }) => {
          if (!principal) {
            this.refused(shown(name), 'connect', 'bad user name or password', '', station);
            return callback(refusedConnect(4, 'bad user name or password'), false);
          }
          // A client id another credential is connected under is not free: taking it would knock that client off.
          const holder = (broker as unknown as { clients: Record<string, Client | undefined> }).clients[client.id];
          const holderPrincipal = holder ? this.principals.get(holder) : undefined;
          const problem = clientIdProblem(principal, client.id) ?? (holderPrincipal && describe(holderPrincipal) !== describe(principal) ? `in use by ${describe(holderPrincipal)}` : null);
          if (problem) {
            this.refused(name, 'connect', 'client id not its own', `${shown(client.id, 60)}: ${problem}`, stationOf(principal));
            return callback(refusedConnect(5, 'not authorized'), false);
          }
          this.principals.set(client, principal);
          if (principal.kind === 'station') this.claims.set(principal.id, client);
          callback(null, true);
        },
        (error: Error) => {
          this.options.log.warn(`broker: could not check ${shown(name)}'s credentials: ${error.message}`);
          callback(refusedConnect(5, 'server unavailable'), false);
        },
      );
    };

    broker.authorizePublish = (client, packet, callback) => {
      const principal = client ? this.principals.get(client) : undefined;
      if (!client || !principal) return callback(new Error('not authenticated'));
      const drop = (reason: string) => {
        this.refused(describe(principal), 'publish', reason, shown(packet.topic, 120), stationOf(principal));
        packet.topic = DROPPED_TOPIC;
        packet.retain = false;
        callback(null);
      };
      if (!mayPublish(principal, packet.topic, scope)) return drop('topic not allowed');
      if (principal.kind === 'station' && !this.withinRate(principal.id)) return drop(`over ${STATION_PUBLISHES_PER_SECOND} messages a second`);
      // A will left behind by a connection the station has since replaced (a reconnect that took
      // over the session) would mark a live station offline.
      if (principal.kind === 'station' && packet === (client as unknown as { will: PublishPacket | null }).will && this.claims.get(principal.id) !== client) {
        packet.topic = DROPPED_TOPIC;
        packet.retain = false;
        return callback(null);
      }
      callback(null);
    };

    broker.authorizeSubscribe = (client, subscription: Subscription, callback) => {
      const principal = this.principals.get(client);
      if (principal && maySubscribe(principal, subscription.topic, scope)) return callback(null, subscription);
      this.refused(principal ? describe(principal) : shown(String(client.id)), 'subscribe', 'topic not allowed', shown(subscription.topic, 120), principal ? stationOf(principal) : null);
      callback(null, null as unknown as Subscription);
    };

    broker.on('client', (client: Client) => {
      const principal = this.principals.get(client);
      if (principal?.kind !== 'station') return;
      this.sessions.set(principal.id, client);
      this.emit('session', { stationId: principal.id, online: true });
    });
    broker.on('clientDisconnect', (client: Client) => {
      const principal = this.principals.get(client);
      if (principal?.kind !== 'station' || this.sessions.get(principal.id) !== client) return;
      this.sessions.delete(principal.id);
      if (this.claims.get(principal.id) === client) this.claims.delete(principal.id);
      this.emit('session', { stationId: principal.id, online: false });
    });
  }
}

/**
 * What a client sent (a user name, a client id, a topic), fit for one log line and a table cell: a
 * plain name as it is; anything else quoted, cut to `max` characters, with every character outside
 * printable ASCII escaped, so nobody without a credential can write lines of their own into the
 * hub's log, reorder its text or fill it with a 64 KB name.
 */
export function shown(text: string, max = 40): string {
  if (/^[A-Za-z0-9_.:\/+#$-]+$/.test(text) && text.length <= max) return text;
  const cut = text.length > max ? `${text.slice(0, max)}…` : text;
  return `"${cut.replace(/[^\x20-\x7e…]|["\\]/g, (c) => (c === '"' || c === '\\' ? `\\${c}` : `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`))}"`;
}

function stationOf(principal: Principal): string | null {
  return principal.kind === 'station' ? principal.id : null;
}

function describe(principal: Principal): string {
  return principal.kind === 'station' ? `station ${principal.id}` : principal.kind === 'hub' ? principal.username : `account ${principal.username}`;
}
