// Boot: read the configuration from flash, restore every locker's state, then bring up the
// reader, locks, doors and the link to the hub, and serve taps. Everything here is wiring; the
// decisions live in station/.
import { espruinoFlash, espruinoHardware, keepWifiUp } from './espruino/hardware';
import { loadConfig, type ConfigResult, type StationConfig } from './station/config';
import { BadgeList, BADGE_HASH_BYTES } from './station/badge-list';
import { Station } from './station/station';
import { EventLog } from './station/event-log';
import { LOCKER } from '../../protocol/lockers';
import { Journal, JOURNAL_DEFAULTS } from './storage/journal';
import { LockerStore } from './storage/locker-store';
import { LockBank, gpioLockOutputs, type LockOutputs } from './drivers/lock-bank';
import { gpioDoorInputs, type DoorInputs } from './drivers/door-bank';
import { Mcp23s17Bus, checkPlan } from './drivers/mcp23s17/bus';
import { ExpanderLockOutputs, expanderLockOutputs } from './drivers/mcp23s17/locks';
import { ExpanderDoorInputs } from './drivers/mcp23s17/doors';
import { Feedback } from './drivers/feedback';
import { Mfrc522, MFRC522_DEFAULTS, S_ANTICOLL, S_SELECT } from './drivers/mfrc522';
import { MqttClient } from './net/mqtt-client';
import { MqttParser } from './net/mqtt-packets';
import { Uplink } from './net/uplink';
import { CommandHandler } from './net/commands';
import { firmwareAtBoot } from './update/firmware-update';
import { firmwareVersionNumber } from '../../protocol/firmware';
import { StateReport } from './net/state-report';
import { seal, unseal } from './net/sealed';
import { hmacWithKey, prepareHmacKey } from './codec/hmac';
import { bytesToHex, hexToBytes, utf8Encode } from './codec/bytes';
import { DETAIL, EVENT, TOPIC, topicBase } from '../../protocol/wire';

// The bundle's version: the build names it on the first line, and network updates order by it (protocol/firmware.ts).
const FIRMWARE_VERSION = '0.3.0';

function boot(): void {
  const flash = espruinoFlash();
  let loaded: ConfigResult | null = loadConfig(flash);
  if (!loaded.ok) {
    console.log(loaded.error);
    return;
  }
  // The closures made below keep this function's scope alive for good: the configuration (about 50
  // variables on the interpreter) is let go at the end, once everything is built from it.
  let config: StationConfig | null = loaded.config;
  loaded = null;
  const hw = espruinoHardware({ sck: config.pins.sck, miso: config.pins.miso, mosi: config.pins.mosi, baud: config.spiBaud }, flash);
  // The interpreter's own functions where they fit, not closures: each closure kept costs variables.
  const log = hw.system.log;
  hw.system.enableWatchdog(config.watchdogSec);
  // Count boots in flash, so (station, board, boot, sequence) names every event uniquely, and events
  // from before the hub sent the time can still be ordered. The file holds "<boot>/<board>": the
  // board identity is drawn when the count starts over (Storage erased, board swapped or
  // re-flashed), so two lives of one station id never share a (board, boot). A file of "<boot>"
  // alone was written before identities: that Storage keeps board 0. One write a boot, as before.
  // (Written here, not as a function kept for good: it runs once.)
  const bootText = flash.readText('handover.boot');
  const boot = (parseInt(bootText || '0', 10) || 0) + 1;
  const board = bootText === undefined ? hw.system.randomId() : parseInt(bootText.split('/')[1], 10) || 0;
  flash.writeText('handover.boot', boot + '/' + board);

  // Flash first: every locker's state, then the journal, before the first tap is accepted.
  const states = new Uint8Array(config.lockers);
  const owners = new Uint32Array(config.lockers);
  const lockerStore = new LockerStore(flash, hw.crypto, 256);
  const firstBoot = flash.list('hs.').length === 0;
  if (firstBoot) {
    for (let i = 0; i < config.lockers; i++) if (config.assets[i]) states[i] = LOCKER.ITEM_PRESENT;
  }
  const problems = lockerStore.restore(states, owners);
  const journal = new Journal(flash, hw.crypto, JOURNAL_DEFAULTS);
  const journalProblems = journal.open(boot);
  const events = new EventLog(journal, hw.clock);

  const badgeKey = prepareHmacKey(hw.crypto, hexToBytes(config.badgeKey));
  const stationKey = prepareHmacKey(hw.crypto, hexToBytes(config.stationKey));
  const sealMessage = (message: unknown) => seal(hw.crypto, stationKey, message);
  const badges = new BadgeList(flash, hw.crypto);
  const badgeProblems = badges.open();

  const base = topicBase(config.site, config.station);
  // Taps first: while the reader is reading a card, the link's work (received messages, journal
  // entries to send) waits a few milliseconds at a time, so the card's IRQ edges never queue behind it.
  const reading = () => reader.state === S_ANTICOLL || reader.state === S_SELECT;
  const mqtt = new MqttClient(hw.network, hw.clock, {
    host: config.broker.host,
    port: config.broker.port,
    tls: config.broker.tls,
    clientId: 'handover-' + config.station,
    // The broker knows the station by its id and a password derived from its key (the hub derives
    // the same: hub/src/broker/access.ts), worked out once here.
    username: config.station,
    password: bytesToHex(hmacWithKey(hw.crypto, stationKey, utf8Encode('handover mqtt password')).subarray(0, 16)),
    keepAliveSec: config.keepAliveSec,
    will: { topic: base + TOPIC.STATUS, payload: 'offline', qos: 1, retain: true },
    maxInflight: 8,
    reconnectMinMs: 500,
    reconnectMaxMs: 30000,
    random: Math.random,
    busy: reading,
  });
  const uplink = new Uplink(mqtt, journal, hw.clock, {
    stationId: config.station,
    board,
    eventsTopic: base + TOPIC.EVENTS,
    maxPerSecond: 50,
    busy: reading,
    seal: sealMessage,
    unseal: (payload) => unseal(hw.crypto, stationKey, payload),
  });
  events.onAppended = () => uplink.pump();

  const feedback = new Feedback(hw.gpio, hw.clock, config.pins.led, config.pins.buzzer);
  events.onFull = () => {
    log('journal full: events are not being recorded until the hub confirms');
    feedback.play('alarm');
  };
  let lockOutputs: LockOutputs;
  let doors: DoorInputs;
  if (config.io === 'expander') {
    // MCP23S17s on the reader's bus: lock chips at addresses 0-1, door chips at 2-3.
    const expanders = new Mcp23s17Bus(hw.spi, config.pins.expanderCs);
    const onFault = (reason: string | null) => {
      if (reason) log('expander: ' + reason);
    };
    lockOutputs = expanderLockOutputs(expanders, 0, config.lockers, onFault);
    doors = new ExpanderDoorInputs(expanders, hw.gpio, hw.clock, config.pins.expanderInt, 2, config.lockers, onFault);
  } else {
    lockOutputs = gpioLockOutputs(hw.gpio, config.pins.locks);
    doors = gpioDoorInputs(hw.gpio, config.pins.doors);
  }
  const locks = new LockBank(lockOutputs, hw.clock, config.unlockPulseMs);
  const station = new Station(
    {
      clock: hw.clock,
      timing: config.timing,
      assets: config.assets,
      hashBadge: (uid) => hmacWithKey(hw.crypto, badgeKey, uid).subarray(0, BADGE_HASH_BYTES),
      saveLocker: (index) => {
        lockerStore.save(index, states, owners);
        stateReport.changed();
      },
      badges,
      locks,
      doors,
      events,
      feedback,
    },
    states,
    owners,
  );

  const stateReport = new StateReport(
    {
      stationId: config.station,
      firmware: FIRMWARE_VERSION,
      boot,
      board,
      wall: events,
      states,
      station,
      badges,
      journal,
      system: hw.system,
      reader: () => reader.status().state,
    },
    hw.clock,
    (message, onDone) => {
      mqtt.publish(base + TOPIC.STATE, sealMessage(message), 1, true, onDone);
    },
    () => mqtt.state === 'connected',
  );
  const commands = new CommandHandler({
    crypto: hw.crypto,
    flash,
    key: stationKey,
    stationId: config.station,
    boot,
    board,
    station,
    events,
    badges,
    firmware: { running: firmwareVersionNumber(FIRMWARE_VERSION), incoming: null },
    reply: (message) => mqtt.publish(base + TOPIC.REPLY, sealMessage(message), 1, false),
    restart: () => hw.clock.setTimeout(() => hw.system.restart(), 200),
    log,
  });
  mqtt.subscribe(base + TOPIC.ACK, 1);
  // Commands at QoS 0: a broker keeps QoS 1 messages for a persistent session that is away, so an
  // unlock or open-all the office gave while the station was offline (and was told it did not
  // answer) would open doors when it came back. The hub retries what must arrive (badge lists,
  // the time, a restore); an office action is answered now or not done.
  mqtt.subscribe(base + TOPIC.COMMAND, 0);
  mqtt.onMessage = (topic, payload) => {
    if (topic === base + TOPIC.ACK) {
      if (uplink.onAck(payload)) stateReport.changed();
    } else if (topic === base + TOPIC.COMMAND) {
      commands.handle(payload);
      stateReport.changed();
    }
  };
  mqtt.onDisconnect = mqtt.onLog = (message) => log('mqtt: ' + message);
  mqtt.onConnect = () => {
    mqtt.publish(base + TOPIC.STATUS, 'online', 1, true);
    stateReport.sendNow();
    uplink.onConnected();
  };

  events.report(EVENT.BOOT, { detail: firstBoot ? DETAIL.FIRST_BOOT : DETAIL.NONE });
  firmwareAtBoot(flash, events);
  if (journal.tornFound > 0) events.report(EVENT.FAULT, { detail: DETAIL.TORN_RECORD });
  for (const problem of problems.concat(journalProblems, badgeProblems)) log(problem);
  if (badgeProblems.length > 0) events.report(EVENT.FAULT, { detail: DETAIL.BADGE_LIST });

  // A door's move changes the state report too (the hub shows which doors stand open).
  doors.start(config.doorDebounceMs, (index, open) => {
    station.onDoor(index, open);
    stateReport.changed();
  });
  const reader = new Mfrc522(hw.spi, hw.gpio, hw.clock, { cs: config.pins.rfidCs, irq: config.pins.rfidIrq, reset: config.pins.rfidReset }, MFRC522_DEFAULTS);
  reader.start({
    onCard: (uid) => station.onCard(uid),
    onFault: (reason) => {
      log('reader fault: ' + reason);
      events.report(EVENT.READER_FAULT, { detail: DETAIL.READER });
    },
    onAbort: (reason) => log('reader: ' + reason),
    onRecovered: () => events.report(EVENT.READER_RECOVERED, {}),
  });
  // The main loop is alive as long as timers run: kick the watchdog from one.
  hw.clock.setInterval(hw.system.kickWatchdog, Math.max(1000, (config.watchdogSec * 1000) / 4));

  if (config.wifi) keepWifiUp(config.wifi.ssid, config.wifi.password, log);
  mqtt.start();
  log('handover ' + FIRMWARE_VERSION + ' station ' + config.station + ' board ' + board + ' boot ' + boot + ', ' + journal.backlog() + ' events unconfirmed');
  config = null;
}

boot();

// What only boot uses, and what the station never calls (the drivers' start, stop and self checks
// that tests use), is let go once the station runs: on the interpreter every function kept costs
// about five variables for good (README Performance). The bundle's top-level functions are globals
// there, found by value since their names are minified. (In the simulator's context globals cannot
// be deleted; nothing changes there but memory.)
(() => {
  const bootOnly: unknown[] = [loadConfig, espruinoHardware, keepWifiUp, prepareHmacKey, topicBase, bytesToHex, gpioLockOutputs, gpioDoorInputs, expanderLockOutputs, checkPlan, firmwareAtBoot, firmwareVersionNumber];
  const scope = globalThis as unknown as { [name: string]: unknown };
  // Names first, then deletion: deleting while a for-in walks the interpreter's globals ends the walk.
  const names: string[] = [];
  for (const name in scope) if (bootOnly.indexOf(scope[name]) >= 0) names.push(name);
  for (const name of names) delete scope[name];
  type Methods = { [name: string]: unknown };
  delete (Journal.prototype as unknown as Methods).open;
  delete (LockerStore.prototype as unknown as Methods).restore;
  const doorMethods = ExpanderDoorInputs.prototype as unknown as Methods;
  delete doorMethods.init;
  delete doorMethods.start;
  delete doorMethods.stop;
  delete doorMethods.status;
  delete (ExpanderLockOutputs.prototype as unknown as Methods).check;
  const readerMethods = Mfrc522.prototype as unknown as Methods;
  delete readerMethods.start;
  delete readerMethods.stop;
  const mqttMethods = MqttClient.prototype as unknown as Methods;
  delete mqttMethods.start;
  delete mqttMethods.stop;
  delete (MqttParser.prototype as unknown as Methods).bufferedBytes;
})();
