// Badge lookup against list size: the firmware's BadgeList binary search over a file in the
// simulator's flash model, with the keyed hash (HMAC-SHA256) of the UID measured beside it.
import crypto from 'node:crypto';
import zlib from 'node:zlib';
import { BadgeList, badgeFileName, encodeBadgeList } from '../firmware/src/station/badge-list';
import { hmacSha256 } from '../firmware/src/codec/hmac';
import { FlashStorage } from '../hardware/sim/flash-storage';
import { nodeCrypto, nodeFlash } from '../test/support/node-flash';
import type { BenchOptions } from './options';
import { printTable, type Row } from './table';

export async function benchBadgeLookup({ quick }: BenchOptions): Promise<void> {
  const LOOKUPS = quick ? 2000 : 20_000;
  const rows: Row[] = [];
  const key = crypto.randomBytes(32);
  for (const size of [100, 1000, 5000]) {
    const hashes = Array.from({ length: size }, (_, i) => new Uint8Array(crypto.createHash('sha256').update(`badge-${i}`).digest().subarray(0, 8)));
    const storage = new FlashStorage(null);
    const file = encodeBadgeList(hashes.map((hash, i) => ({ hash, person: i + 1, role: 1, assetClasses: 0, flags: 0 })), 1, (data) => zlib.crc32(data));
    storage.write(badgeFileName(1), file);
    const list = new BadgeList(nodeFlash(storage), nodeCrypto);
    list.open();
    let probes = 0;
    const heapBefore = process.memoryUsage().heapUsed;
    const started = process.hrtime.bigint();
    for (let i = 0; i < LOOKUPS; i++) {
      if (!list.find(hashes[(i * 7919) % size])) throw new Error('lookup failed');
      probes += list.lastProbes;
    }
    const lookupNs = Number(process.hrtime.bigint() - started) / LOOKUPS;
    const uid = new Uint8Array([4, 0x11, 0x22, 0x33, 0x44, 0xa5, 0x80]);
    const hmacStarted = process.hrtime.bigint();
    for (let i = 0; i < LOOKUPS; i++) hmacSha256(nodeCrypto, key, uid);
    const hmacNs = Number(process.hrtime.bigint() - hmacStarted) / LOOKUPS;
    rows.push({
      badges: size,
      'file bytes': file.length,
      'records read per lookup': (probes / LOOKUPS).toFixed(1),
      'lookup µs (Node)': (lookupNs / 1000).toFixed(2),
      'keyed hash µs (Node)': (hmacNs / 1000).toFixed(2),
      'heap growth KiB': Math.max(0, Math.round((process.memoryUsage().heapUsed - heapBefore) / 1024)),
    });
  }
  printTable('Badge lookup against list size (interpolation search: records read grow with log2 log2 n, at most 2 log2 n; the list stays in flash)', rows);
}
