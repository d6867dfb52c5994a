// `handover` — the hub's command line. Errors are one clear line and a non-zero exit.
import { parseArgs } from 'node:util';
import { loadSettings } from './settings';
import { openDatabase } from './db/open';
import { schoolBadgeKey } from './records/people';
import { stationConfig } from './records/station-config';
import { ACCOUNT_USAGE, accountCommand, AccountUsageError, startupAccountNote } from './accounts/cli';
import { RECORDS_USAGE, recordsCommand, RecordsUsageError } from './cli/records-cli';
import { createRecords } from './records';

const USAGE = `usage: handover <command> [options]

commands:
  start                          hub + embedded broker + one simulated station (the demo)
  serve                          hub + embedded broker, no simulated station
  station add <id> [--lockers N] register a station and print its configuration for flashing
${ACCOUNT_USAGE}
${RECORDS_USAGE}

settings come from HANDOVER_DATA_DIR, HANDOVER_SITE, HANDOVER_MQTT_HOST, HANDOVER_MQTT_PORT,
HANDOVER_EMBEDDED_BROKER, HANDOVER_HTTP_HOST and HANDOVER_HTTP_PORT (see README.md).`;

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
  const { values, positionals } = parseArgs({ args, options: { lockers: { type: 'string', default: '32' } }, allowPositionals: true });
  const id = positionals[0];
  if (!id) throw new UsageError('station add needs a station id, e.g. handover station add room-12 --lockers 32');
  const lockers = Number(values.lockers);
  const settings = loadSettings();
  const { db } = await openDatabase(settings);
  try {
    const records = createRecords(db, settings);
    const station = await records.stations.add(settings.site, id, lockers);
    const assets = await records.assets.lockerConfig(station.id, station.lockers);
    const config = stationConfig(station, await schoolBadgeKey(db), { host: settings.mqttHost, port: settings.mqttPort }, null, assets);
    console.log(JSON.stringify(config, null, 2));
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
    if (command !== undefined && (await recordsCommand(command, rest))) return;
    if (command === undefined || command === 'help' || command === '--help') {
      console.log(USAGE);
      return;
    }
    throw new UsageError(`unknown command ${JSON.stringify([command, ...rest].join(' '))}`);
  } catch (error) {
    console.error(`handover: ${(error as Error).message}`);
    if (error instanceof UsageError || error instanceof AccountUsageError || error instanceof RecordsUsageError) console.error(`run "handover help" for the commands`);
    process.exitCode = 1;
  }
}
