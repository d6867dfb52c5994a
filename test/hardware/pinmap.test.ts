// Every shipped pin map against what the ESP32 can do under Espruino (protocol/esp32-pins.ts): a
// watched pin (door switches, the reader's IRQ, the expanders' INT) must be one setWatch can watch
// and not one read at reset; a pin driven by the station must have an output driver; no pin is
// wired to two things. (The direct-wired map once put a door on GPIO 12, which cannot be watched,
// and one on GPIO 0, whose shut door would start the board in download mode.)
import { describe, expect, it } from 'vitest';
import { ESP32_GPIOS, INPUT_ONLY_GPIOS, pinMapProblems, RESERVED_GPIOS, STRAPPING_GPIOS, WATCHABLE_GPIOS } from '../../protocol/esp32-pins';
import { directPinMap, expanderPinMap, type PinMap } from '../../protocol/pin-map';

function watched(map: PinMap): Record<string, number> {
  const pins: Record<string, number> = { rfidIrq: map.rfidIrq };
  if (map.expanderInt !== undefined) pins.expanderInt = map.expanderInt;
  map.doors.forEach((pin, i) => (pins[`doors[${i}]`] = pin));
  return pins;
}

function driven(map: PinMap): Record<string, number> {
  const pins: Record<string, number> = { sck: map.sck, mosi: map.mosi, rfidCs: map.rfidCs, rfidReset: map.rfidReset, led: map.led, buzzer: map.buzzer };
  if (map.expanderCs !== undefined) pins.expanderCs = map.expanderCs;
  map.locks.forEach((pin, i) => (pins[`locks[${i}]`] = pin));
  return pins;
}

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

const problems = (pins: Record<string, number>, bad: (pin: number) => string | null) =>
  Object.entries(pins).flatMap(([name, pin]) => {
    const why = bad(pin);
    return why ? [`${name} on GPIO ${pin}: ${why}`] : [];
  });

describe('shipped pin maps', () => {
  const maps = shippedMaps();

  it('include the direct-wired map at every size it offers', () => {
    expect(maps.length).toBeGreaterThan(2);
    expect(() => directPinMap(maps.length)).toThrow(/at most/);
  });

  it.each(maps)('%s: every watched pin can be watched and is not read at reset', (_name, map) => {
    expect(problems(watched(map), (pin) => (!WATCHABLE_GPIOS.includes(pin) ? 'setWatch cannot watch it' : STRAPPING_GPIOS.includes(pin) ? 'a strapping pin, read at reset' : null))).toEqual([]);
  });

  it.each(maps)('%s: every driven pin has an output driver, and none is the flash or the console', (_name, map) => {
    expect(problems(driven(map), (pin) => (!ESP32_GPIOS.includes(pin) ? 'no such GPIO' : INPUT_ONLY_GPIOS.includes(pin) ? 'input only' : null))).toEqual([]);
    expect(problems({ ...driven(map), ...watched(map), miso: map.miso }, (pin) => (RESERVED_GPIOS.includes(pin) ? 'reserved (SPI flash or console)' : null))).toEqual([]);
  });

  it.each(maps)('%s: no pin is wired to two things', (_name, map) => {
    const all = Object.entries({ ...driven(map), ...watched(map), miso: map.miso });
    const shared = all.filter(([, pin], i) => all.findIndex(([, other]) => other === pin) !== i);
    expect(shared).toEqual([]);
  });

  it('the list of watchable pins leaves out GPIO 6 to 12, as Espruino on the ESP32 does', () => {
    expect(WATCHABLE_GPIOS.filter((pin) => pin >= 6 && pin <= 12)).toEqual([]);
    expect(WATCHABLE_GPIOS).toEqual(expect.arrayContaining([4, 13, 27, 32, 33, 34, 39]));
  });

  it.each(maps)('%s: the one check flash runs finds nothing', (_name, map) => {
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
    expect(pinMapProblems({ ...map, doors: ['a', null, 40] })).toEqual(['pins.doors[0]: "a" is not a GPIO of the ESP32', 'pins.doors[1]: null is not a GPIO of the ESP32', 'pins.doors[2]: 40 is not a GPIO of the ESP32']);
  });
});
