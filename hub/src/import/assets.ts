// Assets from a CSV (an asset register export) or, optionally, from a Snipe-IT instance's API.
// Each row becomes one asset, added or updated by its asset tag; a bad row is reported with its
// line (or Snipe-IT id) and reason and the others still import. Registration rules (an encrypted
// stick must name its encryption, P6; a home locker must exist and be free) are the asset
// register's own (records/assets.ts).
import type { Records } from '../records';
import { actorLabel, type Actor } from '../records/access';
import type { AssetClassRow, AssetInput } from '../records/assets';
import { parsePounds } from '../records/time';
import { csvFileRecords, matchColumns, normaliseHeader, type CsvRecord } from './csv-reader';
import type { ImportProblem } from './people';
import { parseDay } from '../records/time';

export const ASSET_COLUMNS = {
  tag: ['Asset Tag', 'Tag', 'Asset', 'Asset No', 'Asset Number', 'Asset ID'],
  serial: ['Serial', 'Serial Number', 'Serial No', 'SN'],
  assetClass: ['Class', 'Asset Class', 'Category', 'Type', 'Asset Type'],
  model: ['Model', 'Model Name', 'Description'],
  encryption: ['Encryption', 'Encryption Type', 'Encrypted'],
  price: ['Replacement Price', 'Replacement Cost', 'Price', 'Cost', 'Purchase Cost'],
  healthCheckDays: ['Health Check Days', 'Health Check Interval', 'Check Interval Days'],
  lastHealthCheck: ['Last Health Check', 'Last Checked', 'Last Check'],
  station: ['Station', 'Home Station', 'Locker Bank', 'Bank'],
  locker: ['Locker', 'Home Locker', 'Slot'],
  tagUid: ['Tag UID', 'NFC UID', 'NFC Tag', 'Tag Chip ID', 'Chip ID'],
} as const;

type Field = keyof typeof ASSET_COLUMNS;

const CLASS_WORDS: Record<string, string> = {
  usb: 'usb-stick', usbstick: 'usb-stick', usbsticks: 'usb-stick', memorystick: 'usb-stick', stick: 'usb-stick', flashdrive: 'usb-stick', usbdrive: 'usb-stick', encryptedusb: 'usb-stick', encryptedusbstick: 'usb-stick',
  laptop: 'laptop', laptops: 'laptop', notebook: 'laptop', chromebook: 'laptop', ultrabook: 'laptop',
};

export interface AssetImportResult {
  rows: number;
  added: number;
  updated: number;
  problems: ImportProblem[];
  unusedColumns: string[];
}

export function classFromText(text: string, classes: AssetClassRow[]): string {
  const word = normaliseHeader(text);
  const direct = classes.find((c) => normaliseHeader(c.id) === word || normaliseHeader(c.name) === word);
  if (direct) return direct.id;
  const mapped = CLASS_WORDS[word];
  if (mapped && classes.some((c) => c.id === mapped)) return mapped;
  throw new Error(`asset class ${JSON.stringify(text)} is not one of ${classes.map((c) => c.id).join(', ')}`);
}

function encryptionFrom(text: string): string | null {
  const value = text.trim();
  if (!value || /^(no|none|false|n|0|unencrypted)$/i.test(value)) return null;
  if (/^(yes|true|y|1)$/i.test(value)) return 'encrypted (type not recorded)';
  return value;
}

function dateFrom(text: string): string | null {
  const value = text.trim();
  if (!value) return null;
  const iso = /^(\d{4})-(\d{2})-(\d{2})/.exec(value);
  const uk = /^(\d{1,2})\/(\d{1,2})\/(\d{4})$/.exec(value);
  const day = iso ? `${iso[1]}-${iso[2]}-${iso[3]}` : uk ? `${uk[3]}-${uk[2].padStart(2, '0')}-${uk[1].padStart(2, '0')}` : null;
  if (!day) throw new Error(`date ${JSON.stringify(value)}: use YYYY-MM-DD or DD/MM/YYYY`);
  // A real day, and a health check that has happened (not in the future, not decades ago).
  const checked = parseDay(day, 'last health check', { maxYearsBack: 20, maxYearsAhead: 0 });
  if (!checked.ok) throw new Error(checked.problem);
  return `${day}T00:00:00.000Z`;
}

/** Where the rows come from (read once, as a stream for a file). */
export type AssetCsvSource = AsyncIterable<CsvRecord> | Iterable<CsvRecord>;

export async function importAssetsFile(records: Records, file: string, actor: Actor, onProgress?: (done: number, total: number) => void, school?: string | null): Promise<AssetImportResult> {
  return importAssetsFrom(records, csvFileRecords(file), actor, onProgress, school);
}

export async function importAssetRecords(records: Records, csv: CsvRecord[], actor: Actor, onProgress?: (done: number, total: number) => void): Promise<AssetImportResult> {
  return importAssetsFrom(records, csv, actor, onProgress);
}

/**
 * The Locker column counts from 1, like the doors and the pages (locker 1 is the first door). A 0
 * is refused with a sentence saying so: an old file numbered from 0 must be renumbered, since a
 * file that happens to have no 0 in it cannot be told from one that counts from 1.
 */
function lockerFrom(text: string): number | null {
  if (!text) return null;
  if (!/^\d+$/.test(text)) throw new Error(`locker ${JSON.stringify(text)} is not a number`);
  const locker = Number(text);
  if (locker === 0) throw new Error('locker 0: lockers count from 1, like the doors (the first locker is 1); a file numbered from 0 must have 1 added to every locker');
  return locker - 1;
}

/** The asset register's own sentences name lockers as stored (from 0); the row report counts from 1. */
function lockerWordsFromOne(reason: string): string {
  return reason
    .replace(/^locker (\d+) does not exist at (\S+) \(0\.\.(\d+)\)/, (_, locker, station, last) => `locker ${Number(locker) + 1} does not exist at ${station} (1 to ${Number(last) + 1})`)
    .replace(/^locker ([^/\s]+)\/(\d+) is already home to/, (_, station, locker) => `locker ${station}/${Number(locker) + 1} is already home to`);
}

/** `school`: whose assets the file lists (issue 16); needed when the deployment holds several schools. */
export async function importAssetsFrom(records: Records, csv: AssetCsvSource, actor: Actor, onProgress?: (done: number, total: number) => void, school?: string | null): Promise<AssetImportResult> {
  const stored = records.schools.stored(await records.schools.resolve(school));
  const classes = await records.assets.classes();
  const inputs: Array<{ line: number; input: AssetInput | null; error?: string }> = [];
  let columns: Partial<Record<Field, number>> | null = null;
  let unused: string[] = [];
  const cell = (record: CsvRecord, field: Field) => (columns![field] === undefined ? '' : (record.fields[columns![field]!] ?? '').trim());
  for await (const record of csv) {
    if (!columns) {
      ({ columns, unused } = matchColumns<Field>(record.fields, ASSET_COLUMNS as unknown as Record<Field, string[]>));
      if (columns.tag === undefined) throw new Error('no asset tag column: name one "Asset Tag" or "Tag"');
      if (columns.assetClass === undefined) throw new Error('no class column: name one "Class", "Category" or "Type"');
      continue;
    }
    try {
      const station = cell(record, 'station');
      const homeLocker = lockerFrom(cell(record, 'locker'));
      const priceText = cell(record, 'price');
      const daysText = cell(record, 'healthCheckDays');
      if (daysText && !/^\d+$/.test(daysText)) throw new Error(`health check days ${JSON.stringify(daysText)} is not a number`);
      inputs.push({
        line: record.line,
        input: {
          tag: cell(record, 'tag'),
          serial: cell(record, 'serial') || null,
          classId: classFromText(cell(record, 'assetClass'), classes),
          model: cell(record, 'model') || null,
          encryption: encryptionFrom(cell(record, 'encryption')),
          replacementPence: priceText ? parsePounds(priceText) : null,
          healthCheckDays: daysText ? Number(daysText) : null,
          lastHealthCheck: dateFrom(cell(record, 'lastHealthCheck')),
          homeStation: station || null,
          homeLocker,
          tagUid: cell(record, 'tagUid') || null,
        },
      });
    } catch (error) {
      inputs.push({ line: record.line, input: null, error: (error as Error).message });
    }
  }
  if (!columns) throw new Error('the file is empty');
  for (const { input } of inputs) if (input) input.school = stored;
  const result = await upsertAll(records, inputs, actor, 'csv', onProgress, unused);
  for (const problem of result.problems) problem.reason = lockerWordsFromOne(problem.reason);
  return result;
}

async function upsertAll(
  records: Records,
  inputs: Array<{ line: number; input: AssetInput | null; error?: string }>,
  actor: Actor,
  source: string,
  onProgress: ((done: number, total: number) => void) | undefined,
  unusedColumns: string[],
): Promise<AssetImportResult> {
  const result: AssetImportResult = { rows: inputs.length, added: 0, updated: 0, problems: [], unusedColumns };
  const seen = new Map<string, number>();
  // Batches of 200, each its own transaction, with a pause between for the hub's other work.
  for (let start = 0; start < inputs.length; start += 200) {
    await records.db.transaction(async (tx) => {
      for (const { line, input, error } of inputs.slice(start, start + 200)) {
        if (!input) {
          result.problems.push({ line, reason: error! });
          continue;
        }
        if (seen.has(input.tag)) {
          result.problems.push({ line, reason: `asset tag ${input.tag} already on line ${seen.get(input.tag)}` });
          continue;
        }
        seen.set(input.tag, line);
        try {
          const { created } = await tx.transaction((inner) => records.assets.upsert(input, actor, inner));
          if (created) result.added++;
          else result.updated++;
        } catch (failure) {
          const reason = (failure as Error).message;
          result.problems.push({ line, reason: source === 'snipe-it' ? `Snipe-IT asset ${line} (${input.tag}): ${reason}` : reason });
        }
      }
    });
    onProgress?.(Math.min(start + 200, inputs.length), inputs.length);
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  onProgress?.(inputs.length, inputs.length);
  await records.audit.append({ actor: actorLabel(actor), action: 'import.assets', subject: 'assets', details: { source, rows: result.rows, added: result.added, updated: result.updated, problems: result.problems.length } });
  return result;
}

// ---- Snipe-IT ----

export interface SnipeItOptions {
  /** Whose assets they are (issue 16); needed when the deployment holds several schools. */
  school?: string | null;
  /** e.g. https://snipeit.school.example (the API is under /api/v1). */
  url: string;
  token: string;
  /** Custom-field names on the Snipe-IT side. */
  fields?: { encryption?: string; tagUid?: string; station?: string; locker?: string; healthCheckDays?: string; lastHealthCheck?: string };
  /** Only assets in these Snipe-IT categories (by name); default: every category that maps to a class. */
  categories?: string[];
  pageSize?: number;
}

interface SnipeItHardware {
  id: number;
  asset_tag: string;
  serial?: string | null;
  name?: string | null;
  model?: { name?: string | null } | null;
  category?: { name?: string | null } | null;
  purchase_cost?: string | number | null;
  custom_fields?: Record<string, { value?: string | null } | undefined> | null;
}

/** Reads every asset from Snipe-IT's hardware API, page by page, and registers those of known classes. */
export async function importAssetsFromSnipeIt(records: Records, options: SnipeItOptions, actor: Actor, onProgress?: (done: number, total: number) => void): Promise<AssetImportResult & { skipped: number }> {
  const fields = { encryption: 'Encryption', tagUid: 'Tag UID', station: 'Home Station', locker: 'Home Locker', healthCheckDays: 'Health Check Days', lastHealthCheck: 'Last Health Check', ...options.fields };
  const classes = await records.assets.classes();
  const pageSize = options.pageSize ?? 500;
  const base = options.url.replace(/\/+$/, '');
  const hardware: SnipeItHardware[] = [];
  for (let offset = 0; ; offset += pageSize) {
    const response = await fetch(`${base}/api/v1/hardware?limit=${pageSize}&offset=${offset}&sort=id&order=asc`, {
      headers: { authorization: `Bearer ${options.token}`, accept: 'application/json' },
    });
    if (!response.ok) throw new Error(`Snipe-IT answered ${response.status} ${response.statusText} for /api/v1/hardware`);
    const page = (await response.json()) as { total?: number; rows?: SnipeItHardware[]; status?: string; messages?: unknown };
    if (page.status === 'error') throw new Error(`Snipe-IT: ${JSON.stringify(page.messages)}`);
    if (!Array.isArray(page.rows)) throw new Error('Snipe-IT answered without a "rows" list: is the URL the Snipe-IT site?');
    hardware.push(...page.rows);
    onProgress?.(hardware.length, page.total ?? hardware.length);
    if (page.rows.length < pageSize || (page.total !== undefined && hardware.length >= page.total)) break;
  }
  let skipped = 0;
  const inputs: Array<{ line: number; input: AssetInput | null; error?: string }> = [];
  for (const item of hardware) {
    const category = item.category?.name ?? '';
    if (options.categories && !options.categories.includes(category)) {
      skipped++;
      continue;
    }
    let classId: string;
    try {
      classId = classFromText(category, classes);
    } catch {
      if (options.categories) {
        inputs.push({ line: item.id, input: null, error: `Snipe-IT asset ${item.id} (${item.asset_tag}): category ${JSON.stringify(category)} matches no asset class` });
      } else skipped++;
      continue;
    }
    const custom = (name: string) => (item.custom_fields?.[name]?.value ?? '').toString().trim();
    try {
      const locker = custom(fields.locker);
      const days = custom(fields.healthCheckDays);
      const cost = item.purchase_cost === null || item.purchase_cost === undefined || item.purchase_cost === '' ? null : parsePounds(String(item.purchase_cost));
      inputs.push({
        line: item.id,
        input: {
          tag: item.asset_tag,
          serial: item.serial ?? null,
          classId,
          model: item.model?.name ?? item.name ?? null,
          encryption: encryptionFrom(custom(fields.encryption)),
          replacementPence: cost,
          healthCheckDays: days ? Number(days) : null,
          lastHealthCheck: dateFrom(custom(fields.lastHealthCheck)),
          homeStation: custom(fields.station) || null,
          homeLocker: lockerFrom(locker),
          tagUid: custom(fields.tagUid) || null,
          externalRef: `snipe-it:${item.id}`,
        },
      });
    } catch (error) {
      inputs.push({ line: item.id, input: null, error: `Snipe-IT asset ${item.id} (${item.asset_tag}): ${(error as Error).message}` });
    }
  }
  const stored = records.schools.stored(await records.schools.resolve(options.school));
  for (const { input } of inputs) if (input) input.school = stored;
  const result = await upsertAll(records, inputs, actor, 'snipe-it', undefined, []);
  for (const problem of result.problems) problem.reason = problem.reason.replace(/^(Snipe-IT asset \d+ \([^)]*\): )(.*)$/s, (_, lead, reason) => lead + lockerWordsFromOne(reason));
  return { ...result, skipped };
}
