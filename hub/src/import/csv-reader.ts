// CSV in, as MIS and asset-register exports write it, read by csv-parse: RFC 4180 quoting (quoted
// fields may hold commas, quotes and line breaks), CRLF, LF or CR (mixed too), an optional UTF-8
// byte-order mark, and a comma, semicolon or tab delimiter (whichever the header line uses).
// Files are read as a stream, so a large file is never held whole; every record keeps the line it
// starts on (the header is line 1) for the row report. Line breaks inside a quoted field come out
// as "\n" (the reader turns every line ending into one before parsing, which keeps line numbers exact).
import fs from 'node:fs';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { parse, type Info } from 'csv-parse';
import { parse as parseSync } from 'csv-parse/sync';

export interface CsvRecord {
  /** Line of the file the record starts on (the header is line 1). */
  line: number;
  fields: string[];
}

export interface CsvProgress {
  bytesRead: number;
  totalBytes: number;
  records: number;
}

function detectDelimiter(headerLine: string): string {
  const counts = [',', ';', '\t'].map((d) => [d, headerLine.split(d).length - 1] as const);
  counts.sort((a, b) => b[1] - a[1]);
  return counts[0][1] > 0 ? counts[0][0] : ',';
}

/** CRLF and lone CR become LF, across chunk boundaries. */
class LineEndings extends Transform {
  private pendingCR = false;
  constructor() {
    super({ decodeStrings: false, encoding: 'utf8' });
  }
  _transform(chunk: Buffer | string, _encoding: string, done: TransformCallback): void {
    let text = typeof chunk === 'string' ? chunk : chunk.toString('utf8');
    if (this.pendingCR) text = '\r' + text;
    this.pendingCR = text.endsWith('\r');
    if (this.pendingCR) text = text.slice(0, -1);
    done(null, text.replace(/\r\n?/g, '\n'));
  }
  _flush(done: TransformCallback): void {
    done(null, this.pendingCR ? '\n' : '');
  }
}

const PARSE_OPTIONS = { bom: true, record_delimiter: '\n', relax_quotes: true, relax_column_count: true, skip_empty_lines: true, info: true } as const;

function toRecord(fields: string[], info: Info): CsvRecord | null {
  // A line of spaces is blank too.
  if (fields.length === 1 && fields[0].trim() === '') return null;
  let breaks = 0;
  for (const field of fields) for (let i = field.indexOf('\n'); i >= 0; i = field.indexOf('\n', i + 1)) breaks++;
  return { line: info.lines - breaks, fields };
}

function explainParseError(error: unknown): Error {
  const failure = error as Error & { code?: string; lines?: number };
  if (failure.code === 'CSV_QUOTE_NOT_CLOSED') return new Error(`line ${failure.lines ?? '?'}: a quoted field is never closed`);
  if (failure.code?.startsWith('CSV_')) return new Error(`the file is not readable as CSV: ${failure.message}`);
  return failure;
}

/** The records of a CSV stream, one at a time (bytes counted through `onBytes`, for progress). */
export async function* csvRecords(source: Readable, onBytes?: (bytes: number) => void): AsyncGenerator<CsvRecord> {
  let text = '';
  source.setEncoding('utf8');
  // The delimiter is the header line's: read up to its end (or the whole file, if it is one line).
  const iterator = source[Symbol.asyncIterator]();
  for (;;) {
    if (/[\r\n]/.test(text)) break;
    const next = await iterator.next();
    if (next.done) break;
    onBytes?.(Buffer.byteLength(next.value as string));
    text += next.value as string;
  }
  const header = text.replace(/^\ufeff/, '').split(/[\r\n]/, 1)[0];
  const endings = new LineEndings();
  const parser = parse({ ...PARSE_OPTIONS, delimiter: detectDelimiter(header) });
  endings.pipe(parser);
  const feed = (async () => {
    try {
      if (text) endings.write(text);
      for (;;) {
        const next = await iterator.next();
        if (next.done) break;
        onBytes?.(Buffer.byteLength(next.value as string));
        // Back-pressure: the parser is read below at the importer's pace.
        if (!endings.write(next.value as string)) await new Promise((resolve) => endings.once('drain', resolve));
      }
      endings.end();
    } catch (error) {
      parser.destroy(error as Error);
    }
  })();
  try {
    for await (const item of parser as AsyncIterable<{ record: string[]; info: Info }>) {
      const record = toRecord(item.record, item.info);
      if (record) yield record;
    }
  } catch (error) {
    throw explainParseError(error);
  } finally {
    source.destroy();
    endings.destroy();
    await feed;
  }
}

/** The records of a CSV file, read as a stream. */
export function csvFileRecords(file: string, onProgress?: (progress: CsvProgress) => void): AsyncGenerator<CsvRecord> {
  const totalBytes = fs.statSync(file).size;
  let bytesRead = 0;
  return csvRecords(fs.createReadStream(file, { highWaterMark: 64 * 1024 }), (bytes) => {
    bytesRead += bytes;
    onProgress?.({ bytesRead, totalBytes, records: 0 });
  });
}

/** Reads a whole CSV file into memory (small files; imports stream with csvFileRecords). */
export async function readCsvFile(file: string): Promise<CsvRecord[]> {
  const records: CsvRecord[] = [];
  for await (const record of csvFileRecords(file)) records.push(record);
  return records;
}

export function parseCsvText(text: string): CsvRecord[] {
  const body = text.replace(/^\ufeff/, '');
  const normalised = body.replace(/\r\n?/g, '\n');
  try {
    const items = parseSync(normalised, { ...PARSE_OPTIONS, delimiter: detectDelimiter(normalised.split("\n", 1)[0]) }) as unknown as Array<{ record: string[]; info: Info }>;
    return items.map((item) => toRecord(item.record, item.info)).filter((record): record is CsvRecord => record !== null);
  } catch (error) {
    throw explainParseError(error);
  }
}

/** Header names compared loosely: "Reg. Group", "reg_group" and "RegGroup" are the same. */
export function normaliseHeader(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9]/g, '');
}

/**
 * Maps each wanted field to its column, by the first header that matches one of its spellings.
 * Returns the column indexes and the headers nothing used.
 */
export function matchColumns<F extends string>(header: string[], spellings: Record<F, string[]>): { columns: Partial<Record<F, number>>; unused: string[] } {
  const normalised = header.map(normaliseHeader);
  const columns: Partial<Record<F, number>> = {};
  const used = new Set<number>();
  for (const field of Object.keys(spellings) as F[]) {
    for (const spelling of spellings[field]) {
      const index = normalised.indexOf(normaliseHeader(spelling));
      if (index >= 0 && !used.has(index)) {
        columns[field] = index;
        used.add(index);
        break;
      }
    }
  }
  return { columns, unused: header.filter((_, i) => !used.has(i)) };
}
