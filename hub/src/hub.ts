// The hub: database, broker, ingest and web page, started and stopped as one.
import fs from 'node:fs';
import type { FastifyInstance } from 'fastify';
import type { IClientOptions } from 'mqtt';
import { startBroker, type RunningBroker } from './broker';
import { checkEmbeddedBroker } from './broker/embedded-limit';
import { hubPassword, hubShareGroup, hubUsernames, HUB_CLIENT_PREFIX } from './broker/access';
import { auditKeyMismatch } from './cluster/audit-key-check';
import { ChangeRelay } from './cluster/change-relay';
import { LeaderLock, SoleHub, type Leadership } from './cluster/leadership';
import { BrokerAccounts } from './broker/accounts';
import { describeDatabase, openDatabase, sqliteFile } from './db/open';
import type { SqlDatabase } from './db/sql';
import { Ingest } from './ingest';
import { createLogger, type Logger, type LogSink } from './log';
import { CustodyRecords } from './records/custody';
import { createRecords, type Records } from './records';
import { Housekeeping } from './rules/housekeeping';
import { Notifier } from './notify/notifier';
import { CheckpointSchedule } from './audit/checkpoints';
import { People } from './records/people';
import { Stations } from './records/stations';
import type { Settings } from './settings';
import { buildWebServer } from './web/server';
import { databaseSignInStore } from './web/shared-sign-in-limits';
import { Accounts } from './accounts/accounts';
import { DemoStation } from './demo/demo-station';
import { StationLink } from './stations/station-link';
import { FirmwareRecords } from './firmware/records';
import { FirmwareRollout } from './firmware/rollout';
import { HomeAssistantDiscovery } from './stations/home-assistant';
import { BadgeLists } from './stations/badge-lists';
import { BadgeSync } from './stations/badge-sync';
import { LockerRestore } from './stations/locker-restore';

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
  /** E-mail notifications (off without HANDOVER_SMTP_HOST). */
  notifier: Notifier | null = null;
  /** Keyed checkpoints of the audit chain's head, exported for the office to keep (audit/checkpoints.ts). */
  checkpoints: CheckpointSchedule | null = null;
  link!: StationLink;
  /** The badge list every station should hold, rebuilt when the records change it. */
  badgeLists!: BadgeLists;
  /** Sends it to the stations and tracks which one holds what. */
  badgeSync!: BadgeSync;
  firmware!: FirmwareRecords;
  firmwareRollout!: FirmwareRollout;
  /** Gives a replaced board the records' locker states, once per board. */
  lockerRestore!: LockerRestore;
  broker: RunningBroker | null = null;
  /** Which of several hubs runs the once-only jobs (a hub alone always does). */
  leadership!: Leadership;
  /** Several hubs: what the others stored, for this hub's live page. */
  relay: ChangeRelay | null = null;
  web!: FastifyInstance;
  /** Office-page accounts (hub/src/accounts). */
  accounts!: Accounts;
  demo: DemoStation | null = null;
  private options: HubOptions;
  mqttPort = 0;
  httpUrl = '';
  /** The broker's URL as the hub reaches it (mqtt:// or mqtts://). */
  mqttUrl = '';
  private mqttPassword = '';

  constructor(options: HubOptions) {
    this.options = options;
    this.settings = options.settings;
    this.log = createLogger('hub', { level: this.settings.logLevel, format: this.settings.logFormat, sink: options.logSink });
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
    if (settings.embeddedBroker) {
      const check = await checkEmbeddedBroker(this.db, (await this.records.schools.list()).length, settings.embeddedBrokerMaxStations);
      if (check.refusal) {
        await this.db.close();
        throw new Error(check.refusal);
      }
      if (check.warning) this.log.warn(check.warning);
    }
    // Several hubs (HANDOVER_HUB_NAME; settings.ts requires PostgreSQL and an external broker).
    const hubName = settings.hubName;
    if (hubName) {
      const mismatch = await auditKeyMismatch(this.db, settings, hubName);
      if (mismatch) {
        await this.db.close();
        throw new Error(mismatch);
      }
    }
    this.leadership = hubName && settings.databaseUrl ? new LeaderLock(settings.databaseUrl, hubName, this.log.child('cluster')) : new SoleHub();
    await this.leadership.start();
    const leading = () => this.leadership.leading;
    this.housekeeping = new Housekeeping({ lostProperty: this.records.lostProperty, dayCards: this.records.dayCards, now: () => this.records.clock.now(), log: this.log.child('rules') });
    this.housekeeping.leading = leading;
    await this.housekeeping.start();
    this.checkpoints = new CheckpointSchedule(this.db, settings, settings.checkpointMinutes, (message) => this.log.warn(message));
    this.checkpoints.leading = leading;
    this.checkpoints.start();
    // A round a minute, or sooner when retries are set shorter (tests).
    this.notifier = new Notifier(this.records, settings, this.log.child('mail'), Math.min(60_000, settings.smtpRetrySeconds * 1000));
    this.notifier.leading = leading;
    this.notifier.start();

    this.mqttPort = settings.mqttPort;
    this.mqttPassword = await hubPassword(this.db);
    if (settings.embeddedBroker) {
      const readers = new BrokerAccounts(this.db);
      const tlsListener = settings.mqttTlsCert && settings.mqttTlsKey ? { port: settings.mqttTlsPort, cert: fs.readFileSync(settings.mqttTlsCert, 'utf8'), key: fs.readFileSync(settings.mqttTlsKey, 'utf8') } : null;
      this.broker = await startBroker(
        settings.mqttHost,
        settings.mqttPort,
        null,
        {
          scope: { site: settings.site, haPrefix: settings.homeAssistantPrefix },
          station: async (id) => {
            const row = await this.stations.get(id);
            return row ? { site: row.site, key: row.station_key } : undefined;
          },
          hubPassword: this.mqttPassword,
          readerHash: async (username) => (await readers.get(username))?.password_hash,
          log: this.log.child('broker'),
        },
        tlsListener,
      );
      this.mqttPort = this.broker.port;
      this.log.info(`embedded MQTT broker on mqtt://${settings.mqttHost}:${this.mqttPort}${this.broker.tlsPort !== null ? ` and mqtts://${settings.mqttHost}:${this.broker.tlsPort}` : ''} (every client signs in)`);
    }
    const secure = settings.mqttTls && !settings.embeddedBroker;
    this.mqttUrl = `${secure ? 'mqtts' : 'mqtt'}://${settings.mqttHost}:${this.mqttPort}`;
    const usernames = hubUsernames(hubName);
    const named = hubName ? `-${hubName}` : '';
    this.ingest = new Ingest({
      brokerUrl: this.mqttUrl,
      clientId: `${HUB_CLIENT_PREFIX}${settings.site}${named}`,
      mqttOptions: this.mqttOptions(usernames.ingest),
      ...(hubName ? { shareGroup: hubShareGroup(this.mqttPassword) } : {}),
      onChanges: (changes) => this.relay?.publish(changes),
      db: this.db,
      custody: this.custody,
      log: this.log.child('ingest'),
      maxBatch: settings.ingestBatch,
      commitDelayMs: settings.testCommitDelayMs,
    });
    await this.ingest.start();
    if (hubName && settings.databaseUrl) {
      this.relay = new ChangeRelay(settings.databaseUrl, hubName, this.ingest, this.log.child('cluster'));
      await this.relay.start();
    }

    this.link = new StationLink({
      brokerUrl: this.mqttUrl,
      clientId: `${HUB_CLIENT_PREFIX}link-${settings.site}${named}`,
      mqttOptions: this.mqttOptions(usernames.link),
      liveness: this.broker?.guard ? 'session' : 'status',
      site: settings.site,
      log: this.log.child('link'),
      keyOf: async (id) => (await this.stations.get(id))?.station_key,
      lockersOf: async (id) => (await this.stations.get(id))?.lockers,
      sharedReplies: Boolean(hubName),
    });
    this.link.leading = leading;
    if (this.options.demo) await DemoStation.seed({ people: this.people, stations: this.stations, assets: this.records.assets, db: this.db, site: settings.site });
    this.badgeLists = new BadgeLists({ db: this.db, people: this.people, log: this.log.child('badges'), home: settings.site });
    await this.badgeLists.start();
    this.badgeSync = new BadgeSync({ link: this.link, lists: this.badgeLists, log: this.log.child('badges'), overload: this.ingest });
    this.badgeSync.leading = leading;
    this.badgeSync.start();
    this.lockerRestore = new LockerRestore({ link: this.link, db: this.db, records: this.records, log: this.log.child('restore') });
    this.lockerRestore.leading = leading;
    this.lockerRestore.start();
    this.firmware = new FirmwareRecords(this.db, this.records.audit);
    this.firmwareRollout = new FirmwareRollout({ link: this.link, records: this.firmware, log: this.log.child('firmware'), confirmSec: settings.firmwareConfirmSeconds });
    this.firmwareRollout.leading = leading;
    this.firmwareRollout.start();
    // Another hub stopped or died and this one took over: what it would have sent, this one sends.
    this.leadership.on('gained', () => {
      this.badgeSync.reconsiderAll();
      this.lockerRestore.reconsiderAll();
    });
    const guard = this.broker?.guard;
    if (guard) {
      guard.on('session', ({ stationId, online }: { stationId: string; online: boolean }) => this.link.onSession(stationId, online));
      // Stations that connected while the hub was starting (their retained birth reaches the link when it subscribes).
      for (const stationId of guard.connectedStations()) this.link.onSession(stationId, true);
    }
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
        assets: this.records.assets,
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
    this.web = await buildWebServer({ records: this.records, accounts: this.accounts, ingest: this.ingest, link: this.link, badges: this.badgeSync, demo: this.demo, brokerRefusals: this.broker?.guard ? () => this.broker!.guard!.refusals() : null, settings, notifier: this.notifier, log: this.log.child('web'), trustProxy: settings.trustProxy, ...(hubName ? { signInStore: databaseSignInStore(this.db) } : {}) });
    await this.web.listen({ host: settings.httpHost, port: settings.httpPort });
    const address = this.web.server.address();
    const port = typeof address === 'object' && address ? address.port : settings.httpPort;
    this.httpUrl = `http://${settings.httpHost}:${port}`;
    this.log.info(`office page on ${this.httpUrl}/`);
  }

  /**
   * How the hub's clients sign in to the broker: `username` is HUB_USERNAME, HUB_LINK_USERNAME or
   * another `handover_hub_…` name (tests and tools that read everything use one, with a client id
   * starting HUB_CLIENT_PREFIX); the CA from HANDOVER_MQTT_TLS_CA when the hub connects over TLS.
   */
  mqttOptions(username: string): IClientOptions {
    const ca = this.settings.mqttTls && !this.settings.embeddedBroker && this.settings.mqttTlsCa ? { ca: fs.readFileSync(this.settings.mqttTlsCa, 'utf8') } : {};
    return { username, password: this.mqttPassword, ...ca };
  }

  async stop(): Promise<void> {
    await this.web?.close();
    this.demo?.stop();
    this.badgeSync?.stop();
    this.firmwareRollout?.stop();
    this.lockerRestore?.stop();
    this.badgeLists?.stop();
    await this.link?.stop();
    await this.ingest?.stop();
    await this.housekeeping?.stop();
    await this.notifier?.stop();
    await this.checkpoints?.stop();
    await this.relay?.stop();
    await this.leadership?.stop();
    await this.broker?.close();
    await this.db?.close();
  }
}
