// What each ESP32 GPIO can do under Espruino 2v29, for checking the pin maps (the hub before
// SET_CONFIG, `npm run flash`, test/hardware/pinmap.test.ts). From Espressif's ESP32 datasheet
// (the pins an ESP32-WROOM-32 brings out) and Espruino's notes on the ESP32: setWatch cannot watch GPIO 6-12 (6-11 are the module's SPI flash).

/** GPIOs an ESP32-WROOM-32 brings out. */
export const ESP32_GPIOS: readonly number[] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 21, 22, 23, 25, 26, 27, 32, 33, 34, 35, 36, 39];

/** GPIOs Espruino's setWatch can watch (interrupt on change): all but 6-12. */
export const WATCHABLE_GPIOS: readonly number[] = ESP32_GPIOS.filter((pin) => pin < 6 || pin > 12);

/** Input only: no output driver, and no internal pull-up (a switch on one needs an external pull-up). */
export const INPUT_ONLY_GPIOS: readonly number[] = [34, 35, 36, 39];

/**
 * Read at reset to choose how the chip boots: a switch to ground on one (a shut door's reed
 * switch) can stop the board booting (GPIO 0 low: download mode; GPIO 12 high: 1.8 V flash).
 * Outputs held at their boot level by the circuit (a lock gate's pull-down) are fine.
 */
export const STRAPPING_GPIOS: readonly number[] = [0, 2, 5, 12, 15];

/** The module's SPI flash (GPIO 6-11) and the console's serial port (1 TX, 3 RX): not for the station's wiring. */
export const RESERVED_GPIOS: readonly number[] = [1, 3, 6, 7, 8, 9, 10, 11];

/** The pins of a pin map by what they do, named as in handover.json (`doors[2]`). */
interface PinsByUse {
  /** Watched by setWatch: door switches, the reader's IRQ, the expanders' INT. */
  watched: Record<string, unknown>;
  /** Driven by the station: the SPI clock and data out, chip selects, reset, LED, buzzer, locks. */
  driven: Record<string, unknown>;
  /** Read only: the SPI data in. */
  read: Record<string, unknown>;
}

function pinsByUse(map: { [name: string]: unknown }): PinsByUse {
  const list = (value: unknown): unknown[] => (Array.isArray(value) ? value : []);
  const watched: Record<string, unknown> = { rfidIrq: map.rfidIrq };
  if (map.expanderInt !== undefined) watched.expanderInt = map.expanderInt;
  list(map.doors).forEach((pin, i) => (watched[`doors[${i}]`] = pin));
  const driven: Record<string, unknown> = { sck: map.sck, mosi: map.mosi, rfidCs: map.rfidCs, rfidReset: map.rfidReset, led: map.led, buzzer: map.buzzer };
  if (map.expanderCs !== undefined) driven.expanderCs = map.expanderCs;
  list(map.locks).forEach((pin, i) => (driven[`locks[${i}]`] = pin));
  return { watched, driven, read: { miso: map.miso } };
}

/** Whether a list of GPIOs holds this one (protocol/ is checked against ES2015: no includes). */
const has = (list: readonly number[], pin: number) => list.indexOf(pin) >= 0;

/**
 * What is wrong with a pin map on an ESP32 under Espruino, one line a pin ("pins.doors[0] on GPIO 12:
 * setWatch cannot watch it"): a watched pin must be one setWatch can watch and not one read at reset,
 * a driven pin must have an output driver, none may be the SPI flash or the console, and no pin may
 * be wired to two things. The shipped maps are checked by test/hardware/pinmap.test.ts; `npm run
 * flash` checks the map in the configuration it writes (a hand-edited one too).
 */
export function pinMapProblems(map: { [name: string]: unknown }): string[] {
  const { watched, driven, read } = pinsByUse(map);
  const problems: string[] = [];
  const each = (pins: Record<string, unknown>, bad: (pin: number) => string | null) => {
    for (const name of Object.keys(pins)) {
      const pin = pins[name];
      if (typeof pin !== 'number' || !has(ESP32_GPIOS, pin)) continue;
      const why = bad(pin);
      if (why) problems.push(`pins.${name} on GPIO ${pin}: ${why}`);
    }
  };
  const all = { ...driven, ...watched, ...read };
  for (const name of Object.keys(all)) if (typeof all[name] !== 'number' || !has(ESP32_GPIOS, all[name] as number)) problems.push(`pins.${name}: ${JSON.stringify(all[name]) ?? 'missing'} is not a GPIO of the ESP32`);
  each(watched, (pin) => (!has(WATCHABLE_GPIOS, pin) ? 'setWatch cannot watch it' : has(STRAPPING_GPIOS, pin) ? 'a strapping pin, read at reset' : null));
  each(driven, (pin) => (has(INPUT_ONLY_GPIOS, pin) ? 'input only' : null));
  each(all, (pin) => (has(RESERVED_GPIOS, pin) ? 'reserved (SPI flash or console)' : null));
  const first = new Map<number, string>();
  for (const name of Object.keys(all)) {
    const pin = all[name];
    if (typeof pin !== 'number') continue;
    const other = first.get(pin);
    if (other) problems.push(`pins.${name} on GPIO ${pin}: already pins.${other}`);
    else first.set(pin, name);
  }
  return problems;
}
