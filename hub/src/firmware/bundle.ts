// A firmware bundle as the hub takes it for a network update (issue 19): dist/firmware.js, whose
// first line names its version ("// handover-firmware 1.2.3", written by tools/build-firmware.mjs),
// its chained hash (protocol/firmware.ts) and, per station, the signature the station checks.
import crypto from 'node:crypto';
import { FIRMWARE_BLOCK, FIRMWARE_MAX_BYTES, firmwareBytes, firmwareVersionNumber } from '../../../protocol/firmware';

export interface FirmwareBundle {
  /** "1.2.3" */
  versionText: string;
  /** 1002003: the order of versions. */
  version: number;
  bytes: Uint8Array;
  hash: Uint8Array;
}

export type BundleResult = { ok: true; bundle: FirmwareBundle } | { ok: false; error: string };

const sha256 = (data: Uint8Array) => new Uint8Array(crypto.createHash('sha256').update(data).digest());

/** The chained SHA-256 of a bundle, block by block, as the station computes it. */
export function bundleHash(bytes: Uint8Array): Uint8Array {
  const chainStep = firmwareBytes().chainStep;
  let chain: Uint8Array = new Uint8Array(32);
  for (let at = 0; at < bytes.length; at += FIRMWARE_BLOCK) chain = chainStep(sha256, chain, bytes.subarray(at, at + FIRMWARE_BLOCK));
  return chain;
}

/** Reads and checks a bundle file's bytes: its version line, its size, and that it is text (never a 0xFF byte). */
export function readBundle(bytes: Uint8Array): BundleResult {
  if (bytes.length === 0) return { ok: false, error: 'the file is empty' };
  if (bytes.length > FIRMWARE_MAX_BYTES) return { ok: false, error: `the file is ${bytes.length} bytes; a station takes at most ${FIRMWARE_MAX_BYTES}` };
  const firstLine = Buffer.from(bytes.subarray(0, 64)).toString('latin1').split('\n')[0];
  const named = /^\/\/ handover-firmware (\d+\.\d+\.\d+)$/.exec(firstLine);
  if (!named) return { ok: false, error: 'not a Handover firmware bundle (its first line must be "// handover-firmware <version>": build it with npm run build)' };
  const version = firmwareVersionNumber(named[1]);
  if (!version) return { ok: false, error: `version ${named[1]}: each part must be 0..999` };
  // A station finds where a cut transfer stopped by the first erased (0xFF) byte: the bundle is text.
  if (bytes.includes(255)) return { ok: false, error: 'the file holds a 0xFF byte: a bundle is UTF-8 text' };
  return { ok: true, bundle: { versionText: named[1], version, bytes, hash: bundleHash(bytes) } };
}

/** The signature one station checks: HMAC-SHA256 with its key over (hash, version, rollback). */
export function signBundle(stationKeyHex: string, hash: Uint8Array, version: number, rollback: boolean): Uint8Array {
  return new Uint8Array(crypto.createHmac('sha256', Buffer.from(stationKeyHex, 'hex')).update(firmwareBytes().signed(hash, version, rollback)).digest());
}
