// MFRC522 (NXP) RFID reader driver: interrupt-driven ISO/IEC 14443 A card detection over SPI.
//
// The driver is handed its bus, pins and clock (hal.ts) and never touches an Espruino global, so the
// simulator and the tests drive it against a register-level model of the chip
// (hardware/sim/mfrc522-model.ts).
//
// How a card is read
//   Every pollIntervalMs the driver arms a REQA with three SPI writes (CommandReg = Transceive,
//   FIFO = 0x26, BitFramingReg = StartSend | 7 bits). Only RxIRq is routed to the IRQ pin, so nothing
//   happens on the JavaScript side until a card answers: the falling edge of the IRQ line drives
//   the next step. Each step of the presentation (REQA -> ANTICOLLISION CLn -> SELECT CLn, repeated
//   for cascade levels 2 and 3 -> HLTA) is one state of an explicit state machine: the step's frame
//   is written, StartSend is set, a step timeout is armed on the clock, and the state waits for the
//   edge. No state ever polls a register in a loop.
//   Every answer is read with ONE chip-select frame: the status registers and the expected number of
//   FIFO bytes are read back to back (the MFRC522 takes a new read address in every byte,
//   datasheet 8.1.2.1), so a 4-byte UID costs 17 SPI transfers, a 7-byte UID 29, plus two on the
//   next poll to switch the CRC off again.
//   SELECT and HLTA are framed by the chip (TxModeReg.TxCRCEn / RxModeReg.RxCRCEn), so a CRC error
//   in the SAK shows up as ErrorReg.CRCErr. After a successful read the card is sent HLTA: a halted
//   card does not answer REQA, so a badge held on the reader is reported once, and again only after
//   it has left the field (losing power puts it back to IDLE) and come back.
//
// Failure handling
//   Bad frames (wrong length, BCC, CRC, collision, an ATQA without bit-frame anticollision, a SAK
//   that disagrees with the cascade tag, a card that leaves mid-way) abort the presentation: the
//   IRQ bits are cleared, the FIFO flushed, and the next poll starts afresh. They never throw.
//   The reader itself is checked every healthCheckMs (on the poll tick) with one 4-byte read (VersionReg, ComIEnReg,
//   ComIrqReg) and on every step timeout (ComIrqReg, VersionReg): a wrong version, a lost
//   configuration (the chip browned out and reset itself), or an IRQ line that disagrees with
//   ComIrqReg is a fault. A fault is reported once through onFault, and the driver re-initialises the
//   chip (hard reset through the reset pin, digital self test, configuration, IRQ loopback test) with exponential
//   backoff; after MAX_FAST_ATTEMPTS failed attempts it settles in the 'failed' state and probes the
//   chip every RETRY_MAX_MS. onRecovered is called when the chip answers and passes the IRQ test again.
//   Any unexpected exception inside the driver is turned into such a fault too.
//   Self test (data sheet 16.1.1), at start and on every re-initialisation: SoftReset, internal
//   buffer cleared, AutoTestReg = 09h, CalcCRC, the 64 FIFO bytes compared with the reference of the
//   chip's version, AutoTestReg = 00h, SoftReset. A chip that fails it, or whose version has no
//   reference, is a fault like any other: no card is read until a later attempt passes. Cost: 12 SPI
//   transfers and about 15 ms on top of the 15 of the configuration.
//
// Espruino: no Map/Set, destructuring, spread, default parameters, optional chaining, `**`,
// async/await or labels (see shared/ESPRUINO.md). Constants are plain top-level numbers so the
// minifier inlines them.

import type { Clock, Gpio, PinNumber, SpiBus } from '../hal';
import { hex, nameAt } from '../codec/bytes';

// ---------------------------------------------------------------------------------------------
// Register table (NXP MFRC522 data sheet Rev. 3.9: 9.2 register overview, 9.3.x descriptions).
// On SPI the address byte is `reg << 1`, with bit 7 set for a read (8.1.2.3).
// ---------------------------------------------------------------------------------------------
const REG_COMMAND = 0x01; //      CommandReg: starts and stops command execution (9.3.1)
const REG_COM_IEN = 0x02; //      ComIEnReg: which ComIrqReg bits reach the IRQ pin; bit 7 IRqInv (9.3.1)
const REG_DIV_IEN = 0x03; //      DivIEnReg: bit 7 IRQPushPull (9.3.1)
const REG_COM_IRQ = 0x04; //      ComIrqReg: interrupt request bits; bit 7 Set1 on write (9.3.1)
const REG_ERROR = 0x06; //        ErrorReg: error status of the last command (9.3.1)
const REG_FIFO_DATA = 0x09; //    FIFODataReg: 64-byte FIFO input and output (9.3.1)
const REG_FIFO_LEVEL = 0x0a; //   FIFOLevelReg: bytes in the FIFO; bit 7 FlushBuffer on write (9.3.1)
const REG_CONTROL = 0x0c; //      ControlReg: bits 2..0 RxLastBits, valid bits of the last byte (9.3.1)
const REG_BIT_FRAMING = 0x0d; //  BitFramingReg: bit 7 StartSend, bits 2..0 TxLastBits (9.3.1)
const REG_COLL = 0x0e; //         CollReg: position of the first bit collision (9.3.1)
const REG_MODE = 0x11; //         ModeReg: CRC coprocessor preset, TxWaitRF (9.3.2)
const REG_TX_MODE = 0x12; //      TxModeReg: bit 7 TxCRCEn, speed 106 kBd (9.3.2)
const REG_RX_MODE = 0x13; //      RxModeReg: bit 7 RxCRCEn, speed 106 kBd (9.3.2)
const REG_TX_CONTROL = 0x14; //   TxControlReg: bits 1..0 Tx2RFEn, Tx1RFEn, the antenna drivers (9.3.2)
const REG_TX_ASK = 0x15; //       TxASKReg: bit 6 Force100ASK (9.3.2)
const REG_RF_CFG = 0x26; //       RFCfgReg: bits 6..4 RxGain (9.3.3)
const REG_T_MODE = 0x2a; //       TModeReg: bit 7 TAuto, bits 3..0 TPrescaler_Hi (9.3.3, timer 8.5)
const REG_T_PRESCALER = 0x2b; //  TPrescalerReg: TPrescaler_Lo (9.3.3)
const REG_T_RELOAD_HI = 0x2c; //  TReloadReg, high byte: timer start value (9.3.3)
const REG_T_RELOAD_LO = 0x2d; //  TReloadReg, low byte
const REG_AUTO_TEST = 0x36; //    AutoTestReg: bits 3..0 SelfTest, 09h enables the digital self test (9.3.4)
const REG_VERSION = 0x37; //      VersionReg: 0x91 = v1.0, 0x92 = v2.0 (9.3.4)

// SPI address bytes: write = reg << 1, read = 0x80 | reg << 1 (8.1.2.3).
const W_COMMAND = REG_COMMAND << 1;
const W_COM_IEN = REG_COM_IEN << 1;
const W_DIV_IEN = REG_DIV_IEN << 1;
const W_COM_IRQ = REG_COM_IRQ << 1;
const W_FIFO_DATA = REG_FIFO_DATA << 1;
const W_FIFO_LEVEL = REG_FIFO_LEVEL << 1;
const W_BIT_FRAMING = REG_BIT_FRAMING << 1;
const W_MODE = REG_MODE << 1;
const W_TX_MODE = REG_TX_MODE << 1;
const W_RX_MODE = REG_RX_MODE << 1;
const W_TX_CONTROL = REG_TX_CONTROL << 1;
const W_TX_ASK = REG_TX_ASK << 1;
const W_RF_CFG = REG_RF_CFG << 1;
const W_T_MODE = REG_T_MODE << 1;
const W_T_PRESCALER = REG_T_PRESCALER << 1;
const W_T_RELOAD_HI = REG_T_RELOAD_HI << 1;
const W_T_RELOAD_LO = REG_T_RELOAD_LO << 1;
const W_AUTO_TEST = REG_AUTO_TEST << 1;
const R_COMMAND = 0x80 | (REG_COMMAND << 1);
const R_COM_IEN = 0x80 | (REG_COM_IEN << 1);
const R_COM_IRQ = 0x80 | (REG_COM_IRQ << 1);
const R_ERROR = 0x80 | (REG_ERROR << 1);
const R_FIFO_DATA = 0x80 | (REG_FIFO_DATA << 1);
const R_FIFO_LEVEL = 0x80 | (REG_FIFO_LEVEL << 1);
const R_CONTROL = 0x80 | (REG_CONTROL << 1);
const R_COLL = 0x80 | (REG_COLL << 1);
const R_VERSION = 0x80 | (REG_VERSION << 1);

// Commands written to CommandReg (10.3). Writing the whole byte also clears RcvOff and PowerDown.
const CMD_MEM = 0x01; //          FIFO (25 bytes) to the internal buffer
const CMD_CALC_CRC = 0x03; //     CRC coprocessor; with AutoTestReg = 09h, the self test
const CMD_TRANSCEIVE = 0x0c; //   transmit the FIFO, then receive; stays active until another command
const CMD_SOFT_RESET = 0x0f; //   reset: at start when no reset pin is wired, and around the self test

// Register bits and the values this driver writes.
const IRQ_SET1 = 0x80; //         ComIrqReg write: 1 = set the marked bits, 0 = clear them
const IRQ_RX = 0x20; //           ComIrqReg RxIRq: end of a received frame (also set on errors)
const IRQ_TIMER = 0x01; //        ComIrqReg TimerIRq: the chip's timer ran out (no answer)
const IRQ_CLEAR_ALL = 0x7f; //    Set1 = 0 with every request bit marked: clear them all
const ERR_TEMP = 0x40; //         ErrorReg TempErr: overheated, antenna drivers switched off
const ERR_COLL = 0x08; //         ErrorReg CollErr: bit collision
const ERR_FRAME = 0x17; //        ErrorReg BufferOvfl | CRCErr | ParityErr | ProtocolErr
const ERR_ANY = ERR_TEMP | ERR_COLL | ERR_FRAME;
const FLUSH_BUFFER = 0x80; //     FIFOLevelReg FlushBuffer
const START_SEND = 0x80; //       BitFramingReg StartSend (TxLastBits = 0: whole last byte)
const SHORT_FRAME_BITS = 7; //    BitFramingReg TxLastBits for REQA: a 7-bit short frame
const COM_IEN_VALUE = 0xa0; //    IRqInv (IRQ pin active low) | RxIEn: only RxIRq drives the pin
const DIV_IEN_VALUE = 0x80; //    IRQPushPull: the pin drives high too, no pull-up needed
const MODE_VALUE = 0x3d; //       TxWaitRF | PolMFin | CRCPreset 01 = 0x6363, the CRC_A preset
const TX_ASK_VALUE = 0x40; //     Force100ASK: ISO/IEC 14443 A needs 100 % ASK
const CRC_ON = 0x80; //           TxModeReg.TxCRCEn / RxModeReg.RxCRCEn at 106 kBd
const CRC_OFF = 0x00;
const ANTENNA_ON = 0x83; //       TxControlReg reset value 0x80 | Tx2RFEn | Tx1RFEn
const ANTENNA_OFF = 0x80;
const RF_CFG_RESERVED = 0x08; //  RFCfgReg bits 3..0 keep their reset value
// The chip's own timer (8.5): TAuto starts it at the end of every transmission and it stops when an
// answer begins, so ComIrqReg.TimerIRq tells "nobody answered" apart from "the IRQ was lost".
// f = 13.56 MHz / (2 * 169 + 1) = 40 kHz (25 us per tick); 200 ticks = 5 ms, far longer than any
// ISO/IEC 14443-3 frame delay time (about 0.1 ms; HLTA allows 1 ms).
const T_MODE_VALUE = 0x80; //     TAuto, TPrescaler_Hi = 0
const T_PRESCALER_VALUE = 0xa9;
const T_RELOAD_VALUE = 200;
const CHIP_TIMEOUT_MS = 5;

// ISO/IEC 14443-3 (type A) frames.
const PICC_REQA = 0x26; //        REQA, sent as a 7-bit short frame
const PICC_SEL_CL1 = 0x93; //     SEL of cascade level 1; levels 2 and 3 are 0x95 and 0x97
const NVB_ANTICOLL = 0x20; //     NVB: only SEL and NVB are sent, the card answers its whole UID CLn
const NVB_SELECT = 0x70; //       NVB: SEL, NVB and all 40 UID CLn bits are sent
const CASCADE_TAG = 0x88; //      first byte of a UID CLn that announces a further cascade level
const SAK_CASCADE = 0x04; //      SAK bit 3: UID not complete
const HLTA_WRITE = new Uint8Array([W_FIFO_DATA, 0x50, 0x00]); // HLTA, CRC_A appended by the chip

// Read frames: every byte names the next register to read; the reply to byte i arrives in byte i+1.
const READ_ATQA = new Uint8Array([R_COM_IRQ, R_ERROR, R_FIFO_LEVEL, R_CONTROL, R_FIFO_DATA, R_FIFO_DATA, 0]);
const READ_UID_CLN = new Uint8Array([
  R_COM_IRQ, R_ERROR, R_FIFO_LEVEL, R_CONTROL, R_COLL,
  R_FIFO_DATA, R_FIFO_DATA, R_FIFO_DATA, R_FIFO_DATA, R_FIFO_DATA, 0,
]);
// With RxCRCEn the chip checks CRC_A itself (ErrorReg.CRCErr); the SAK frame is read as up to three
// FIFO bytes so the driver works whether or not the chip leaves the two CRC bytes in the FIFO.
const READ_SAK = new Uint8Array([R_COM_IRQ, R_ERROR, R_FIFO_LEVEL, R_CONTROL, R_FIFO_DATA, R_FIFO_DATA, R_FIFO_DATA, 0]);
const READ_HEALTH = new Uint8Array([R_VERSION, R_COM_IEN, R_COM_IRQ, 0]);
const READ_AFTER_TIMEOUT = new Uint8Array([R_COM_IRQ, R_VERSION, 0]);

// Digital self test (data sheet 16.1.1). With AutoTestReg = 09h, CalcCRC fills the FIFO with 64 bytes
// that depend only on the chip's version. Reference bytes, as hex: v1.0 and v2.0 from the NXP MFRC522
// data sheet (Rev. 3.9, 16.1.1); FM17522 (the 0x88 clone) as published in miguelbalboa/rfid
// (src/MFRC522.h, FM17522_firmware_reference), not from a Fudan data sheet. Other versions (0x12
// clones) have no reference and fail the test.
const AUTO_TEST_ON = 0x09;
const POWER_DOWN = 0x10; //       CommandReg PowerDown: reads 1 until the chip is ready after a reset
const SELF_TEST_CHECK_MS = 5; //  period of the checks that a self-test step has finished
const SELF_TEST_CHECKS = 10; //   checks per step before the self test counts as failed (50 ms)

// Timing of bring-up and recovery.
const STARTUP_MS = 50; //          after a reset the oscillator must start before the chip answers
const RETRY_BASE_MS = 250; //      first re-initialisation after a fault; doubles per failed attempt
const RETRY_MAX_MS = 30000; //     cap of the backoff, and the probe period once 'failed'
const MAX_FAST_ATTEMPTS = 6; //    failed re-initialisations before the driver settles in 'failed'
const REPEAT_GUARD_POLLS = 4; //   the same UID read again within this many polls is one presentation

// Driver states. The names are what status() reports.
const S_STOPPED = 0;
const S_RESETTING = 1; //  reset pulse given, waiting STARTUP_MS for the oscillator
const S_IRQ_TEST = 2; //   configured; waiting for the test interrupt to pull the IRQ line low
const S_IDLE = 3; //       polling: a REQA may be armed (requestArmed)
export const S_ANTICOLL = 4; //   ANTICOLLISION CLn sent, waiting for UID CLn
export const S_SELECT = 5; //     SELECT CLn sent, waiting for SAK
const S_FAULT = 6; //      reader not answering; re-initialisation scheduled with backoff
const S_FAILED = 7; //     gave up fast retries; probing VersionReg every RETRY_MAX_MS
const S_SELF_TEST = 8; //  digital self test running (testPhase says which step)
const STATE_NAMES = 'stopped resetting irq-test idle anticoll select fault failed self-test';

// Events handled by dispatch(): the IRQ edge, the two periodic ticks, and the events of the one-shot
// timer (only one of those is pending at any time).
const EV_EDGE = 5;
const EV_POLL = 6;
const EV_STEP_TIMEOUT = 1;
const EV_RESET_DONE = 2;
const EV_IRQ_TEST_TIMEOUT = 3;
const EV_RETRY = 4;
const EV_SELF_TEST = 8;
const NO_TIMER = -1;

export interface Mfrc522Pins {
  /** Chip select (the module's SDA/NSS pin). */
  cs: PinNumber;
  /** The module's IRQ output, watched for falling edges. */
  irq: PinNumber;
  /** NRSTPD: pulsed low to hard-reset the chip. A negative number means "not wired": SoftReset is used. */
  reset: PinNumber;
}

export interface Mfrc522Options {
  /** Period of REQA polls. */
  pollIntervalMs: number;
  /** How long each step of a presentation waits for the IRQ edge; at least twice the chip's 5 ms timer. */
  exchangeTimeoutMs: number;
  /** Period of the VersionReg/configuration check, done on the poll tick that reaches it. */
  healthCheckMs: number;
  /** RFCfgReg RxGain code 0..7: 0 or 2 = 18 dB, 1 or 3 = 23 dB, 4 = 33 dB (chip default), 5 = 38 dB, 6 = 43 dB, 7 = 48 dB. */
  antennaGain: number;
}

export interface Mfrc522Listener {
  /** A card was read: its whole UID (4, 7 or 10 bytes), a fresh array the listener may keep. */
  onCard(uid: Uint8Array): void;
  /** The reader stopped working; called once per fault episode. */
  onFault(reason: string): void;
  /** The reader works again after onFault. */
  onRecovered(): void;
  /** A presentation was dropped (bad frame, CRC error, card gone): for the log; the card is read again later. */
  onAbort?(reason: string): void;
}

export interface Mfrc522Status {
  state: string;
  /** Hard (or soft) resets given, including the one at start. */
  resets: number;
  /** REQA polls armed. */
  polls: number;
  /** SPI transfers (chip-select frames) since construction. */
  spiTransfers: number;
  /** Cards read completely (including repeats suppressed as the same presentation). */
  reads: number;
  /** Presentations abandoned (bad frame, collision, card gone). */
  aborts: number;
  lastAbort: string;
  lastFault: string;
  /** VersionReg of the chip at the last successful initialisation (0 before). */
  version: number;
  /** Exceptions thrown by the listener (caught, so the reader keeps working). */
  listenerErrors: number;
}

export const MFRC522_DEFAULTS: Mfrc522Options = {
  pollIntervalMs: 100,
  exchangeTimeoutMs: 25,
  healthCheckMs: 2000,
  antennaGain: 4,
};

/** VersionReg values of chips that speak the MFRC522 register set (NXP v1.0/v2.0, FM17522 and common clones). */
function isSupportedVersion(version: number): boolean {
  return version === 0x91 || version === 0x92 || version === 0x88 || version === 0x12;
}


export class Mfrc522 {
  private spi: SpiBus;
  private gpio: Gpio;
  private clock: Clock;
  private pins: Mfrc522Pins;
  private options: Mfrc522Options;
  private listener: Mfrc522Listener | null;

  /** The driver's state (S_*): read it, never write it. ANTICOLL and SELECT: a card is being read. */
  state: number;
  private requestArmed: boolean; //  a REQA is out and its answer not yet read
  private crcOn: boolean; //         TxCRCEn/RxCRCEn are set (SELECT, HLTA)
  private level: number; //          cascade level of the presentation, 1..3
  private levelBytes: Uint8Array; // UID CLn as answered to ANTICOLLISION: 4 bytes and BCC
  private uid: Uint8Array; //        UID collected so far
  private uidLength: number;
  private lastUid: Uint8Array | null;
  private lastUidMs: number;

  private timer: number; //          the one-shot timer, NO_TIMER if none
  private timerEvent: number;
  private pollTimer: number;
  private ticks: number; //         poll ticks since the last health check
  private watchId: number;
  private attempts: number; //       failed initialisations since the last success
  private faultReported: boolean;

  private scratch: Uint8Array; //    2-byte write frame
  private selectFrame: Uint8Array; // FIFO write of SELECT: address, SEL, NVB, 4 UID bytes, BCC
  private anticollFrame: Uint8Array; // FIFO write of ANTICOLLISION: address, SEL, NVB

  private edgeCallback: () => void;
  private timerCallback: () => void;
  private pollCallback: () => void;

  private resets: number;
  private polls: number;
  private transfers: number;
  private reads: number;
  private aborts: number;
  private lastAbort: string;
  private lastFault: string;
  private version: number;
  private listenerErrors: number;
  private testVersion: number;
  private testPhase: number;
  private testChecks: number;

  constructor(spi: SpiBus, gpio: Gpio, clock: Clock, pins: Mfrc522Pins, options: Mfrc522Options) {
    if (!(options.pollIntervalMs >= 10)) throw new Error('Mfrc522: pollIntervalMs must be at least 10');
    if (!(options.exchangeTimeoutMs >= 2 * CHIP_TIMEOUT_MS)) {
      throw new Error('Mfrc522: exchangeTimeoutMs must be at least ' + 2 * CHIP_TIMEOUT_MS + ' (the chip times out after ' + CHIP_TIMEOUT_MS + ' ms)');
    }
    if (!(options.healthCheckMs >= 10)) throw new Error('Mfrc522: healthCheckMs must be at least 10');
    const gain = options.antennaGain;
    if (!(gain >= 0 && gain <= 7 && Math.floor(gain) === gain)) throw new Error('Mfrc522: antennaGain must be an integer 0..7');
    this.spi = spi;
    this.gpio = gpio;
    this.clock = clock;
    this.pins = pins;
    this.options = options;
    this.listener = null;

    this.state = S_STOPPED;
    this.requestArmed = false;
    this.crcOn = false;
    this.level = 1;
    this.levelBytes = new Uint8Array(5);
    this.uid = new Uint8Array(10);
    this.uidLength = 0;
    this.lastUid = null;
    this.lastUidMs = 0;

    this.timer = NO_TIMER;
    this.timerEvent = 0;
    this.pollTimer = NO_TIMER;
    this.ticks = 0;
    this.watchId = NO_TIMER;
    this.attempts = 0;
    this.faultReported = false;

    this.scratch = new Uint8Array(2);
    this.selectFrame = new Uint8Array(8);
    this.selectFrame[0] = W_FIFO_DATA;
    this.selectFrame[2] = NVB_SELECT;
    this.anticollFrame = new Uint8Array(3);
    this.anticollFrame[0] = W_FIFO_DATA;
    this.anticollFrame[2] = NVB_ANTICOLL;

    // Every entry point from the outside goes through dispatch(), which turns an unexpected
    // exception into a fault instead of leaving the state machine half-way.
    this.edgeCallback = () => {
      this.dispatch(EV_EDGE);
    };
    this.timerCallback = () => {
      this.timer = NO_TIMER;
      this.dispatch(this.timerEvent);
    };
    this.pollCallback = () => {
      this.dispatch(EV_POLL);
    };

    this.resets = 0;
    this.polls = 0;
    this.transfers = 0;
    this.reads = 0;
    this.aborts = 0;
    this.lastAbort = '';
    this.lastFault = '';
    this.version = 0;
    this.listenerErrors = 0;
    this.testVersion = 0;
    this.testPhase = 0;
    this.testChecks = 0;
  }

  /** Resets and configures the chip, then polls for cards until stop(). */
  start(listener: Mfrc522Listener): void {
    if (this.state !== S_STOPPED) this.stop();
    this.listener = listener;
    this.attempts = 0;
    this.faultReported = false;
    this.watchId = this.gpio.watch(this.pins.irq, { edge: 'falling', debounceMs: 0 }, this.edgeCallback);
    // One interval for polls and health checks: on the interpreter every timer kept costs variables.
    this.pollTimer = this.clock.setInterval(this.pollCallback, this.options.pollIntervalMs);
    this.ticks = 0;
    this.state = S_RESETTING;
    this.dispatch(EV_RETRY);
  }

  /** Stops polling, releases the IRQ watch and timers, and switches the antenna off (about 60 mA). */
  stop(): void {
    if (this.state === S_STOPPED) return;
    const wasRunning = this.state === S_IDLE || this.state === S_ANTICOLL || this.state === S_SELECT;
    this.cancelTimer();
    this.clock.clearInterval(this.pollTimer);
    this.gpio.unwatch(this.watchId);
    this.pollTimer = NO_TIMER;
    this.watchId = NO_TIMER;
    this.state = S_STOPPED;
    this.requestArmed = false;
    if (wasRunning) {
      try {
        this.writeRegister(W_TX_CONTROL, ANTENNA_OFF);
      } catch (error) {
        // The bus failing while stopping changes nothing: the driver is stopped either way.
      }
    }
  }

  status(): Mfrc522Status {
    return {
      state: nameAt(STATE_NAMES, this.state),
      resets: this.resets,
      polls: this.polls,
      spiTransfers: this.transfers,
      reads: this.reads,
      aborts: this.aborts,
      lastAbort: this.lastAbort,
      lastFault: this.lastFault,
      version: this.version,
      listenerErrors: this.listenerErrors,
    };
  }

  // --- dispatch -------------------------------------------------------------------------------

  private dispatch(event: number): void {
    if (this.state === S_STOPPED) return;
    try {
      if (event === EV_EDGE) this.onIrqEdge();
      else if (event === EV_POLL) this.onTick();
      else if (event === EV_STEP_TIMEOUT) {
        // No edge within exchangeTimeoutMs. Find out why with one 3-byte read.
        const reply = this.transfer(READ_AFTER_TIMEOUT);
        const comIrq = reply[1];
        if (!isSupportedVersion(reply[2])) {
          this.fault('reader stopped answering: VersionReg = ' + hex(reply[2]));
        } else if ((comIrq & IRQ_RX) !== 0) {
          if (this.gpio.read(this.pins.irq)) this.fault('IRQ line stays high although RxIRq is set');
          else this.onIrqEdge(); // the edge is queued behind this timer
        } else if ((comIrq & IRQ_TIMER) !== 0) {
          this.abort('no answer to ' + nameAt(STATE_NAMES, this.state) + ' CL' + this.level + ' (card left the field?)');
        } else {
          this.fault('reader timer did not run: configuration lost');
        }
      }
      else if (event === EV_RESET_DONE || event === EV_SELF_TEST || event === EV_RETRY) this.selfTest(event);
      else if (event === EV_IRQ_TEST_TIMEOUT) {
        // No edge in time: the line may have fallen with its edge still queued, so look at the line.
        if (this.gpio.read(this.pins.irq)) this.fault('IRQ line did not fall on a test interrupt');
        else this.finishIrqTest();
      }
    } catch (error) {
      this.fault('driver error: ' + error);
    }
  }

  /**
   * The IRQ line fell: one step of the presentation (REQA -> ATQA -> ANTICOLLISION CLn -> UID CLn
   * -> SELECT CLn -> SAK, per cascade level, then HLTA). Each step's answer is read with one frame
   * whose first byte is ComIrqReg: an edge whose answer was already read (on a step timeout or a
   * poll that found the line low) finds RxIRq clear and is ignored. The edge's timestamp is not
   * used: the watch and the clock need not share a time base. The steps are one method: on the
   * interpreter every method kept costs variables, and every call on the tap's path costs time.
   */
  private onIrqEdge(): void {
    const state = this.state;
    let reply: Uint8Array;
    if (state === S_IDLE) {
      if (!this.requestArmed) {
        // An answer nobody waits for (a late frame, a NAK to HLTA): clear it so the line goes high.
        this.writeRegister(W_COM_IRQ, IRQ_CLEAR_ALL);
        this.writeRegister(W_FIFO_LEVEL, FLUSH_BUFFER);
        return;
      }
      // The ATQA (2 bytes).
      reply = this.transfer(READ_ATQA);
      if ((reply[1] & IRQ_RX) === 0) return; // no frame yet: a stale edge
      this.requestArmed = false;
      if (((reply[2] & ERR_ANY) !== 0 || reply[3] !== 2 || (reply[4] & 7) !== 0) && !this.frameOk(reply[2], reply[3] === 2, reply[3], reply[4], 'ATQA')) return;
      // ATQA bits 5..1: bit frame anticollision, exactly one bit set for ISO/IEC 14443-3 cards.
      const bitFrame = reply[5] & 0x1f;
      if (bitFrame === 0 || (bitFrame & (bitFrame - 1)) !== 0) {
        this.abort('ATQA ' + hex(reply[5]) + ' ' + hex(reply[6]) + ' without bit frame anticollision');
        return;
      }
      this.level = 1;
      this.uidLength = 0;
    } else if (state === S_ANTICOLL) {
      // UID CLn: 4 bytes and BCC.
      reply = this.transfer(READ_UID_CLN);
      if ((reply[1] & IRQ_RX) === 0) return;
      this.cancelTimer();
      if ((reply[2] & ERR_COLL) !== 0) {
        // Two cards in the field. Bit-oriented anticollision is not attempted: a locker expects one
        // badge at a time, and the next poll tries again once one has been taken away.
        this.abort('collision in UID CL' + this.level + ' at bit ' + ((reply[5] & 0x1f) || 32));
        return;
      }
      if (((reply[2] & ERR_ANY) !== 0 || reply[3] !== 5 || (reply[4] & 7) !== 0) && !this.frameOk(reply[2], reply[3] === 5, reply[3], reply[4], 'UID CL' + this.level)) return;
      const bytes = this.levelBytes;
      bytes.set(reply.subarray(6, 11), 0);
      if ((bytes[0] ^ bytes[1] ^ bytes[2] ^ bytes[3]) !== bytes[4]) {
        this.abort('BCC mismatch in UID CL' + this.level);
        return;
      }
      if (bytes[0] === CASCADE_TAG && this.level === 3) {
        this.abort('cascade tag in UID CL3');
        return;
      }
      // SELECT CLn: SEL, NVB = 0x70, UID CLn, BCC, and CRC_A from the chip; the card answers SAK.
      if (!this.crcOn) this.setCrc(true);
      this.writeRegister(W_COM_IRQ, IRQ_CLEAR_ALL);
      const frame = this.selectFrame;
      frame[1] = PICC_SEL_CL1 + 2 * (this.level - 1);
      frame.set(bytes, 3);
      this.transfer(frame);
      this.state = S_SELECT;
      this.writeRegister(W_BIT_FRAMING, START_SEND);
      this.arm(EV_STEP_TIMEOUT, this.options.exchangeTimeoutMs);
      return;
    } else if (state === S_SELECT) {
      // SAK: one byte if the chip consumed the CRC_A, three if it left it in the FIFO (checked either way).
      reply = this.transfer(READ_SAK);
      if ((reply[1] & IRQ_RX) === 0) return;
      this.cancelTimer();
      const countOk = reply[3] === 1 || reply[3] === 3;
      if (((reply[2] & ERR_ANY) !== 0 || !countOk || (reply[4] & 7) !== 0) && !this.frameOk(reply[2], countOk, reply[3], reply[4], 'SAK CL' + this.level)) return;
      const sak = reply[5];
      const bytes = this.levelBytes;
      const cascadeTag = bytes[0] === CASCADE_TAG;
      if (((sak & SAK_CASCADE) !== 0) !== cascadeTag) {
        this.abort('SAK CL' + this.level + ' = ' + hex(sak) + ' disagrees with the cascade tag');
        return;
      }
      const uid = this.uid;
      if (!cascadeTag) {
        uid.set(bytes.subarray(0, 4), this.uidLength);
        this.uidLength += 4;
        // UID complete: report the card, then send HLTA (no answer expected) and go back to polling.
        // The HLTA goes after the report so the lock pulse does not wait for its three SPI frames;
        // the card stays in the field for far longer than the station takes.
        const now = this.clock.nowMs();
        this.state = S_IDLE;
        this.reads++;
        // Copies made with the constructor: a typed array's slice() is a plain Array on Espruino 2v29.
        const read = new Uint8Array(uid.subarray(0, this.uidLength));
        const last = this.lastUid;
        let repeat = last !== null && last.length === read.length && now - this.lastUidMs < REPEAT_GUARD_POLLS * this.options.pollIntervalMs;
        if (repeat && last !== null) {
          for (let i = 0; i < read.length; i++) {
            if (last[i] !== read[i]) repeat = false;
          }
        }
        this.lastUidMs = now;
        // A card that missed its HLTA answers again every other poll; that is still one presentation.
        const listener = this.listener;
        if (!repeat) this.lastUid = read;
        if (!repeat && listener) {
          try {
            listener.onCard(new Uint8Array(read));
          } catch (error) {
            this.listenerErrors++;
            console.log('reader: listener failed: ' + error);
          }
        }
        if (this.state !== S_IDLE) return; // stopped or re-initialised from the listener
        this.writeRegister(W_COM_IRQ, IRQ_CLEAR_ALL);
        this.transfer(HLTA_WRITE);
        // TxCRCEn stays on until the next poll: the HLTA is still on air.
        this.writeRegister(W_BIT_FRAMING, START_SEND);
        return;
      }
      uid.set(bytes.subarray(1, 4), this.uidLength);
      this.uidLength += 3;
      this.level++;
    } else {
      if (state === S_IRQ_TEST) this.finishIrqTest();
      // In the other states an edge is a side effect of a reset or of a dead chip: ignored.
      return;
    }
    // ANTICOLLISION CLn (after the ATQA, or a SAK that announced the next level): SEL, NVB = 0x20;
    // the card answers UID CLn (4 bytes and BCC). These frames carry no CRC_A.
    if (this.crcOn) this.setCrc(false);
    this.writeRegister(W_COM_IRQ, IRQ_CLEAR_ALL); // line high again, so the answer makes a new edge
    this.anticollFrame[1] = PICC_SEL_CL1 + 2 * (this.level - 1);
    this.transfer(this.anticollFrame);
    this.state = S_ANTICOLL;
    this.writeRegister(W_BIT_FRAMING, START_SEND);
    this.arm(EV_STEP_TIMEOUT, this.options.exchangeTimeoutMs);
  }

  // --- SPI helpers ----------------------------------------------------------------------------

  private transfer(frame: Uint8Array): Uint8Array {
    this.transfers++;
    return this.spi.send(frame, this.pins.cs);
  }

  private writeRegister(address: number, value: number): void {
    const frame = this.scratch;
    frame[0] = address;
    frame[1] = value;
    this.transfers++;
    this.spi.send(frame, this.pins.cs);
  }

  private setCrc(on: boolean): void {
    const value = on ? CRC_ON : CRC_OFF;
    this.writeRegister(W_TX_MODE, value);
    this.writeRegister(W_RX_MODE, value);
    this.crcOn = on;
  }

  private arm(event: number, delayMs: number): void {
    this.cancelTimer();
    this.timerEvent = event;
    this.timer = this.clock.setTimeout(this.timerCallback, delayMs);
  }

  private cancelTimer(): void {
    if (this.timer !== NO_TIMER) {
      this.clock.clearTimeout(this.timer);
      this.timer = NO_TIMER;
    }
  }

  // --- bring-up ---------------------------------------------------------------------------------

  /**
   * The bring-up after a reset, one step per call (boot and recovery only, so one method: on the
   * interpreter every method kept for good costs variables).
   * EV_RESET_DONE: the chip must answer with a version that has a self-test reference (one read);
   * then the self test of data sheet 16.1.1, step 1: SoftReset.
   * EV_SELF_TEST: one 2-byte read says whether the step has finished (phases 0 and 2: SoftReset done,
   * CommandReg.PowerDown = 0; phase 1: 64 bytes in the FIFO); if not, look again SELF_TEST_CHECK_MS
   * later, at most SELF_TEST_CHECKS times. Phase 0 -> 1: internal buffer cleared (25 bytes of 00h and
   * Mem), AutoTestReg = 09h, 00h into the FIFO, CalcCRC. Phase 1 -> 2: the 64 bytes read in one frame
   * and compared, AutoTestReg = 00h, SoftReset. Phase 2: configure the chip (12 writes), then prove
   * the IRQ wiring by setting RxIRq by software (ComIrqReg Set1) and waiting for the falling edge.
   */
  private selfTest(event: number): void {
    // One register read through the 2-byte scratch frame (made here: bring-up and recovery only).
    const readRegister = (readAddress: number) => {
      const frame = this.scratch;
      frame[0] = readAddress;
      frame[1] = 0;
      return this.transfer(frame)[1];
    };
    if (event === EV_RETRY) {
      // (Re)initialise; once 'failed', only after VersionReg answers again.
      if (this.state === S_FAILED && !isSupportedVersion(readRegister(R_VERSION))) {
        this.arm(EV_RETRY, RETRY_MAX_MS);
        return;
      }
      this.state = S_RESETTING;
      this.requestArmed = false;
      this.resets++;
      if (this.pins.reset >= 0) {
        // NRSTPD low for a few microseconds is a hard reset (the chip needs 100 ns); high again starts
        // the oscillator. The pin stays high (driven) from here on.
        this.gpio.write(this.pins.reset, false);
        this.gpio.write(this.pins.reset, true);
      } else {
        this.writeRegister(W_COMMAND, CMD_SOFT_RESET);
      }
      this.crcOn = false; // TxModeReg/RxModeReg are back at 0x00
      this.arm(EV_RESET_DONE, STARTUP_MS);
      return;
    }
    const version = event === EV_RESET_DONE ? readRegister(R_VERSION) : this.testVersion;
    const reference =
      version === 0x92
        ? '00eb66ba57bf2395d0e30d3d27895cde9d3ba700215b8982513aeb020ca500497c844db3ccd21b815d4876d5716121a986968338cf9d5b6ddc15ba3e7d953b2f'
        : version === 0x91
          ? '00c637d532b7575cc2d87c4dd970c77310e6d2aa5ea13e5a14af3061c970db2e642272b5bd65f4ec22bcd37235cdaa411fa7f35314de7e02d90fb55e251d2979'
          : version === 0x88
            ? '00d6788ce2aa0c182ab87a7fd36acf0bb137634b69ae91c7c397ae77f437d79b7cf53c118f15c3d7c15b002ad075de9e5164ab3ee915b5ab569a988226ea2a62'
            : '';
    if (event === EV_RESET_DONE) {
      if (!isSupportedVersion(version)) {
        this.fault('no reader: VersionReg = ' + hex(version));
        return;
      }
      if (!reference) {
        this.fault('self test: unknown VersionReg ' + hex(version));
        return;
      }
      this.testVersion = version;
      this.writeRegister(W_COMMAND, CMD_SOFT_RESET);
      this.state = S_SELF_TEST;
      this.testPhase = 0;
      this.testChecks = 0;
      this.arm(EV_SELF_TEST, SELF_TEST_CHECK_MS);
      return;
    }
    const phase = this.testPhase;
    const value = readRegister(phase === 1 ? R_FIFO_LEVEL : R_COMMAND);
    if (phase === 1 ? value < 64 : (value & POWER_DOWN) !== 0) {
      if (++this.testChecks < SELF_TEST_CHECKS) {
        this.arm(EV_SELF_TEST, SELF_TEST_CHECK_MS);
      } else {
        this.writeRegister(W_AUTO_TEST, 0);
        this.fault(phase === 1 ? 'self test: FIFO holds ' + value + ' of 64 bytes' : 'self test: SoftReset timeout');
      }
      return;
    }
    this.testChecks = 0;
    this.testPhase = phase + 1;
    if (phase === 0) {
      const clear = new Uint8Array(26); // FIFODataReg address and 25 bytes of 00h
      clear[0] = W_FIFO_DATA;
      this.transfer(clear);
      this.writeRegister(W_COMMAND, CMD_MEM);
      this.writeRegister(W_AUTO_TEST, AUTO_TEST_ON);
      this.writeRegister(W_FIFO_DATA, 0);
      this.writeRegister(W_COMMAND, CMD_CALC_CRC);
      this.arm(EV_SELF_TEST, SELF_TEST_CHECK_MS);
    } else if (phase === 1) {
      const frame = new Uint8Array(65);
      for (let i = 0; i < 64; i++) frame[i] = R_FIFO_DATA;
      const reply = this.transfer(frame);
      this.writeRegister(W_AUTO_TEST, 0);
      for (let i = 0; i < 64; i++) {
        const expected = parseInt(reference.substr(2 * i, 2), 16);
        if (reply[i + 1] !== expected) {
          this.fault('self test failed: byte ' + i + ' = ' + hex(reply[i + 1]) + ', not ' + hex(expected));
          return;
        }
      }
      this.writeRegister(W_COMMAND, CMD_SOFT_RESET);
      this.arm(EV_SELF_TEST, SELF_TEST_CHECK_MS);
    } else {
      this.version = version;
      this.writeRegister(W_T_MODE, T_MODE_VALUE);
      this.writeRegister(W_T_PRESCALER, T_PRESCALER_VALUE);
      this.writeRegister(W_T_RELOAD_HI, T_RELOAD_VALUE >> 8);
      this.writeRegister(W_T_RELOAD_LO, T_RELOAD_VALUE & 0xff);
      this.writeRegister(W_TX_ASK, TX_ASK_VALUE);
      this.writeRegister(W_MODE, MODE_VALUE);
      this.setCrc(false); // also right after a soft reset that did not happen
      this.writeRegister(W_RF_CFG, (this.options.antennaGain << 4) | RF_CFG_RESERVED);
      this.writeRegister(W_DIV_IEN, DIV_IEN_VALUE);
      this.writeRegister(W_COM_IEN, COM_IEN_VALUE);
      this.writeRegister(W_TX_CONTROL, ANTENNA_ON);
      this.state = S_IRQ_TEST;
      this.writeRegister(W_COM_IRQ, IRQ_SET1 | IRQ_RX);
      this.arm(EV_IRQ_TEST_TIMEOUT, this.options.exchangeTimeoutMs);
    }
  }

  private finishIrqTest(): void {
    // The line must be low now (RxIRq is set) and high once it is cleared; a stray edge from the
    // reset does not pass for the test's.
    if (this.gpio.read(this.pins.irq)) return;
    this.cancelTimer();
    this.writeRegister(W_COM_IRQ, IRQ_CLEAR_ALL);
    if (!this.gpio.read(this.pins.irq)) {
      this.fault('IRQ line stays low after the test interrupt was cleared');
      return;
    }
    this.state = S_IDLE;
    this.attempts = 0;
    if (this.faultReported) {
      this.faultReported = false;
      const listener = this.listener;
      if (listener) {
        try {
          listener.onRecovered();
        } catch (error) {
          this.listenerErrors++;
          console.log('reader: listener failed: ' + error);
        }
      }
    }
  }

  /** Reports the fault once per episode and schedules a re-initialisation with backoff. */
  private fault(reason: string): void {
    this.cancelTimer();
    this.requestArmed = false;
    this.lastFault = reason;
    if (this.attempts >= MAX_FAST_ATTEMPTS) {
      this.state = S_FAILED;
      this.arm(EV_RETRY, RETRY_MAX_MS);
    } else {
      this.state = S_FAULT;
      const delay = RETRY_BASE_MS << this.attempts;
      this.arm(EV_RETRY, delay < RETRY_MAX_MS ? delay : RETRY_MAX_MS);
      this.attempts++;
    }
    if (!this.faultReported) {
      this.faultReported = true;
      const listener = this.listener;
      if (listener) {
        try {
          listener.onFault(reason);
        } catch (error) {
          this.listenerErrors++;
          console.log('reader: listener failed: ' + error);
        }
      }
    }
  }

  // --- polling and health -------------------------------------------------------------------

  /**
   * Poll tick: arm a REQA with three writes, skipped while a presentation or a recovery runs. Every
   * healthCheckMs the tick also checks the chip with one 4-byte read.
   */
  private onTick(): void {
    let poll = this.state === S_IDLE;
    if (poll && !this.gpio.read(this.pins.irq)) {
      // The line is low but no edge was handled (an edge lost, or queued behind this tick): read
      // now, or the line would stay low and never fall again.
      this.onIrqEdge();
      poll = this.state === S_IDLE;
    }
    if (poll) {
      this.polls++;
      if (this.crcOn) this.setCrc(false); // left on by the HLTA of the last read
      // Writing the command first ends a Transceive still waiting for an answer to the last REQA, so
      // the FIFO write below does not land in its receive phase (ErrorReg.WrErr).
      this.writeRegister(W_COMMAND, CMD_TRANSCEIVE);
      this.writeRegister(W_FIFO_DATA, PICC_REQA);
      this.requestArmed = true;
      this.writeRegister(W_BIT_FRAMING, START_SEND | SHORT_FRAME_BITS);
    }
    if (++this.ticks * this.options.pollIntervalMs < this.options.healthCheckMs) return;
    this.ticks = 0;
    const state = this.state;
    if (state !== S_IDLE && state !== S_ANTICOLL && state !== S_SELECT) return;
    const reply = this.transfer(READ_HEALTH);
    if (!isSupportedVersion(reply[1])) {
      this.fault('reader stopped answering: VersionReg = ' + hex(reply[1]));
      return;
    }
    if (reply[2] !== COM_IEN_VALUE) {
      this.fault('reader lost its configuration (reset?): ComIEnReg = ' + hex(reply[2]));
      return;
    }
    if (state === S_IDLE) {
      // Only RxIRq drives the (active low) line: line and bit must agree. An answer whose edge is
      // still queued shows as "bit set, line low", which is fine.
      const pending = (reply[3] & IRQ_RX) !== 0;
      const lineHigh = this.gpio.read(this.pins.irq);
      if (pending && lineHigh) this.fault('IRQ line stays high although RxIRq is set');
      else if (!pending && !lineHigh) this.fault('IRQ line stuck low');
    }
  }

  // --- the presentation ---------------------------------------------------------------------

  /** Drops the presentation: IRQ bits cleared (the line goes high again) and FIFO flushed. */
  private abort(reason: string): void {
    this.cancelTimer();
    this.aborts++;
    this.lastAbort = reason;
    this.requestArmed = false;
    this.state = S_IDLE;
    this.writeRegister(W_COM_IRQ, IRQ_CLEAR_ALL);
    this.writeRegister(W_FIFO_LEVEL, FLUSH_BUFFER);
    const listener = this.listener;
    if (listener && listener.onAbort) {
      try {
        listener.onAbort(reason);
      } catch (error) {
        this.listenerErrors++;
        console.log('reader: listener failed: ' + error);
      }
    }
  }

  /**
   * Common checks of an answer: chip errors, byte count, whole last byte. False if aborted. The
   * readers call it only when their quick check (no error bit, the expected count, whole bytes)
   * fails, and name the frame only then: on the interpreter every call and string on the tap path
   * costs time.
   */
  private frameOk(error: number, countOk: boolean, fifoLevel: number, control: number, what: string): boolean {
    if ((error & ERR_TEMP) !== 0) {
      this.fault('reader overheated (ErrorReg.TempErr): antenna switched off');
      return false;
    }
    if ((error & ERR_COLL) !== 0) {
      this.abort('collision in ' + what);
      return false;
    }
    if ((error & ERR_FRAME) !== 0) {
      this.abort(((error & 0x04) !== 0 ? 'CRC error in ' : 'receive error ' + hex(error) + ' in ') + what);
      return false;
    }
    if (!countOk || (control & 0x07) !== 0) {
      this.abort(what + ' of ' + fifoLevel + ' bytes (' + (control & 0x07) + ' bits in the last)');
      return false;
    }
    return true;
  }
}
