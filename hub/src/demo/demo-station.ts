// The main job's simulated station: a demo school in the database, one registered 8-locker
// station (lockers 1–5 for phones, 6–8 home to the demo's sticks and laptop), and that station
// simulated with the built firmware, talking to the hub's broker. The page's demo buttons tap a
// card or an item's tag; whoever is at the station opens the door a tap released and shuts it again.
import { EventEmitter } from 'node:events';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { SimulatedStation } from '../../../hardware/sim/simulated-station';
import { HUMAN_PACE, tapCard, visitLocker } from '../../../hardware/sim/scripted-person';
import { badgeFileName } from '../../../protocol/badge-list';
import type { SqlDatabase } from '../db/sql';
import type { Logger } from '../log';
import type { Assets } from '../records/assets';
import { schoolBadgeKey, type People } from '../records/people';
import { stationConfig } from '../records/station-config';
import type { Stations } from '../records/stations';
import { DEMO_CARDS, DEMO_ITEMS, DEMO_SPARE_CARDS, DEMO_STATION_ID, isStaffCard, seedDemoSchool, type DemoCard, type DemoItem, type DemoSpareCard } from './demo-school';

export { DEMO_STATION_ID } from './demo-school';
export const BUNDLE_PATH = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../dist/firmware.js');

/** How long a door a staff tap released stands open before the demo's person shuts it. */
const DOOR_OPEN_MS = 1200;
/** How long after a demo staff or item tap a door that opens is theirs (a staff session is 3 s). */
const STAFF_AT_STATION_MS = 8000;
const BETWEEN_TAPS_MS = 600;

export interface DemoStationOptions {
  people: People;
  stations: Stations;
  assets: Assets;
  db: SqlDatabase;
  site: string;
  dataDir: string;
  brokerHost: string;
  brokerPort: number;
  log: Logger;
  bundlePath?: string;
}

/** What a demo button taps: a person's card, an item's tag or a spare card. */
export type DemoTap = { kind: 'card'; card: DemoCard } | { kind: 'item'; item: DemoItem } | { kind: 'spare'; spare: DemoSpareCard };

export class DemoStation extends EventEmitter {
  private options: DemoStationOptions;
  station!: SimulatedStation;
  private line: Promise<unknown> = Promise.resolve();
  /** Pupils' visits under way (each shuts the door its tap opened). */
  private visits = 0;
  /** Until then, a door that opens was released by a demo staff or item tap: the person there shuts it. */
  private staffAtStationUntil = 0;

  constructor(options: DemoStationOptions) {
    super();
    this.options = options;
  }

  /**
   * The demo station's record and the demo school's people and assets. The hub calls this before it
   * builds its first badge list: else it pushes a list without them over the one the simulated
   * station is flashed with, and the first taps open nothing.
   */
  static async seed(options: Pick<DemoStationOptions, 'people' | 'stations' | 'assets' | 'db' | 'site'>): Promise<void> {
    if (!(await options.stations.get(DEMO_STATION_ID))) await options.stations.add(options.site, DEMO_STATION_ID, 8);
    await seedDemoSchool(options.db, options.people, options.assets);
  }

  async start(): Promise<void> {
    const { people, stations, assets, db, log } = this.options;
    await DemoStation.seed(this.options);
    const row = (await stations.get(DEMO_STATION_ID))!;
    const lockerAssets = await assets.lockerConfig(row.id, row.lockers);
    const config = stationConfig(row, await schoolBadgeKey(db), { host: this.options.brokerHost, port: this.options.brokerPort }, null, lockerAssets);

    this.station = new SimulatedStation({
      flashFile: path.join(this.options.dataDir, 'stations', `${DEMO_STATION_ID}.flash`),
      log: (line) => log.info(line),
    });
    this.station.installFirmware(this.options.bundlePath ?? BUNDLE_PATH);
    this.station.writeConfig(config);
    this.station.writeFile(badgeFileName(1), await people.stationBadgeList(1));
    this.station.on('unlock', (locker: number) => this.emit('physical', { step: 'unlocked', locker }));
    // A door released by a demo staff tap or an item's return (a pupil's own visit shuts its door
    // itself): the member of staff takes or puts the item and shuts it. A door the office unlocks,
    // or an open-all, stays open until someone shuts it (shutOpenDoors, the page's button).
    this.station.on('door', (locker: number, open: boolean) => {
      if (!open) return;
      if (this.visits === 0) this.emit('physical', { step: 'door-open', locker });
      if (Date.now() > this.staffAtStationUntil) return;
      sleep(DOOR_OPEN_MS).then(() => {
        if (!this.station.lockers.doorOpen[locker]) return;
        this.station.lockers.closeDoor(locker);
        this.emit('physical', { step: 'door-closed', locker });
      });
    });
    this.station.boot();
    log.info(`simulated station ${DEMO_STATION_ID} booted (${row.lockers} lockers, firmware ${this.options.bundlePath ?? BUNDLE_PATH})`);
  }

  cards(): DemoCard[] {
    return DEMO_CARDS;
  }

  items(): DemoItem[] {
    return DEMO_ITEMS;
  }

  spares(): DemoSpareCard[] {
    return DEMO_SPARE_CARDS;
  }

  /** The card, item tag or spare card with this chip id, if the demo has one. */
  find(uid: string): DemoTap | null {
    const card = DEMO_CARDS.find((candidate) => candidate.uid === uid.toLowerCase());
    if (card) return { kind: 'card', card };
    const item = DEMO_ITEMS.find((candidate) => candidate.uid === uid.toLowerCase());
    if (item) return { kind: 'item', item };
    const spare = DEMO_SPARE_CARDS.find((candidate) => candidate.uid === uid.toLowerCase());
    return spare ? { kind: 'spare', spare } : null;
  }

  /**
   * A demo pupil (or whoever holds a spare card as their day card) taps, opens the released locker,
   * and closes it again; a member of staff or an item's tag is only tapped (what it starts — a loan, a release — opens a door by itself).
   */
  tap(uid: string): Promise<{ locker: number | null }> {
    // One person at the reader at a time, a moment apart (the reader takes the same card within a
    // few polls as one presentation): taps pressed quickly wait their turn.
    const turn = this.line.then(() => this.tapNow(uid));
    this.line = turn.then(
      () => sleep(BETWEEN_TAPS_MS),
      () => sleep(BETWEEN_TAPS_MS),
    );
    return turn;
  }

  private async tapNow(uid: string): Promise<{ locker: number | null }> {
    const found = this.find(uid);
    if (found && (found.kind === 'item' || (found.kind === 'card' && isStaffCard(found.card)))) {
      // A loan opens its locker when the staff session ends (a few seconds), a release at the second card.
      this.staffAtStationUntil = Date.now() + STAFF_AT_STATION_MS;
      await tapCard(this.station, uid);
      return { locker: null };
    }
    this.visits++;
    try {
      return await visitLocker(this.station, uid, HUMAN_PACE, (step) => this.emit('physical', { ...step, uid }));
    } finally {
      this.visits--;
    }
  }

  /** Someone shuts every door standing open; the lockers shut, in order. */
  shutOpenDoors(): number[] {
    const shut: number[] = [];
    this.station.lockers.doorOpen.forEach((open, locker) => {
      if (!open) return;
      this.station.lockers.closeDoor(locker);
      this.emit('physical', { step: 'door-closed', locker });
      shut.push(locker);
    });
    return shut;
  }

  stop(): void {
    this.station?.powerOff();
  }
}
