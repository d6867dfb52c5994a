// Every shipped pin map against what the ESP32 can do under Espruino (protocol/esp32-pins.ts): a
// watched pin (door switches, the reader's IRQ, the expanders' INT) must be one setWatch can watch
// and not one read at reset; a pin driven by the station must have an output driver; no pin is
// wired to two things. (The direct-wired map once put a door on GPIO 12, which cannot be watched,
// and one on GPIO 0, whose shut door would start the board in download mode.)
import { describe, expect, it } from 'vitest';
import { pinMapProblems, WATCHABLE_GPIOS } from '../../protocol/esp32-pins';
import { directPinMap, expanderPinMap, type PinMap } from '../../protocol/pin-map';

/** Every pin map a station can be given: the expander board, and the direct-wired one at each size. */
function shippedMaps(): Array<[string, PinMap]> {
  const maps: Array<[string, PinMap]> = [['expanderPinMap()', expanderPinMap()]];
  for (let lockers = 1; ; lockers++) {
    try {
      maps.push([`directPinMap(${lockers})`, directPinMap(lockers)]);
    } catch {
      break;
    }
  }
  return maps;
}

describe('shipped pin maps', () => {
  const maps = shippedMaps();

  it('include the direct-wired map at every size it offers', () => {
    expect(maps.length).toBeGreaterThan(2);
    expect(() => directPinMap(maps.length)).toThrow(/at most/);
  });

  it('the list of watchable pins leaves out GPIO 6 to 12, as Espruino on the ESP32 does', () => {
    expect(WATCHABLE_GPIOS.filter((pin) => pin >= 6 && pin <= 12)).toEqual([]);
    expect(WATCHABLE_GPIOS).toEqual(expect.arrayContaining([4, 13, 27, 32, 33, 34, 39]));
  });

  // The one check (protocol/esp32-pins.ts pinMapProblems) that npm run flash and the hub before
  // SET_CONFIG run: watched pins watchable and not strapping, driven pins with an output driver,
  // none reserved, none wired to two things.
  it.each(maps)('%s: the one check flash and the hub run finds nothing', (_name, map) => {
    expect(pinMapProblems({ ...map })).toEqual([]);
  });

  it('the check flash runs names a door on a strapping or unwatchable pin, an input-only lock, and a pin used twice', () => {
    const map = directPinMap(3);
    const wrong = { ...map, doors: [15, 12, 33], locks: [13, 35, 33] };
    expect(pinMapProblems(wrong)).toEqual([
      'pins.doors[0] on GPIO 15: a strapping pin, read at reset',
      'pins.doors[1] on GPIO 12: setWatch cannot watch it',
      'pins.locks[1] on GPIO 35: input only',
      'pins.doors[2] on GPIO 33: already pins.locks[2]',
    ]);
    expect(pinMapProblems({ ...map, locks: [1, 9, 13] })).toEqual(['pins.locks[0] on GPIO 1: reserved (SPI flash or console)', 'pins.locks[1] on GPIO 9: reserved (SPI flash or console)']);
    expect(pinMapProblems({ ...map, doors: ['a', null, 40] })).toEqual(['pins.doors[0]: "a" is not a GPIO of the ESP32', 'pins.doors[1]: null is not a GPIO of the ESP32', 'pins.doors[2]: 40 is not a GPIO of the ESP32']);
  });
});
