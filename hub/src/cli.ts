// `handover` — the hub's command line. Errors are one clear line and a non-zero exit.
import { checkEmbeddedBroker } from './broker/embedded-limit';
import fs from 'node:fs';
import { format, parseArgs } from 'node:util';
import { loadSettings } from './settings';
import { terminalText } from './log';
import { openDatabase } from './db/open';
import { schoolBadgeKey } from './records/people';
import { stationConfig } from './records/station-config';
import { parseTiming, TIMING_SETTINGS, withTiming } from './cli/station-timing';
import { timingProblems, unknownSettingProblems } from '../../protocol/station-config';
import { ACCOUNT_USAGE, accountCommand, AccountUsageError, startupAccountNote } from './accounts/cli';
import { RECORDS_USAGE, recordsCommand, RecordsUsageError } from './cli/records-cli';
import { DESK_USAGE, deskCommand } from './cli/desk-cli';
import { FIRMWARE_USAGE, firmwareCommand, FirmwareUsageError } from './cli/firmware-cli';
import { createRecords } from './records';
import { SCHOOLS_USAGE, schoolsCommand, SchoolsUsageError } from './cli/schools-cli';
import type { StationRow } from './records/stations';
import { BROKER_USAGE, brokerCommand, BrokerUsageError, refreshMosquittoFiles } from './broker/cli';
import { operatorLabel } from './cli/operator';

const USAGE = `usage: handover <command> [options]

commands:
  start                          hub + embedded broker + one simulated station (the demo)
  serve                          hub + embedded broker, no simulated station
  station add <id> [--lockers N] [--tls] [--timing NAME=VALUE]... [--school <id>]
                                 register a station and print its configuration for flashing
                                 (--school: whose station it is, needed with several schools)
                                 (--tls: over TLS to HANDOVER_MQTT_TLS_PORT, pinning HANDOVER_MQTT_TLS_CA;
                                 --timing: e.g. unlockPulseMs=800, within the bounds in README.md)
${ACCOUNT_USAGE}
${SCHOOLS_USAGE}
${BROKER_USAGE}
${RECORDS_USAGE}
${DESK_USAGE}
${FIRMWARE_USAGE}

settings come from HANDOVER_DATA_DIR, HANDOVER_SITE, HANDOVER_MQTT_HOST, HANDOVER_MQTT_PORT,
HANDOVER_EMBEDDED_BROKER, HANDOVER_MQTT_TLS*, HANDOVER_MOSQUITTO_DIR, HANDOVER_HTTP_HOST and
HANDOVER_HTTP_PORT (see README.md).`;

class UsageError extends Error {}

async function runHub(demo: boolean): Promise<void> {
  // Loaded only to serve: the web server, broker and demo station are not needed by any other command.
  const { Hub } = await import('./hub');
  const hub = new Hub({ settings: loadSettings(), demo });
  await hub.start();
  // On a terminal, set apart from the log; in JSON, a log record like every other line of output.
  const say = (text: string) => (hub.settings.logFormat === 'json' ? hub.log.info(text) : console.log(`\n${text}\n`));
  say(`Handover hub running. Office page: ${hub.httpUrl}/   (Ctrl-C to stop)`);
  const signIn = await startupAccountNote(hub.accounts, demo);
  if (signIn) say(signIn);
  const stop = async () => {
    await hub.stop();
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

async function stationAdd(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({ args, options: { lockers: { type: 'string', default: '32' }, tls: { type: 'boolean', default: false }, timing: { type: 'string', multiple: true, default: [] }, school: { type: 'string' } }, allowPositionals: true });
  const id = positionals[0];
  if (!id) throw new UsageError('station add needs a station id, e.g. handover station add room-12 --lockers 32');
  const lockers = Number(values.lockers);
  const settings = loadSettings();
  if (values.tls && !settings.mqttTlsCa) throw new UsageError('station add --tls needs HANDOVER_MQTT_TLS_CA: the station pins the CA that signed the broker\'s certificate');
  let timing;
  try {
    timing = parseTiming(values.timing);
  } catch (error) {
    throw new UsageError(`station add ${(error as Error).message}`);
  }
  const broker = values.tls ? { host: settings.mqttHost, port: settings.embeddedBroker ? settings.mqttTlsPort : settings.mqttPort, tls: { ca: fs.readFileSync(settings.mqttTlsCa!, 'utf8') } } : { host: settings.mqttHost, port: settings.mqttPort };
  // Checked before the station is registered: a refused value leaves nothing behind.
  const draft = withTiming(stationConfig({ id, site: settings.site, lockers, station_key: '00'.repeat(32) } as StationRow, new Uint8Array(32), broker), timing);
  const problems = [...timingProblems(draft), ...unknownSettingProblems(draft)];
  if (problems.length > 0) {
    const hint = Object.keys(timing.unknown).length > 0 ? `\nthe timing settings are ${TIMING_SETTINGS.join(', ')}` : '';
    throw new UsageError(`station add: ${problems.join('; ')}${hint}`);
  }
  const { db } = await openDatabase(settings);
  try {
    const records = createRecords(db, settings);
    const station = await records.stations.add(await records.schools.resolve(values.school), id, lockers, operatorLabel());
    const assets = await records.assets.lockerConfig(station.id, station.lockers);
    const config = withTiming(stationConfig(station, await schoolBadgeKey(db), broker, null, assets), timing);
    console.log(JSON.stringify(config, null, 2));
    await refreshMosquittoFiles(db, settings);
    if (settings.embeddedBroker) {
      const check = await checkEmbeddedBroker(db, (await records.schools.list()).length, settings.embeddedBrokerMaxStations);
      if (check.refusal) console.error(`handover: warning: the station is registered, but the hub will not start: ${check.refusal}`);
      else if (check.warning) console.error(`handover: warning: ${check.warning}`);
    }
  } finally {
    await db.close();
  }
}

export async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  // What a command prints holds names from an MIS export: nothing in them runs on the terminal
  // (the running hub logs through log.ts, which escapes its own).
  const { log, error } = console;
  if (command !== 'start' && command !== 'serve') {
    console.log = (...args: unknown[]) => log(terminalText(format(...args)));
    console.error = (...args: unknown[]) => error(terminalText(format(...args)));
  }
  try {
    if (command === 'start') return await runHub(true);
    if (command === 'serve') return await runHub(false);
    if (command === 'station' && rest[0] === 'add') return await stationAdd(rest.slice(1));
    if (command === 'account') return await accountCommand(rest);
    if (command === 'school') return await schoolsCommand(rest);
    if (command === 'broker') return await brokerCommand(rest);
    if (command === 'firmware') return await firmwareCommand(rest);
    if (command !== undefined && (await recordsCommand(command, rest))) return;
    if (command !== undefined && (await deskCommand(command, rest))) return;
    if (command === undefined || command === 'help' || command === '--help') {
      console.log(USAGE);
      return;
    }
    throw new UsageError(`unknown command ${JSON.stringify([command, ...rest].join(' '))}`);
  } catch (error) {
    console.error(`handover: ${(error as Error).message}`);
    if (error instanceof UsageError || error instanceof AccountUsageError || error instanceof RecordsUsageError || error instanceof BrokerUsageError || error instanceof FirmwareUsageError || error instanceof SchoolsUsageError) console.error(`run "handover help" for the commands`);
    process.exitCode = 1;
  } finally {
    console.log = log;
    console.error = error;
  }
}
