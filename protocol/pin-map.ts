// The station's wiring, as the configuration (station-config.ts) names it: ESP32 GPIO numbers.
// See hardware/README.md for the board.
export interface PinMap {
  /** io 'expander': chip select of the MCP23S17s (on the reader's SPI bus) and their shared INT line. */
  expanderCs?: number;
  expanderInt?: number;
  sck: number;
  miso: number;
  mosi: number;
  rfidCs: number;
  rfidIrq: number;
  rfidReset: number;
  /** io 'gpio': one lock output per locker, in locker order. */
  locks: number[];
  /** io 'gpio': one door reed switch input per locker, in locker order. */
  doors: number[];
  led: number;
  buzzer: number;
}

/** The SPI bus and the MFRC522 reader: the same on every station. */
function readerPins(): Pick<PinMap, 'sck' | 'miso' | 'mosi' | 'rfidCs' | 'rfidIrq' | 'rfidReset'> {
  return { sck: 18, miso: 19, mosi: 23, rfidCs: 5, rfidIrq: 4, rfidReset: 22 };
}

/**
 * Direct-wired station of up to 7 lockers (the walking skeleton's layout). A door is watched, so
 * it needs a GPIO Espruino can watch that is not read at reset (a shut door grounds its pin):
 * 32-36, 39 and 27 are the seven left beside the reader, LED and buzzer (esp32-pins.ts); 34-36 and
 * 39 have no internal pull-up, so their switches need external ones (hardware/README.md).
 */
export function directPinMap(lockers: number): PinMap {
  const lockPins = [13, 14, 15, 16, 17, 25, 26];
  const doorPins = [32, 33, 34, 35, 36, 39, 27];
  if (lockers > lockPins.length) throw new Error(`a direct-wired station has at most ${lockPins.length} lockers`);
  return {
    ...readerPins(),
    locks: lockPins.slice(0, lockers),
    doors: doorPins.slice(0, lockers),
    led: 2,
    buzzer: 21,
  };
}

/**
 * The standard station, 8 to 32 lockers: locks and doors on MCP23S17 port expanders sharing the
 * reader's SPI bus (lock chips at addresses 0-1, door chips at 2-3), their INT outputs wired
 * together (open drain) onto one watched GPIO.
 */
export function expanderPinMap(): PinMap {
  return {
    ...readerPins(),
    expanderCs: 27,
    expanderInt: 33,
    locks: [],
    doors: [],
    led: 2,
    buzzer: 21,
  };
}
