// The main job's simulated station: a demo school in the database, one registered 8-locker
// station, and that station simulated with the built firmware, talking to the hub's broker.
import { EventEmitter } from 'node:events';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SimulatedStation } from '../../../hardware/sim/simulated-station';
import { HUMAN_PACE, visitLocker } from '../../../hardware/sim/scripted-person';
import { badgeFileName } from '../../../protocol/badge-list';
import type { SqlDatabase } from '../db/sql';
import type { Logger } from '../log';
import { schoolBadgeKey, type People } from '../records/people';
import { stationConfig } from '../records/station-config';
import type { Stations } from '../records/stations';
import { DEMO_CARDS, seedDemoSchool, type DemoCard } from './demo-school';

export const DEMO_STATION_ID = 'demo-1';
export const BUNDLE_PATH = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../dist/firmware.js');

export interface DemoStationOptions {
  people: People;
  stations: Stations;
  db: SqlDatabase;
  site: string;
  dataDir: string;
  brokerHost: string;
  brokerPort: number;
  log: Logger;
  bundlePath?: string;
}

export class DemoStation extends EventEmitter {
  private options: DemoStationOptions;
  station!: SimulatedStation;

  constructor(options: DemoStationOptions) {
    super();
    this.options = options;
  }

  async start(): Promise<void> {
    const { people, stations, db, log } = this.options;
    const count = await db.get<{ n: number }>('SELECT COUNT(*) AS n FROM people');
    if (!count?.n) await seedDemoSchool(people);
    const row = (await stations.get(DEMO_STATION_ID)) ?? (await stations.add(this.options.site, DEMO_STATION_ID, 8));
    const config = stationConfig(row, await schoolBadgeKey(db), { host: this.options.brokerHost, port: this.options.brokerPort });

    this.station = new SimulatedStation({
      flashFile: path.join(this.options.dataDir, 'stations', `${DEMO_STATION_ID}.flash`),
      log: (line) => log.info(line),
    });
    this.station.installFirmware(this.options.bundlePath ?? BUNDLE_PATH);
    this.station.writeConfig(config);
    this.station.writeFile(badgeFileName(1), await people.stationBadgeList(1));
    this.station.on('unlock', (locker: number) => this.emit('physical', { step: 'unlocked', locker }));
    this.station.boot();
    log.info(`simulated station ${DEMO_STATION_ID} booted (${row.lockers} lockers, firmware ${this.options.bundlePath ?? BUNDLE_PATH})`);
  }

  cards(): DemoCard[] {
    return DEMO_CARDS;
  }

  /** A demo pupil taps, opens the released locker, and closes it again. */
  tap(uid: string): Promise<{ locker: number | null }> {
    return visitLocker(this.station, uid, HUMAN_PACE, (step) => this.emit('physical', { ...step, uid }));
  }

  stop(): void {
    this.station?.powerOff();
  }
}
