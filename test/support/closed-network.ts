// A hub with its demo station on a closed network, on the embedded broker or on Debian's Mosquitto
// run with the files `handover broker mosquitto-config` writes: the demo station and another
// station registered, read-only broker accounts made, all before the hub starts (so Mosquitto knows
// every credential from its first moment). Shared by the closed-network and broker-bounds suites.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BrokerAccounts } from '../../hub/src/broker/accounts';
import { writeMosquittoFiles } from '../../hub/src/broker/mosquitto-files';
import { DEMO_STATION_ID } from '../../hub/src/demo/demo-station';
import { Stations } from '../../hub/src/records/stations';
import { eventually, startHub, type HubHarness } from './hub-harness';
import { freePort, Mosquitto } from './mosquitto';

export type BrokerKind = 'embedded' | 'mosquitto';

export interface ClosedNetwork {
  harness: HubHarness;
  /** The running Mosquitto, or null on the embedded broker. */
  mosquitto: Mosquitto | null;
  /** Where the Mosquitto files were written ('' on the embedded broker). */
  mosquittoDir: string;
  /** Each read-only account's password, by user name. */
  readers: Record<string, string>;
  stop(): Promise<void>;
}

export async function startClosedNetwork(broker: BrokerKind, otherStation: string, readerNames: string[]): Promise<ClosedNetwork> {
  let port = 0;
  let mosquitto = null as Mosquitto | null;
  let mosquittoDir = '';
  const readers: Record<string, string> = {};
  if (broker === 'mosquitto') {
    port = await freePort();
    mosquittoDir = fs.mkdtempSync(path.join(os.tmpdir(), 'handover-mosquitto-files-'));
  }
  const harness = await startHub({
    demo: true,
    broker: broker === 'mosquitto' ? { host: '127.0.0.1', port } : undefined,
    before: async (db, settings) => {
      const stations = new Stations(db);
      await stations.add('demo', DEMO_STATION_ID, 8);
      await stations.add('demo', otherStation, 8);
      for (const name of readerNames) readers[name] = await new BrokerAccounts(db).add(name);
      if (broker === 'mosquitto') {
        await writeMosquittoFiles(db, settings, mosquittoDir);
        mosquitto = await new Mosquitto({ includeDir: mosquittoDir, port }).start();
      }
    },
  });
  const demoOnline = async () => (await harness.getJson('/api/stations')).body.stations.find((s: { id: string }) => s.id === DEMO_STATION_ID)?.status === 'online';
  await eventually(demoOnline, 20_000, 'the demo station to come online');
  return {
    harness,
    mosquitto,
    mosquittoDir,
    readers,
    async stop() {
      await harness.stop();
      await mosquitto?.dispose();
      if (mosquittoDir) fs.rmSync(mosquittoDir, { recursive: true, force: true });
    },
  };
}
