// Firmware bundles for update tests (issue 19): the built dist/firmware.js as another version (its
// version line and the version text the station reports), optionally one that throws at boot.
import fs from 'node:fs';
import { readBundle, type FirmwareBundle } from '../../hub/src/firmware/bundle';
import { BUNDLE } from './station-rig';

export interface BundleFaults {
  /** The bundle throws before it starts. */
  throwAtBoot?: boolean;
  /** The bundle restarts the board as soon as it runs (as a crash loop or the watchdog would). */
  resetAtBoot?: boolean;
}

export function bundleText(versionText: string, options: BundleFaults = {}): string {
  const built = fs.readFileSync(BUNDLE, 'utf8');
  const own = /^\/\/ handover-firmware (\S+)\n/.exec(built)![1];
  let text = built.replace(`// handover-firmware ${own}\n`, `// handover-firmware ${versionText}\n`).replace(`"${own}"`, `"${versionText}"`);
  if (options.throwAtBoot) text = text.replace('\n', '\nthrow new Error("this bundle is broken");\n');
  if (options.resetAtBoot) text = text.replace('\n', '\nrequire("ESP32").reboot();\n');
  return text;
}

export function bundleAs(versionText: string, options: BundleFaults = {}): FirmwareBundle {
  const read = readBundle(new Uint8Array(Buffer.from(bundleText(versionText, options), 'utf8')));
  if (!read.ok) throw new Error(read.error);
  return read.bundle;
}
