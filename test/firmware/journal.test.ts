// The flash journal and the locker-state file, directly on the simulator's flash model (fixed-size
// files, write-once bytes, power cuts at any byte).
import { describe, expect, it } from 'vitest';
import { FlashStorage, PowerCut } from '../../hardware/sim/flash-storage';
import { Journal, JOURNAL_DEFAULTS, type NewEntry } from '../../firmware/src/storage/journal';
import { LockerStore } from '../../firmware/src/storage/locker-store';
import { DETAIL, EVENT } from '../../protocol/wire';
import { nodeCrypto, nodeFlash } from '../support/node-flash';

function entry(type: number, person = 0): NewEntry {
  return { type, locker: 3, detail: 0, uptimeMs: 1234, wallSec: 0, person, actor: 0, witness: 0, badge: new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]) };
}

function readAll(journal: Journal) {
  const cursor = journal.start();
  const entries = [];
  for (let e = journal.next(cursor); e; e = journal.next(cursor)) entries.push(e);
  return entries;
}

describe('journal', () => {
  it('holds at least 10,000 events in flash, then refuses rather than overwrite', () => {
    const storage = new FlashStorage(null);
    const journal = new Journal(nodeFlash(storage), nodeCrypto, JOURNAL_DEFAULTS);
    journal.open(1);
    let appended = 0;
    while (journal.append(entry(2, appended + 1)) > 0) appended++;
    expect(appended).toBe(JOURNAL_DEFAULTS.maxSegments * JOURNAL_DEFAULTS.recordsPerSegment);
    expect(appended).toBeGreaterThanOrEqual(10_000);
    expect(journal.append(entry(2))).toBe(0);
    console.log(`journal: ${appended} events in ${storage.list().length} files, ${(896 * 1024 - storage.getFree()) / 1024} KiB of flash`);
    const all = readAll(journal);
    expect(all.length).toBe(appended);
    expect(all[0]).toMatchObject({ boot: 1, seq: 1, type: 2, locker: 3, person: 1 });
    expect(all[appended - 1].seq).toBe(appended);
    // The hub confirms the first 1,000: whole segments of them are erased, and room comes back.
    const erased = journal.confirm(1, 1000);
    expect(erased).toBe(Math.floor(1000 / JOURNAL_DEFAULTS.recordsPerSegment));
    expect(journal.append(entry(2))).toBe(appended + 1);
  });

  it('keeps everything across a reboot and numbers the new boot from 1', () => {
    const storage = new FlashStorage(null);
    const first = new Journal(nodeFlash(storage), nodeCrypto, JOURNAL_DEFAULTS);
    first.open(1);
    for (let i = 0; i < 300; i++) first.append(entry(2, i));
    const second = new Journal(nodeFlash(storage), nodeCrypto, JOURNAL_DEFAULTS);
    expect(second.open(2)).toEqual([]);
    expect(second.backlog()).toBe(300);
    expect(second.append(entry(3))).toBe(1);
    const all = readAll(second);
    expect(all.length).toBe(301);
    expect(all[300]).toMatchObject({ boot: 2, seq: 1, type: 3 });
    // Confirming boot 1 in full erases its segments; boot 2's open segment stays.
    second.confirm(1, 300);
    expect(readAll(second).map((e) => `${e.boot}/${e.seq}`)).toEqual(['2/1']);
  });

  it('marks a record torn by a power cut at any byte as lost, and loses nothing before it', () => {
    for (const cutAt of [0, 1, 5, 17, 39]) {
      const storage = new FlashStorage(null);
      const journal = new Journal(nodeFlash(storage), nodeCrypto, JOURNAL_DEFAULTS);
      journal.open(1);
      for (let i = 0; i < 10; i++) journal.append(entry(2, i + 1));
      storage.cutPowerAfter(cutAt);
      expect(() => journal.append(entry(9))).toThrow(PowerCut);
      storage.powerOn();
      const after = new Journal(nodeFlash(storage), nodeCrypto, JOURNAL_DEFAULTS);
      const problems = after.open(2);
      const survivors = readAll(after);
      expect(survivors.slice(0, 10).map((e) => `${e.seq}:${e.type}`)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map((seq) => `${seq}:2`));
      // A slot the cut left torn reads as a lost-record fault under its own number.
      const torn = cutAt > 0 ? 1 : 0;
      expect(survivors.slice(10).map((e) => [e.boot, e.seq, e.type, e.detail])).toEqual(torn ? [[1, 11, EVENT.FAULT, DETAIL.TORN_RECORD]] : []);
      if (cutAt > 0) expect(problems.join()).toMatch(/torn/);
      // The torn slot is never reused; the next boot writes to a new segment.
      expect(after.append(entry(3))).toBe(1);
      expect(readAll(after).length).toBe(11 + torn);
    }
  });

  it('reads a corrupted record as a lost-record fault under its number, and the rest as they were', () => {
    const storage = new FlashStorage(null);
    const journal = new Journal(nodeFlash(storage), nodeCrypto, JOURNAL_DEFAULTS);
    journal.open(1);
    for (let i = 0; i < 5; i++) journal.append(entry(2, i + 1));
    const file = storage.readBytes('hj.0')!;
    file[16 + 2 * 40 + 17] ^= 0xff; // flip bits inside record 3's person field
    const reopened = new Journal(nodeFlash(storage), nodeCrypto, JOURNAL_DEFAULTS);
    expect(reopened.open(2).join()).toMatch(/1 torn/);
    expect(readAll(reopened).map((e) => [e.seq, e.type, e.detail])).toEqual([
      [1, 2, 0],
      [2, 2, 0],
      [3, EVENT.FAULT, DETAIL.TORN_RECORD],
      [4, 2, 0],
      [5, 2, 0],
    ]);
  });
});

describe('locker state in flash', () => {
  it('restores every locker after a reboot, through many changes and file turnovers', () => {
    const storage = new FlashStorage(null);
    const states = new Uint8Array(32);
    const owners = new Uint32Array(32);
    const store = new LockerStore(nodeFlash(storage), nodeCrypto, 64);
    store.restore(states, owners);
    for (let round = 0; round < 500; round++) {
      const locker = (round * 7) % 32;
      states[locker] = (round % 3) + 1;
      owners[locker] = 1000 + round;
      store.save(locker, states, owners);
    }
    expect(storage.list().filter((name) => name.startsWith('hs.')).length).toBe(1);
    const restoredStates = new Uint8Array(32);
    const restoredOwners = new Uint32Array(32);
    expect(new LockerStore(nodeFlash(storage), nodeCrypto, 64).restore(restoredStates, restoredOwners)).toEqual([]);
    expect(restoredStates).toEqual(states);
    expect(restoredOwners).toEqual(owners);
  });

  it('survives a power cut while a new state file is being started', () => {
    const storage = new FlashStorage(null);
    const states = new Uint8Array(8);
    const owners = new Uint32Array(8);
    const store = new LockerStore(nodeFlash(storage), nodeCrypto, 10);
    store.restore(states, owners);
    states[1] = 1;
    owners[1] = 77;
    store.save(1, states, owners); // slot 8 (the first 8 hold the snapshot)
    store.save(1, states, owners); // slot 9: the file is now full
    states[2] = 1;
    owners[2] = 78;
    storage.cutPowerAfter(30); // the snapshot into the next file is cut short
    expect(() => store.save(2, states, owners)).toThrow(PowerCut);
    storage.powerOn();
    const restoredStates = new Uint8Array(8);
    const restoredOwners = new Uint32Array(8);
    const problems = new LockerStore(nodeFlash(storage), nodeCrypto, 10).restore(restoredStates, restoredOwners);
    expect(problems.join()).toMatch(/incomplete/);
    expect(restoredOwners[1]).toBe(77); // the last whole state is back; the interrupted change is not
    expect(restoredOwners[2]).toBe(0);
  });
});
