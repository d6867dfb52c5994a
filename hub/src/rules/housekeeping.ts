// Scheduled rules: once a minute (and at start), phones still in a locker after the end-of-day
// cut-off are marked uncollected (P1, P13), and day cards whose cut-off has come stop (issue 17). The rule itself lives in records/lost-property.ts;
// this module only runs it on time. A failure is logged and retried on the next tick.
import type { Logger } from '../log';
import type { DayCards } from '../records/day-cards';
import type { LostProperty } from '../records/lost-property';

export interface HousekeepingOptions {
  lostProperty: LostProperty;
  /** Day cards stop at their cut-off (issue 17). */
  dayCards?: DayCards;
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

  /** Whether this hub runs the sweep (cluster/leadership.ts: one of several hubs does). */
  leading: () => boolean = () => true;

  tick(): Promise<void> {
    if (this.running) return this.running;
    if (!this.leading()) return Promise.resolve();
    this.running = (async () => {
      try {
        const marked = await this.options.lostProperty.markUncollected(this.options.now?.() ?? new Date());
        if (marked > 0) this.options.log.info(`${marked === 1 ? '1 phone' : `${marked} phones`} left after the cut-off marked uncollected`);
      } catch (error) {
        this.options.log.warn(`uncollected-phone sweep failed: ${(error as Error).message}`);
      }
      try {
        const ended = (await this.options.dayCards?.expire(this.options.now?.() ?? new Date())) ?? 0;
        if (ended > 0) this.options.log.info(`${ended} day card${ended === 1 ? '' : 's'} stopped at the cut-off`);
      } catch (error) {
        this.options.log.warn(`day-card sweep failed: ${(error as Error).message}`);
      }
    })().finally(() => (this.running = null));
    return this.running;
  }
}
