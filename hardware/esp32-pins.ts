// What each ESP32 GPIO can do under Espruino 2v29, for checking the pin maps (test/hardware/
// pinmap.test.ts). From Espressif's ESP32 datasheet (the pins an ESP32-WROOM-32 brings out) and
// Espruino's notes on the ESP32: setWatch cannot watch GPIO 6-12 (6-11 are the module's SPI flash).

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
