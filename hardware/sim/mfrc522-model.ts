// Register-level model of the NXP MFRC522 reader IC and of ISO/IEC 14443 A cards, for the simulator
// and the tests. It interprets SPI frames byte by byte as the chip does, so the firmware's real
// driver runs against it unchanged.
//
// Public API
//   new Mfrc522Model({ schedule, onIrq?, version?, irqPullUp? })
//       schedule(callback, delayMs): runs callback later: pass setTimeout, or a fake clock's.
//       onIrq(level)   called whenever the IRQ pin level changes (true = high); also setIrqListener().
//                      Only changes are reported: the level at construction is model.irqLevel.
//       version        VersionReg value (default 0x92, MFRC522 v2.0; 0x91 = v1.0, clones 0x88/0x12).
//       irqPullUp      the board pulls the IRQ line up (default false, like the common RC522 modules):
//                      matters only while DivIEnReg.IRQPushPull is 0 (open drain).
//       selfTest       outcome of the digital self test (data sheet 16.1.1): 'pass' (default) puts the
//                      version's 64 reference bytes in the FIFO; 'wrong' the same with byte 17 damaged
//                      (a faulty chip); 'none' never fills the FIFO. Also setSelfTest().
//   model.transfer(bytes): Uint8Array   one chip-select frame of SPI (see "SPI" below)
//   model.setResetPin(high)              NRSTPD: low = hard power-down (no SPI answers, RF field off,
//                                        IRQ released); rising edge = reset to the reset values
//   model.hardReset()                    NRSTPD pulsed low then high (also: a brown-out reset)
//   model.irqLevel                       current IRQ pin level
//   model.setIrqListener(fn)
//   model.placeCard(card) / removeCard(card)   a card entering / leaving the RF field
//   model.setResponding(false)           chip dead: reads return 0x00, writes and resets are ignored,
//                                        the IRQ pin is released; setResponding(true) brings it back
//                                        as after power-on (reset values, RF field off)
//   model.setSelfTest(mode)              changes the self-test outcome (see selfTest above)
//   model.corruptNextResponse(mode, skip?)   the next frame a card sends (after `skip` good ones) is damaged:
//                                        'flip' (default): bit 0 of its first byte inverted, parity
//                                        intact, so the damage shows as a CRC error (ErrorReg.CRCErr)
//                                        in CRC-protected frames, a BCC mismatch in a UID CLn, a
//                                        different value in an ATQA; 'truncate': its last byte is lost;
//                                        'remove': the card leaves the field instead of answering
//   new Iso14443aCard(uid, sak?, quirks?)   a 4-, 7- or 10-byte UID card; card.state, card.uid
//   crcA(bytes)                          CRC_A (ISO/IEC 14443-3), low byte first on air
//
// SPI (data sheet 8.1.2): the first byte of a frame is the address byte: bit 7 = read, bits 6..1 =
// register, bit 0 = 0. In a read frame every following byte is the address of the next register to
// read and the chip answers each address in the next byte (the last byte, usually 0x00, only clocks
// out the last value). In a write frame every following byte is written to the same register, so a
// FIFO burst is one frame. Only the first byte decides read or write.
//
// Modelled: the register file with the data sheet's reset values (9.2); the 64-byte FIFO with
// FIFOLevelReg, FlushBuffer, BufferOvfl, WaterLevel and the Hi/LoAlert bits; the commands Idle, Mem,
// Generate RandomID, CalcCRC (CRCResultReg, DivIrqReg.CRCIRq, Status1Reg.CRCReady/CRCOk, with the
// ModeReg presets), Transmit, Receive, Transceive (StartSend, TxLastBits, TxCRCEn/RxCRCEn,
// RxLastBits), SoftReset, NoCmdChange; ComIrqReg/DivIrqReg with Set1/Set2; ErrorReg; CollReg; the
// timer (TAuto, TStartNow/TStopNow, TAutoRestart, TPrescaler/TReload, TimerIRq); the IRQ pin from
// ComIEnReg/DivIEnReg, IRqInv and IRQPushPull; the RF field (TxControlReg): switching it off resets
// every card in it; a collision when several cards answer (bits ORed, CollErr, CollPos).
// Each transmission takes RESPONSE_DELAY_MS (1 ms) to be answered; the timer then runs for
// (2 * TPrescaler + 1) * (TReload + 1) / 13.56 MHz.
// The digital self test (16.1.1): CalcCRC started while AutoTestReg.SelfTest = 09h takes the FIFO's
// contents and, SELF_TEST_MS later, leaves 64 bytes in the FIFO: the reference bytes of the version
// (v1.0, v2.0 from the data sheet; FM17522 0x88 as published in miguelbalboa/rfid), but only if the
// internal buffer was cleared (25 bytes of 00h and Mem) and the FIFO held exactly one 00h, as the
// procedure prescribes; otherwise, or for a version without reference, other bytes (assumption: the
// data sheet does not say what the chip produces then). No CRCIRq, the command stays CalcCRC.
// Not modelled: MFAuthent/Crypto1 (treated as an unknown command: IdleIRq), bit-oriented anticollision (a card answers only NVB = 0x20 or a full SELECT),
// speeds above 106 kBd, RxMultiple, MSBFirst, soft power-down, the analogue registers (stored only),
// TCounterValReg (reads the reload value while running). Transceive is strict: StartSend is honoured
// only while the command waits for it (just after the command was written, or after a frame has
// been received); while it is still waiting for an answer, write the command again.
// Assumptions where the data sheet is silent: with RxCRCEn the two CRC_A bytes are checked and not
// stored in the FIFO; ErrorReg.WrErr is set by a FIFO write between a transmission and its answer
// and cleared when a new command starts; reading an empty FIFO returns 0x00.

export type Schedule = (callback: () => void, delayMs: number) => unknown;

export interface Mfrc522ModelOptions {
  schedule: Schedule;
  onIrq?: (level: boolean) => void;
  version?: number;
  irqPullUp?: boolean;
  selfTest?: SelfTestOutcome;
  /** Sees every chip-select frame the host sends (to count the SPI cost of a step). */
  onTransfer?: (data: Uint8Array) => void;
}

export type SelfTestOutcome = 'pass' | 'wrong' | 'none';

/** Self-test reference bytes (hex) per VersionReg value; see the header. */
const SELF_TEST_REFERENCES: Record<number, string> = {
  0x91: '00c637d532b7575cc2d87c4dd970c77310e6d2aa5ea13e5a14af3061c970db2e642272b5bd65f4ec22bcd37235cdaa411fa7f35314de7e02d90fb55e251d2979',
  0x92: '00eb66ba57bf2395d0e30d3d27895cde9d3ba700215b8982513aeb020ca500497c844db3ccd21b815d4876d5716121a986968338cf9d5b6ddc15ba3e7d953b2f',
  0x88: '00d6788ce2aa0c182ab87a7fd36acf0bb137634b69ae91c7c397ae77f437d79b7cf53c118f15c3d7c15b002ad075de9e5164ab3ee915b5ab569a988226ea2a62',
};
const SELF_TEST_MS = 1;

export type CardState = 'IDLE' | 'READY' | 'ACTIVE' | 'HALT';

export interface CardQuirks {
  /** The card ignores HLTA and stays ACTIVE, as if the HLTA had been lost. */
  ignoresHalt?: boolean;
}

/** A frame as a card sends it: bytes, and the number of valid bits in the last byte (0 = all 8). */
export interface CardAnswer {
  bytes: number[];
  lastBits: number;
}

/** CRC_A of ISO/IEC 14443-3 (CRC-16/CCITT reflected, preset 0x6363); on air low byte first. */
export function crcA(bytes: ArrayLike<number>, preset = 0x6363): number {
  let crc = preset;
  for (let i = 0; i < bytes.length; i++) {
    let b = (bytes[i] ^ crc) & 0xff;
    b = (b ^ (b << 4)) & 0xff;
    crc = ((crc >> 8) ^ (b << 8) ^ (b << 3) ^ (b >> 4)) & 0xffff;
  }
  return crc;
}

// ISO/IEC 14443-3 type A commands.
const REQA = 0x26;
const WUPA = 0x52;
const HLTA = 0x50;
const SEL_CODES = [0x93, 0x95, 0x97];
const NVB_ANTICOLL = 0x20;
const NVB_SELECT = 0x70;
const CASCADE_TAG = 0x88;
const SAK_CASCADE = 0x04;

/**
 * An ISO/IEC 14443 A card (PICC) with the states of ISO/IEC 14443-3: IDLE, READY, ACTIVE, HALT
 * (and READY-star and ACTIVE-star after a WUPA from HALT, which fall back to HALT on an error).
 */
export class Iso14443aCard {
  readonly uid: Uint8Array;
  /** SAK of the last cascade level (the cascade bit is cleared); earlier levels answer 0x04. */
  readonly sak: number;
  readonly atqa: [number, number];
  private current: CardState = 'IDLE';
  private fromHalt = false;
  private level = 0;
  private readonly levels: number[][];
  private readonly ignoresHalt: boolean;

  /** sak defaults to 0x08 (MIFARE Classic 1K) for 4-byte UIDs, 0x00 (Ultralight) for 7, 0x20 for 10. */
  constructor(uid: Uint8Array, sak?: number, quirks: CardQuirks = {}) {
    if (uid.length !== 4 && uid.length !== 7 && uid.length !== 10) {
      throw new Error(`ISO/IEC 14443-3 UIDs are 4, 7 or 10 bytes, not ${uid.length}`);
    }
    this.uid = Uint8Array.from(uid);
    this.sak = (sak ?? (uid.length === 4 ? 0x08 : uid.length === 7 ? 0x00 : 0x20)) & ~SAK_CASCADE & 0xff;
    const sizeBits = uid.length === 4 ? 0 : uid.length === 7 ? 1 : 2;
    this.atqa = [(sizeBits << 6) | 0x04, 0x00]; // UID size, bit frame anticollision bit 3
    const u = Array.from(uid);
    const parts =
      uid.length === 4 ? [u] :
      uid.length === 7 ? [[CASCADE_TAG, ...u.slice(0, 3)], u.slice(3)] :
      [[CASCADE_TAG, ...u.slice(0, 3)], [CASCADE_TAG, ...u.slice(3, 6)], u.slice(6)];
    this.levels = parts.map((p) => [...p, p[0] ^ p[1] ^ p[2] ^ p[3]]);
    this.ignoresHalt = quirks.ignoresHalt ?? false;
  }

  get state(): CardState {
    return this.current;
  }

  /** Loss of power (left the field, or the field was switched off): back to IDLE. */
  powerOff(): void {
    this.current = 'IDLE';
    this.fromHalt = false;
    this.level = 0;
  }

  /** Processes one frame from the reader; returns the answer, or null if the card stays silent. */
  receive(frame: ArrayLike<number>, lastBits: number): CardAnswer | null {
    const n = frame.length;
    if (n === 1 && lastBits === 7) {
      const command = frame[0];
      if (command === REQA && this.current === 'IDLE') return this.wake(false);
      if (command === WUPA && (this.current === 'IDLE' || this.current === 'HALT')) return this.wake(this.current === 'HALT');
      if (this.current === 'IDLE' || this.current === 'HALT') return null;
      return this.error();
    }
    if (this.current === 'IDLE' || this.current === 'HALT') return null;
    if (lastBits !== 0) return this.error();
    if (this.current === 'READY' && n >= 2 && frame[0] === SEL_CODES[this.level]) {
      const mine = this.levels[this.level];
      if (frame[1] === NVB_ANTICOLL && n === 2) return { bytes: mine.slice(), lastBits: 0 };
      if (frame[1] === NVB_SELECT && n === 9) {
        if (crcA(Array.from(frame).slice(0, 7)) !== (frame[7] | (frame[8] << 8))) return this.error();
        for (let i = 0; i < 5; i++) if (frame[2 + i] !== mine[i]) return this.error();
        if (this.level < this.levels.length - 1) {
          this.level++;
          return withCrc([SAK_CASCADE]);
        }
        this.current = 'ACTIVE';
        return withCrc([this.sak]);
      }
      return null; // bit-oriented anticollision: not modelled, the card stays READY and silent
    }
    if (this.current === 'ACTIVE' && n === 4 && frame[0] === HLTA && frame[1] === 0x00 && crcA([HLTA, 0]) === (frame[2] | (frame[3] << 8))) {
      if (!this.ignoresHalt) this.current = 'HALT';
      return null;
    }
    return this.error();
  }

  private wake(fromHalt: boolean): CardAnswer {
    this.current = 'READY';
    this.fromHalt = fromHalt;
    this.level = 0;
    return { bytes: [this.atqa[0], this.atqa[1]], lastBits: 0 };
  }

  /** Any unexpected frame: READY/ACTIVE go back to IDLE (after a WUPA from HALT: back to HALT), silently. */
  private error(): null {
    this.current = this.fromHalt ? 'HALT' : 'IDLE';
    this.level = 0;
    return null;
  }
}

function withCrc(bytes: number[]): CardAnswer {
  const crc = crcA(bytes);
  return { bytes: [...bytes, crc & 0xff, crc >> 8], lastBits: 0 };
}

// Registers (data sheet 9.2).
const COMMAND = 0x01;
const COM_IEN = 0x02;
const DIV_IEN = 0x03;
const COM_IRQ = 0x04;
const DIV_IRQ = 0x05;
const ERROR = 0x06;
const STATUS1 = 0x07;
const STATUS2 = 0x08;
const FIFO_DATA = 0x09;
const FIFO_LEVEL = 0x0a;
const WATER_LEVEL = 0x0b;
const CONTROL = 0x0c;
const BIT_FRAMING = 0x0d;
const COLL = 0x0e;
const MODE = 0x11;
const TX_MODE = 0x12;
const RX_MODE = 0x13;
const TX_CONTROL = 0x14;
const DEMOD = 0x19;
const CRC_RESULT_MSB = 0x21;
const CRC_RESULT_LSB = 0x22;
const AUTO_TEST = 0x36;
const T_MODE = 0x2a;
const T_PRESCALER = 0x2b;
const T_RELOAD_HI = 0x2c;
const T_RELOAD_LO = 0x2d;
const T_COUNTER_HI = 0x2e;
const T_COUNTER_LO = 0x2f;
const VERSION = 0x37;

/** Reset values (data sheet 9.2 and the register descriptions). Undefined ones ("xx") read 0x00. */
const RESET_VALUES: Array<[number, number]> = [
  [COMMAND, 0x20], [COM_IEN, 0x80], [DIV_IEN, 0x00], [COM_IRQ, 0x14], [DIV_IRQ, 0x00], [ERROR, 0x00],
  [STATUS1, 0x21], [STATUS2, 0x00], [FIFO_LEVEL, 0x00], [WATER_LEVEL, 0x08], [CONTROL, 0x10],
  [BIT_FRAMING, 0x00], [COLL, 0xa0], [MODE, 0x3f], [TX_MODE, 0x00], [RX_MODE, 0x00],
  [TX_CONTROL, 0x80], [0x15, 0x00], [0x16, 0x10], [0x17, 0x84], [0x18, 0x84], [DEMOD, 0x4d],
  [0x1c, 0x62], [0x1d, 0x00], [0x1f, 0xeb], [CRC_RESULT_MSB, 0xff], [CRC_RESULT_LSB, 0xff],
  [0x24, 0x26], [0x26, 0x48], [0x27, 0x88], [0x28, 0x20], [0x29, 0x20], [T_MODE, 0x00],
  [T_PRESCALER, 0x00], [T_RELOAD_HI, 0x00], [T_RELOAD_LO, 0x00], [0x31, 0x00], [0x32, 0x00],
  [0x33, 0x80], [0x34, 0x00], [0x36, 0x40], [0x38, 0x00],
];
/** Reserved addresses: read 0x00, writes ignored. */
const RESERVED = [0x00, 0x0f, 0x10, 0x1a, 0x1b, 0x1e, 0x20, 0x23, 0x25, 0x30, 0x3c, 0x3d, 0x3e, 0x3f];

// Commands (10.3).
const CMD_IDLE = 0x0;
const CMD_MEM = 0x1;
const CMD_RANDOM_ID = 0x2;
const CMD_CALC_CRC = 0x3;
const CMD_TRANSMIT = 0x4;
const CMD_NO_CHANGE = 0x7;
const CMD_RECEIVE = 0x8;
const CMD_TRANSCEIVE = 0xc;
const CMD_SOFT_RESET = 0xf;

// ComIrqReg bits.
const TX_IRQ = 0x40;
const RX_IRQ = 0x20;
const IDLE_IRQ = 0x10;
const HI_ALERT_IRQ = 0x08;
const LO_ALERT_IRQ = 0x04;
const ERR_IRQ = 0x02;
const TIMER_IRQ = 0x01;
// DivIrqReg bits.
const CRC_IRQ = 0x04;
// ErrorReg bits.
const WR_ERR = 0x80;
const BUFFER_OVFL = 0x10;
const COLL_ERR = 0x08;
const CRC_ERR = 0x04;
const RX_ERRORS = 0x0f; // CollErr, CRCErr, ParityErr, ProtocolErr: cleared when the receiver starts

const FIFO_SIZE = 64;
const RESPONSE_DELAY_MS = 1;
const CARRIER_KHZ = 13560;

type Phase = 'idle' | 'waitSend' | 'busy';

export class Mfrc522Model {
  private readonly schedule: Schedule;
  private onIrq: ((level: boolean) => void) | undefined;
  private readonly versionValue: number;
  private readonly pullUp: boolean;

  private regs = new Uint8Array(64);
  private fifo: number[] = [];
  private internalBuffer = new Uint8Array(25);
  private command = CMD_IDLE;
  private phase: Phase = 'idle';
  /** Bumped whenever pending scheduled work must be forgotten (new command, reset, dead chip). */
  private epoch = 0;
  private timerRunning = false;
  private timerEpoch = 0;
  private crcValue = 0;
  private crcReady = true;
  private loAlert = true;
  private hiAlert = false;
  private fieldOn = false;
  private responding = true;
  private resetLow = false;
  private corruptMode: 'flip' | 'truncate' | 'remove' | null = null;
  private corruptSkip = 0;
  private readonly onTransfer: ((data: Uint8Array) => void) | undefined;
  private selfTestOutcome: SelfTestOutcome;
  private pin: boolean;
  private random = 0x2545f491;
  private readonly cards: Iso14443aCard[] = [];

  constructor(options: Mfrc522ModelOptions) {
    this.schedule = options.schedule;
    this.onIrq = options.onIrq;
    this.versionValue = options.version ?? 0x92;
    this.pullUp = options.irqPullUp ?? false;
    this.selfTestOutcome = options.selfTest ?? 'pass';
    this.onTransfer = options.onTransfer;
    this.resetRegisters(true);
    this.pin = this.computePin();
  }

  get irqLevel(): boolean {
    return this.pin;
  }

  setIrqListener(listener: (level: boolean) => void): void {
    this.onIrq = listener;
  }

  /** One chip-select frame: returns the bytes the chip shifts out on MISO. */
  transfer(data: Uint8Array): Uint8Array {
    const out = new Uint8Array(data.length);
    if (this.onTransfer) this.onTransfer(data);
    if (!this.powered() || data.length === 0) return out;
    const first = data[0];
    const register = (first >> 1) & 0x3f;
    if ((first & 0x80) !== 0) {
      let next = register;
      for (let i = 1; i < data.length; i++) {
        out[i] = this.readRegister(next);
        next = (data[i] >> 1) & 0x3f;
      }
    } else {
      for (let i = 1; i < data.length; i++) this.writeRegister(register, data[i]);
    }
    this.updateIrq();
    return out;
  }

  /** NRSTPD: low is a hard power-down; the rising edge resets everything, RF field off. */
  setResetPin(high: boolean): void {
    if (high === !this.resetLow) return;
    this.resetLow = !high;
    if (this.resetLow) this.powerDown();
    else if (this.responding) this.resetRegisters(true);
    this.updateIrq();
  }

  /** NRSTPD pulsed low then high (or the chip reset itself after a brown-out). */
  hardReset(): void {
    this.setResetPin(false);
    this.setResetPin(true);
  }

  placeCard(card: Iso14443aCard): void {
    if (this.cards.includes(card)) return;
    card.powerOff();
    this.cards.push(card);
  }

  removeCard(card: Iso14443aCard): void {
    const index = this.cards.indexOf(card);
    if (index >= 0) this.cards.splice(index, 1);
    card.powerOff();
  }

  setResponding(responding: boolean): void {
    if (responding === this.responding) return;
    this.responding = responding;
    if (!responding) this.powerDown();
    else if (!this.resetLow) this.resetRegisters(true);
    this.updateIrq();
  }

  setSelfTest(outcome: SelfTestOutcome): void {
    this.selfTestOutcome = outcome;
  }

  /** See the header; `skip` answers pass unharmed first ('remove': the card leaves instead of answering). */
  corruptNextResponse(mode: 'flip' | 'truncate' | 'remove' = 'flip', skip = 0): void {
    this.corruptMode = mode;
    this.corruptSkip = skip;
  }

  // --- registers ------------------------------------------------------------------------------

  private powered(): boolean {
    return this.responding && !this.resetLow;
  }

  /** Dead or held in reset: pending work forgotten, antenna drivers off. */
  private powerDown(): void {
    this.epoch++;
    this.stopTimer();
    this.setField(false);
  }

  private resetRegisters(hard: boolean): void {
    this.epoch++;
    this.regs.fill(0);
    for (const [register, value] of RESET_VALUES) this.regs[register] = value;
    this.fifo = [];
    if (hard) this.internalBuffer.fill(0);
    this.command = CMD_IDLE;
    this.phase = 'idle';
    this.stopTimer();
    this.crcValue = 0xffff;
    this.crcReady = true;
    this.loAlert = true;
    this.hiAlert = false;
    this.setField(false);
  }

  private readRegister(register: number): number {
    const regs = this.regs;
    switch (register) {
      case COMMAND:
        return (regs[COMMAND] & 0x30) | this.command;
      case COM_IRQ:
      case DIV_IRQ:
        return regs[register] & 0x7f;
      case STATUS1:
        return (
          (this.crcValue === 0 && this.crcReady ? 0x40 : 0) |
          (this.crcReady ? 0x20 : 0) |
          (this.irqActive() ? 0x10 : 0) |
          (this.timerRunning ? 0x08 : 0) |
          (this.hiAlert ? 0x02 : 0) |
          (this.loAlert ? 0x01 : 0)
        );
      case STATUS2:
        return (regs[STATUS2] & 0xf8) | this.modemState();
      case FIFO_DATA: {
        const value = this.fifo.length > 0 ? (this.fifo.shift() as number) : 0x00;
        this.fifoChanged();
        return value;
      }
      case FIFO_LEVEL:
        return this.fifo.length;
      case CONTROL:
        return regs[CONTROL] & 0x3f; // TStopNow/TStartNow read 0
      case BIT_FRAMING:
        return regs[BIT_FRAMING] & 0x7f; // StartSend reads 0
      case T_COUNTER_HI:
        return this.timerRunning ? regs[T_RELOAD_HI] : 0;
      case T_COUNTER_LO:
        return this.timerRunning ? regs[T_RELOAD_LO] : 0;
      case VERSION:
        return this.versionValue;
      default:
        return RESERVED.includes(register) ? 0x00 : regs[register];
    }
  }

  private writeRegister(register: number, value: number): void {
    const regs = this.regs;
    switch (register) {
      case COMMAND:
        regs[COMMAND] = value & 0x30; // RcvOff, PowerDown
        if ((value & 0x0f) !== CMD_NO_CHANGE) this.startCommand(value & 0x0f);
        return;
      case COM_IRQ: // Set1: 1 sets the marked bits, 0 clears them
        regs[COM_IRQ] = (value & 0x80) !== 0 ? regs[COM_IRQ] | (value & 0x7f) : regs[COM_IRQ] & ~value & 0x7f;
        return;
      case DIV_IRQ: // Set2, only MfinActIRq and CRCIRq exist
        regs[DIV_IRQ] = (value & 0x80) !== 0 ? regs[DIV_IRQ] | (value & 0x14) : regs[DIV_IRQ] & ~value & 0x14;
        return;
      case ERROR:
      case STATUS1:
      case CRC_RESULT_MSB:
      case CRC_RESULT_LSB:
      case T_COUNTER_HI:
      case T_COUNTER_LO:
      case VERSION:
        return; // read-only
      case STATUS2: // TempSensClear, I2CForceHS; MFCrypto1On can only be cleared
        regs[STATUS2] = (value & 0xc0) | (regs[STATUS2] & value & 0x08);
        return;
      case FIFO_DATA:
        this.pushFifo(value, true);
        return;
      case FIFO_LEVEL:
        if ((value & 0x80) !== 0) {
          this.fifo = [];
          regs[ERROR] &= ~BUFFER_OVFL;
          this.fifoChanged();
        }
        return;
      case WATER_LEVEL:
        regs[WATER_LEVEL] = value & 0x3f;
        this.fifoChanged();
        return;
      case CONTROL:
        if ((value & 0x80) !== 0) this.stopTimer();
        if ((value & 0x40) !== 0) this.startTimer();
        return; // RxLastBits is read-only
      case BIT_FRAMING:
        regs[BIT_FRAMING] = value & 0x77;
        if ((value & 0x80) !== 0) this.startSend();
        return;
      case COLL:
        regs[COLL] = (regs[COLL] & 0x7f) | (value & 0x80); // only ValuesAfterColl is writable
        return;
      case TX_CONTROL:
        regs[TX_CONTROL] = value;
        this.setField((value & 0x03) !== 0);
        return;
      default:
        if (!RESERVED.includes(register)) regs[register] = value;
    }
  }

  // --- FIFO -----------------------------------------------------------------------------------

  private pushFifo(value: number, fromHost: boolean): void {
    if (fromHost && this.phase === 'busy' && this.command !== CMD_RECEIVE) this.setError(WR_ERR);
    if (this.fifo.length >= FIFO_SIZE) {
      this.setError(BUFFER_OVFL);
      return;
    }
    this.fifo.push(value & 0xff);
    if (fromHost && this.command === CMD_CALC_CRC) this.feedCrc();
    this.fifoChanged();
  }

  private fifoChanged(): void {
    const water = this.regs[WATER_LEVEL];
    const lo = this.fifo.length <= water;
    const hi = FIFO_SIZE - this.fifo.length <= water;
    if (lo && !this.loAlert) this.regs[COM_IRQ] |= LO_ALERT_IRQ;
    if (hi && !this.hiAlert) this.regs[COM_IRQ] |= HI_ALERT_IRQ;
    this.loAlert = lo;
    this.hiAlert = hi;
  }

  private setError(bits: number): void {
    this.regs[ERROR] |= bits;
    this.regs[COM_IRQ] |= ERR_IRQ;
  }

  // --- commands -------------------------------------------------------------------------------

  private startCommand(command: number): void {
    this.epoch++;
    this.phase = 'idle';
    this.regs[ERROR] &= ~WR_ERR;
    switch (command) {
      case CMD_IDLE:
        this.command = CMD_IDLE; // the host starting Idle does not set IdleIRq
        return;
      case CMD_MEM:
        if (this.fifo.length === 0) {
          for (const byte of this.internalBuffer) this.pushFifo(byte, false);
        } else {
          const bytes = this.fifo.splice(0, 25);
          this.internalBuffer.fill(0);
          this.internalBuffer.set(bytes);
          this.fifoChanged();
        }
        this.terminate();
        return;
      case CMD_RANDOM_ID:
        for (let i = 0; i < 10; i++) {
          this.random = (Math.imul(this.random, 1103515245) + 12345) >>> 0;
          this.internalBuffer[i] = this.random >>> 24;
        }
        this.terminate();
        return;
      case CMD_CALC_CRC: {
        this.command = CMD_CALC_CRC;
        if ((this.regs[AUTO_TEST] & 0x0f) === 0x09) {
          this.runSelfTest();
          return;
        }
        const preset = [0x0000, 0x6363, 0xa671, 0xffff][this.regs[MODE] & 0x03];
        this.crcValue = preset;
        this.feedCrc();
        return;
      }
      case CMD_TRANSMIT: {
        this.command = CMD_TRANSMIT;
        const frame = this.takeTxFrame();
        this.phase = 'busy';
        const epoch = this.epoch;
        this.schedule(() => {
          if (epoch !== this.epoch || !this.powered()) return;
          if (this.fieldOn) for (const card of this.cards) card.receive(frame.bytes, frame.lastBits);
          this.regs[COM_IRQ] |= TX_IRQ;
          this.terminate();
          this.updateIrq();
        }, RESPONSE_DELAY_MS);
        return;
      }
      case CMD_RECEIVE:
        this.command = CMD_RECEIVE;
        this.phase = 'busy'; // cards never speak unasked: waits until another command
        return;
      case CMD_TRANSCEIVE:
        this.command = CMD_TRANSCEIVE;
        this.phase = 'waitSend';
        return;
      case CMD_SOFT_RESET:
        this.resetRegisters(false);
        return;
      default:
        // Unknown commands (and MFAuthent, not modelled): back to Idle with IdleIRq (10.3).
        this.terminate();
    }
  }

  /** CalcCRC with AutoTestReg.SelfTest = 09h: 64 bytes in the FIFO after SELF_TEST_MS. */
  private runSelfTest(): void {
    const input = this.fifo.splice(0);
    this.fifoChanged();
    const prepared = input.length === 1 && input[0] === 0 && this.internalBuffer.every((b) => b === 0);
    const reference = SELF_TEST_REFERENCES[this.versionValue];
    const bytes: number[] = [];
    let seed = this.versionValue * 0x01000193;
    for (let i = 0; i < FIFO_SIZE; i++) {
      seed = (seed * 1103515245 + 12345) % 0x80000000;
      bytes.push(reference && prepared ? parseInt(reference.substr(2 * i, 2), 16) : (seed >>> 16) & 0xff);
    }
    if (this.selfTestOutcome === 'wrong') bytes[17] ^= 0x40;
    const epoch = this.epoch;
    this.schedule(() => {
      if (epoch !== this.epoch || !this.powered() || this.selfTestOutcome === 'none') return;
      for (const byte of bytes) this.pushFifo(byte, false);
      this.updateIrq();
    }, SELF_TEST_MS);
  }

  /** The command ended by itself: Idle, IdleIRq. */
  private terminate(): void {
    this.command = CMD_IDLE;
    this.phase = 'idle';
    this.regs[COM_IRQ] |= IDLE_IRQ;
  }

  private feedCrc(): void {
    while (this.fifo.length > 0) this.crcValue = crcA([this.fifo.shift() as number], this.crcValue);
    this.fifoChanged();
    this.regs[CRC_RESULT_MSB] = this.crcValue >> 8;
    this.regs[CRC_RESULT_LSB] = this.crcValue & 0xff;
    this.crcReady = true;
    this.regs[DIV_IRQ] |= CRC_IRQ;
  }

  private takeTxFrame(): CardAnswer {
    const bytes = this.fifo.splice(0);
    this.fifoChanged();
    const lastBits = this.regs[BIT_FRAMING] & 0x07;
    if ((this.regs[TX_MODE] & 0x80) !== 0 && bytes.length > 0) {
      const crc = crcA(bytes);
      bytes.push(crc & 0xff, crc >> 8);
    }
    return { bytes, lastBits };
  }

  private startSend(): void {
    if (this.command !== CMD_TRANSCEIVE || this.phase !== 'waitSend') return;
    const frame = this.takeTxFrame();
    this.phase = 'busy';
    const epoch = ++this.epoch;
    this.schedule(() => {
      if (epoch === this.epoch && this.powered()) this.finishTransceive(frame);
    }, RESPONSE_DELAY_MS);
  }

  /** End of a transmission and, if a card answered, of its answer. */
  private finishTransceive(frame: CardAnswer): void {
    const regs = this.regs;
    regs[COM_IRQ] |= TX_IRQ;
    regs[ERROR] &= ~RX_ERRORS; // receiver start-up
    regs[COLL] = (regs[COLL] & 0x80) | 0x20; // CollPosNotValid
    regs[CONTROL] &= ~0x07;
    if ((regs[T_MODE] & 0x80) !== 0) this.startTimer(); // TAuto
    const answers: CardAnswer[] = [];
    const answering: Iso14443aCard[] = [];
    if (this.fieldOn) {
      for (const card of this.cards) {
        const answer = card.receive(frame.bytes, frame.lastBits);
        if (answer) {
          answers.push(answer);
          answering.push(card);
        }
      }
    }
    if (this.corruptMode !== null && answers.length > 0 && (regs[COMMAND] & 0x20) === 0) {
      if (this.corruptSkip > 0) {
        this.corruptSkip--;
      } else {
        const first = answers[0];
        if (this.corruptMode === 'flip') first.bytes[0] ^= 0x01;
        else if (this.corruptMode === 'truncate') first.bytes.pop();
        else {
          for (const card of answering) this.removeCard(card);
          answers.length = 0;
        }
        this.corruptMode = null;
      }
    }
    if (answers.length === 0 || (regs[COMMAND] & 0x20) !== 0) {
      this.updateIrq(); // nobody answered (or RcvOff): the timer will tell
      return;
    }
    this.stopTimer(); // an answer started: TAuto stops the timer
    const bytes = answers[0].bytes.slice();
    const lastBits = answers[0].lastBits;
    let error = 0;
    if (answers.length > 1) {
      let collisionBit = -1;
      for (const other of answers.slice(1)) {
        for (let i = 0; i < Math.max(bytes.length, other.bytes.length); i++) {
          const a = bytes[i] ?? 0;
          const b = other.bytes[i] ?? 0;
          const diff = a ^ b;
          if (diff !== 0) {
            let bit = 0;
            while (((diff >> bit) & 1) === 0) bit++;
            const position = i * 8 + bit;
            if (collisionBit < 0 || position < collisionBit) collisionBit = position;
          }
          bytes[i] = a | b;
        }
      }
      if (collisionBit >= 0) {
        error |= COLL_ERR;
        const position = collisionBit + 1; // CollPos counts from 1; 32 reads as 0
        regs[COLL] = (regs[COLL] & 0x80) | (position <= 32 ? position & 0x1f : 0x20);
        if ((regs[COLL] & 0x80) === 0) {
          // ValuesAfterColl = 0: the bits after the collision are cleared
          for (let bit = collisionBit + 1; bit < bytes.length * 8; bit++) bytes[bit >> 3] &= ~(1 << (bit & 7));
        }
      }
    }
    let received = bytes;
    if ((regs[RX_MODE] & 0x80) !== 0) {
      if (received.length < 2) {
        error |= CRC_ERR;
      } else {
        const data = received.slice(0, received.length - 2);
        const crc = received[received.length - 2] | (received[received.length - 1] << 8);
        if (crcA(data) !== crc) error |= CRC_ERR;
        received = data;
      }
    }
    for (const byte of received) this.pushFifo(byte, false);
    regs[CONTROL] = (regs[CONTROL] & ~0x07) | (lastBits & 0x07);
    if (error !== 0) this.setError(error);
    regs[COM_IRQ] |= RX_IRQ;
    this.phase = 'waitSend'; // Transceive goes on: the next StartSend transmits again
    this.updateIrq();
  }

  private modemState(): number {
    if (this.command !== CMD_TRANSCEIVE && this.command !== CMD_RECEIVE && this.command !== CMD_TRANSMIT) return 0;
    if (this.phase === 'waitSend') return 0x01; // waiting for StartSend
    return this.command === CMD_TRANSMIT ? 0x03 : 0x05; // transmitting / waiting for data
  }

  // --- timer ----------------------------------------------------------------------------------

  private timerPeriodMs(): number {
    const regs = this.regs;
    const prescaler = ((regs[T_MODE] & 0x0f) << 8) | regs[T_PRESCALER];
    const reload = (regs[T_RELOAD_HI] << 8) | regs[T_RELOAD_LO];
    const divider = (regs[DEMOD] & 0x10) !== 0 ? 2 * prescaler + 2 : 2 * prescaler + 1; // TPrescalEven
    return (divider * (reload + 1)) / CARRIER_KHZ;
  }

  private startTimer(): void {
    this.timerRunning = true;
    const epoch = ++this.timerEpoch;
    this.schedule(() => {
      if (epoch !== this.timerEpoch || !this.timerRunning || !this.powered()) return;
      this.regs[COM_IRQ] |= TIMER_IRQ;
      if ((this.regs[T_MODE] & 0x10) !== 0) this.startTimer(); // TAutoRestart
      else this.timerRunning = false;
      this.updateIrq();
    }, this.timerPeriodMs());
  }

  private stopTimer(): void {
    this.timerRunning = false;
    this.timerEpoch++;
  }

  // --- RF field and IRQ pin -------------------------------------------------------------------

  private setField(on: boolean): void {
    if (on === this.fieldOn) return;
    this.fieldOn = on;
    for (const card of this.cards) card.powerOff(); // off: power lost; on: power-up in IDLE
  }

  private irqActive(): boolean {
    const regs = this.regs;
    return (regs[COM_IEN] & regs[COM_IRQ] & 0x7f) !== 0 || (regs[DIV_IEN] & regs[DIV_IRQ] & 0x14) !== 0;
  }

  private computePin(): boolean {
    if (!this.powered()) return this.pullUp; // nothing drives the line
    const active = this.irqActive();
    const logical = (this.regs[COM_IEN] & 0x80) !== 0 ? !active : active; // IRqInv
    if ((this.regs[DIV_IEN] & 0x80) !== 0) return logical; // IRQPushPull
    return logical ? this.pullUp : false; // open drain: only pulls low
  }

  private updateIrq(): void {
    const level = this.computePin();
    if (level === this.pin) return;
    this.pin = level;
    if (this.onIrq) this.onIrq(level);
  }
}
