// The phones in lockers as CSV, streamed (issue 16): a thousand rows read, written and let go at a
// time, so the whole list of a trust (50,000 phones) is never held at once. Same cells as the
// reports' CSV (csv.ts: byte-order mark, quoting, no formulas).
import type { SqlDatabase } from '../db/sql';
import { allPhonesIn, type PhonesInFilter } from '../records/phones-in-list';
import { BOM, csvCell } from './csv';

const COLUMNS = ['custody', 'pupil', 'id', 'form', 'station', 'locker', 'deposited', 'uncollected'];

export async function* phonesInCsv(db: SqlDatabase, filter: PhonesInFilter): AsyncGenerator<string> {
  yield BOM + COLUMNS.map(csvCell).join(',') + '\r\n';
  for await (const rows of allPhonesIn(db, filter)) {
    yield rows
      .map((row) => [row.custodyId, row.personName, row.externalId, row.form, row.stationId, row.locker + 1, row.depositedAt, row.uncollectedAt].map(csvCell).join(',') + '\r\n')
      .join('');
  }
}
