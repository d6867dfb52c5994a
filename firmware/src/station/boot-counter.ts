// Counts boots in flash, so (station, boot, sequence) names every event uniquely, and events
// from before the hub sent the time can still be ordered.
import type { FlashStore } from '../hal';

const BOOT_FILE = 'handover.boot';

export function nextBootCount(flash: FlashStore): number {
  const previous = parseInt(flash.readText(BOOT_FILE) || '0', 10);
  const boot = (isNaN(previous) ? 0 : previous) + 1;
  flash.writeText(BOOT_FILE, String(boot));
  return boot;
}
