// Frame sizes, CBOR against JSON, for each event type: the frame built as the station sends it
// (firmware/src/net/uplink.ts eventFrame from a journal entry, signed by firmware/src/net/sealed.ts:
// CBOR [body, HMAC-SHA256] with the firmware's own encoder), against the same content as JSON
// (named fields, badge hash and MAC in hex: {"frame": {...}, "mac": "..."}). Field values are those
// of a station mid-term: boot 214, sequence 48,213, nine hours up, wall time known, hub person ids
// in the thousands. Which fields each event carries follows firmware/src/station/station.ts.
import { prepareHmacKey } from '../firmware/src/codec/hmac';
import { seal } from '../firmware/src/net/sealed';
import { eventFrame } from '../firmware/src/net/uplink';
import { DETAIL, EVENT } from '../protocol/wire';
import type { JournalEntry } from '../firmware/src/storage/journal';
import { cborEncode } from '../firmware/src/codec/cbor';
import { nodeCrypto } from '../test/support/node-flash';
import { STATION_KEY } from '../test/support/station-rig';
import type { BenchOptions } from './options';
import { printTable, type Row } from './table';

type Fields = Partial<Pick<JournalEntry, 'locker' | 'person' | 'actor' | 'witness' | 'detail'>> & { badge?: boolean };

const PUPIL = 1287;
const STAFF = 1533;
const HEAD = 1502;

/** What each event type carries (station.ts, main.ts). */
const CARRIES: Record<keyof typeof EVENT, Fields> = {
  BOOT: { detail: DETAIL.NONE },
  DEPOSIT: { locker: 17, person: PUPIL, badge: true },
  COLLECT: { locker: 17, person: PUPIL, badge: true },
  DEPOSIT_CANCELLED: { locker: 17, person: PUPIL, badge: true },
  EXEMPT: { person: PUPIL, badge: true },
  UNKNOWN_BADGE: { badge: true },
  REFUSED: { person: PUPIL, badge: true, detail: DETAIL.BUSY },
  LOAN: { locker: 3, person: STAFF, badge: true },
  RETURN: { locker: 3, person: STAFF, badge: true, detail: DETAIL.HEALTH_CHECK_DUE },
  HOLD_SET: { locker: 17, person: PUPIL, actor: STAFF, badge: true, detail: DETAIL.CONFISCATED },
  HOLD_RELEASED: { locker: 17, person: PUPIL, actor: STAFF, witness: HEAD, badge: true },
  OPEN_ALL: { actor: HEAD, badge: true },
  DOOR_FORCED: { locker: 17 },
  DOOR_LEFT_OPEN: { locker: 17 },
  LOCK_FAULT: { locker: 17, detail: DETAIL.LOCK_RETRY },
  READER_FAULT: {},
  READER_RECOVERED: {},
  JOURNAL_FULL: {},
  COLLECT_CANCELLED: { locker: 17, person: PUPIL, badge: true },
  FAULT: { detail: DETAIL.TORN_RECORD },
  REMOTE_UNLOCK: { locker: 17, person: PUPIL, actor: STAFF, detail: DETAIL.REMOTE },
  FIRMWARE: { detail: DETAIL.FIRMWARE_INSTALLED },
  FIRMWARE_ROLLED_BACK: { detail: DETAIL.FIRMWARE_NOT_CONFIRMED },
  FIRMWARE_REFUSED: {},
};

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');

export async function benchFrameSizes(_options: BenchOptions): Promise<void> {
  const key = prepareHmacKey(nodeCrypto, Buffer.from(STATION_KEY, 'hex'));
  const badge = new Uint8Array([0x3f, 0x91, 0x0c, 0xe2, 0x5a, 0x07, 0xb4, 0x66]);
  const rows: Row[] = [];
  let cborTotal = 0;
  let jsonTotal = 0;
  for (const [name, carries] of Object.entries(CARRIES) as Array<[keyof typeof EVENT, Fields]>) {
    const entry: JournalEntry = {
      boot: 214,
      seq: 48_213,
      type: EVENT[name],
      locker: carries.locker ?? -1,
      detail: carries.detail ?? 0,
      uptimeMs: 32_512_345,
      wallSec: 1_763_884_800,
      person: carries.person ?? 0,
      actor: carries.actor ?? 0,
      witness: carries.witness ?? 0,
      badge: carries.badge ? badge : null,
    } as JournalEntry;
    const frame = eventFrame('room-12', 0x5a3c91f0, entry);
    const body = cborEncode(frame);
    const signed = seal(nodeCrypto, key, frame);
    const json = {
      station: 'room-12',
      board: 0x5a3c91f0,
      boot: entry.boot,
      seq: entry.seq,
      uptimeMs: entry.uptimeMs,
      wallTime: entry.wallSec * 1000,
      type: entry.type,
      ...(entry.locker >= 0 ? { locker: entry.locker } : {}),
      ...(entry.person ? { person: entry.person } : {}),
      ...(entry.badge ? { badge: hex(entry.badge) } : {}),
      ...(entry.detail ? { detail: entry.detail } : {}),
      ...(entry.actor ? { actor: entry.actor } : {}),
      ...(entry.witness ? { witness: entry.witness } : {}),
    };
    const jsonBody = Buffer.byteLength(JSON.stringify(json));
    const jsonSigned = Buffer.byteLength(JSON.stringify({ frame: json, mac: hex(new Uint8Array(32)) }));
    cborTotal += signed.length;
    jsonTotal += jsonSigned;
    rows.push({
      event: name.toLowerCase().replace(/_/g, '-'),
      fields: Object.keys(frame).length,
      'CBOR body': body.length,
      'CBOR signed': signed.length,
      'JSON body': jsonBody,
      'JSON signed': jsonSigned,
      'CBOR / JSON signed': `${Math.round((signed.length / jsonSigned) * 100)} %`,
    });
  }
  rows.push({ event: 'all types, total', fields: '', 'CBOR body': '', 'CBOR signed': cborTotal, 'JSON body': '', 'JSON signed': jsonTotal, 'CBOR / JSON signed': `${Math.round((cborTotal / jsonTotal) * 100)} %` });
  printTable('Event frame sizes, bytes: CBOR (as the station sends it) vs the same content as JSON', rows);
}
