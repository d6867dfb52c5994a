// `handover` — the hub's command line. Errors are one clear line and a non-zero exit.
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { loadSettings } from './settings';
import { openDatabase } from './db/open';
import { schoolBadgeKey } from './records/people';
import { stationConfig } from './records/station-config';
import { ACCOUNT_USAGE, accountCommand, AccountUsageError, startupAccountNote } from './accounts/cli';
import { RECORDS_USAGE, recordsCommand, RecordsUsageError } from './cli/records-cli';
import { DESK_USAGE, deskCommand } from './cli/desk-cli';
import { createRecords } from './records';
import { BROKER_USAGE, brokerCommand, BrokerUsageError, refreshMosquittoFiles } from './broker/cli';

const USAGE = `usage: handover <command> [options]

commands:
  start                          hub + embedded broker + one simulated station (the demo)
  serve                          hub + embedded broker, no simulated station
  station add <id> [--lockers N] [--tls]
                                 register a station and print its configuration for flashing
                                 (--tls: over TLS to HANDOVER_MQTT_TLS_PORT, pinning HANDOVER_MQTT_TLS_CA)
${ACCOUNT_USAGE}
${BROKER_USAGE}
${RECORDS_USAGE}
${DESK_USAGE}

settings come from HANDOVER_DATA_DIR, HANDOVER_SITE, HANDOVER_MQTT_HOST, HANDOVER_MQTT_PORT,
HANDOVER_EMBEDDED_BROKER, HANDOVER_MQTT_TLS*, HANDOVER_MOSQUITTO_DIR, HANDOVER_HTTP_HOST and
HANDOVER_HTTP_PORT (see README.md).`;

class UsageError extends Error {}

async function runHub(demo: boolean): Promise<void> {
  // Loaded only to serve: the web server, broker and demo station are not needed by any other command.
  const { Hub } = await import('./hub');
  const hub = new Hub({ settings: loadSettings(), demo });
  await hub.start();
  console.log(`\nHandover hub running. Office page: ${hub.httpUrl}/   (Ctrl-C to stop)\n`);
  const signIn = await startupAccountNote(hub.accounts, demo);
  if (signIn) console.log(`${signIn}\n`);
  const stop = async () => {
    await hub.stop();
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

async function stationAdd(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({ args, options: { lockers: { type: 'string', default: '32' }, tls: { type: 'boolean', default: false } }, allowPositionals: true });
  const id = positionals[0];
  if (!id) throw new UsageError('station add needs a station id, e.g. handover station add room-12 --lockers 32');
  const lockers = Number(values.lockers);
  const settings = loadSettings();
  if (values.tls && !settings.mqttTlsCa) throw new UsageError('station add --tls needs HANDOVER_MQTT_TLS_CA: the station pins the CA that signed the broker\'s certificate');
  const { db } = await openDatabase(settings);
  try {
    const records = createRecords(db, settings);
    const station = await records.stations.add(settings.site, id, lockers);
    const assets = await records.assets.lockerConfig(station.id, station.lockers);
    const broker = values.tls ? { host: settings.mqttHost, port: settings.embeddedBroker ? settings.mqttTlsPort : settings.mqttPort, tls: { ca: fs.readFileSync(settings.mqttTlsCa!, 'utf8') } } : { host: settings.mqttHost, port: settings.mqttPort };
    const config = stationConfig(station, await schoolBadgeKey(db), broker, null, assets);
    console.log(JSON.stringify(config, null, 2));
    await refreshMosquittoFiles(db, settings);
  } finally {
    await db.close();
  }
}

export async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  try {
    if (command === 'start') return await runHub(true);
    if (command === 'serve') return await runHub(false);
    if (command === 'station' && rest[0] === 'add') return await stationAdd(rest.slice(1));
    if (command === 'account') return await accountCommand(rest);
    if (command === 'broker') return await brokerCommand(rest);
    if (command !== undefined && (await recordsCommand(command, rest))) return;
    if (command !== undefined && (await deskCommand(command, rest))) return;
    if (command === undefined || command === 'help' || command === '--help') {
      console.log(USAGE);
      return;
    }
    throw new UsageError(`unknown command ${JSON.stringify([command, ...rest].join(' '))}`);
  } catch (error) {
    console.error(`handover: ${(error as Error).message}`);
    if (error instanceof UsageError || error instanceof AccountUsageError || error instanceof RecordsUsageError || error instanceof BrokerUsageError) console.error(`run "handover help" for the commands`);
    process.exitCode = 1;
  }
}
