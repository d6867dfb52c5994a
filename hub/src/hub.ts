// The hub: database, broker, ingest and web page, started and stopped as one.
import type { FastifyInstance } from 'fastify';
import { startBroker, type RunningBroker } from './broker';
import { describeDatabase, openDatabase, sqliteFile } from './db/open';
import type { SqlDatabase } from './db/sql';
import { Ingest } from './ingest';
import { createLogger, type Logger, type LogSink } from './log';
import { CustodyRecords } from './records/custody';
import { createRecords, type Records } from './records';
import { Housekeeping } from './rules/housekeeping';
import { CheckpointSchedule } from './audit/checkpoints';
import { People } from './records/people';
import { Stations } from './records/stations';
import type { Settings } from './settings';
import { buildWebServer } from './web/server';
import { Accounts } from './accounts/accounts';
import { DemoStation } from './demo/demo-station';
import { StationLink } from './stations/station-link';
import { HomeAssistantDiscovery } from './stations/home-assistant';

export interface HubOptions {
  settings: Settings;
  /** Start one simulated 8-locker station running dist/firmware.js, with a demo school. */
  demo: boolean;
  logSink?: LogSink;
}

export class Hub {
  readonly settings: Settings;
  readonly log: Logger;
  db!: SqlDatabase;
  /** Every record module (records/index.ts); people, stations and custody below are the same objects. */
  records!: Records;
  people!: People;
  stations!: Stations;
  custody!: CustodyRecords;
  ingest!: Ingest;
  housekeeping: Housekeeping | null = null;
  /** Keyed checkpoints of the audit chain's head, exported for the office to keep (audit/checkpoints.ts). */
  checkpoints: CheckpointSchedule | null = null;
  link!: StationLink;
  /** The badge list every station should hold; its version is when the hub built it (seconds). */
  private badgeList: { version: number; file: Uint8Array; key: string } | null = null;
  broker: RunningBroker | null = null;
  web!: FastifyInstance;
  /** Office-page accounts (hub/src/accounts). */
  accounts!: Accounts;
  demo: DemoStation | null = null;
  private options: HubOptions;
  mqttPort = 0;
  httpUrl = '';

  constructor(options: HubOptions) {
    this.options = options;
    this.settings = options.settings;
    this.log = createLogger('hub', options.logSink);
  }

  /** The SQLite file (when DATABASE_URL does not select PostgreSQL). */
  get databaseFile(): string {
    return sqliteFile(this.settings);
  }

  async start(): Promise<void> {
    const settings = this.settings;
    const { db, steps } = await openDatabase(settings);
    this.db = db;
    this.log.info(`database ${describeDatabase(settings)} (schema step ${steps})`);
    this.records = createRecords(this.db, settings);
    this.people = this.records.people;
    this.stations = this.records.stations;
    this.custody = this.records.custody;
    this.housekeeping = new Housekeeping({ lostProperty: this.records.lostProperty, log: this.log.child('rules') });
    await this.housekeeping.start();
    this.checkpoints = new CheckpointSchedule(this.db, settings, settings.checkpointMinutes, (message) => this.log.warn(message));
    this.checkpoints.start();

    this.mqttPort = settings.mqttPort;
    if (settings.embeddedBroker) {
      this.broker = await startBroker(settings.mqttHost, settings.mqttPort);
      this.mqttPort = this.broker.port;
      this.log.info(`embedded MQTT broker on mqtt://${settings.mqttHost}:${this.mqttPort}`);
    }
    this.ingest = new Ingest({
      brokerUrl: `mqtt://${settings.mqttHost}:${this.mqttPort}`,
      clientId: `handover-hub-${settings.site}`,
      db: this.db,
      custody: this.custody,
      log: this.log.child('ingest'),
      maxBatch: settings.ingestBatch,
      commitDelayMs: settings.testCommitDelayMs,
    });
    await this.ingest.start();

    this.link = new StationLink({
      brokerUrl: `mqtt://${settings.mqttHost}:${this.mqttPort}`,
      clientId: `handover-hub-link-${settings.site}`,
      site: settings.site,
      log: this.log.child('link'),
      keyOf: async (id) => (await this.stations.get(id))?.station_key,
      badgeList: () => this.currentBadgeList(),
    });
    await this.link.start();
    if (settings.homeAssistantPrefix) {
      const discovery = new HomeAssistantDiscovery({
        site: settings.site,
        prefix: settings.homeAssistantPrefix,
        publish: (topic, payload, retain) => this.link.publishPlain(topic, payload, retain),
      });
      this.link.on('state', (state) => discovery.update(state));
    }

    if (this.options.demo) {
      this.demo = new DemoStation({
        people: this.people,
        stations: this.stations,
        db: this.db,
        site: settings.site,
        dataDir: settings.dataDir,
        brokerHost: settings.mqttHost,
        brokerPort: this.mqttPort,
        log: this.log.child('station'),
      });
      await this.demo.start();
    }

    this.accounts = new Accounts(this.db, this.records.audit);
    await this.accounts.prepare();
    this.web = await buildWebServer({ records: this.records, accounts: this.accounts, ingest: this.ingest, link: this.link, demo: this.demo, settings, log: this.log.child('web'), trustProxy: settings.trustProxy });
    await this.web.listen({ host: settings.httpHost, port: settings.httpPort });
    const address = this.web.server.address();
    const port = typeof address === 'object' && address ? address.port : settings.httpPort;
    this.httpUrl = `http://${settings.httpHost}:${port}`;
    this.log.info(`office page on ${this.httpUrl}/`);
  }

  /** Rebuilt when the badges change; a new content gets a newer version. */
  async currentBadgeList(): Promise<{ version: number; file: Uint8Array } | null> {
    const file = await this.people.stationBadgeList(0);
    const key = Buffer.from(file.subarray(8)).toString('base64');
    if (!this.badgeList || this.badgeList.key !== key) {
      const version = Math.max(Math.floor(Date.now() / 1000), (this.badgeList?.version ?? 0) + 1);
      this.badgeList = { version, file: await this.people.stationBadgeList(version), key };
    }
    return this.badgeList;
  }

  async stop(): Promise<void> {
    await this.web?.close();
    this.demo?.stop();
    await this.link?.stop();
    await this.ingest?.stop();
    await this.housekeeping?.stop();
    await this.checkpoints?.stop();
    await this.broker?.close();
    await this.db?.close();
  }
}
