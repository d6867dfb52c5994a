// Which board a station id runs on (issue 13). A station draws a board identity when its Storage is
// formatted and sends it in every frame; a frame from a board other than the one last heard means
// the board was replaced (or re-flashed, or its Storage wiped). The swap is kept on the station
// (board, previous_board, board_since: the Stations page shows it) and in the audit trail. Both
// boards' events are kept apart by their key, so nothing of either is lost.
import type { AuditTrail } from '../audit/trail';
import { rowsAsTable } from '../db/bulk';
import type { SqlDatabase } from '../db/sql';
import { boardOf, type EventFrame } from '../protocol/frames';

/** A board identity as the page and the audit trail write it: 8 hex digits (0 for "before identities"). */
export function boardName(board: number): string {
  return board.toString(16).padStart(8, '0');
}

/** Notes the board of each station heard in a batch of newly stored events (one query a batch). */
export async function noteBoards(tx: SqlDatabase, audit: AuditTrail, stored: ReadonlyArray<{ frame: EventFrame; receivedAt: string }>): Promise<void> {
  // The board each station was last heard from in this batch, and when.
  const last = new Map<string, { board: number; at: string }>();
  for (const { frame, receivedAt } of stored) last.set(frame.station, { board: boardOf(frame), at: receivedAt });
  if (last.size === 0) return;
  const ids = rowsAsTable(tx, 'batch_stations', [['id', 'text']], [...last.keys()].map((id) => [id]));
  const rows = await tx.all<{ id: string; board: number | null }>(`${ids.sql} SELECT s.id, s.board FROM stations s JOIN batch_stations b ON b.id = s.id`, ids.params);
  for (const row of rows) {
    const heard = last.get(row.id)!;
    if (row.board === null) {
      // The station's first events: its board, no swap.
      await tx.run('UPDATE stations SET board = ? WHERE id = ?', [heard.board, row.id]);
    } else if (Number(row.board) !== heard.board) {
      const previous = Number(row.board);
      await tx.run('UPDATE stations SET board = ?, previous_board = ?, board_since = ? WHERE id = ?', [heard.board, previous, heard.at, row.id]);
      await audit.append(
        {
          actor: `station:${row.id}`,
          action: 'station.board-replaced',
          subject: `station:${row.id}`,
          at: heard.at,
          details: { station: row.id, board: heard.board, previousBoard: previous },
        },
        tx,
      );
    }
  }
}
