// Scheduled rules: once a minute (and at start), phones still in a locker after the end-of-day
// cut-off are marked uncollected (P1, P13). The rule itself lives in records/lost-property.ts;
// this module only runs it on time. A failure is logged and retried on the next tick.
import type { Logger } from '../log';
import type { LostProperty } from '../records/lost-property';

export interface HousekeepingOptions {
  lostProperty: LostProperty;
  log: Logger;
  intervalMs?: number;
  now?: () => Date;
}

export class Housekeeping {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;

  constructor(private options: HousekeepingOptions) {}

  async start(): Promise<void> {
    await this.tick();
    this.timer = setInterval(() => void this.tick(), this.options.intervalMs ?? 60_000);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
  }

  tick(): Promise<void> {
    if (this.running) return this.running;
    this.running = (async () => {
      try {
        const marked = await this.options.lostProperty.markUncollected(this.options.now?.() ?? new Date());
        if (marked > 0) this.options.log.info(`${marked} phone(s) left after the cut-off marked uncollected`);
      } catch (error) {
        this.options.log.warn(`uncollected-phone sweep failed: ${(error as Error).message}`);
      }
    })().finally(() => (this.running = null));
    return this.running;
  }
}
