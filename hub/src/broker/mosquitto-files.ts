// Mosquitto's side of the closed network: a password file (Mosquitto's own `$7$` hashes), an ACL
// file and a configuration file that uses them with `allow_anonymous false`, written into one
// directory (HANDOVER_MOSQUITTO_DIR, e.g. Debian's /etc/mosquitto/conf.d, whose *.conf files
// Mosquitto includes). The rules are access.ts's; `use_username_as_clientid` gives each credential
// its own client id, so nobody can connect as a station and knock it off.
import fs from 'node:fs';
import path from 'node:path';
import type { SqlDatabase } from '../db/sql';
import type { Settings } from '../settings';
import { grants, hubPassword, hubUsernames, HUB_LINK_USERNAME, HUB_TOOLS_USERNAME, HUB_USERNAME, stationPassword, type Principal, type TopicScope } from './access';
import { mosquittoHash } from './accounts';
import { MAX_PACKET_BYTES } from './packet-limit';

export const PASSWORD_FILE = 'handover.passwd';
export const ACL_FILE = 'handover.acl';
export const CONFIG_FILE = 'handover.conf';

export interface MosquittoFiles {
  dir: string;
  passwordFile: string;
  aclFile: string;
  configFile: string;
  users: number;
}

const HUB_NAMES = 'mqtt_hub_names';

/** The names of the several hubs Mosquitto knows (`broker mosquitto-config --hubs`), kept in the database. */
export async function hubNames(db: SqlDatabase): Promise<string[]> {
  const row = await db.get<{ value: string }>('SELECT value FROM hub_secrets WHERE name = ?', [HUB_NAMES]);
  return row?.value ? row.value.split(',') : [];
}

/** Records the hubs' names (HANDOVER_HUB_NAME of each process), so every rewrite of the files keeps their users. */
export async function setHubNames(db: SqlDatabase, names: string[]): Promise<void> {
  for (const name of names) if (!/^[a-z0-9]{1,16}$/.test(name)) throw new Error(`hub name ${JSON.stringify(name.slice(0, 20))}: lower-case letters and digits, at most 16`);
  await db.run('INSERT INTO hub_secrets (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value', [HUB_NAMES, [...new Set(names)].join(',')]);
}

function aclBlock(username: string, principal: Principal, scope: TopicScope): string[] {
  const { publish, subscribe } = grants(principal, scope);
  const lines = [`user ${username}`];
  for (const topic of subscribe) lines.push(`${publish.includes(topic) ? 'topic readwrite' : 'topic read'} ${topic}`);
  for (const topic of publish) if (!subscribe.includes(topic)) lines.push(`topic write ${topic}`);
  return lines;
}

/** Writes the three files for every registered station, the hub and each read-only account. */
export async function writeMosquittoFiles(db: SqlDatabase, settings: Pick<Settings, 'site' | 'homeAssistantPrefix' | 'mqttPort' | 'mqttTlsCert' | 'mqttTlsKey' | 'mqttTls'>, dir: string): Promise<MosquittoFiles> {
  const scope: TopicScope = { site: settings.site, haPrefix: settings.homeAssistantPrefix };
  const stations = await db.all<{ id: string; site: string; station_key: string }>('SELECT id, site, station_key FROM stations ORDER BY id');
  const readers = await db.all<{ username: string; password_hash: string }>('SELECT username, password_hash FROM broker_accounts ORDER BY username');
  const hub = await hubPassword(db);

  const passwords: string[] = [];
  const acl: string[] = ['# Written by `handover broker mosquitto-config` (and `station add`): do not edit, it is rewritten.', ''];
  // Each of several hubs signs in under its own names (access.ts hubUsernames), with the hub's password.
  const named = (await hubNames(db)).flatMap((name) => Object.values(hubUsernames(name)));
  for (const username of [HUB_USERNAME, HUB_LINK_USERNAME, HUB_TOOLS_USERNAME, ...named]) {
    passwords.push(`${username}:${mosquittoHash(hub)}`);
    acl.push(...aclBlock(username, { kind: 'hub', username }, scope), '');
  }
  for (const station of stations) {
    passwords.push(`${station.id}:${mosquittoHash(stationPassword(station.station_key))}`);
    acl.push(...aclBlock(station.id, { kind: 'station', id: station.id, site: station.site }, scope), '');
  }
  for (const reader of readers) {
    passwords.push(`${reader.username}:${reader.password_hash}`);
    acl.push(...aclBlock(reader.username, { kind: 'reader', username: reader.username }, scope), '');
  }

  fs.mkdirSync(dir, { recursive: true });
  const files = { dir, passwordFile: path.join(dir, PASSWORD_FILE), aclFile: path.join(dir, ACL_FILE), configFile: path.join(dir, CONFIG_FILE), users: passwords.length };
  const config = [
    '# Written by `handover broker mosquitto-config`: the Handover hub, its stations and Home Assistant only.',
    `listener ${settings.mqttPort}`,
    ...(settings.mqttTls && settings.mqttTlsCert && settings.mqttTlsKey ? [`certfile ${settings.mqttTlsCert}`, `keyfile ${settings.mqttTlsKey}`] : []),
    'allow_anonymous false',
    `password_file ${files.passwordFile}`,
    `acl_file ${files.aclFile}`,
    // Each credential is its own client id: nobody can take over a station's session.
    'use_username_as_clientid true',
    // Mosquitto, too, would otherwise keep whatever a CONNECT announces (up to 256 MB) before checking the password.
    `max_packet_size ${MAX_PACKET_BYTES}`,
    // At registration a hub that falls behind has thousands of small frames waiting for it; past
    // Mosquitto's default of 1,000 they would be dropped and every station would resend them.
    'max_queued_messages 100000',
  ];
  // Written beside and renamed into place, so Mosquitto never reads half a file.
  const write = (file: string, text: string) => {
    fs.writeFileSync(`${file}.new`, text, { mode: 0o644 });
    fs.renameSync(`${file}.new`, file);
  };
  write(files.passwordFile, passwords.join('\n') + '\n');
  write(files.aclFile, acl.join('\n'));
  write(files.configFile, config.join('\n') + '\n');
  return files;
}
