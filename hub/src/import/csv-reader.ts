// CSV in, as MIS and asset-register exports write it: RFC 4180 quoting (quoted fields may hold
// commas, quotes and line breaks), CRLF or LF, an optional UTF-8 byte-order mark, and a comma,
// semicolon or tab delimiter (whichever the header line uses). Streams, so a large file is read
// in chunks with progress, and every record keeps the line number it starts on.
import fs from 'node:fs';

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

/** Parses CSV text chunks; call push() per chunk and end() once; records come out via onRecord. */
export class CsvParser {
  private delimiter: string | null = null;
  private field = '';
  private fields: string[] = [];
  private quoted = false;
  /** Just saw a quote inside a quoted field: either an escaped quote or the field's end. */
  private quotePending = false;
  private line = 1;
  private recordLine = 1;
  private started = false;
  private pendingCR = false;
  private onRecord: (record: CsvRecord) => void;

  constructor(onRecord: (record: CsvRecord) => void, delimiter?: string) {
    this.onRecord = onRecord;
    this.delimiter = delimiter ?? null;
  }

  push(text: string): void {
    if (!this.started) {
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      this.started = true;
    }
    if (this.delimiter === null) {
      const end = text.search(/\r?\n/);
      this.delimiter = detectDelimiter(end >= 0 ? text.slice(0, end) : text);
    }
    const delimiter = this.delimiter;
    for (let i = 0; i < text.length; i++) {
      const c = text[i];
      if (this.pendingCR) {
        this.pendingCR = false;
        if (c === '\n') continue;
      }
      if (this.quoted) {
        if (this.quotePending) {
          this.quotePending = false;
          if (c === '"') {
            this.field += '"';
            continue;
          }
          this.quoted = false;
          // fall through: the character after a closing quote is handled unquoted
        } else if (c === '"') {
          this.quotePending = true;
          continue;
        } else {
          if (c === '\n') this.line++;
          else if (c === '\r') {
            this.line++;
            if (text[i + 1] === '\n') {
              this.field += '\r\n';
              i++;
              continue;
            }
          }
          this.field += c;
          continue;
        }
      }
      if (c === '"' && this.field === '') {
        this.quoted = true;
      } else if (c === delimiter) {
        this.fields.push(this.field);
        this.field = '';
      } else if (c === '\n' || c === '\r') {
        this.endRecord();
        this.line++;
        this.recordLine = this.line;
        if (c === '\r') this.pendingCR = true;
      } else {
        this.field += c;
      }
    }
  }

  private endRecord(): void {
    this.fields.push(this.field);
    const fields = this.fields;
    this.fields = [];
    this.field = '';
    // Blank lines are skipped.
    if (fields.length === 1 && fields[0].trim() === '') return;
    this.onRecord({ line: this.recordLine, fields });
  }

  end(): void {
    if (this.quoted && !this.quotePending) throw new Error(`line ${this.recordLine}: a quoted field is never closed`);
    this.quoted = false;
    this.quotePending = false;
    if (this.field !== '' || this.fields.length > 0) this.endRecord();
  }
}

/** Reads a whole CSV file, reporting progress as it goes. */
export async function readCsvFile(file: string, onProgress?: (progress: CsvProgress) => void): Promise<CsvRecord[]> {
  const totalBytes = fs.statSync(file).size;
  const records: CsvRecord[] = [];
  const parser = new CsvParser((record) => records.push(record));
  let bytesRead = 0;
  let lastReport = 0;
  const stream = fs.createReadStream(file, { encoding: 'utf8', highWaterMark: 256 * 1024 });
  stream.on('data', (chunk) => {
    bytesRead += Buffer.byteLength(chunk as string);
  });
  for await (const chunk of stream) {
    parser.push(chunk as string);
    if (onProgress && Date.now() - lastReport > 200) {
      lastReport = Date.now();
      onProgress({ bytesRead, totalBytes, records: records.length });
    }
  }
  parser.end();
  onProgress?.({ bytesRead: totalBytes, totalBytes, records: records.length });
  return records;
}

export function parseCsvText(text: string): CsvRecord[] {
  const records: CsvRecord[] = [];
  const parser = new CsvParser((record) => records.push(record));
  parser.push(text);
  parser.end();
  return records;
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
