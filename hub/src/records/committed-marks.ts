// The committed mark of each station boot (station_boots.committed_seq; a boot is named by station,
// board and boot number, issue 13): every event of that boot
// up to it is stored, so it is what the hub acknowledges and how far effects have been applied.
// A batch reads, advances and writes the marks of all its boots together (a few statements per
// batch, not a few per boot: on PostgreSQL each statement is a round trip), the boots joined as
// a table (db/bulk.ts rowsAsTable).
import { insertRows, rowsAsTable, type BulkColumn } from '../db/bulk';
import type { SqlDatabase, SqlValue } from '../db/sql';

export interface BootInBatch {
  station: string;
  board: number;
  boot: number;
  /** The sequence numbers this batch stored for the boot. */
  storedSeqs?: { has(seq: number): boolean; readonly size: number };
  /** The lowest sequence of this batch's frames that clashed with a stored event (other content). */
  clashSeq?: number;
}

export interface MarkAdvance {
  /** The mark before the batch: effects up to here were applied by earlier batches. */
  before: number;
  /** The mark after it: every event up to here is stored. */
  mark: number;
  /**
   * What may be acknowledged: the mark, but never a clashing frame's number or beyond (an
   * acknowledgement is cumulative: the station would erase the clashing event, which is not stored).
   */
  acknowledged: number;
}

const BOOT_COLUMNS: BulkColumn[] = [['station_id', 'text'], ['board', 'bigint'], ['boot', 'bigint']];
const MARK_COLUMNS: BulkColumn[] = [...BOOT_COLUMNS, ['committed_seq', 'bigint']];
/** Boots per statement (three or four parameters each). */
const BOOT_CHUNK = 200;
/** Events behind a gap read back per query while the gap is being closed. */
const FOLLOWING_PAGE = 1000;

export function bootKey(station: string, board: number, boot: number): string {
  return `${station}\u0000${board}\u0000${boot}`;
}

function chunks<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let start = 0; start < items.length; start += size) out.push(items.slice(start, start + size));
  return out;
}

/**
 * Moves each boot's mark past every stored event that follows it without a gap (the batch's own
 * events, then events stored earlier behind a gap this batch closed) and writes the marks that
 * moved (or are new). Keyed by bootKey.
 */
export async function advanceMarks(tx: SqlDatabase, boots: BootInBatch[]): Promise<Map<string, MarkAdvance>> {
  // Per boot its mark and the highest sequence stored. Once the mark has moved through the
  // batch's own events, a highest beyond it means events wait behind a gap (stored earlier, or
  // this batch's own past a hole): usually none at all. The highest is one step down the primary
  // key, whatever the boot's or the table's size; counting the events beyond the mark read each
  // of them, and on PostgreSQL each one's row too until a vacuum marks their pages all-visible.
  const found = new Map<string, { mark: number | null; last: number; clash: number | null }>();
  for (const chunk of chunks(boots, BOOT_CHUNK)) {
    const keys = rowsAsTable(tx, 'batch_boots', BOOT_COLUMNS, chunk.map(({ station, board, boot }) => [station, board, boot]));
    const rows = await tx.all<{ station_id: string; board: number; boot: number; committed_seq: number | null; clash_seq: number | null; last: number | null }>(
      `${keys.sql} SELECT k.station_id, k.board, k.boot, b.committed_seq, b.clash_seq,
         (SELECT MAX(e.seq) FROM station_events e WHERE e.station_id = k.station_id AND e.board = k.board AND e.boot = k.boot) AS last
       FROM batch_boots k LEFT JOIN station_boots b ON b.station_id = k.station_id AND b.board = k.board AND b.boot = k.boot`,
      keys.params,
    );
    for (const row of rows) {
      found.set(bootKey(row.station_id, Number(row.board), Number(row.boot)), {
        mark: row.committed_seq === null ? null : Number(row.committed_seq),
        last: Number(row.last ?? 0),
        clash: row.clash_seq === null ? null : Number(row.clash_seq),
      });
    }
  }

  const advances = new Map<string, MarkAdvance>();
  const clashed: SqlValue[][] = [];
  for (const { station, board, boot, storedSeqs, clashSeq } of boots) {
    const { mark: known, last, clash: knownClash } = found.get(bootKey(station, board, boot))!;
    const before = known ?? 0;
    let mark = before;
    if (storedSeqs) while (storedSeqs.has(mark + 1)) mark++;
    if (last > mark) mark = await markPastStored(tx, station, board, boot, mark);
    // A clash is remembered for the boot: later batches (the board's next taps) acknowledge no
    // further than the first clashing number either, whatever else of the boot they store.
    let clash = knownClash;
    if (clashSeq !== undefined && (clash === null || clashSeq < clash)) {
      clash = clashSeq;
      clashed.push([station, board, boot, clash]);
    }
    advances.set(bootKey(station, board, boot), { before, mark, acknowledged: clash === null ? mark : Math.min(mark, clash - 1) });
  }

  const changed: SqlValue[][] = [];
  for (const { station, board, boot } of boots) {
    const key = bootKey(station, board, boot);
    const { before, mark } = advances.get(key)!;
    if (found.get(key)!.mark === null || mark !== before) changed.push([station, board, boot, mark]);
  }
  await insertRows(tx, 'station_boots', MARK_COLUMNS, changed, 'ON CONFLICT (station_id, board, boot) DO UPDATE SET committed_seq = excluded.committed_seq');
  // Rare (two boards with one identity): one statement per boot.
  for (const [station, board, boot, clash] of clashed) await tx.run('UPDATE station_boots SET clash_seq = ? WHERE station_id = ? AND board = ? AND boot = ?', [clash, station, board, boot]);
  return advances;
}

/** The mark moved past the stored events that follow it without a gap, read from the database. */
async function markPastStored(tx: SqlDatabase, station: string, board: number, boot: number, from: number): Promise<number> {
  let mark = from;
  for (;;) {
    const following = await tx.all<{ seq: number }>('SELECT seq FROM station_events WHERE station_id = ? AND board = ? AND boot = ? AND seq > ? ORDER BY seq LIMIT ?', [station, board, boot, mark, FOLLOWING_PAGE]);
    let advanced = 0;
    for (const { seq } of following) {
      if (Number(seq) !== mark + 1) break;
      mark = Number(seq);
      advanced++;
    }
    if (advanced < FOLLOWING_PAGE) return mark;
  }
}
