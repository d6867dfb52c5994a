// A person at the locker bank: taps a badge, waits for the door the lock released to spring
// open, puts the phone in (or takes it out), and pushes the door shut. Used by the demo page and
// by the tests.
import { setTimeout as sleep } from 'node:timers/promises';
import type { SimulatedStation } from './simulated-station';

export interface VisitTiming {
  /** How long to wait for a door to open after the tap. */
  unlockTimeoutMs: number;
  /** How long the door stays open. */
  openMs: number;
  /** From shutting the door to the next person's tap. */
  leaveMs: number;
}

export const HUMAN_PACE: VisitTiming = { unlockTimeoutMs: 3000, openMs: 500, leaveMs: 300 };

export interface VisitResult {
  locker: number | null;
}

export type VisitStep = { step: 'card-in' | 'card-out' | 'door-open' | 'door-closed'; locker?: number };

export async function visitLocker(station: SimulatedStation, uidHex: string, timing: VisitTiming, onStep: (step: VisitStep) => void = () => {}): Promise<VisitResult> {
  const opened = station.waitForDoor(true, timing.unlockTimeoutMs);
  station.placeCard(uidHex);
  onStep({ step: 'card-in' });
  const locker = await opened;
  station.removeCard(uidHex);
  onStep({ step: 'card-out' });
  if (locker === null) return { locker };
  onStep({ step: 'door-open', locker });
  await sleep(timing.openMs);
  station.lockers.closeDoor(locker);
  onStep({ step: 'door-closed', locker });
  await sleep(timing.leaveMs);
  return { locker };
}

/** Taps a card and takes it away again, nothing more (a badge in a staff sequence). */
export async function tapCard(station: SimulatedStation, uidHex: string, holdMs = 400): Promise<void> {
  station.placeCard(uidHex);
  await sleep(holdMs);
  station.removeCard(uidHex);
}
