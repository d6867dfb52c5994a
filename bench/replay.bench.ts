// Replay after an outage: one simulated station (the built dist/firmware.js) boots with N events of
// its previous boot in its flash journal, none confirmed, and connects to a real hub (embedded
// broker, ingest, SQLite). Timed from the first of those events reaching the hub to the hub's
// acknowledgement of the last: events per second, and the firmware's own JavaScript time (V8's,
// see ../shared/ESPRUINO.md for what it means on an ESP32). The firmware paces a replay (main.ts:
// `maxPerSecond` events/s at most, 8 publishes in flight); that cap is not a configuration setting,
// so the "cap lifted" rows run a variant of the bundle this bench builds from the same sources with
// the firmware's own pipeline, the cap's number replaced at build time (rollup.config.mjs,
// replaceNumbers), to show what the rest of the path could do. N: 60 (a school day at one station,
// ../shared/SCENARIO.md) and 1,000 (a quick run: 60 only); BENCH_REPLAY_EVENTS adds another count.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import zlib from 'node:zlib';
import { rollup } from 'rollup';
import { EVENT, FRAME, ROLE } from '../protocol/wire';
import { Journal, JOURNAL_DEFAULTS } from '../firmware/src/storage/journal';
import { badgeFileName, encodeBadgeList } from '../firmware/src/station/badge-list';
import { expanderPinMap } from '../protocol/pin-map';
import { SimulatedStation } from '../hardware/sim/simulated-station';
import { cborDecode, unseal } from '../hub/src/protocol/sealed';
import { BADGE_KEY, BUNDLE, FAST_TIMING, hashUid } from '../test/support/station-rig';
import { nodeCrypto, nodeFlash } from '../test/support/node-flash';
import { startHub } from '../test/support/hub-harness';
import type { BenchOptions } from './options';
import { printTable, type Row } from './table';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const LIFTED_PER_SECOND = 1_000_000;

/** A bundle to replay with: the station's (dist/firmware.js, as `npm run bench` built it) or the variant. */
interface Variant {
  file: string;
  /** Events per second at most, or null for the variant with the cap lifted. */
  cap: number | null;
}

async function until(probe: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`replay bench: timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/**
 * Builds firmware/src/main.ts as `npm run build` does, with every `maxPerSecond: <n>` of the sources
 * set to LIFTED_PER_SECOND, into a temporary file. Returns that variant and the cap it replaced (the
 * station's, in dist/firmware.js). The build fails if the sources no longer have that property.
 */
async function buildVariants(): Promise<[Variant, Variant]> {
  const { firmwareConfig } = await import(pathToFileURL(path.join(ROOT, 'rollup.config.mjs')).href);
  const found: Array<{ name: string; source: number; file: string }> = [];
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'handover-replay-')), 'firmware.js');
  const config = firmwareConfig(path.join(ROOT, 'firmware/src/main.ts'), file, { replace: { maxPerSecond: LIFTED_PER_SECOND }, found });
  const bundle = await rollup({ ...config, onwarn: () => {} });
  try {
    await bundle.write(config.output);
  } finally {
    await bundle.close();
  }
  const caps = [...new Set(found.map((hit) => hit.source))];
  if (caps.length !== 1) throw new Error(`replay bench: expected one replay cap in the sources, found ${found.map((hit) => `${hit.source} (${path.relative(ROOT, hit.file)})`).join(', ')}`);
  return [
    { file: BUNDLE, cap: caps[0] },
    { file, cap: null },
  ];
}

async function replay(events: number, variant: Variant): Promise<Row> {
  const harness = await startHub({ demo: false });
  const station = new SimulatedStation({ flashFile: null, doorBounceMs: 3 });
  const listener = await harness.mqtt({ hub: true });
  try {
    const key = (await harness.hub.stations.add('demo', 'st-1', 8)).station_key;
    let firstAt = 0;
    let firstMs = 0;
    let doneAt = 0;
    let doneMs = 0;
    listener.on('message', (_topic, payload) => {
      const opened = unseal(key, new Uint8Array(payload));
      if (!opened.ok) return;
      const ack = cborDecode(opened.body) as Map<number, number>;
      if (ack.get(FRAME.BOOT) === 1 && ack.get(FRAME.SEQ)! >= events && !doneAt) {
        doneAt = performance.now();
        doneMs = station.env.firmwareMs;
      }
    });
    await listener.subscribeAsync('handover/demo/st-1/ack', { qos: 1 });
    harness.hub.ingest.on('change', (change: { kind: string; frame?: { boot: number } }) => {
      if (change.kind === 'event' && change.frame?.boot === 1 && !firstAt) {
        firstAt = performance.now();
        firstMs = station.env.firmwareMs;
      }
    });

    station.installFirmware(variant.file);
    station.writeConfig({
      site: 'demo',
      station: 'st-1',
      lockers: 8,
      io: 'expander',
      pins: expanderPinMap(),
      broker: { host: '127.0.0.1', port: harness.hub.mqttPort },
      wifi: null,
      badgeKey: BADGE_KEY.toString('hex'),
      stationKey: key,
      unlockPulseMs: 300,
      doorDebounceMs: 20,
      keepAliveSec: 5,
      timing: FAST_TIMING,
      assets: new Array(8).fill(null),
    });
    station.writeFile(badgeFileName(1), encodeBadgeList([{ hash: hashUid('04a1b2c3'), person: 1, role: ROLE.PUPIL, assetClasses: 0, flags: 0 }], 1, (data) => zlib.crc32(data)));
    // The previous boot left `events` taps in the journal that the hub never confirmed.
    station.storage.write('handover.boot', '1');
    const journal = new Journal(nodeFlash(station.storage), nodeCrypto, JOURNAL_DEFAULTS);
    journal.open(1);
    for (let i = 0; i < events; i++) {
      journal.append({ type: EVENT.UNKNOWN_BADGE, locker: -1, detail: 0, uptimeMs: 1000 + i * 2500, wallSec: 0, person: 0, actor: 0, witness: 0, badge: hashUid((0x04000000 + i).toString(16)) });
    }
    const bootedAt = performance.now();
    station.boot();
    await until(() => doneAt > 0, 60_000 + (events / (variant.cap ?? 500)) * 3000, `the acknowledgement of all ${events} events`);
    const seconds = (doneAt - firstAt) / 1000;
    const stored = Number((await harness.hub.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM station_events WHERE boot = 1'))!.n);
    if (stored !== events) throw new Error(`replay bench: ${stored} of ${events} events stored`);
    if (station.env.errors.length > 0) throw new Error(`replay bench: firmware errors: ${station.env.errors.join('; ')}`);
    return {
      events,
      'replay cap': variant.cap === null ? 'lifted' : `${variant.cap}/s`,
      'boot to first stored, s': ((firstAt - bootedAt) / 1000).toFixed(2),
      'first stored to all acknowledged, s': seconds.toFixed(2),
      'events/s': Math.round(events / seconds),
      'firmware JS ms (Node)': (doneMs - firstMs).toFixed(0),
      'firmware JS ms per event': ((doneMs - firstMs) / events).toFixed(3),
    };
  } finally {
    station.powerOff();
    await listener.endAsync();
    await harness.stop();
  }
}

export async function benchReplay({ quick }: BenchOptions): Promise<void> {
  const counts = quick ? [60] : [60, 1000];
  const extra = Number(process.env.BENCH_REPLAY_EVENTS ?? 0);
  if (extra > 0 && !counts.includes(extra)) counts.push(extra);
  const rows: Row[] = [];
  const variants = await buildVariants();
  try {
    for (const variant of variants) for (const events of counts) rows.push(await replay(events, variant));
  } finally {
    fs.rmSync(path.dirname(variants[1].file), { recursive: true, force: true });
  }
  printTable('Replay after an outage (one station, built bundle, to the hub: unconfirmed journal events until all acknowledged)', rows);
}
