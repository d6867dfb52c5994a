// `handover firmware …` (issue 19): upload a bundle, roll it out in stages, pause and resume, and
// see each station's version and progress. The running hub carries the rollout out (firmware/rollout.ts);
// these commands change its records, each audited, for the ICT lead or the headteacher named with --by.
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { openDatabase } from '../db/open';
import { createRecords } from '../records';
import { FirmwareRecords, type Stage } from '../firmware/records';
import { loadSettings } from '../settings';
import { RuleError } from '../records/access';
import { actingIn } from './records-cli';

export class FirmwareUsageError extends Error {}

export const FIRMWARE_USAGE = `  firmware upload <dist/firmware.js> --by STAFF       store a firmware bundle for network updates
  firmware rollout <version> (--stage one|room|all [--count N] | --station ID...) [--rollback] --by STAFF
                                 send it to one station, a room's worth (4 unless --count), or all;
                                 --rollback to go back to an older version
  firmware pause --by STAFF | firmware resume --by STAFF
                                 paused, what a station holds is kept and the transfer goes on when resumed
  firmware withdraw (<station>... | --all) --by STAFF
                                 stop sending firmware to these stations; each erases the part it holds
  firmware status [--by STAFF]   each station's target version, state and progress (--by: of their school)`;

export async function firmwareCommand(rest: string[]): Promise<void> {
  const [sub, ...argv] = rest;
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: { by: { type: 'string' }, stage: { type: 'string' }, count: { type: 'string' }, station: { type: 'string', multiple: true }, rollback: { type: 'boolean', default: false }, all: { type: 'boolean', default: false } },
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    throw new FirmwareUsageError((error as Error).message);
  }
  const { values, positionals } = parsed;
  const settings = loadSettings();
  const { db } = await openDatabase(settings);
  try {
    const records = createRecords(db, settings);
    const firmware = new FirmwareRecords(db, records.audit);
    const actor = async () => {
      if (!values.by) throw new FirmwareUsageError('name the member of staff acting with --by (MIS id, staff code or #number)');
      return records.people.actor(values.by);
    };
    switch (sub) {
      case 'upload': {
        const file = positionals[0];
        if (!file) throw new FirmwareUsageError('firmware upload needs the bundle file, e.g. handover firmware upload dist/firmware.js --by S-ICT');
        let bytes: Uint8Array;
        try {
          bytes = new Uint8Array(fs.readFileSync(file));
        } catch (error) {
          throw new FirmwareUsageError(`cannot read ${file}: ${(error as Error).message}`);
        }
        const bundle = await firmware.upload(bytes, await actor());
        console.log(`firmware ${bundle.version} stored (${bundle.size} bytes, hash ${bundle.hash.slice(0, 16)}…); roll it out with: handover firmware rollout ${bundle.version} --stage one --by …`);
        return;
      }
      case 'rollout': {
        const version = positionals[0];
        if (!version) throw new FirmwareUsageError('firmware rollout needs a version, e.g. handover firmware rollout 0.4.0 --stage one --by S-ICT');
        const stage = values.stage as Stage | undefined;
        if (stage !== undefined && !['one', 'room', 'all'].includes(stage)) throw new FirmwareUsageError('--stage must be one, room or all');
        if (stage !== undefined && values.station?.length) throw new FirmwareUsageError('give --stage or --station, not both');
        const count = values.count === undefined ? undefined : Number(values.count);
        if (count !== undefined && (!Number.isInteger(count) || count < 1)) throw new FirmwareUsageError('--count must be a whole number from 1');
        // A school's member of staff rolls out to their school's stations only (issue 16), as the page does.
        const acting = await actingIn(records, await actor());
        const chosen = await firmware.rollout(version, { stations: values.station, stage: stage ?? (values.station?.length ? undefined : 'one'), count, within: (id) => acting.scope.station(id) }, values.rollback === true, acting.actor);
        console.log(`firmware ${version}${values.rollback ? ' (rollback)' : ''} to ${chosen.join(', ')}: the running hub sends it to each station while it is online`);
        return;
      }
      case 'pause':
      case 'resume': {
        // The pause holds every school's rollout: in a trust a trust account does it on the Stations
        // page; a school's staff withdraw their own stations' updates instead (issue 16).
        const acting = await actingIn(records, await actor());
        if (!acting.scope.everything) throw new RuleError('firmware.manage', `the pause holds every school's rollout: a trust account pauses it on the Stations page; to stop your school's stations, withdraw their updates (handover firmware withdraw <station> --by ${values.by})`);
        await firmware.setPaused(sub === 'pause', acting.actor);
        console.log(sub === 'pause' ? 'firmware rollout paused: no transfer starts or goes on until resumed' : 'firmware rollout resumed');
        return;
      }
      case 'withdraw': {
        if (values.all && positionals.length > 0) throw new FirmwareUsageError('give the stations or --all, not both');
        if (!values.all && positionals.length === 0) throw new FirmwareUsageError('firmware withdraw needs the stations or --all, e.g. handover firmware withdraw room-12 --by S-ICT');
        const acting = await actingIn(records, await actor());
        const { withdrawn, kept } = await firmware.withdraw({ stations: positionals, all: values.all === true, within: (id) => acting.scope.station(id) }, acting.actor);
        console.log(`firmware withdrawn from ${withdrawn.join(', ')}: each erases the part it holds when it is next online`);
        for (const row of kept) console.log(`${row.station} kept: ${row.why}`);
        return;
      }
      case 'status': {
        const paused = await firmware.paused();
        // --by: that person's school's stations; without it (the server's operator), every school's.
        const scope = values.by ? (await actingIn(records, await actor())).scope : null;
        const targets = (await firmware.targets()).filter((target) => !scope || scope.station(target.station_id));
        if (paused) console.log('rollout paused');
        const aborts = (await firmware.aborts()).filter((abort) => !scope || scope.station(abort.station_id));
        if (targets.length === 0 && aborts.length === 0) console.log('no firmware rolled out');
        for (const abort of aborts) console.log(`${abort.station_id}\t${abort.version}\t${abort.reason}: to erase the part it holds when next online`);
        for (const target of targets) {
          const percent = target.total > 0 ? Math.floor((100 * target.sent) / target.total) : 0;
          console.log(`${target.station_id}\t${target.version}${target.rollback ? ' (rollback)' : ''}\t${target.state}${target.state === 'sending' || target.state === 'waiting' ? ` ${percent}%` : ''}${target.last_error ? `\t${target.last_error}` : ''}`);
        }
        return;
      }
      default:
        throw new FirmwareUsageError(`unknown firmware command ${JSON.stringify(sub ?? '')}`);
    }
  } finally {
    await db.close();
  }
}
