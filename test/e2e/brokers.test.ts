// The built bundle in the simulator, end to end through each broker a school may run: the hub's
// embedded aedes, and a real Mosquitto (Debian's, started on a loopback port) with the hub set to
// HANDOVER_EMBEDDED_BROKER=false. A deposit and a collection must reach the hub's database and its
// HTTP API the same way through both, and every event the station journaled must be stored once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENT } from '../../protocol/wire';
import { DEMO_CARDS } from '../../hub/src/demo/demo-school';
import { eventually, startHub, type HubHarness } from '../support/hub-harness';
import { HAS_MOSQUITTO, Mosquitto } from '../support/mosquitto';
import { JournalWatch, describeReconciliation, reconcile } from '../support/fault-rig';

const BROKERS = ['embedded', 'mosquitto'] as const;

for (const broker of BROKERS) {
  // CI always runs the Mosquitto pass (.ci/run installs it); elsewhere test/support/mosquitto.ts says what to install.
  describe.skipIf(broker === 'mosquitto' && !process.env.CI && !HAS_MOSQUITTO)(`deposit and collect through the ${broker} broker`, () => {
    let harness: HubHarness;
    let mosquitto: Mosquitto | null = null;
    let watch: JournalWatch;
    const pupil = DEMO_CARDS[1];

    beforeAll(async () => {
      if (broker === 'mosquitto') mosquitto = await new Mosquitto().start();
      harness = await startHub({ demo: true, broker: mosquitto ? { host: '127.0.0.1', port: mosquitto.port } : undefined });
      watch = new JournalWatch(harness.hub.demo!.station);
      await eventually(async () => (await harness.getJson('/api/stations')).body.stations[0]?.status === 'online', 15_000, 'the station to come online');
    });

    afterAll(async () => {
      await harness?.stop();
      await mosquitto?.dispose();
    });

    it('runs with the broker asked for', () => {
      expect(harness.hub.broker === null).toBe(broker === 'mosquitto');
      if (mosquitto) expect(harness.hub.mqttPort).toBe(mosquitto.port);
      expect(harness.logs.some((line) => line.includes(`listening on mqtt://127.0.0.1:${harness.hub.mqttPort}`))).toBe(true);
    });

    it('records a deposit, shows it over HTTP, then the collection', async () => {
      const deposit = await harness.hub.demo!.tap(pupil.uid);
      expect(deposit.locker).toBe(0);
      const phone = await eventually(
        async () => (await harness.getJson('/api/custody')).body.phonesIn.find((p: { personName: string }) => p.personName === pupil.name),
        15_000,
        'the deposit in /api/custody',
      );
      expect(phone).toMatchObject({ personName: pupil.name, stationId: 'demo-1', locker: 0 });
      expect((await harness.getJson('/api/lockers')).body.lockers[0]).toMatchObject({ locker: 0, state: 'phone-in', personName: pupil.name });

      const collect = await harness.hub.demo!.tap(pupil.uid);
      expect(collect.locker).toBe(0);
      await eventually(async () => (await harness.getJson('/api/custody')).body.phonesIn.length === 0, 15_000, 'the collection');
      expect((await harness.getJson('/api/lockers')).body.lockers[0].state).toBe('free');
      const rows = await harness.hub.db.all<{ type: number; locker: number }>('SELECT type, locker FROM station_events WHERE type IN (?, ?) ORDER BY boot, seq', [EVENT.DEPOSIT, EVENT.COLLECT]);
      expect(rows).toEqual([
        { type: EVENT.DEPOSIT, locker: 0 },
        { type: EVENT.COLLECT, locker: 0 },
      ]);
    });

    it('stores every event the station journaled exactly once', async () => {
      expect(watch.count(EVENT.DEPOSIT)).toBe(1);
      expect(watch.count(EVENT.COLLECT)).toBe(1);
      const result = await eventually(
        async () => {
          const r = await reconcile(harness.hub.db, watch, 'demo-1');
          return r.lost.length === 0 ? r : null;
        },
        15_000,
        'every journaled event in the database',
      );
      console.log(describeReconciliation(`${broker} broker`, result!));
      expect(result!.doubled).toEqual([]);
      expect(result!.unknown).toEqual([]);
    });
  });
}
