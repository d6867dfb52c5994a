// MQTT 3.1.1 (OASIS standard, 2014) packets for a client: encoders for what a client sends
// (CONNECT, PUBLISH QoS 0/1, PUBACK, SUBSCRIBE, UNSUBSCRIBE, PINGREQ, DISCONNECT) and a streaming
// parser for what a server sends (CONNACK, PUBLISH QoS 0/1, PUBACK, SUBACK, UNSUBACK, PINGRESP).
// QoS 2 is not implemented: the client never asks for it, so a QoS 2 PUBLISH or any PUBREC / PUBREL /
// PUBCOMP from the server is a protocol violation. Spec clauses are cited as [MQTT-x.y.z-n].
//
// The parser takes any byte stream (fragments, several packets per chunk, garbage) without throwing.
// It holds at most one incomplete packet, never more than `maxPacketBytes` (the whole packet: fixed
// header and body). A PUBLISH announcing more is skipped rather than refused: only its first bytes
// (topic and packet id) are kept, the rest is discarded as it streams past, and it is handed on with
// `droppedBytes` set, so the client can acknowledge it instead of having a retained or queued
// oversized message redelivered after every reconnect. Any other packet over the limit is a
// protocol error, found as soon as its length is read, before anything is allocated for it.
//
// Memory: on Espruino every top-level function and class method costs variables for good, so the
// station's client uses only topicProblem, encodePacket, encodeConnect, setPublishPacketId and the
// two-method MqttParser (whose helpers are inner functions of push). The other encoders and checks
// below, one-line forms of encodePacket and topicProblem, are kept for the tests; the bundler leaves
// them out of the firmware.
import { utf8Decode, utf8Length, utf8Write } from '../codec/bytes';

/** Control packet types (§2.2.1), the high nibble of the first byte. */
export const PACKET = {
  CONNECT: 1,
  CONNACK: 2,
  PUBLISH: 3,
  PUBACK: 4,
  PUBREC: 5,
  PUBREL: 6,
  PUBCOMP: 7,
  SUBSCRIBE: 8,
  SUBACK: 9,
  UNSUBSCRIBE: 10,
  UNSUBACK: 11,
  PINGREQ: 12,
  PINGRESP: 13,
  DISCONNECT: 14,
} as const;

/**
 * CONNACK return codes (§3.2.2.3), comma-separated, indexed by code: one string stays in flash with
 * the code, where an array of strings would be kept in the interpreter's RAM.
 */
export const CONNACK_RETURN_CODES = 'accepted,unacceptable protocol version,identifier rejected,server unavailable,bad user name or password,not authorized';

/** SUBACK return code for a refused subscription (§3.9.3). */
export const SUBACK_FAILURE = 0x80;

export const DEFAULT_MAX_PACKET_BYTES = 16384;

/** Bytes kept of an oversized PUBLISH, enough for its topic and packet id (topics of up to ~250 bytes). */
const OVERSIZE_PREFIX_BYTES = 256;

/** Largest Remaining Length four bytes can carry (§2.2.3). */
const MAX_REMAINING_LENGTH = 268435455;
const MAX_STRING_BYTES = 65535; // [MQTT-4.7.3-3] and every length-prefixed field (§1.5.3)

/** DUP flag of a PUBLISH's first byte (§3.3.1.1). */
export const PUBLISH_DUP = 0x08;
const PUBLISH_RETAIN = 0x01;

// CONNECT flags (§3.1.2.3).
const CONNECT_USERNAME = 0x80;
const CONNECT_PASSWORD = 0x40;
const CONNECT_WILL_RETAIN = 0x20;
const CONNECT_WILL = 0x04;
const CONNECT_CLEAN_SESSION = 0x02;
const PROTOCOL_LEVEL_311 = 4; // [MQTT-3.1.2-2]

export type QoS = 0 | 1;

export interface WillMessage {
  topic: string;
  payload: Uint8Array | string;
  qos: QoS;
  retain: boolean;
}

export interface ConnectFields {
  clientId: string;
  cleanSession?: boolean;
  keepAliveSec: number;
  username?: string;
  password?: string | Uint8Array;
  will?: WillMessage;
}

export interface ConnackPacket {
  type: typeof PACKET.CONNACK;
  sessionPresent: boolean;
  returnCode: number;
}

export interface PublishPacket {
  type: typeof PACKET.PUBLISH;
  topic: string;
  payload: Uint8Array;
  qos: QoS;
  dup: boolean;
  retain: boolean;
  /** 0 for QoS 0. */
  packetId: number;
  /** Set when the packet was larger than maxPacketBytes: its size; the payload was discarded (empty here). */
  droppedBytes?: number;
}

export interface PubackPacket {
  type: typeof PACKET.PUBACK;
  packetId: number;
}

export interface SubackPacket {
  type: typeof PACKET.SUBACK;
  packetId: number;
  /** One per topic filter of the SUBSCRIBE: the granted QoS, or SUBACK_FAILURE. */
  returnCodes: number[];
}

export interface UnsubackPacket {
  type: typeof PACKET.UNSUBACK;
  packetId: number;
}

export interface PingrespPacket {
  type: typeof PACKET.PINGRESP;
}

/** Everything a server may send to this client. */
export type ServerPacket = ConnackPacket | PublishPacket | PubackPacket | SubackPacket | UnsubackPacket | PingrespPacket;

// ---------------------------------------------------------------------------------------------
// Validation

/**
 * Why `topic` cannot be a PUBLISH topic name (or, with `filter`, a SUBSCRIBE topic filter), or
 * undefined if it can.
 */
export function topicProblem(topic: string, filter: boolean): string | undefined {
  const kind = filter ? 'topic filter' : 'topic name';
  if (topic.length === 0) return 'empty ' + kind + ' [MQTT-4.7.3-1]';
  if (!filter && (topic.indexOf('+') >= 0 || topic.indexOf('#') >= 0)) return 'wildcard in topic name [MQTT-3.3.2-2]';
  if (topic.indexOf('\u0000') >= 0) return 'U+0000 in ' + kind + ' [MQTT-4.7.3-2]';
  if (utf8Length(topic) > MAX_STRING_BYTES) return kind + ' longer than 65535 bytes [MQTT-4.7.3-3]';
  if (filter) {
    const levels = topic.split('/');
    for (let index = 0; index < levels.length; index++) {
      const level = levels[index];
      if (level.indexOf('#') >= 0 && (level !== '#' || index !== levels.length - 1)) return "'#' must be a whole last level [MQTT-4.7.1-2]";
      if (level.indexOf('+') >= 0 && level !== '+') return "'+' must be a whole level [MQTT-4.7.1-3]";
    }
  }
  return undefined;
}

/** Why `topic` cannot be a PUBLISH topic name, or undefined if it can. */
export function topicNameProblem(topic: string): string | undefined {
  return topicProblem(topic, false);
}

/** Why `filter` cannot be a topic filter, or undefined if it can. */
export function topicFilterProblem(filter: string): string | undefined {
  return topicProblem(filter, true);
}

// ---------------------------------------------------------------------------------------------
// Encoders

/**
 * A field of a packet after its fixed header: a number is a two-byte integer, a string a UTF-8
 * string with its two-byte length (§1.5.3), bytes are written as they are (binary data with a length
 * prefix is the pair [length, bytes]).
 */
export type PacketField = number | string | Uint8Array;

/** One packet, in an array of exactly its size: `firstByte`, the Remaining Length, then `fields`. */
export function encodePacket(firstByte: number, fields: PacketField[]): Uint8Array {
  let length = 0;
  for (let index = 0; index < fields.length; index++) {
    const field = fields[index];
    length += typeof field === 'number' ? 2 : typeof field === 'string' ? 2 + utf8Length(field) : field.length;
  }
  if (length > MAX_REMAINING_LENGTH) throw new Error('mqtt: packet too large');
  const bytes = new Uint8Array(1 + (length < 0x80 ? 1 : length < 0x4000 ? 2 : length < 0x200000 ? 3 : 4) + length);
  bytes[0] = firstByte;
  let position = 1;
  // §2.2.3: seven bits per byte, least significant first, high bit = more bytes follow.
  let rest = length;
  do {
    let digit = rest % 128;
    rest = (rest - digit) / 128;
    if (rest > 0) digit |= 0x80;
    bytes[position++] = digit;
  } while (rest > 0);
  for (let index = 0; index < fields.length; index++) {
    const field = fields[index];
    if (typeof field === 'number') {
      bytes[position++] = (field >> 8) & 0xff;
      bytes[position++] = field & 0xff;
    } else if (typeof field === 'string') {
      // The text goes after its length, which is filled in once known.
      const start = position;
      position = utf8Write(field, bytes, start + 2);
      bytes[start] = ((position - start - 2) >> 8) & 0xff;
      bytes[start + 1] = (position - start - 2) & 0xff;
    } else {
      bytes.set(field, position);
      position += field.length;
    }
  }
  return bytes;
}

/**
 * CONNECT (§3.1). Fields must be valid (the client checks them once, at construction): strings of at
 * most 65535 bytes, a password only with a user name [MQTT-3.1.2-22], a non-empty client id unless
 * cleanSession [MQTT-3.1.3-7].
 */
export function encodeConnect(fields: ConnectFields): Uint8Array {
  // 'MQTT' [MQTT-3.1.2-1], protocol level and flags (filled in below), keep-alive, then the payload in
  // the order of [MQTT-3.1.3-1]: client id [MQTT-3.1.3-3], will topic, will message, user name, password.
  const levelAndFlags = new Uint8Array([PROTOCOL_LEVEL_311, fields.cleanSession ? CONNECT_CLEAN_SESSION : 0]);
  const parts: PacketField[] = ['MQTT', levelAndFlags, fields.keepAliveSec, fields.clientId];
  // A string is written as UTF-8 with its length; bytes get their length in front.
  const add = (value: Uint8Array | string) => {
    if (typeof value !== 'string') parts.push(value.length);
    parts.push(value);
  };
  const will = fields.will;
  if (will) {
    // [MQTT-3.1.2-9] will flag with topic and message; [MQTT-3.1.2-14] will QoS never 3.
    levelAndFlags[1] |= CONNECT_WILL | (will.qos << 3) | (will.retain ? CONNECT_WILL_RETAIN : 0);
    add(will.topic);
    add(will.payload);
  }
  if (fields.username !== undefined) {
    levelAndFlags[1] |= CONNECT_USERNAME; // [MQTT-3.1.2-19]
    add(fields.username);
    if (fields.password !== undefined) {
      levelAndFlags[1] |= CONNECT_PASSWORD; // [MQTT-3.1.2-21]
      add(fields.password);
    }
  }
  return encodePacket(PACKET.CONNECT << 4, parts); // flags bit 0 reserved, zero [MQTT-3.1.2-3]
}

/** PUBLISH (§3.3). `topic` must pass topicNameProblem. For QoS 1 a packet id of 0 may be set later. */
export function encodePublish(topic: string, payload: Uint8Array, qos: QoS, retain: boolean, dup: boolean, packetId: number): Uint8Array {
  // [MQTT-3.3.1-2] DUP is 0 for QoS 0. [MQTT-3.3.2-1] the topic comes first.
  const flags = (dup && qos > 0 ? PUBLISH_DUP : 0) | (qos << 1) | (retain ? PUBLISH_RETAIN : 0);
  return encodePacket((PACKET.PUBLISH << 4) | flags, qos > 0 ? [topic, packetId, payload] : [topic, payload]);
}

/** Writes `packetId` into an encoded QoS 1 PUBLISH [MQTT-2.3.1-1] (it must be 1..65535). */
export function setPublishPacketId(packet: Uint8Array, packetId: number): void {
  let offset = 1;
  while (packet[offset] & 0x80) offset++;
  offset++;
  offset += 2 + ((packet[offset] << 8) | packet[offset + 1]);
  packet[offset] = (packetId >> 8) & 0xff;
  packet[offset + 1] = packetId & 0xff;
}

/** Sets DUP on an encoded QoS 1 PUBLISH that is being sent again [MQTT-3.3.1-1]. */
export function markPublishDuplicate(packet: Uint8Array): void {
  packet[0] |= PUBLISH_DUP;
}

/** PUBACK (§3.4): the answer to a QoS 1 PUBLISH [MQTT-4.3.2-2]. */
export function encodePuback(packetId: number): Uint8Array {
  return encodePacket(PACKET.PUBACK << 4, [packetId]);
}

/** SUBSCRIBE (§3.8) for one topic filter. Fixed-header flags 0010 [MQTT-3.8.1-1]. */
export function encodeSubscribe(packetId: number, topicFilter: string, qos: QoS): Uint8Array {
  return encodePacket((PACKET.SUBSCRIBE << 4) | 0x02, [packetId, topicFilter, new Uint8Array([qos])]);
}

/** UNSUBSCRIBE (§3.10) for one topic filter. Fixed-header flags 0010 [MQTT-3.10.1-1]. */
export function encodeUnsubscribe(packetId: number, topicFilter: string): Uint8Array {
  return encodePacket((PACKET.UNSUBSCRIBE << 4) | 0x02, [packetId, topicFilter]);
}

/** PINGREQ (§3.12). */
export function encodePingreq(): Uint8Array {
  return new Uint8Array([PACKET.PINGREQ << 4, 0]);
}

/** DISCONNECT (§3.14): a clean goodbye, after which the server discards the will [MQTT-3.14.4-3]. */
export function encodeDisconnect(): Uint8Array {
  return new Uint8Array([PACKET.DISCONNECT << 4, 0]);
}

// ---------------------------------------------------------------------------------------------
// Decoding what the server sends

/**
 * Streaming parser for server packets. Feed it chunks as they arrive; it calls back once per
 * complete packet, in order. After a protocol error it drops what it holds and refuses all further
 * input (the connection must be closed [MQTT-4.8.0-1]); a new connection gets a new parser.
 */
export class MqttParser {
  private maxPacketBytes: number;
  /** Fixed header gathered so far: the first byte and up to four Remaining Length bytes. */
  private header = new Uint8Array(5);
  private headerBytes = 0;
  /** The packet being filled once its size is known, and how much of it has arrived. */
  private packet: Uint8Array | undefined;
  private packetFilled = 0;
  /** Offset of the body in `packet` (1 + the number of Remaining Length bytes). */
  private bodyStart = 0;
  /** For an oversized PUBLISH: its full size, and the bytes after the kept prefix still to discard. */
  private droppedTotal = 0;
  private skipBytes = 0;
  private failure: string | undefined;

  constructor(maxPacketBytes: number) {
    this.maxPacketBytes = maxPacketBytes;
  }

  /** Bytes held for the packet in progress (never more than maxPacketBytes). */
  bufferedBytes(): number {
    return this.packet ? this.packetFilled : this.headerBytes;
  }

  /**
   * Takes the next chunk of the stream. Returns undefined, or the protocol error that stopped parsing.
   * The helpers are inner functions (made again for each chunk) so that they cost the interpreter
   * nothing between messages.
   */
  push(chunk: Uint8Array, onPacket: (packet: ServerPacket) => void): string | undefined {
    const fail = (message: string) => {
      this.failure = message;
      this.packet = undefined;
      this.headerBytes = 0;
    };

    /** Why a first byte cannot start a packet from a server, or undefined. Checked before the body arrives. */
    const firstByteProblem = (first: number): string | undefined => {
      const type = first >> 4;
      const flags = first & 0x0f;
      switch (type) {
        case PACKET.PUBLISH:
          if ((flags & 0x06) === 0x06) return 'PUBLISH with both QoS bits set [MQTT-3.3.1-4]';
          if ((flags & 0x06) === 0x04) return 'PUBLISH with QoS 2, which this client never subscribes with';
          return undefined;
        case PACKET.CONNACK:
        case PACKET.PUBACK:
        case PACKET.SUBACK:
        case PACKET.UNSUBACK:
        case PACKET.PINGRESP:
          return flags === 0 ? undefined : 'reserved flags set in packet type ' + type + ' [MQTT-2.2.2-1]';
        default:
          return 'packet type ' + type + ' is not sent to a client by a server or needs QoS 2';
      }
    };

    const takeHeaderByte = (value: number) => {
      const header = this.header;
      header[this.headerBytes++] = value;
      if (this.headerBytes === 1) {
        const problem = firstByteProblem(value);
        if (problem) fail(problem);
        return;
      }
      if (value & 0x80) {
        // §2.2.3: at most four Remaining Length bytes, so the fourth may not ask for a fifth.
        if (this.headerBytes === 5) fail('Remaining Length longer than four bytes (§2.2.3)');
        return;
      }
      let remaining = 0;
      let multiplier = 1;
      for (let index = 1; index < this.headerBytes; index++) {
        remaining += (header[index] & 0x7f) * multiplier;
        multiplier *= 128;
      }
      const type = header[0] >> 4;
      const fixedBody = type === PACKET.PINGRESP ? 0 : type === PACKET.PUBLISH || type === PACKET.SUBACK ? -1 : 2;
      if (fixedBody >= 0 && remaining !== fixedBody) {
        fail('packet type ' + type + ' with remaining length ' + remaining + ', not ' + fixedBody);
        return;
      }
      const total = this.headerBytes + remaining;
      let kept = total;
      if (total > this.maxPacketBytes) {
        if (type !== PACKET.PUBLISH) {
          fail('packet of ' + total + ' bytes exceeds the limit of ' + this.maxPacketBytes);
          return;
        }
        kept = Math.max(this.headerBytes, Math.min(this.maxPacketBytes, this.headerBytes + OVERSIZE_PREFIX_BYTES));
        this.droppedTotal = total;
        this.skipBytes = total - kept;
      }
      const packet = new Uint8Array(kept);
      packet.set(header.subarray(0, this.headerBytes), 0);
      this.packetFilled = this.headerBytes;
      this.bodyStart = this.headerBytes;
      this.headerBytes = 0;
      this.packet = packet;
    };

    /** Decodes one complete packet whose body starts at `bodyStart`; a string is a protocol error. */
    const decode = (packet: Uint8Array, bodyStart: number): ServerPacket | string => {
      const type = packet[0] >> 4;
      const bodyBytes = packet.length - bodyStart;
      switch (type) {
        case PACKET.CONNACK: {
          if (bodyBytes !== 2) return 'CONNACK remaining length ' + bodyBytes + ', not 2';
          const acknowledgeFlags = packet[bodyStart];
          if (acknowledgeFlags & 0xfe) return 'CONNACK reserved flag bits set (§3.2.2.1)';
          return { type: PACKET.CONNACK, sessionPresent: acknowledgeFlags === 1, returnCode: packet[bodyStart + 1] };
        }
        case PACKET.PUBLISH: {
          const qos = ((packet[0] >> 1) & 0x03) as QoS;
          if (bodyBytes < 2) return 'PUBLISH too short for its topic length';
          const topicBytes = (packet[bodyStart] << 8) | packet[bodyStart + 1];
          let offset = bodyStart + 2 + topicBytes;
          if (offset + (qos > 0 ? 2 : 0) > packet.length) return 'PUBLISH topic or packet id runs past the packet';
          const topic = utf8Decode(packet, bodyStart + 2, offset);
          if (topic === undefined) return 'PUBLISH topic is not valid UTF-8 [MQTT-1.5.3-1]';
          const problem = topicProblem(topic, false);
          if (problem) return 'PUBLISH ' + problem;
          let packetId = 0;
          if (qos > 0) {
            packetId = (packet[offset] << 8) | packet[offset + 1];
            if (packetId === 0) return 'PUBLISH QoS 1 with packet id 0 [MQTT-2.3.1-1]';
            offset += 2;
          }
          return {
            type: PACKET.PUBLISH,
            topic,
            payload: packet.subarray(offset),
            qos,
            dup: (packet[0] & PUBLISH_DUP) !== 0,
            retain: (packet[0] & PUBLISH_RETAIN) !== 0,
            packetId,
          };
        }
        case PACKET.PUBACK:
        case PACKET.UNSUBACK: {
          if (bodyBytes !== 2) return 'packet type ' + type + ' remaining length ' + bodyBytes + ', not 2';
          const packetId = (packet[bodyStart] << 8) | packet[bodyStart + 1];
          return type === PACKET.PUBACK ? { type: PACKET.PUBACK, packetId } : { type: PACKET.UNSUBACK, packetId };
        }
        case PACKET.SUBACK: {
          if (bodyBytes < 3) return 'SUBACK without return codes';
          const returnCodes: number[] = [];
          for (let offset = bodyStart + 2; offset < packet.length; offset++) {
            const code = packet[offset];
            if (code > 2 && code !== SUBACK_FAILURE) return 'SUBACK return code ' + code + ' is reserved (§3.9.3)';
            returnCodes.push(code);
          }
          return { type: PACKET.SUBACK, packetId: (packet[bodyStart] << 8) | packet[bodyStart + 1], returnCodes };
        }
        case PACKET.PINGRESP:
          if (bodyBytes !== 0) return 'PINGRESP with a body';
          return { type: PACKET.PINGRESP };
        default:
          return 'unexpected packet type ' + type;
      }
    };

    const finish = (packet: Uint8Array) => {
      const droppedBytes = this.droppedTotal;
      this.packet = undefined;
      this.packetFilled = 0;
      this.droppedTotal = 0;
      const decoded = decode(packet, this.bodyStart);
      if (typeof decoded === 'string') {
        fail(droppedBytes ? 'PUBLISH of ' + droppedBytes + ' bytes over the limit, its topic too long to acknowledge it' : decoded);
        return;
      }
      if (droppedBytes && decoded.type === PACKET.PUBLISH) {
        decoded.droppedBytes = droppedBytes;
        decoded.payload = new Uint8Array(0);
      }
      onPacket(decoded);
    };

    let offset = 0;
    while (offset < chunk.length && this.failure === undefined) {
      let packet = this.packet;
      if (packet === undefined) {
        takeHeaderByte(chunk[offset++]);
      } else if (this.packetFilled < packet.length) {
        const count = Math.min(packet.length - this.packetFilled, chunk.length - offset);
        packet.set(chunk.subarray(offset, offset + count), this.packetFilled);
        this.packetFilled += count;
        offset += count;
      } else {
        // The rest of an oversized PUBLISH streams past unkept.
        const count = Math.min(this.skipBytes, chunk.length - offset);
        this.skipBytes -= count;
        offset += count;
      }
      packet = this.packet;
      if (packet !== undefined && this.packetFilled === packet.length && this.skipBytes === 0) finish(packet);
    }
    return this.failure;
  }
}
