// Tap to lock energised, through the built bundle in the simulator with 5,000 badges in flash:
// SPI transactions and firmware JavaScript work from the reader's IRQ edge to the lock coil.
// The JavaScript time is V8's, so it ranks changes; ../shared/ESPRUINO.md's factor (and the README's
// host-interpreter figures) say what it means on an ESP32.
import crypto from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { ROLE } from '../protocol/wire';
import type { BadgeRecord } from '../firmware/src/station/badge-list';
import { StationRig } from '../test/support/station-rig';
import type { BenchOptions } from './options';
import { printTable, type Row } from './table';

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

export async function benchTapPath({ quick }: BenchOptions): Promise<void> {
  const TAPS = quick ? 3 : 15;
  const cards = [
    { label: '4-byte UID', uid: '04a1b2c3' },
    { label: '7-byte UID', uid: '0411223344a580' },
  ];
  const extra: BadgeRecord[] = Array.from({ length: 4998 }, (_, i) => ({
    hash: new Uint8Array(crypto.createHash('sha256').update(`filler-${i}`).digest().subarray(0, 8)),
    person: 10_000 + i,
    role: ROLE.PUPIL,
    assetClasses: 0,
    flags: 0,
  }));
  const rig = await new StationRig({
    lockers: 8,
    people: cards.map((card, i) => ({ uid: card.uid, person: i + 1, role: ROLE.PUPIL })),
    extraBadges: extra,
    acknowledge: true,
  }).start();
  const rows: Row[] = [];
  try {
    const station = rig.station;
    for (const card of cards) {
      const spi: number[] = [];
      const jsMs: number[] = [];
      const calls: number[] = [];
      const latencyMs: number[] = [];
      for (let tap = 0; tap < TAPS; tap++) {
        let at = { spi: 0, ms: 0, calls: 0, time: 0 };
        const onIrq = () => {
          if (at.time === 0) at = { spi: station.env.spiStats.transfers, ms: station.env.firmwareMs, calls: station.env.firmwareCalls, time: performance.now() };
        };
        station.on('irq', onIrq);
        const unlocked = station.waitForUnlock(3000);
        const opened = station.waitForDoor(true, 3000);
        station.placeCard(card.uid);
        const locker = await unlocked;
        station.off('irq', onIrq);
        if (locker === null) throw new Error(`${card.label}: no unlock; station log:\n${station.logLines.join("\n")}\nevents: ${JSON.stringify(rig.frames.map((f) => [f.type, f.detail]))}`);
        spi.push(station.env.spiStats.transfers - at.spi);
        jsMs.push(station.env.firmwareMs - at.ms);
        calls.push(station.env.firmwareCalls - at.calls);
        latencyMs.push(performance.now() - at.time);
        station.removeCard(card.uid);
        await opened;
        await sleep(150); // the pupil puts the phone in: longer than the door switch's debounce
        station.lockers.closeDoor(locker);
        await sleep(400);
      }
      rows.push({
        card: card.label,
        badges: 5000,
        taps: TAPS,
        'SPI transactions (median)': median(spi),
        'firmware callbacks': median(calls),
        'firmware JS ms, Node (median)': median(jsMs).toFixed(3),
        'IRQ to coil ms, simulated (median)': median(latencyMs).toFixed(1),
      });
    }
  } finally {
    await rig.stop();
  }
  printTable('Tap to lock energised (IRQ edge to coil on; 5,000 badges)', rows);
}
