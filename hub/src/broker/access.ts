// Who may use the MQTT broker, and for what: the one set of rules the embedded broker enforces
// (broker.ts) and the Mosquitto files are written from (mosquitto-files.ts).
//
// Three kinds of client. A station logs in with its station id and a password it derives from its
// own signing key (stationPassword: the firmware computes the same at boot), so `station add` and
// flashing stay one step. The hub logs in as HUB_USERNAME (or HUB_LINK_USERNAME) with a password
// kept in the database (hubPassword). A read-only account (Home Assistant) is made with
// `handover broker account add` and may only read what Home Assistant needs.
import crypto from 'node:crypto';
import { TOPIC, TOPIC_ROOT, topicBase } from '../../../protocol/wire';
import { sitePrefix } from '../../../protocol/topics';
import type { SqlDatabase } from '../db/sql';

/** The hub's two connections (ingest and station link) log in under these; a station id never has an underscore. */
export const HUB_USERNAME = 'handover_hub';
export const HUB_LINK_USERNAME = 'handover_hub_link';
/** The hub's credential for its own tools (a monitor, a benchmark, a test): one connection at a time on Mosquitto. */
export const HUB_TOOLS_USERNAME = 'handover_hub_tools';
/**
 * Several hub processes (HANDOVER_HUB_NAME) share the stations' events and status through one MQTT
 * shared-subscription group (`$share/<group>/<filter>`): the broker gives each message to one of
 * them. Mosquitto's ACL file cannot refuse a subscription (it checks reading only as it delivers),
 * so any client that knows the group's name could join it, be given its turn of every station's
 * events and, not allowed to read them, silently lose it. The name is therefore the hubs' secret:
 * derived from the hub's broker password, which only the hubs hold.
 */
export function hubShareGroup(hubPasswordText: string): string {
  return `handover-hubs-${crypto.createHmac('sha256', hubPasswordText).update('handover hubs share group').digest('hex').slice(0, 32)}`;
}

/** `filter` as a shared subscription of `group`. */
export function sharedFilter(filter: string, group: string): string {
  return `$share/${group}/${filter}`;
}

/**
 * The broker user names of one named hub's ingest and station link: each hub process signs in
 * under its own (Mosquitto's `use_username_as_clientid` would otherwise let one hub's connection
 * push the other's off). Without a name, HUB_USERNAME and HUB_LINK_USERNAME.
 */
export function hubUsernames(hubName: string | null): { ingest: string; link: string } {
  return hubName ? { ingest: `handover_hub_${hubName}`, link: `handover_hub_link_${hubName}` } : { ingest: HUB_USERNAME, link: HUB_LINK_USERNAME };
}

/** Client ids the hub connects with start with this; a station's is `handover-<station id>`. */
export const HUB_CLIENT_PREFIX = 'handover-hub-';
export const STATION_CLIENT_PREFIX = 'handover-';
/** What a station's broker password is derived from; firmware/src/main.ts uses the same text. */
export const STATION_PASSWORD_LABEL = 'handover mqtt password';

export type Principal =
  | { kind: 'station'; id: string; site: string }
  | { kind: 'hub'; username: string }
  | { kind: 'reader'; username: string };

export interface TopicScope {
  /** The hub's site (HANDOVER_SITE). */
  site: string;
  /** Home Assistant's discovery prefix; '' when discovery is off. */
  haPrefix: string;
}

/** The broker password of the station whose signing key is `stationKeyHex`: 16 bytes of HMAC-SHA256, in hex. */
export function stationPassword(stationKeyHex: string): string {
  return crypto.createHmac('sha256', Buffer.from(stationKeyHex, 'hex')).update(STATION_PASSWORD_LABEL).digest().subarray(0, 16).toString('hex');
}

/** The hub's own broker password, made once and kept in the database. */
export async function hubPassword(db: SqlDatabase): Promise<string> {
  const row = await db.get<{ value: string }>("SELECT value FROM hub_secrets WHERE name = 'mqtt_hub_password'");
  if (row) return row.value;
  await db.run("INSERT INTO hub_secrets (name, value) VALUES ('mqtt_hub_password', ?) ON CONFLICT DO NOTHING", [crypto.randomBytes(18).toString('base64url')]);
  return hubPassword(db);
}

export function isHubUsername(username: string): boolean {
  return username === HUB_USERNAME || username === HUB_LINK_USERNAME || /^handover_hub_[a-z0-9_]{1,32}$/.test(username);
}

/** Equal strings, compared in constant time. */
export function samePassword(given: string, expected: string): boolean {
  const a = crypto.createHash('sha256').update(given).digest();
  const b = crypto.createHash('sha256').update(expected).digest();
  return crypto.timingSafeEqual(a, b) && given.length === expected.length;
}

/** Why this client id is not the principal's to use, or null. Nobody can connect as another's client id. */
export function clientIdProblem(principal: Principal, clientId: string): string | null {
  if (principal.kind === 'station') return clientId === STATION_CLIENT_PREFIX + principal.id ? null : `a station must connect as ${STATION_CLIENT_PREFIX}${principal.id}`;
  if (principal.kind === 'hub') return clientId.startsWith(HUB_CLIENT_PREFIX) ? null : `the hub connects as ${HUB_CLIENT_PREFIX}…`;
  return clientId.startsWith(STATION_CLIENT_PREFIX) ? `client ids starting ${STATION_CLIENT_PREFIX} belong to stations and the hub` : null;
}

/** The topics each kind may publish to and subscribe to, as MQTT filters. */
export function grants(principal: Principal, scope: TopicScope): { publish: string[]; subscribe: string[] } {
  const prefix = scope.haPrefix;
  if (principal.kind === 'station') {
    const base = `${topicBase(principal.site, principal.id)}/`;
    return {
      publish: [TOPIC.EVENTS, TOPIC.STATE, TOPIC.REPLY, TOPIC.STATUS].map((suffix) => base + suffix.replace(/^\//, '')),
      subscribe: [TOPIC.ACK, TOPIC.COMMAND].map((suffix) => base + suffix.replace(/^\//, '')),
    };
  }
  const stations = `${sitePrefix(scope.site)}+/`;
  if (principal.kind === 'hub') {
    // Every school's stations (issue 16: a trust deployment's stations carry their own school's site).
    const everySite = `${sitePrefix('+')}+/`;
    return {
      publish: [`${everySite}${TOPIC.ACK.slice(1)}`, `${everySite}${TOPIC.COMMAND.slice(1)}`, `${stations}ha`, ...(prefix ? [`${prefix}/#`] : [])],
      subscribe: [`${TOPIC_ROOT}/#`, ...(prefix ? [`${prefix}/#`] : [])],
    };
  }
  return { publish: [], subscribe: [`${stations}ha`, `${stations}${TOPIC.STATUS.slice(1)}`, ...(prefix ? [`${prefix}/#`] : [])] };
}

/** Does `pattern` match every topic `filter` can match? (Both MQTT filters.) */
export function covers(pattern: string, filter: string): boolean {
  const p = pattern.split('/');
  const f = filter.split('/');
  for (let i = 0; i < p.length; i++) {
    if (p[i] === '#') return true;
    if (i >= f.length) return false;
    if (f[i] === '#') return false;
    if (p[i] === '+') continue;
    if (f[i] === '+' || f[i] !== p[i]) return false;
  }
  return f.length === p.length;
}

export function mayPublish(principal: Principal, topic: string, scope: TopicScope): boolean {
  if (topic.includes('+') || topic.includes('#')) return false;
  return grants(principal, scope).publish.some((pattern) => covers(pattern, topic));
}

export function maySubscribe(principal: Principal, filter: string, scope: TopicScope): boolean {
  // A shared subscription is the hubs' only, and judged by the topics it reads.
  const shared = /^\$share\/[^/+#]+\/(.+)$/.exec(filter);
  if (filter.startsWith('$share/')) return principal.kind === 'hub' && shared !== null && maySubscribe(principal, shared[1], scope);
  return grants(principal, scope).subscribe.some((pattern) => covers(pattern, filter));
}
