// What a badge-list push costs a station: one simulated station (the built dist/firmware.js) on a
// real broker receives lists of 100 and 5,000 badges through the hub's StationLink (1 KiB signed
// chunks, each answered), as the hub sends them. Per push: wall time, the firmware's JavaScript time
// in V8 and its longest single turn (what a tap arriving meanwhile could wait), flash writes, bytes
// written and Storage compactions in the simulator's Storage (which keeps erased files as trash
// until a compaction, as Espruino's does). The flash starts as a busy station's: a 406 KB journal
// allocated, so the 896 KB Storage runs out of room at the end after a few pushes.
import zlib from 'node:zlib';
import { ROLE } from '../protocol/wire';
import { encodeBadgeList, type BadgeRecord } from '../firmware/src/station/badge-list';
import { createLogger } from '../hub/src/log';
import { StationLink } from '../hub/src/stations/station-link';
import { StationRig, STATION_KEY } from '../test/support/station-rig';
import { prng } from '../test/support/prng';
import type { BenchOptions } from './options';
import { printTable, type Row } from './table';

function badges(count: number, seed: number): BadgeRecord[] {
  const random = prng(seed);
  return Array.from({ length: count }, (_, i) => ({
    hash: Uint8Array.from({ length: 8 }, () => Math.floor(random() * 256)),
    person: 10_000 + i,
    role: ROLE.PUPIL,
    assetClasses: 0,
    flags: 0,
  }));
}

async function pushes(count: number, times: number): Promise<Row[]> {
  const rig = await new StationRig({
    people: [{ uid: '04000001', person: 1, role: ROLE.PUPIL }],
    acknowledge: true,
    // A journal's worth of flash in use, as on a station that has run for a while.
    beforeBoot: (station) => station.storage.write('filler', '', 0, 406 * 1024),
  }).start();
  const link = new StationLink({
    brokerUrl: `mqtt://127.0.0.1:${rig.broker.port}`,
    clientId: `badge-push-bench-${process.pid}`,
    site: 'bench',
    log: createLogger('link', () => {}),
    keyOf: async (id) => (id === 'st-1' ? STATION_KEY : undefined),
    replyTimeoutMs: 20_000,
  });
  await link.start();
  const rows: Row[] = [];
  try {
    for (let n = 1; n <= times; n++) {
      const file = encodeBadgeList(badges(count, n), n + 1, (data) => zlib.crc32(data));
      const storage = rig.station.storage;
      const env = rig.station.env;
      const before = { writes: storage.writes, bytes: storage.bytesWritten, compactions: storage.compactions, ms: env.firmwareMs, calls: env.firmwareCalls };
      env.longestCallMs = 0;
      env.largestCrcBytes = 0;
      const started = performance.now();
      const result = await link.pushBadgeList('st-1', n + 1, file);
      const seconds = (performance.now() - started) / 1000;
      if (!result.ok) throw new Error(`badge-push bench: push ${n} refused: ${result.refusal}`);
      rows.push({
        badges: count,
        push: n,
        bytes: file.length,
        chunks: Math.ceil(file.length / 1024),
        'wall s': seconds.toFixed(2),
        'firmware JS ms (Node)': (env.firmwareMs - before.ms).toFixed(0),
        'longest turn ms': env.longestCallMs.toFixed(2),
        'largest CRC call, bytes': env.largestCrcBytes,
        'flash writes': storage.writes - before.writes,
        'bytes written': storage.bytesWritten - before.bytes,
        compactions: storage.compactions - before.compactions,
      });
    }
    if (rig.station.env.errors.length > 0) throw new Error(`badge-push bench: firmware errors: ${rig.station.env.errors.join('; ')}`);
  } finally {
    await link.stop();
    await rig.stop();
  }
  return rows;
}

export async function benchBadgePush(options: BenchOptions): Promise<void> {
  const rows = options.quick ? await pushes(5000, 1) : [...(await pushes(100, 2)), ...(await pushes(5000, 6))];
  printTable('Badge-list push to one station (built bundle, 1 KiB signed chunks; V8 times, see README for the ESP32)', rows);
}
