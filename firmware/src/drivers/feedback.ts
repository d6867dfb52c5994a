// The status LED and the buzzer: a short pattern for each outcome of a tap, played with timers
// (never a busy wait). A new pattern cuts off the one playing.
import type { Clock, Gpio } from '../hal';

export type FeedbackKind = 'accepted' | 'refused' | 'prompt' | 'alarm';


export class Feedback {
  private gpio: Gpio;
  private clock: Clock;
  private ledPin: number;
  private buzzerPin: number;
  private timer = -1;

  constructor(gpio: Gpio, clock: Clock, ledPin: number, buzzerPin: number) {
    this.gpio = gpio;
    this.clock = clock;
    this.ledPin = ledPin;
    this.buzzerPin = buzzerPin;
    this.set(false);
  }

  private set(on: boolean): void {
    this.gpio.write(this.ledPin, on);
    this.gpio.write(this.buzzerPin, on);
  }

  play(kind: FeedbackKind): void {
    // Alternating on/off durations in ms, starting with on; LED and buzzer play the same rhythm.
    // Made per call rather than kept in a table: a table kept for good costs about 20 variables.
    const steps =
      kind === 'accepted'
        ? [120] // one short beep
        : kind === 'refused'
          ? [80, 80, 80] // two quick beeps
          : kind === 'prompt'
            ? [40, 120, 40] // two blips: waiting for the next tap
            : kind === 'alarm'
              ? [400, 150, 400, 150, 400] // three long beeps
              : null;
    if (!steps) return;
    if (this.timer >= 0) this.clock.clearTimeout(this.timer);
    let step = 0;
    const next = () => {
      if (step >= steps.length) {
        this.set(false);
        this.timer = -1;
        return;
      }
      this.set(step % 2 === 0);
      this.timer = this.clock.setTimeout(next, steps[step]);
      step++;
    };
    next();
  }
}
