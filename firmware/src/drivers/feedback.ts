// The status LED and the buzzer: a short pattern for each outcome of a tap, played with timers
// (never a busy wait). A new pattern cuts off the one playing.
import type { Clock, Gpio } from '../hal';

export type FeedbackKind = 'accepted' | 'refused' | 'prompt' | 'alarm';

// Alternating on/off durations in ms, starting with on. LED and buzzer play the same rhythm.
// Looked up by the kind's text, so the keys are quoted: the build mangles unquoted property names.
const PATTERNS: { [kind: string]: number[] } = {
  'accepted': [120], // one short beep
  'refused': [80, 80, 80], // two quick beeps
  'prompt': [40, 120, 40], // two blips: waiting for the next tap
  'alarm': [400, 150, 400, 150, 400], // three long beeps
};

export class Feedback {
  private gpio: Gpio;
  private clock: Clock;
  private ledPin: number;
  private buzzerPin: number;
  private timer = -1;
  last = '';

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
    const steps = PATTERNS[kind];
    if (!steps) return;
    this.last = kind;
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
